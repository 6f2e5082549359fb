"""NAM interop in both directions, held to NAM's own code (models/nam.py, nam_read.py, nam_levels.py, nam_lstm.py).

The reference is the real ``neural-amp-modeler`` package (a pinned dev dependency): every
export is loaded with ``nam.models._from_nam.init_from_nam``, NAM's own reader, and run with
NAM's own forward pass; files NAM writes are made here by instantiating NAM's models and
calling their ``export``. Tests that need the package skip cleanly where it is absent.

NAM 0.13 can no longer write format 0.5.x, so 0.5.x files are made by spelling NAM's 0.7
export in the 0.5 keys (:func:`as_format_05`). Those are exactly the keys and weights that
neural-amp-modeler 0.12.3 writes: checked once against files written by 0.12.3 itself
(WaveNet, gated WaveNet, 2-layer LSTM), which this reader matched to ESR 1e-13.
"""

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from guneamp_lib.cli import main
from guneamp_lib.errors import GuneampError, GuneampWarning
from guneamp_lib.models import LSTMModel, NamLSTM, NamWaveNet, SeedCNN, WaveNet
from guneamp_lib.models.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from guneamp_lib.models.nam import (NAM_FORMAT_VERSION, NAM_LSTM_BURN_IN, USER_FIELDS, export_nam, load_model_file,
                                    nam_payload)
from guneamp_lib.models.nam_levels import PROBE_RMS_DBFS, loudness_and_gain, loudness_probe
from guneamp_lib.models.nam_read import load_nam, run_from_silence
from guneamp_lib.models.wavenet import PRESETS

GAIN_IN, GAIN_OUT = 2.5, 0.4  # a checkpoint trained on 2.5 x DI and 0.4 x target
ESR_LIMIT = 1e-8


@pytest.fixture(scope="module")
def nam():
    """NAM's reader and metadata model; skip where neural-amp-modeler is not installed."""
    from_nam = pytest.importorskip("nam.models._from_nam", reason="neural-amp-modeler is not installed")
    import nam.models.metadata as metadata

    return from_nam.init_from_nam, metadata


def esr(y, ref) -> float:
    y, ref = np.asarray(y, np.float64), np.asarray(ref, np.float64)
    return float(((y - ref) ** 2).sum() / (ref ** 2).sum())


def perturbed(model, seed):
    """Weights pushed off their initial values, so every number matters and the output is not tiny."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model.eval()


def checkpoint(model, gain_in=GAIN_IN, gain_out=GAIN_OUT, oversample=1, sample_rate=48000):
    return Checkpoint(model, model.name, sample_rate, oversample, 256, input_gain=gain_in, output_gain=gain_out)


def signal(n=12000, seed=3):
    torch.manual_seed(seed)
    return 0.3 * torch.randn(1, n)


@torch.no_grad()
def trained_level_output(model, x, gain_in=GAIN_IN, gain_out=GAIN_OUT):
    """What `guneamp render` computes at the trained level: model(x * input_gain) / output_gain, after silence.

    An LSTM hears NAM's second of silence first: NAM's exporter stores the state that leaves.
    """
    if isinstance(model, LSTMModel):
        z = torch.zeros(1, NAM_LSTM_BURN_IN)
        return model(torch.cat([z, x * gain_in], 1)[:, None])[:, 0, NAM_LSTM_BURN_IN:] / gain_out
    return run_from_silence(model, x * gain_in) / gain_out


EXPORTS = [pytest.param(p, marks=pytest.mark.slow) if p == "standard" else p for p in PRESETS] + ["lstm"]


def exported(name, tmp_path, seed=0):
    model = perturbed(LSTMModel(16) if name == "lstm" else WaveNet(name), seed)
    path = export_nam(checkpoint(model), tmp_path / f"{name}.nam", {"name": name, "gear_type": "amp"})
    return model, path, json.loads(path.read_text())


@pytest.mark.parametrize("name", EXPORTS)
def test_nam_loads_every_export_as_written_and_plays_it_at_the_trained_level(name, tmp_path, nam):
    init_from_nam, _ = nam
    model, path, d = exported(name, tmp_path)
    theirs = init_from_nam(d).eval()
    x = signal()
    with torch.no_grad():
        y = theirs(x[0]).numpy()
    assert esr(y, trained_level_output(model, x)[0]) < ESR_LIMIT
    assert np.abs(y).max() > 1e-3  # a silent model would match anything
    assert d["version"] == NAM_FORMAT_VERSION and d["sample_rate"] == 48000
    assert math.isfinite(d["metadata"]["loudness"]) and 0.0 <= d["metadata"]["gain"] <= 1.0


@pytest.mark.parametrize("name", ["nano", "lstm"])
def test_the_file_is_what_nam_itself_would_write_for_that_network(name, tmp_path, nam):
    init_from_nam, metadata = nam
    _, _, d = exported(name, tmp_path, seed=1)
    theirs = init_from_nam(d)
    assert theirs._export_config() == d["config"]
    # LSTM: NAM recomputes the start state from a second of silence (float32 rounding apart).
    np.testing.assert_allclose(theirs._export_weights(), d["weights"], rtol=0, atol=0 if name == "nano" else 1e-6)
    assert set(d) == {"version", "metadata", "architecture", "config", "weights", "sample_rate"}
    user = metadata.UserMetadata.model_validate({k: d["metadata"][k] for k in metadata.UserMetadata.model_fields})
    assert user.gear_type == metadata.GearType.AMP and user.name == name
    assert set(USER_FIELDS) | {"date", "loudness", "gain"} <= set(d["metadata"])


@pytest.mark.parametrize("name", ["nano", "lstm"])
def test_loudness_and_gain_are_nams_formula(name, tmp_path, nam):
    """Fed NAM's own probe recording, our measurement gives NAM's figures for the same file."""
    init_from_nam, _ = nam
    _, path, d = exported(name, tmp_path, seed=2)
    theirs = init_from_nam(d).eval()
    ours = load_nam(path).model
    loudness, gain = loudness_and_gain(lambda x: run_from_silence(ours, x), theirs._metadata_loudness_x())
    assert loudness == pytest.approx(theirs._metadata_loudness(), abs=1e-4)
    assert gain == pytest.approx(float(theirs._metadata_gain()), abs=1e-5)
    # Our stand-in probe measures the same model within a dB of NAM's recording.
    assert d["metadata"]["loudness"] == pytest.approx(loudness, abs=1.0)


def test_the_probe_is_pink_noise_at_nams_level():
    x = loudness_probe(48000).double()
    assert x.numel() == 48000 and torch.equal(x, loudness_probe(48000).double())
    assert 20 * math.log10(float(x.square().mean().sqrt())) == pytest.approx(PROBE_RMS_DBFS, abs=1e-3)
    power = torch.fft.rfft(x).abs().square()
    octaves = [float(power[2**k : 2 ** (k + 1)].sum()) for k in range(4, 14)]  # 16 Hz up; bins 1 Hz apart
    assert max(octaves) / min(octaves) < 1.05  # the same energy in every octave
    crest = float(x.abs().max() / x.square().mean().sqrt())
    assert 2.5 < crest < 5  # peaks like noise (NAM's probe: 4.0)


def reference_wavenet(d, x):
    """NAM's WaveNet as its C++ core runs a format-0.7 file: valid convolutions, reading the flat
    weight list front to back. Written from NAM's description, independently of guneamp_lib."""
    w = iter(d["weights"])

    def take(*shape):
        return np.array([next(w) for _ in range(int(np.prod(shape)))], dtype=np.float64).reshape(shape)

    cond, h_in, head = x[None, :], x[None, :], None
    arrays = []
    for lc in d["config"]["layers"]:
        c, k, hs = lc["channels"], lc["kernel_sizes"][0], lc["head"]["out_channels"]
        arr = {"rechannel": take(c, lc["input_size"]), "layers": []}
        for dil in lc["dilations"]:
            arr["layers"].append((dil, take(c, c, k), take(c), take(c, 1), take(c, c), take(c)))
        arr["head"] = (take(hs, c), take(hs) if lc["head"]["bias"] else np.zeros(hs))
        arrays.append(arr)
    head_scale = next(w)
    assert next(w, None) is None, "weights left over"
    for arr in arrays:
        h = arr["rechannel"] @ h_in
        for dil, kw, kb, mix, w1, b1 in arr["layers"]:
            n_out = h.shape[1] - dil * (kw.shape[2] - 1)
            z = sum(kw[:, :, j] @ h[:, j * dil : j * dil + n_out] for j in range(kw.shape[2])) + kb[:, None]
            z = np.tanh(z + mix @ cond[:, -n_out:])
            h = h[:, -n_out:] + w1 @ z + b1[:, None]
            head = z if head is None else head[:, -n_out:] + z
        head = arr["head"][0] @ head + arr["head"][1][:, None]
        h_in = h
    return head_scale * head[0]


def test_the_weight_list_reads_in_nams_order_without_nam(tmp_path):
    model, _, d = exported("nano", tmp_path, seed=13)
    rf = model.receptive_field
    x = np.random.default_rng(0).standard_normal(rf + 400) * 0.3
    ref = reference_wavenet(d, x)
    assert ref.shape == (401,)  # NAM's valid output: one sample per full receptive field
    ours = trained_level_output(model.double(), torch.from_numpy(x)[None]).numpy()[0, rf - 1 :]
    assert esr(ours, ref) < 1e-12 and np.abs(ref).max() > 1e-3


# Silence fed to NAM core before the signal: more than any preset's receptive field, so every
# layer's history is that of silence (as the plugin's prewarm leaves it, and as NAM pads).
NAM_CORE_SILENCE = 8192


@pytest.mark.slow
@pytest.mark.parametrize("name", ["lite", "lstm"])
def test_nam_core_plays_every_export_as_we_do(name, tmp_path):
    """The plugin's C++ engine (../shared/nam-core, built by benchmarks/nam_core.py) with its exact tanh."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    try:
        nam_core = pytest.importorskip("nam_core", reason="benchmarks/nam_core.py is not in this checkout")
    finally:
        sys.path.pop(0)
    build = nam_core.build_nam_core("exact")
    if build is None:
        pytest.skip(f"NAM core cannot be built here: {nam_core.missing_requirements()}")
    model, path, _ = exported(name, tmp_path, seed=14)
    x = signal(seed=14)
    silence = np.zeros(NAM_CORE_SILENCE)
    y, _ = nam_core.run_driver(build, path, np.concatenate([silence, x[0].numpy()]), exact_tanh=True)
    assert esr(y[silence.size :], trained_level_output(model, x)[0]) < ESR_LIMIT


@pytest.mark.parametrize("name", ["nano", "feather", "lstm"])
def test_our_export_reads_back_as_the_same_model(name, tmp_path):
    model, path, d = exported(name, tmp_path, seed=4)
    ckpt = load_model_file(path)
    assert ckpt.input_gain == ckpt.output_gain == 1.0 and ckpt.oversample == 1 and ckpt.sample_rate == 48000
    assert ckpt.ir is None and ckpt.meta["nam_metadata"]["name"] == name
    if name != "lstm":
        assert ckpt.model.config["preset"] == name and ckpt.model_name == "wavenet"
    x = signal(seed=5)
    assert esr(run_from_silence(ckpt.model, x), trained_level_output(model, x)) < 1e-10
    # Read back, the measured levels are those the file states.
    loud, gain = loudness_and_gain(lambda s: run_from_silence(ckpt.model, s), loudness_probe(48000))
    assert (loud, gain) == pytest.approx((d["metadata"]["loudness"], d["metadata"]["gain"]), abs=1e-6)


def test_an_imported_model_saves_and_loads_as_a_checkpoint(tmp_path):
    _, path, _ = exported("lstm", tmp_path, seed=6)
    ckpt = load_model_file(path)
    assert isinstance(ckpt.model, NamLSTM)
    again = load_checkpoint(save_checkpoint(tmp_path / "m.pt", ckpt))
    assert load_model_file(tmp_path / "m.pt").model_name == "nam_lstm"
    x = signal(4000)[:, None]
    with torch.no_grad():
        assert torch.equal(again.model(x), ckpt.model(x))


# A WaveNet using what NAM 0.13 can train beyond its presets: a bottleneck, a head 1x1,
# blended and gated layers, per-layer kernel sizes and activations, long head rechannels.
# (A blended LeakyReLU would be richer still, but NAM 0.13 cannot read that file back itself.)
NAM_RICH_ARRAYS = [
    {"input_size": 1, "condition_size": 1, "channels": 6, "bottleneck": 4, "kernel_sizes": [3, 5, 2],
     "dilations": [1, 3, 7], "activation": {"name": "PairBlend", "primary": "Tanh", "secondary": "Sigmoid"},
     "head_1x1_config": {"active": True, "out_channels": 3, "groups": 1},
     "head": {"out_channels": 5, "kernel_size": 3, "bias": True}},
    {"input_size": 6, "condition_size": 1, "channels": 5, "kernel_sizes": [2, 4, 3], "dilations": [2, 1, 5],
     "activation": ["LeakyReLU", {"name": "PairMultiply", "primary": "ReLU", "secondary": "Sigmoid"}, "SiLU"],
     # (without a layer 1x1, NAM's Python package and its plugin disagree: see models/nam_wavenet.py)
     "layer_1x1_config": {"active": True, "groups": 1}, "head": {"out_channels": 1, "kernel_size": 2, "bias": False}},
]


def nam_written(kind, tmp_path):
    """A file written by NAM's own exporter, from NAM's own model class."""
    from importlib.resources import files

    from nam.models.recurrent import LSTM
    from nam.models.wavenet import PackedWaveNet
    from nam.models.wavenet import WaveNet as NamWaveNetClass

    if kind == "lstm":
        model = LSTM(hidden_size=8, num_layers=2, sample_rate=44100.0)
    elif kind == "packed":  # what NAM 0.13's trainer makes by default: one amp at two sizes
        config = json.loads(files("nam.train._resources").joinpath("config_model_packed.json").read_text())
        model = PackedWaveNet.init_from_config({**config["net"]["config"], "sample_rate": 48000.0})
    else:
        if kind == "rich":
            layers = NAM_RICH_ARRAYS
        else:
            act = {"name": "PairMultiply", "primary": "Tanh", "secondary": "Sigmoid"} if kind == "gated" else "Tanh"
            layers = [dict(lc, activation=act) for lc in json.loads(json.dumps(PRESETS["nano"]["layers"]))]
            for lc in layers:
                lc["head"] = {"out_channels": lc.pop("head_size"), "kernel_size": 1, "bias": lc.pop("head_bias")}
                del lc["gated"]
        model = NamWaveNetClass.init_from_config({"layers_configs": layers, "head": None, "head_scale": 0.05,
                                                  "sample_rate": 48000.0})
    perturbed(model, 7).export(tmp_path, basename=kind)
    return json.loads((tmp_path / f"{kind}.nam").read_text())


def as_format_05(d):
    """NAM's 0.7 file in the 0.5.x keys that neural-amp-modeler <= 0.12 wrote (see the module docstring)."""
    d = json.loads(json.dumps(d), parse_float=float)
    d["version"] = "0.5.4"
    if d["architecture"] == "WaveNet":
        d["config"]["layers"] = [
            {"input_size": lc["input_size"], "condition_size": lc["condition_size"],
             "head_size": lc["head"]["out_channels"], "channels": lc["channels"], "kernel_size": lc["kernel_sizes"][0],
             "dilations": lc["dilations"], "activation": lc["activation"][0]["type"],
             "gated": lc["gating_mode"][0] == "gated", "head_bias": lc["head"]["bias"]}
            for lc in d["config"]["layers"]
        ]
    return d


NAM_FILES = [(k, "0.7") for k in ("wavenet", "gated", "rich", "packed", "lstm")] + [
    (k, "0.5") for k in ("wavenet", "gated", "lstm")]


@pytest.mark.parametrize("kind, layout", NAM_FILES)
def test_files_written_by_nam_read_into_our_models(kind, layout, tmp_path, nam):
    init_from_nam, _ = nam
    d = nam_written(kind, tmp_path)
    assert d["version"] == NAM_FORMAT_VERSION
    # NAM 0.13 reads only its own layout; a container plays its largest model by default.
    theirs = init_from_nam(d["config"]["submodels"][-1]["model"] if kind == "packed" else d).eval()
    if layout == "0.5":
        d = as_format_05(d)
    path = tmp_path / "file.nam"
    path.write_text(json.dumps(d))
    ckpt = load_model_file(path)
    assert ckpt.sample_rate == (44100 if kind == "lstm" else 48000)
    # a gated file is NAM's WaveNet: our WaveNet's compiled engine plays plain tanh layers only
    expected = {"lstm": NamLSTM, "rich": NamWaveNet, "packed": NamWaveNet, "gated": NamWaveNet}.get(kind, WaveNet)
    assert type(ckpt.model) is expected
    x = signal(seed=8)
    with torch.no_grad():
        ref = theirs(x[0]).numpy()
    assert esr(run_from_silence(ckpt.model, x)[0], ref) < ESR_LIMIT
    assert np.abs(ref).max() > 1e-3
    again = load_checkpoint(save_checkpoint(tmp_path / "m.pt", ckpt))  # and it keeps as a checkpoint
    torch.testing.assert_close(run_from_silence(again.model, x), run_from_silence(ckpt.model, x), rtol=0, atol=0)


def test_nam_lstm_streams_like_one_pass():
    model = perturbed(NamLSTM(8, 2), 9)
    model.initial_hidden.normal_()
    x = signal(3000)[:, None]
    with torch.no_grad():
        whole = model(x)
        a, state = model.forward_stateful(x[..., :1234])
        b, _ = model.forward_stateful(x[..., 1234:], state)
    torch.testing.assert_close(torch.cat([a, b], -1), whole, rtol=0, atol=1e-6)


@pytest.mark.parametrize("source", ["our export", "stacked, from a stored state", "wider than the tree kernel"])
def test_a_nam_lstm_streams_on_the_compiled_engine_as_offline(source, tmp_path):
    """NAM's LSTM layout (no skip, stored start state, stacked layers) runs on the compiled
    engine, block by block, and gives the offline torch render to float32 rounding: 16
    units, 3 units padded to the 8-unit tree kernel, and 22 units on the general kernel."""
    from guneamp_lib.render.inference import process
    from guneamp_lib.render.streaming import StreamingProcessor

    if source == "our export":
        model = load_model_file(exported("lstm", tmp_path, seed=7)[1]).model
    else:
        # 3 units: padded to the narrow tree kernel's 8; 22: the general kernel, with inputs left
        # over after its passes of four
        model = perturbed(NamLSTM(3, 3) if source.startswith("stacked") else NamLSTM(22, 2), 8)
        with torch.no_grad():
            model.initial_hidden.normal_(0, 0.3)
            model.initial_cell.normal_(0, 0.3)
    assert isinstance(model, NamLSTM)
    x = signal(6000, seed=9)[0]
    x[3000:3500] *= 1e-25  # a decay into subnormal floats: the kernel must not change them
    ref = process(model, x, engine="torch").numpy()
    assert np.abs(ref).max() > 1e-3
    for block in (1, 64, 2048):
        proc = StreamingProcessor(model, 1, engine="compiled")
        y = np.concatenate([proc.process_block(x[s : s + block].numpy()) for s in range(0, x.numel(), block)])
        assert esr(y, ref) < 1e-10, block


def test_export_refuses_what_nam_cannot_play(tmp_path):
    with pytest.raises(GuneampError, match="seed_cnn model has no .nam layout"):
        export_nam(checkpoint(SeedCNN()), tmp_path / "x.nam")
    with pytest.raises(GuneampError, match="input_gain"):
        export_nam(checkpoint(WaveNet("nano"), gain_in=0.0), tmp_path / "x.nam")
    with pytest.raises(GuneampError, match="gear_type must be one of"):
        export_nam(checkpoint(WaveNet("nano")), tmp_path / "x.nam", {"gear_type": "toaster"})
    with pytest.raises(GuneampError, match="input_level_dbu"):
        export_nam(checkpoint(WaveNet("nano")), tmp_path / "x.nam", {"input_level_dbu": math.nan})
    bad = WaveNet("nano")
    with torch.no_grad():
        next(bad.parameters())[0] = math.nan
    with pytest.raises(GuneampError, match="NaN"):
        export_nam(checkpoint(bad), tmp_path / "x.nam")
    assert not list(tmp_path.iterdir())


def test_an_oversampled_model_exports_at_its_network_rate_with_a_warning(tmp_path):
    with pytest.warns(GuneampWarning, match="resamples 44100 Hz audio to that rate"):
        d = nam_payload(checkpoint(perturbed(WaveNet("nano"), 10), oversample=8, sample_rate=44100))
    assert d["sample_rate"] == 8 * 44100 and d["metadata"]["training"]["guneamp"]["oversample"] == 8


def malformed(good_wavenet, good_lstm):
    layers = good_wavenet["config"]["layers"]
    return {
        "not JSON": "{not json",
        "a list": [],
        "no config": {k: v for k, v in good_wavenet.items() if k != "config"},
        "format 0.9": dict(good_wavenet, version="0.9.0"),
        "Transformer": dict(good_wavenet, architecture="Transformer"),
        "PReLU of the wrong width": dict(good_wavenet, config=dict(good_wavenet["config"], layers=[
            dict(layers[0], activation=[{"type": "PReLU", "negative_slopes": [0.1] * 3}] * 7)] + layers[1:])),
        "head network without kernels": dict(good_wavenet, config=dict(good_wavenet["config"], head={"channels": 2})),
        "no version": {k: v for k, v in good_wavenet.items() if k != "version"},
        "short weights": dict(good_wavenet, weights=good_wavenet["weights"][1:]),
        "text weights": dict(good_wavenet, weights=["0.1"] * len(good_wavenet["weights"])),
        "no layers": dict(good_wavenet, config={"head": None, "head_scale": 0.02}),
        "channels that do not chain": dict(good_wavenet, config=dict(good_wavenet["config"], layers=[
            dict(layers[0], head=dict(layers[0]["head"], out_channels=3))] + layers[1:])),
        "empty container": dict(good_wavenet, architecture="SlimmableContainer", config={"submodels": []}),
        "negative rate": dict(good_wavenet, sample_rate=-48000),
        "stereo LSTM": dict(good_lstm, config=dict(good_lstm["config"], input_size=2)),
        "huge LSTM": dict(good_lstm, config=dict(good_lstm["config"], hidden_size=10**6)),
    }


def test_malformed_files_get_one_line_errors_and_nothing_runs(tmp_path):
    wave = nam_payload(checkpoint(WaveNet("nano"), 1.0, 1.0))
    lstm = nam_payload(checkpoint(LSTMModel(8), 1.0, 1.0))
    for label, content in malformed(wave, lstm).items():
        path = tmp_path / "bad.nam"
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        with pytest.raises(GuneampError) as e:
            load_model_file(path)
        assert "\n" not in str(e.value) and str(path) in str(e.value), label
    (tmp_path / "binary.nam").write_bytes(bytes(range(256)))
    with pytest.raises(GuneampError, match="not a .nam file"):
        load_model_file(tmp_path / "binary.nam")
    with pytest.raises(GuneampError, match="not found"):
        load_model_file(tmp_path / "missing.nam")
    (tmp_path / "odd_rate.nam").write_text(json.dumps(dict(wave, sample_rate=44100.5)))
    with pytest.raises(GuneampError, match="whole number of Hz"):
        load_model_file(tmp_path / "odd_rate.nam")


def run(capsys, *argv):
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse's refusals (the levels are checked there) end here
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_export_writes_the_metadata_given_and_refuses_bad_options(tmp_path, capsys):
    pt = save_checkpoint(tmp_path / "m.pt", checkpoint(perturbed(WaveNet("nano"), 11)))
    out = tmp_path / "amp.nam"
    code, _, err = run(capsys, "export", "--model", pt, "--output", out, "--gear-type", "amp_cab", "--tone-type",
                       "crunch", "--gear-make", "Marshall", "--gear-model", "JVM410H", "--input-level-dbu", "12.5",
                       "--output-level-dbu", "-3", "--modeled-by", "me")
    assert code == 0, err
    meta = json.loads(out.read_text())["metadata"]
    assert meta["name"] == "amp" and meta["gear_type"] == "amp_cab" and meta["tone_type"] == "crunch"
    assert (meta["gear_make"], meta["gear_model"], meta["modeled_by"]) == ("Marshall", "JVM410H", "me")
    assert meta["input_level_dbu"] == 12.5 and meta["output_level_dbu"] == -3.0
    before = out.read_bytes()
    for bad in (["--input-level-dbu", "nan"], ["--output-level-dbu", "200"], ["--name", " "]):
        code, _, err = run(capsys, "export", "--model", pt, "--output", tmp_path / "b.nam", *bad)
        assert code == 2 and err.startswith("error:") and err.count("\n") == 1, bad
    code, _, err = run(capsys, "export", "--model", pt, "--output", out)
    assert code == 2 and "--overwrite" in err and out.read_bytes() == before
    code, _, err = run(capsys, "export", "--model", pt, "--output", tmp_path / "amp.json")
    assert code == 2 and ".nam" in err
    seed = save_checkpoint(tmp_path / "s.pt", checkpoint(SeedCNN()))
    code, _, err = run(capsys, "export", "--model", seed, "--output", tmp_path / "s.nam")
    assert code == 2 and "no .nam layout" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["amp.nam", "m.pt", "s.pt"]


def test_cli_render_takes_a_nam_file(toy_pair, tmp_path, capsys):
    import soundfile as sf

    ckpt = checkpoint(perturbed(WaveNet("nano"), 12), 1.0, 1.0, sample_rate=44100)
    pt = save_checkpoint(tmp_path / "m.pt", ckpt)
    nam_file = export_nam(ckpt, tmp_path / "m.nam")
    outs = {}
    for name, model, blocks in (("pt", pt, []), ("nam", nam_file, []), ("streamed", nam_file, ["--block-size", 256])):
        outs[name] = tmp_path / f"{name}.wav"
        code, _, err = run(capsys, "render", "--model", model, "--input", toy_pair["clean"], "--output", outs[name],
                           "--no-ir", "--quiet", *blocks)
        assert code == 0, err
    a, b, c = (sf.read(str(outs[k]))[0] for k in ("pt", "nam", "streamed"))
    # not silence: render writes the model's own level now (gains 1 here), not a normalized peak
    assert esr(b, a) < 1e-8 and esr(c, a) < 1e-8 and np.abs(a).max() > 0.01
    code, _, err = run(capsys, "render", "--model", tmp_path / "nope.nam", "--input", toy_pair["clean"], "--output",
                       tmp_path / "x.wav")
    assert code == 2 and "not found" in err
