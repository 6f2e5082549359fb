// guneamp's driver for NAM core (benchmarks/nam_core.py builds it): load a .nam, stream a raw
// float64 file through it in fixed-size blocks, write the raw float64 output and print the time
// spent in process(). It only calls NAM core's public API.
//
// Each repeat starts from Reset(), which by default prewarms: the model hears silence first,
// as guneamp's streaming engine does after reset(), so the two outputs match from sample 0.
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "NAM/dsp.h"
#include "NAM/get_dsp.h"
#include "NAM/slimmable.h"

static int usage()
{
  std::cerr << "usage: nam_driver [--exact-tanh] [--no-prewarm] [--block N] [--repeat R] [--slim V] "
               "model.nam input.f64 [output.f64]\n";
  return 2;
}

int main(int argc, char* argv[])
{
  bool fastTanh = true;
  bool prewarm = true;
  int block = 64;
  int repeat = 1;
  double slim = -1.0; // the plugin's CPU slider (0..1) for slimmable models; < 0: its default
  std::vector<std::string> pos;
  for (int i = 1; i < argc; i++)
  {
    std::string a(argv[i]);
    if (a == "--exact-tanh")
      fastTanh = false;
    else if (a == "--no-prewarm")
      prewarm = false;
    else if ((a == "--block" || a == "--repeat") && i + 1 < argc)
    {
      const int v = std::atoi(argv[++i]);
      if (v < 1)
        return usage();
      (a == "--block" ? block : repeat) = v;
    }
    else if (a == "--slim" && i + 1 < argc)
      slim = std::atof(argv[++i]);
    else
      pos.push_back(a);
  }
  if (pos.size() < 2 || pos.size() > 3)
    return usage();

  if (fastTanh)
    nam::activations::Activation::enable_fast_tanh();
  else
    nam::activations::Activation::disable_fast_tanh();

  std::ifstream in(pos[1], std::ios::binary | std::ios::ate);
  if (!in)
  {
    std::cerr << "error: cannot read " << pos[1] << "\n";
    return 2;
  }
  const std::streamsize bytes = in.tellg();
  in.seekg(0);
  std::vector<double> x(bytes / sizeof(double));
  in.read(reinterpret_cast<char*>(x.data()), x.size() * sizeof(double));
  std::vector<double> y(x.size(), 0.0);

  nam::DspLoadOptions options;
  options.prewarm = prewarm;
  std::unique_ptr<nam::DSP> model;
  try
  {
    model = nam::get_dsp(std::filesystem::path(pos[0]), options);
  }
  catch (const std::exception& e)
  {
    std::cerr << "error: NAM core cannot load " << pos[0] << ": " << e.what() << "\n";
    return 3;
  }
  if (!model || model->NumInputChannels() != 1 || model->NumOutputChannels() != 1)
  {
    std::cerr << "error: NAM core cannot load " << pos[0] << " as a mono model\n";
    return 3;
  }

  if (slim >= 0.0)
  {
    auto* slimmable = dynamic_cast<nam::SlimmableModel*>(model.get());
    if (slimmable == nullptr)
    {
      std::cerr << "error: " << pos[0] << " is not slimmable\n";
      return 3;
    }
    slimmable->SetSlimmableSize(slim);
  }

  double best = 1e300, total = 0.0, bestCpu = 1e300;
  for (int r = 0; r < repeat; r++)
  {
    model->SetPrewarmOnReset(prewarm);
    model->Reset(model->GetExpectedSampleRate() > 0 ? model->GetExpectedSampleRate() : 48000.0, block);
    const auto t0 = std::chrono::steady_clock::now();
    const std::clock_t c0 = std::clock();
    for (size_t start = 0; start < x.size(); start += block)
    {
      const int n = (int)std::min<size_t>(block, x.size() - start);
      double* ip = x.data() + start;
      double* op = y.data() + start;
      model->process(&ip, &op, n);
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    bestCpu = std::min(bestCpu, double(std::clock() - c0) / CLOCKS_PER_SEC);
    best = std::min(best, s);
    total += s;
  }
  if (pos.size() == 3)
  {
    std::ofstream out(pos[2], std::ios::binary);
    out.write(reinterpret_cast<const char*>(y.data()), y.size() * sizeof(double));
    if (!out)
    {
      std::cerr << "error: cannot write " << pos[2] << "\n";
      return 2;
    }
  }
  // best_cpu_s: processor time of the fastest run, which a busy machine inflates less than wall time
  std::printf("samples %zu block %d repeat %d fast_tanh %d best_s %.9f mean_s %.9f best_cpu_s %.9f\n", x.size(), block,
              repeat, fastTanh ? 1 : 0, best, total / repeat, bestCpu);
  return 0;
}
