// Plays an AIDA-X model file through RTNeural's own JSON parser, the way AIDA-X plays it.
//
//   rtneural_driver model.json in.f32 out.f32 [knob ...]
//
// Reads raw float32 samples, writes raw float32 samples: RTNeural's network alone on
// (sample, knobs...), with the knobs held for the whole file. What AIDA-X does around the
// network (in_gain, in_skip, out_gain) is guneamp_lib.models.aidax.AidaxLevels, applied by
// the caller, so that formula is written once, from the plugin's source.
// Built by benchmarks/rtneural.py into build/rtneural/; RTNeural itself is never copied here.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <RTNeural/RTNeural.h>

int main(int argc, char** argv)
{
    if (argc < 4)
    {
        std::cerr << "usage: rtneural_driver model.json in.f32 out.f32 [knob ...]\n";
        return 2;
    }
    nlohmann::json spec;
    {
        std::ifstream f(argv[1]);
        f >> spec;
    }
    std::ifstream stream(argv[1]);
    auto model = RTNeural::json_parser::parseJson<float>(stream, false);
    if (!model)
    {
        std::cerr << "RTNeural could not load " << argv[1] << "\n";
        return 1;
    }
    const int inputs = spec.at("in_shape").back().get<int>();
    if (argc - 4 != inputs - 1)
    {
        std::cerr << "the model takes " << inputs - 1 << " knob(s), " << argc - 4 << " given\n";
        return 2;
    }
    std::vector<float> x;
    {
        std::ifstream f(argv[2], std::ios::binary);
        float v;
        while (f.read(reinterpret_cast<char*>(&v), sizeof v))
            x.push_back(v);
    }
    std::vector<float> in(inputs, 0.0f);
    for (int k = 1; k < inputs; ++k)
        in[k] = std::stof(argv[3 + k]);
    model->reset();
    std::vector<float> y(x.size());
    for (size_t i = 0; i < x.size(); ++i)
    {
        in[0] = x[i];
        y[i] = model->forward(in.data());
    }
    std::ofstream o(argv[3], std::ios::binary);
    o.write(reinterpret_cast<const char*>(y.data()), static_cast<std::streamsize>(y.size() * sizeof(float)));
    std::cout << "inputs " << inputs << " samples " << x.size() << "\n";
    return 0;
}
