"""NAM 0.13's A2 trained here: ``wavenet:a2-lite`` / ``wavenet:a2-full`` are NAM's shapes, export as NAM's
``SlimmableContainer``, and play the same in guneamp, in NAM 0.13's Python package and in NAM core.

The networks are A2 at full size (1,870 and 12,145 weights: small already), with random
weights; one CLI run trains a few steps to check the whole path (train, checkpoint,
export, render). NAM's files are made in the test by NAM's own package, never committed.
"""

import json
from importlib.resources import files as resource_files

import numpy as np
import pytest
import soundfile as sf
import torch

from benchmarks.nam_core import run_driver
from guneamp_lib.capture.guitar import synth_di
from guneamp_lib.cli import main
from guneamp_lib.errors import GuneampError
from guneamp_lib.models import NamWaveNet, build_model, count_parameters
from guneamp_lib.models.checkpoint import Checkpoint, load_checkpoint
from guneamp_lib.models.nam import export_nam, load_model_file
from guneamp_lib.models.nam_wavenet_config import array_config
from guneamp_lib.models.wavenet_a2 import A2_PRESETS
from guneamp_lib.render.streaming import StreamingProcessor
from guneamp_lib.training.defaults import ModelSpec

SR = 48000
GAIN_IN, GAIN_OUT = 0.7, 1.3  # training levels, folded into the exported weights


def esr(ref, y):
    ref = np.asarray(ref, np.float64)
    return float(np.sum((np.asarray(y, np.float64) - ref) ** 2) / np.sum(ref**2))


def a2_checkpoint(preset: str, seed: int) -> Checkpoint:
    """An A2 preset with random weights spread wide enough that every one matters."""
    torch.manual_seed(seed)
    model = build_model("wavenet", preset=preset).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.2 * torch.randn(p.shape))
    return Checkpoint(model, model.name, SR, 1, 1, target_kind="amp_direct", input_gain=GAIN_IN, output_gain=GAIN_OUT)


def rendered(ckpt: Checkpoint, x: np.ndarray, block: int = 64) -> np.ndarray:
    """Our render of a checkpoint at the recording's level: streamed, the compiled engine asserted."""
    proc = StreamingProcessor(ckpt.model, 1, engine="auto")
    assert proc.engine == "compiled"
    u = x * ckpt.input_gain
    y = np.concatenate([proc.process_block(u[s : s + block]) for s in range(0, u.size, block)])
    return y / ckpt.output_gain


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    d = tmp_path_factory.mktemp("a2")
    out = {}
    for i, preset in enumerate(A2_PRESETS):
        ckpt = a2_checkpoint(preset, i)
        out[preset] = (ckpt, export_nam(ckpt, d / f"{preset}.nam", {"name": preset}))
    return out


@pytest.fixture(scope="module")
def signal():
    return synth_di(0.5, SR, 3).astype(np.float32)


@pytest.fixture(scope="module")
def nam_packed():
    pytest.importorskip("nam.models", reason="neural-amp-modeler is not installed")
    text = resource_files("nam.train._resources").joinpath("config_model_packed.json").read_text()
    return json.loads(text)["net"]["config"]


def test_the_presets_are_nams_default_a2(nam_packed):
    from nam.models.wavenet import WaveNet as NamPythonWaveNet

    subs = {s["config"]["layers_configs"][0]["channels"]: s["config"] for s in nam_packed["submodels"]}
    assert sorted(subs) == sorted(A2_PRESETS.values())
    for preset, channels in A2_PRESETS.items():
        ours = build_model("wavenet", preset=preset)
        nams = subs[channels]
        assert isinstance(ours, NamWaveNet)
        assert ours.config["arrays"] == [array_config(lc, "nam") for lc in nams["layers_configs"]]
        assert ours.head_scale == nams["head_scale"]
        theirs = NamPythonWaveNet.init_from_config(json.loads(json.dumps(nams)))
        assert count_parameters(ours) == sum(p.numel() for p in theirs.parameters())
        assert ours.receptive_field == theirs.receptive_field


def test_the_model_spec_names_them_and_refuses_others():
    assert ModelSpec.parse("wavenet:a2-full").kwargs() == {"preset": "a2-full"}
    assert isinstance(ModelSpec.parse("wavenet:a2-lite").build(), NamWaveNet)
    with pytest.raises(GuneampError, match="a2-lite, a2-full"):
        ModelSpec.parse("wavenet:a2-huge")
    with pytest.raises(ValueError, match="takes no knobs"):
        build_model("wavenet", preset="a2-lite", num_knobs=2)


def test_the_export_is_nams_container_and_reads_back_equal(exports, signal):
    for preset, (ckpt, path) in exports.items():
        doc = json.loads(path.read_text())
        assert doc["architecture"] == "SlimmableContainer" and doc["weights"] == []
        assert doc["metadata"]["name"] == preset and doc["sample_rate"] == SR
        (sub,) = doc["config"]["submodels"]
        assert sub["max_value"] == 1.0 and sub["model"]["architecture"] == "WaveNet"
        assert len(sub["model"]["weights"]) == count_parameters(ckpt.model) + 1
        back = load_model_file(path)
        assert isinstance(back.model, NamWaveNet) and back.input_gain == back.output_gain == 1.0
        # the file plays the DI at its own level the way the checkpoint renders it
        assert esr(rendered(ckpt, signal), rendered(back, signal)) < 1e-10


def test_the_export_writes_the_config_nam_writes(exports, tmp_path):
    """Key for key, the layer array NAM 0.13's exporter writes for its own A2 of the same size."""
    pytest.importorskip("nam.models", reason="neural-amp-modeler is not installed")
    from benchmarks import nam_written

    nams = json.loads(nam_written.write("a2", tmp_path).read_text())
    theirs = {s["model"]["config"]["layers"][0]["channels"]: s["model"] for s in nams["config"]["submodels"]}
    for preset, (_, path) in exports.items():
        ours = json.loads(path.read_text())["config"]["submodels"][0]["model"]
        their = theirs[A2_PRESETS[preset]]
        assert ours["version"] == their["version"] and ours.keys() == their.keys()
        assert ours["config"]["layers"] == their["config"]["layers"]
        assert ours["config"]["head"] is their["config"]["head"] is None
        assert len(ours["weights"]) == len(their["weights"])


def test_nam_python_plays_the_written_submodel_as_we_do(exports, signal):
    """NAM 0.13's reader (``init_from_nam``) has no SlimmableContainer entry (it refuses NAM's own A2
    files too); it reads the container's submodel as written, and plays it as we do."""
    from_nam = pytest.importorskip("nam.models._from_nam", reason="neural-amp-modeler is not installed")
    for ckpt, path in exports.values():
        doc = json.loads(path.read_text())
        with pytest.raises(KeyError, match="SlimmableContainer"):  # if this fails, NAM reads containers now: use it
            from_nam.init_from_nam(doc)
        sub = doc["config"]["submodels"][0]["model"]
        theirs = from_nam.init_from_nam(sub).eval()
        with torch.no_grad():
            y = theirs(torch.from_numpy(signal).double().float()[None], pad_start=True)[0].numpy()
        assert np.sqrt(np.mean(y**2)) > 1e-4
        assert esr(y, rendered(ckpt, signal)) < 1e-10


@pytest.mark.slow
def test_nam_core_plays_the_container_as_we_do(exports, signal, nam_core_exact):
    for ckpt, path in exports.values():
        y, _ = run_driver(nam_core_exact, path, signal, block=64, exact_tanh=True)
        assert np.sqrt(np.mean(y**2)) > 1e-4
        assert esr(y, rendered(ckpt, signal)) < 1e-10


def test_guneamp_train_export_render_an_a2_preset(toy_pair, tmp_path):
    run = tmp_path / "run"
    argv = ["train", "--clean", toy_pair["clean"], "--amp", toy_pair["amp_direct"], "--target-kind", "amp_direct",
            "--model", "wavenet:a2-lite", "--epochs", "1", "--segment", "8192",
            "--batch-size", "4", "--device", "cpu", "--quiet", "--out", run]
    assert main([str(a) for a in argv]) == 0
    ckpt = load_checkpoint(run / "best.pt")
    assert ckpt.model_name == "nam_wavenet" and ckpt.model.config["arrays"][0]["channels"] == 3
    nam = tmp_path / "a2.nam"
    assert main(["export", "--model", str(run / "best.pt"), "--output", str(nam)]) == 0
    assert json.loads(nam.read_text())["architecture"] == "SlimmableContainer"
    outs = {}
    for name, model in (("pt", run / "best.pt"), ("nam", nam)):
        outs[name] = tmp_path / f"{name}.wav"
        assert main(["render", "--model", str(model), "--input", str(toy_pair["clean"]), "--output",
                     str(outs[name]), "--block-size", "64", "--quiet"]) == 0
    y_pt, y_nam = (sf.read(outs[n], dtype="float64")[0] for n in ("pt", "nam"))
    assert np.sqrt(np.mean(y_pt**2)) > 1e-4 and esr(y_pt, y_nam) < 1e-10
