"""Knob models (issue 18, notebook 13): conditioned WaveNet, LSTM and GRU, their checkpoints and streaming."""

import numpy as np
import pytest
import torch

from guneamp_lib.errors import GuneampError
from guneamp_lib.knobs import Knob, KnobSpace
from guneamp_lib.models import build_model
from guneamp_lib.models.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from guneamp_lib.render.inference import predict
from guneamp_lib.render.knob_input import KNOB_RAMP, KNOB_STEP
from guneamp_lib.render.streaming import StreamingProcessor

SMALL = [("wavenet", {"preset": "nano"}), ("lstm", {"hidden_size": 8}), ("gru", {"hidden_size": 8})]
SPACE = KnobSpace([Knob("drive", 0, 10), Knob("treble", 2, 8)])


def _model(name, kw, k=2, seed=0):
    torch.manual_seed(seed)
    return build_model(name, num_knobs=k, **kw).eval()


def _signal(n=4000, seed=1):
    return torch.randn(n, generator=torch.Generator().manual_seed(seed)) * 0.3


@pytest.mark.parametrize("name,kw", SMALL)
def test_snapshot_model_is_unchanged_by_the_knob_code(name, kw):
    """num_knobs=0 builds today's model: the same config, weight names and outputs."""
    torch.manual_seed(3)
    a = build_model(name, **kw)
    torch.manual_seed(3)
    b = build_model(name, num_knobs=0, **kw)
    assert "num_knobs" not in a.config and a.config == b.config
    assert list(a.state_dict()) == list(b.state_dict())
    x = _signal(500).view(1, 1, -1)
    assert torch.equal(a(x), b(x))
    with pytest.raises(ValueError, match="snapshot"):
        a(x, knobs=torch.zeros(1, 2))


@pytest.mark.parametrize("name,kw", SMALL)
def test_output_changes_with_the_knob_and_constant_equals_time_varying(name, kw):
    m = _model(name, kw)
    x = _signal(800).view(1, 1, -1)
    lo, hi = m(x, knobs=torch.tensor([[0.0, 0.5]])), m(x, knobs=torch.tensor([[1.0, 0.5]]))
    assert (lo - hi).abs().max() > 1e-3
    track = torch.tensor([0.0, 0.5]).view(1, 2, 1).expand(1, 2, 800)
    assert torch.allclose(lo, m(x, knobs=track), atol=1e-6)
    with pytest.raises(ValueError, match="knob"):
        m(x)


@pytest.mark.parametrize("name,kw", SMALL)
@pytest.mark.parametrize("engine", ["torch", "auto"])
def test_streaming_equals_offline_at_fixed_knobs(name, kw, engine):
    m = _model(name, kw)
    x = _signal()
    for knobs in ([0.2, 0.9], [0.8, 0.1]):
        k = np.float32(knobs)
        ref = predict(m, x, 1, None, knobs=k).numpy()
        sp = StreamingProcessor(m, 1, engine=engine, knob_space=SPACE)
        sp.set_knobs(SPACE.denormalize(k))
        sp.reset()
        y = np.concatenate([sp.process_block(x[i : i + 64].numpy()) for i in range(0, x.numel(), 64)])
        np.testing.assert_allclose(y, ref, atol=2e-5)


@pytest.mark.parametrize("name,kw", [SMALL[0], SMALL[1]])
def test_compiled_glide_equals_the_model_fed_the_same_knob_track(name, kw):
    """A knob turned mid-stream glides in KNOB_STEP sub-blocks; the compiled engine plays exactly
    the model given that piecewise-constant knob track, sample by sample."""
    m = _model(name, kw)
    x = _signal(3 * KNOB_RAMP)
    sp = StreamingProcessor(m, 1, engine="compiled")
    sp.set_knob_vector(np.float32([0.0, 0.0]))
    sp.reset()
    first = sp.process_block(x[:512].numpy())
    sp.set_knob_vector(np.float32([1.0, 0.5]))
    rest = sp.process_block(x[512:].numpy())
    track = np.zeros((2, x.numel()), np.float32)
    steps = KNOB_RAMP // KNOB_STEP
    for j in range(steps):
        a = 512 + j * KNOB_STEP
        track[:, a : a + KNOB_STEP] = (np.float32([1.0, 0.5]) * np.float32((j + 1) / steps))[:, None]
    track[:, 512 + KNOB_RAMP :] = np.float32([[1.0], [0.5]])
    # Silence before the start, at the first knobs, as the stream is primed.
    ctx = 0 if m.receptive_field == float("inf") else m.receptive_field - 1
    xp = torch.cat([torch.zeros(ctx), x]).view(1, 1, -1)
    tp = torch.from_numpy(np.concatenate([np.repeat(track[:, :1], ctx, axis=1), track], axis=1))
    ref = m(xp, knobs=tp[None])[0, 0, ctx:].detach().numpy()
    np.testing.assert_allclose(np.concatenate([first, rest]), ref, atol=2e-5)


def test_set_knobs_refusals():
    sp = StreamingProcessor(_model("lstm", {"hidden_size": 8}), 1, engine="torch", knob_space=SPACE)
    with pytest.raises(GuneampError, match="unknown knob 'gain'"):
        sp.set_knobs({"gain": 1, "drive": 1, "treble": 3})
    with pytest.raises(GuneampError, match="outside the range"):
        sp.set_knobs({"drive": 11, "treble": 3})
    sp.set_knobs({"drive": 11, "treble": 3}, extrapolate=True)
    snap = StreamingProcessor(build_model("lstm", hidden_size=8), 1, engine="torch")
    assert snap.knob_space is None
    with pytest.raises(GuneampError, match="snapshot"):
        snap.set_knobs({"drive": 1})


def test_checkpoint_keeps_the_knob_space_and_refuses_bad_knob_data(tmp_path):
    m = _model("wavenet", {"preset": "nano"})
    ckpt = Checkpoint(m, "wavenet", 48000, 1, 256, knobs=SPACE)
    save_checkpoint(tmp_path / "k.pt", ckpt)
    back = load_checkpoint(tmp_path / "k.pt")
    assert back.knobs == SPACE and back.model.num_knobs == 2
    x = _signal(300).view(1, 1, -1)
    k = torch.tensor([[0.3, 0.6]])
    assert torch.equal(back.model(x, knobs=k), m(x, knobs=k))
    payload = torch.load(tmp_path / "k.pt", weights_only=True)
    for bad, why in (([{"name": "drive", "low": 0, "high": 10}], "takes 2 knob"),
                     ("drive", "malformed"), ([{"name": "drive", "low": 5, "high": 5}] * 2, "malformed")):
        torch.save({**payload, "knobs": bad}, tmp_path / "bad.pt")
        with pytest.raises(GuneampError, match=why):
            load_checkpoint(tmp_path / "bad.pt")
    torch.save({k: v for k, v in payload.items() if k != "knobs"}, tmp_path / "none.pt")
    with pytest.raises(GuneampError, match="no knob list"):
        load_checkpoint(tmp_path / "none.pt")
    with pytest.raises(GuneampError, match="takes 2 knob"):
        save_checkpoint(tmp_path / "x.pt", Checkpoint(m, "wavenet", 48000, 1, 256))
    snap = Checkpoint(build_model("wavenet", preset="nano"), "wavenet", 48000, 1, 256)
    save_checkpoint(tmp_path / "s.pt", snap)
    assert "knobs" not in torch.load(tmp_path / "s.pt", weights_only=True)
