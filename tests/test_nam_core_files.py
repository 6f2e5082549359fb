"""Every architecture NAM core plays, in files NAM 0.13's own package writes: guneamp plays them as NAM core does.

The files are made in the test (``tests/nam_written.py``: NAM's model classes and
exporter, random weights), streamed through NAM core's exact-``tanh`` build
(``benchmarks/nam_core.py``) and through :class:`~guneamp_lib.render.streaming.StreamingProcessor`
in blocks of 64, on the compiled engine the chooser picks for each (never torch); the two agree to ESR < 1e-10 (measured: 1e-12 to 1e-15; the rest is the
order of float32 sums). A2 is NAM's trainer's default (a ``SlimmableContainer`` of a 3-
and an 8-channel WaveNet): Lite is the plugin's CPU slider below 0.5, Full its default.
Without NAM's sources, a compiler, Eigen or NAM's package the tests skip and say why.
"""

import json

import numpy as np
import pytest

from benchmarks.nam_core import run_driver
from guneamp_lib.capture.guitar import synth_di
from guneamp_lib.errors import GuneampError
from guneamp_lib.models import NamWaveNet
from guneamp_lib.models.nam import load_model_file
from guneamp_lib.render.streaming import StreamingProcessor
from benchmarks import nam_written

pytestmark = pytest.mark.slow
SR = 48000
# (file, CPU slider or None for the plugin's default)
CASES = [("a2", None), ("a2", 0.2), ("slimmable", None), ("slimmable", 0.1), ("slimmable", 0.5), ("gated", None),
         ("film", None), ("condition", None), ("convnet", None), ("lstm", None), ("linear", None),
         ("format 0.6", None), ("no layer 1x1", None), ("lstm with a condition_dsp", None),
         ("wavenet with an lstm condition_dsp", None), ("slimmable with an lstm condition_dsp", 0.4)]


@pytest.fixture(scope="module")
def exact(nam_core_exact):
    return nam_core_exact


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    pytest.importorskip("nam.models", reason="neural-amp-modeler is not installed")
    d = tmp_path_factory.mktemp("nam-written")
    out = {name: nam_written.write(name, d, seed=i) for i, name in enumerate(nam_written.configs())}
    out["format 0.6"] = nam_written.as_format_06(out["gated"], d / "format06.nam")
    # NAM core passes a layer's input on unchanged where it has no layer 1x1 (NAM's Python adds
    # the activation): a hand-edited config, since NAM's trainer never writes one
    doc = json.loads(out["slimmable"].read_text())
    lc = doc["config"]["layers"][0]
    lc["layer1x1"]["active"], lc["slimmable"] = False, None
    lc["head"]["out_channels"] = 1
    n_layer1x1 = len(lc["dilations"]) * (lc["channels"] * lc["channels"] + lc["channels"])
    weights, kept, i = doc["weights"], [], lc["input_size"] * lc["channels"]
    kept += weights[:i]
    for k in lc["kernel_sizes"]:
        conv = lc["channels"] * lc["channels"] * k + lc["channels"] + lc["channels"]  # conv, bias, input mixer
        kept += weights[i : i + conv]
        i += conv + lc["channels"] * lc["channels"] + lc["channels"]  # skip the layer 1x1
    kept += weights[i:]
    assert len(kept) == len(weights) - n_layer1x1
    doc["weights"] = kept
    (d / "no_layer1x1.nam").write_text(json.dumps(doc))
    out["no layer 1x1"] = d / "no_layer1x1.nam"
    # NAM core reads an LSTM's num_layers, input_size and hidden_size and nothing else: a
    # condition_dsp there is ignored, not refused (NAM's Python package never writes one)
    doc = json.loads(out["lstm"].read_text())
    doc["config"]["condition_dsp"] = json.loads(out["linear"].read_text())
    (d / "lstm_condition.nam").write_text(json.dumps(doc))
    out["lstm with a condition_dsp"] = d / "lstm_condition.nam"
    # NAM core plays a WaveNet whose condition DSP is an LSTM (NAM's Python trains only a
    # WaveNet there): NAM's gated WaveNet with NAM's LSTM spliced in. The LSTM's weights get
    # less noise (0.1) than the others: at 0.3 its own float32 difference between the
    # engines (ESR 4e-11 for the LSTM file alone) reaches every layer through the mixers
    # and measures 1.4e-10 at the output; at 0.1, 2e-13.
    (d / "small").mkdir()
    small = nam_written.write("lstm", d / "small", seed=9, perturb=0.1)
    doc = json.loads(out["gated"].read_text())
    doc["config"]["condition_dsp"] = json.loads(small.read_text())
    (d / "wavenet_lstm_condition.nam").write_text(json.dumps(doc))
    out["wavenet with an lstm condition_dsp"] = d / "wavenet_lstm_condition.nam"
    # the slider slims the layers, not the condition DSP, which keeps its stored state
    doc = json.loads(out["slimmable"].read_text())
    doc["config"]["condition_dsp"] = json.loads(small.read_text())
    (d / "slimmable_lstm_condition.nam").write_text(json.dumps(doc))
    out["slimmable with an lstm condition_dsp"] = d / "slimmable_lstm_condition.nam"
    return out


@pytest.fixture(scope="module")
def signal():
    return synth_di(0.6, SR, 3).astype(np.float32)


def esr(ref, y):
    ref = np.asarray(ref, np.float64)
    return float(np.sum((np.asarray(y, np.float64) - ref) ** 2) / np.sum(ref**2))


def ours(model, x, block=64):
    proc = StreamingProcessor(model, 1, engine="auto")
    assert proc.engine == "compiled"  # nothing NAM core plays is left to torch
    return np.concatenate([proc.process_block(x[s : s + block]) for s in range(0, x.size, block)])


@pytest.mark.parametrize("name, slim", CASES)
def test_nam_written_files_play_as_in_nam_core(exact, files, signal, name, slim):
    y, _ = run_driver(exact, files[name], signal, block=64, exact_tanh=True, slim=slim)
    model = load_model_file(files[name], slim=slim).model
    ref = ours(model, signal)
    assert y.shape == ref.shape and np.sqrt(np.mean(y**2)) > 1e-4  # not a silent comparison
    assert esr(y, ref) < 1e-10


def test_the_slider_picks_a_smaller_network(files):
    full = load_model_file(files["a2"]).model
    lite = load_model_file(files["a2"], slim=0.2).model
    assert isinstance(full, NamWaveNet) and full.config["arrays"][0]["channels"] == 8
    assert lite.config["arrays"][0]["channels"] == 3
    slim = load_model_file(files["slimmable"], slim=0.4).model  # allowed [2, 4, 8]: floor(0.4 * 3) = 1
    assert slim.config["arrays"][0]["channels"] == 4
    with pytest.raises(GuneampError, match="holds one model size"):
        load_model_file(files["gated"], slim=0.5)


def test_render_slim_plays_the_chosen_size(files, tmp_path, capsys):
    import soundfile as sf

    from guneamp_lib.cli import main

    x = synth_di(0.2, SR, 5).astype(np.float32)
    sf.write(tmp_path / "di.wav", x, SR, subtype="FLOAT")
    outs = {}
    for slim in (None, 0.2):
        out = tmp_path / f"out{slim}.wav"
        argv = ["render", "--model", str(files["a2"]), "--input", str(tmp_path / "di.wav"), "--output", str(out),
                "--block-size", "64", "--quiet"] + ([] if slim is None else ["--slim", str(slim)])
        assert main(argv) == 0
        outs[slim] = sf.read(out, dtype="float32")[0]
        ref = ours(load_model_file(files["a2"], slim=slim).model, x)
        assert esr(ref, outs[slim]) < 1e-10
    assert esr(outs[None], outs[0.2]) > 1e-2  # two different networks
    assert main(["render", "--model", str(files["gated"]), "--input", str(tmp_path / "di.wav"), "--output",
                 str(tmp_path / "g.wav"), "--slim", "0.5"]) != 0
    assert "holds one model size" in capsys.readouterr().err
