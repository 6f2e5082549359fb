import json

import numpy as np
import pytest
import torch

from guneamp_lib.errors import GuneampError
from guneamp_lib.models import SeedCNN
from guneamp_lib.models.nam import export_nam, load_nam, nam_weights
from guneamp_lib.models.wavenet import PRESETS, WaveNet

# NAM's parameter counts (see tests/test_wavenet.py for the arithmetic); a .nam file
# holds one more number, head_scale, at the end of the weight list.
NAM_PARAMETERS = {"standard": 13801, "lite": 6553, "feather": 3025, "nano": 841}

# NAM's nano preset, copied by hand from nam/train/core.py: the file must carry it verbatim.
NAM_NANO_LAYERS = [
    {"input_size": 1, "condition_size": 1, "channels": 4, "head_size": 2, "kernel_size": 3,
     "dilations": [1, 2, 4, 8, 16, 32, 64], "activation": "Tanh", "gated": False, "head_bias": False},
    {"condition_size": 1, "input_size": 4, "channels": 2, "head_size": 1, "kernel_size": 3,
     "dilations": [128, 256, 512, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512], "activation": "Tanh", "gated": False,
     "head_bias": True},
]


def _random_wavenet(preset, seed=0):
    torch.manual_seed(seed)
    m = WaveNet(preset)
    with torch.no_grad():
        for p in m.parameters():  # beyond the default init, so every number matters
            p.add_(0.1 * torch.randn_like(p))
    return m.eval()


def nam_reference_forward(weights, config, x):
    """NAM's WaveNet as its plugin runs it: valid convolutions, reading the flat weight
    list front to back. Written from NAM's description, independently of guneamp_lib."""
    w = iter(weights)

    def take(*shape):
        n = int(np.prod(shape))
        return np.array([next(w) for _ in range(n)], dtype=np.float64).reshape(shape)

    arrays = []
    for lc in config["layers"]:
        c, k = lc["channels"], lc["kernel_size"]
        arr = {"rechannel": take(c, lc["input_size"], 1), "layers": []}
        for d in lc["dilations"]:
            arr["layers"].append({
                "d": d, "conv_w": take(c, c, k), "conv_b": take(c), "mix_w": take(c, 1, 1),
                "w1": take(c, c, 1), "b1": take(c),
            })
        arr["head_w"] = take(lc["head_size"], c, 1)
        arr["head_b"] = take(lc["head_size"]) if lc["head_bias"] else np.zeros(lc["head_size"])
        arrays.append(arr)
    head_scale = next(w)
    assert next(w, None) is None, "weights left over"

    cond = x[None, :]
    h_in, head = cond, None
    for arr in arrays:
        h = arr["rechannel"][:, :, 0] @ h_in
        for layer in arr["layers"]:
            d, kw = layer["d"], layer["conv_w"]
            k = kw.shape[2]
            n_out = h.shape[1] - d * (k - 1)
            z = sum(kw[:, :, j] @ h[:, j * d : j * d + n_out] for j in range(k)) + layer["conv_b"][:, None]
            z = np.tanh(z + layer["mix_w"][:, :, 0] @ cond[:, -n_out:])
            h = h[:, -n_out:] + layer["w1"][:, :, 0] @ z + layer["b1"][:, None]
            head = z if head is None else head[:, -n_out:] + z
        head = arr["head_w"][:, :, 0] @ head + arr["head_b"][:, None]
        h_in = h
    return head_scale * head[0]


@pytest.mark.parametrize("preset", list(PRESETS))
def test_weight_list_length_is_nams(preset):
    assert len(nam_weights(WaveNet(preset))) == NAM_PARAMETERS[preset] + 1


def test_file_fields(tmp_path):
    m = _random_wavenet("nano")
    path = export_nam(m, tmp_path / "sub" / "amp.nam", 48000, metadata={"name": "toy amp", "gain": 3.5})
    d = json.loads(path.read_text())
    assert d["version"] == "0.5.2" and d["architecture"] == "WaveNet" and d["sample_rate"] == 48000
    assert d["config"] == {"layers": NAM_NANO_LAYERS, "head": None, "head_scale": 0.02}
    assert d["weights"][-1] == pytest.approx(0.02) and len(d["weights"]) == 842
    assert d["metadata"]["name"] == "toy amp" and d["metadata"]["gain"] == 3.5 and "year" in d["metadata"]["date"]
    assert [p.name for p in path.parent.iterdir()] == ["amp.nam"]  # no temporary file left behind


@pytest.mark.parametrize("preset", ["nano", "feather"])
def test_export_then_load_gives_the_same_model(tmp_path, preset):
    m = _random_wavenet(preset, seed=1)
    loaded = load_nam(export_nam(m, tmp_path / "m.nam", 96000))
    assert loaded.sample_rate == 96000 and loaded.version == "0.5.2"
    assert loaded.model.config == m.config and loaded.model.config["preset"] == preset
    x = torch.randn(2, 1, 6000)
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(x), m(x), rtol=0, atol=1e-6)
    for a, b in zip(loaded.model.parameters(), m.parameters()):
        assert torch.equal(a, b)  # float32 -> JSON -> float32 is exact


@pytest.mark.parametrize("preset", ["nano", "feather"])
def test_weight_order_matches_nams_reading_of_the_file(tmp_path, preset):
    m = _random_wavenet(preset, seed=2)
    d = json.loads(export_nam(m, tmp_path / "m.nam", 48000).read_text())
    rf = m.receptive_field
    x = np.random.default_rng(0).standard_normal(rf + 400) * 0.5
    ref = nam_reference_forward(d["weights"], d["config"], x)
    assert ref.shape == (401,)  # NAM's valid output: one sample per full receptive field
    with torch.no_grad():
        ours = m.double()(torch.from_numpy(x).view(1, 1, -1))[0, 0, rf - 1 :].numpy()
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-6)
    assert np.abs(ref).max() > 1e-3  # a silent model would match anything


def test_only_wavenets_export(tmp_path):
    with pytest.raises(GuneampError, match="only WaveNet"):
        export_nam(SeedCNN(), tmp_path / "x.nam", 48000)
    with pytest.raises(GuneampError, match="sample_rate"):
        export_nam(WaveNet("nano"), tmp_path / "x.nam", 0)
    with pytest.raises(GuneampError, match="JSON"):
        export_nam(WaveNet("nano"), tmp_path / "x.nam", 48000, metadata={"bad": object()})
    assert not list(tmp_path.iterdir())


def test_load_refuses_broken_files(tmp_path):
    good = json.loads(export_nam(WaveNet("nano"), tmp_path / "m.nam", 48000).read_text())
    short = dict(good, weights=good["weights"][1:])
    (tmp_path / "short.nam").write_text(json.dumps(short))
    with pytest.raises(GuneampError, match="841"):
        load_nam(tmp_path / "short.nam")
    (tmp_path / "lstm.nam").write_text(json.dumps(dict(good, architecture="LSTM")))
    with pytest.raises(GuneampError, match="LSTM"):
        load_nam(tmp_path / "lstm.nam")
    (tmp_path / "junk.nam").write_text("not json")
    with pytest.raises(GuneampError, match="not a .nam"):
        load_nam(tmp_path / "junk.nam")
    with pytest.raises(GuneampError, match="not found"):
        load_nam(tmp_path / "missing.nam")
