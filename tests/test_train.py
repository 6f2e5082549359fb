import math

import numpy as np
import pytest
import torch

from guneamp_lib.models.checkpoint import load_checkpoint, save_checkpoint
from guneamp_lib.training.data import load_training_data, make_training_data
from guneamp_lib.errors import GuneampError
from guneamp_lib.render.inference import predict
from guneamp_lib.training.losses import esr
from guneamp_lib.models import SeedCNN
from guneamp_lib.training.step import forward_segments
from guneamp_lib.training.train import TrainConfig, evaluate, train
from tests.conftest import toy_amp, toy_di


def quick_cfg(**kw):
    base = dict(oversample=2, epochs=3, time_budget_s=None, steps_per_epoch=8, segment=2048, batch_size=4,
                learning_rate=5e-3, device="cpu")
    base.update(kw)
    return TrainConfig(**base)


def test_training_reduces_held_out_error_and_saves_checkpoints(toy_pair, tmp_path):
    data = load_training_data(toy_pair["clean"], toy_pair["amp"], toy_pair["cab_ir"])
    assert data.ir is not None and data.target_kind == "amp_with_cab"
    cfg = quick_cfg()
    untrained = evaluate(SeedCNN(), data, cfg)["esr"]
    result = train(data, cfg, out_dir=tmp_path / "run", progress=False)
    assert len(result.history) == 3
    assert result.history[-1]["step"] == 24
    assert result.best_val_esr < 0.5 * untrained
    assert (tmp_path / "run" / "best.pt").exists() and (tmp_path / "run" / "last.pt").exists()
    # the reported figure is the held-out ESR of the returned model
    assert evaluate(result.model, data, cfg)["esr"] == pytest.approx(result.best_val_esr, rel=1e-5)
    # the weights training ended with come back too: last.pt's
    from guneamp_lib.models.checkpoint import load_checkpoint

    saved = load_checkpoint(tmp_path / "run" / "last.pt").model.state_dict()
    assert saved.keys() == result.last_state.keys()
    assert all(torch.equal(saved[k], result.last_state[k]) for k in saved)


def test_training_is_deterministic(toy_pair):
    data = load_training_data(toy_pair["clean"], toy_pair["amp_direct"], target_kind="amp_direct")
    a = train(data, quick_cfg(epochs=1), progress=False)
    b = train(data, quick_cfg(epochs=1), progress=False)
    for (ka, va), (kb, vb) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        assert torch.equal(va, vb), ka


def test_validation_targets_are_never_trained_on(toy_pair):
    data = load_training_data(toy_pair["clean"], toy_pair["amp_direct"], target_kind="amp_direct")
    # poison the held-out targets: if training saw them, the loss would explode
    poisoned = make_training_data(data.clean, data.target, data.sample_rate, target_kind="amp_direct")
    poisoned.target[poisoned.val_start :] = 1e6
    result = train(poisoned, quick_cfg(epochs=1), progress=False)
    assert all(math.isfinite(h["train_loss"]) and h["train_loss"] < 10 for h in result.history)
    assert result.best_val_esr > 0.9  # and validation does see them


def test_segment_forward_matches_whole_signal_prediction(toy_pair):
    """The cropped segment output equals the exact full-signal path over the same samples."""
    data = load_training_data(toy_pair["clean"], toy_pair["amp"], toy_pair["cab_ir"])
    torch.manual_seed(0)
    model = SeedCNN().eval()
    F, L, s = 2, 1000, 20000
    from guneamp_lib.training.step import RESAMPLER_MARGIN

    ctx = 16 + RESAMPLER_MARGIN + data.ir.numel() - 1
    from guneamp_lib.dsp.oversampling import oversample

    x_os = oversample(data.clean, F)
    seg = x_os[(s - ctx) * F : (s + L + RESAMPLER_MARGIN) * F].unsqueeze(0)
    with torch.no_grad():
        got = forward_segments(model, seg, F, data.ir, ctx, L)[0]
    full = predict(model, data.clean, F, data.ir)[s : s + L]
    assert (got - full).abs().max().item() < 1e-4


def test_unpadded_training_forward_scores_and_trains_exactly_like_the_padded_one(toy_pair):
    """forward_segments skips the zero padding for SeedCNN; with the minimal context of
    train() the scored samples and the gradients are those of the padded network."""
    from guneamp_lib.training.step import context_samples

    data = load_training_data(toy_pair["clean"], toy_pair["amp"], toy_pair["cab_ir"])
    torch.manual_seed(0)
    model = SeedCNN()
    F, L = 8, 512
    ctx = context_samples(model, TrainConfig(oversample=F), data.ir.numel())
    from guneamp_lib.dsp.oversampling import oversample
    from guneamp_lib.training.step import RESAMPLER_MARGIN

    x_os = oversample(data.clean[: 3 * (ctx + L + RESAMPLER_MARGIN)], F)
    seg = torch.stack([x_os[i * 997 * F : (i * 997 + ctx + L + RESAMPLER_MARGIN) * F] for i in range(2)])
    target = torch.randn(2, L)

    def loss_and_grads(valid: bool):
        model.zero_grad()
        if not valid:
            model.supports_valid = False  # instance attribute: the padded path
        try:
            out = forward_segments(model, seg, F, data.ir, ctx, L)
        finally:
            model.__dict__.pop("supports_valid", None)
        loss = ((out - target) ** 2).mean()
        loss.backward()
        return out.detach(), [p.grad.clone() for p in model.parameters()]

    out_v, g_v = loss_and_grads(True)
    out_p, g_p = loss_and_grads(False)
    assert out_v.shape == (2, L)
    assert (out_v - out_p).abs().max().item() < 1e-6
    for a, b in zip(g_v, g_p):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-7)
    x = torch.randn(1, 1, 300)
    assert model(x, pad=False).shape[-1] == 300 - (model.receptive_field - 1)
    assert torch.allclose(model(x, pad=False), model(x)[..., model.receptive_field - 1 :], atol=1e-6)


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    model = SeedCNN()
    from guneamp_lib.models.checkpoint import Checkpoint

    ir = torch.randn(64)
    path = save_checkpoint(tmp_path / "m.pt", Checkpoint(model, "seed_cnn", 44100, 8, 256, ir, "amp_with_cab",
                                                          [{"epoch": 1, "val_esr": 0.5}], {"note": "x"}))
    back = load_checkpoint(path)
    x = torch.randn(1, 1, 500)
    with torch.no_grad():
        assert torch.equal(model(x), back.model(x))
    assert back.oversample == 8 and back.sample_rate == 44100 and torch.equal(back.ir, ir)
    assert back.history[0]["val_esr"] == 0.5
    assert back.min_input_samples == math.ceil(17 / 8)


def test_checkpoint_with_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pt"
    torch.save({"format": "guneamp-checkpoint", "x": Evil()}, path)
    with pytest.raises(GuneampError, match="never executed"):
        load_checkpoint(path)


def test_corrupt_and_foreign_checkpoints(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(GuneampError, match="not a loadable"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"hello": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(GuneampError, match="not a guneamp checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(GuneampError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")


def test_too_short_for_the_model(tmp_path):
    x = np.sin(np.arange(20) * 0.3).astype(np.float32)  # 20 samples
    data = make_training_data(x, toy_amp(x), 44100, target_kind="amp_direct")
    with pytest.raises(GuneampError, match="too short"):
        train(data, quick_cfg(oversample=1, window=256), progress=False)


def test_config_needs_a_stopping_rule():
    with pytest.raises(GuneampError):
        TrainConfig(epochs=None, time_budget_s=None)


def test_default_segment_depends_on_the_cabinet_and_a_bad_one_is_refused():
    from guneamp_lib.training.defaults import TRAINING
    from guneamp_lib.training.train import segment_length

    assert segment_length(TrainConfig(), has_ir=True) == TRAINING["seed_cnn"].segment_with_cabinet == 2048
    assert segment_length(TrainConfig(), has_ir=False) == TRAINING["seed_cnn"].segment_direct == 1024
    assert segment_length(TrainConfig(model="wavenet"), has_ir=False) == TRAINING["wavenet"].segment_direct
    assert segment_length(TrainConfig(segment=300), has_ir=True) == 300
    with pytest.raises(GuneampError, match="segment"):
        TrainConfig(segment=0)
