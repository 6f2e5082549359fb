"""A separate take as the validation set (``guneamp train --val-clean --val-amp``), its refusals,
and the gap between validation and a separate take that ``train`` and ``score`` print (issue 22)."""

import numpy as np
import pytest
import torch

from guneamp_lib.capture.coverage import Coverage
from guneamp_lib.errors import GuneampError
from guneamp_lib.models.checkpoint import load_checkpoint
from guneamp_lib.study.score import gap_lines, score_files
from guneamp_lib.training.data import VAL_TAKE_GAP_S, load_training_data, with_validation_take
from tests.conftest import toy_amp, toy_di, write
from tests.test_cli import FAST_TRAIN, run

SR = 44100


@pytest.fixture
def takes(tmp_path):
    x = toy_di(seconds=3.0, seed=0)
    v = toy_di(seconds=2.0, seed=5)  # another take: other notes, through the same gear
    return {"clean": write(tmp_path / "clean.wav", x), "amp": write(tmp_path / "amp.wav", 0.8 * toy_amp(x)),
            "val_clean": write(tmp_path / "v_clean.wav", v), "val_amp": write(tmp_path / "v_amp.wav", 0.8 * toy_amp(v)),
            "v": v, "dir": tmp_path}


def train_args(t, out, *extra):
    return ["train", "--clean", t["clean"], "--amp", t["amp"], "--target-kind", "amp_direct", "--out", out,
            *FAST_TRAIN, *extra]


def test_the_take_is_joined_after_the_training_recording_at_its_level(takes):
    plain = load_training_data(takes["clean"], takes["amp"], target_kind="amp_direct")
    data = load_training_data(takes["clean"], takes["amp"], target_kind="amp_direct", val_clean=takes["val_clean"],
                              val_target=takes["val_amp"])
    n = plain.clean.numel()
    gap = int(round(VAL_TAKE_GAP_S * SR))
    assert data.validation == "take" and data.val_start == n + gap
    assert data.n_val == takes["v"].size
    # all of the training recording trains (no tail held out), unchanged
    assert torch.equal(data.clean[:n], plain.clean) and torch.equal(data.target[:n], plain.target)
    assert not data.clean[n : n + gap].any()
    # the take meets the model at the training pair's level, not its own peak
    np.testing.assert_allclose(data.clean[data.val_start :].numpy(), takes["v"] * plain.input_gain, rtol=1e-6)
    assert (data.input_gain, data.output_gain) == (plain.input_gain, plain.output_gain)


def test_train_validates_on_the_take_and_score_agrees(takes, capsys):
    out = takes["dir"] / "run"
    code, printed, err = run(capsys, *train_args(takes, out, "--val-clean", takes["val_clean"],
                                                 "--val-amp", takes["val_amp"]))
    assert code == 0, err
    assert "validation-take ESR" in printed and "gap" in printed
    ckpt = load_checkpoint(out / "best.pt")
    assert ckpt.meta["source"]["val_clean"] == str(takes["val_clean"].resolve())
    # scoring the same take afterwards is the same measurement training chose its epoch by
    s = score_files(out / "best.pt", takes["val_clean"], takes["val_amp"])
    assert s.lag_samples == 0
    assert s.esr == pytest.approx(ckpt.history[-1]["val_esr"], rel=1e-3)
    assert s.validation_esr == pytest.approx(min(h["val_esr"] for h in ckpt.history))
    code, printed, err = run(capsys, "score", "--model", out / "best.pt", "--clean", takes["val_clean"],
                             "--amp", takes["val_amp"])
    assert code == 0, err
    assert "x the validation ESR" in printed


def one_error(code, err, *words):
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in lines[0], lines[0]


def test_a_take_at_another_rate_is_refused(takes, capsys):
    other = write(takes["dir"] / "v48.wav", takes["v"], sr=48000)
    amp48 = write(takes["dir"] / "a48.wav", toy_amp(takes["v"]), sr=48000)
    code, _, err = run(capsys, *train_args(takes, takes["dir"] / "r", "--val-clean", other, "--val-amp", amp48))
    one_error(code, err, "validation take", "48000", "44100")


def test_a_take_too_short_is_refused(takes, capsys):
    v = takes["v"][: SR // 2]
    c, a = write(takes["dir"] / "vs.wav", v), write(takes["dir"] / "as.wav", toy_amp(v))
    code, _, err = run(capsys, *train_args(takes, takes["dir"] / "r", "--val-clean", c, "--val-amp", a))
    one_error(code, err, "validation take", "0.50 s")


@pytest.mark.parametrize("late", [20, 300])
def test_a_misaligned_take_is_refused(takes, capsys, late):
    y = toy_amp(takes["v"])
    shifted = write(takes["dir"] / "late.wav", np.concatenate([np.zeros(late), y])[: y.size])
    code, _, err = run(capsys, *train_args(takes, takes["dir"] / "r", "--val-clean", takes["val_clean"],
                                           "--val-amp", shifted))
    # a few samples off: the latency the model learns would not match; far off: the pair check's own refusal
    one_error(code, err, "validation", "misaligned" if late < 64 else "late")
    code, _, err = run(capsys, *train_args(takes, takes["dir"] / "r2", "--val-clean", takes["val_clean"],
                                           "--val-amp", shifted, "--align"))
    assert code == 0, err


def test_half_a_take_is_refused(takes, capsys):
    code, _, err = run(capsys, *train_args(takes, takes["dir"] / "r", "--val-clean", takes["val_clean"]))
    one_error(code, err, "--val-clean", "--val-amp")
    with pytest.raises(GuneampError, match="both"):
        load_training_data(takes["clean"], takes["amp"], target_kind="amp_direct", val_clean=takes["val_clean"])


def test_a_take_shorter_than_the_model_hears_is_refused(takes):
    from guneamp_lib.training.train import TrainConfig, train

    data = load_training_data(takes["clean"], takes["amp"], target_kind="amp_direct")
    v = takes["v"][: int(1.05 * SR)]
    data = with_validation_take(data, v, toy_amp(v), SR, SR)
    cfg = TrainConfig(model="seed_cnn", oversample=1, window=int(1.2 * SR), epochs=1, time_budget_s=None, device="cpu")
    with pytest.raises(GuneampError, match="validation take holds"):
        train(data, cfg, progress=False)


def test_the_gap_lines_point_to_coverage_when_the_take_holds_other_notes():
    covered = Coverage(0.0, (), 20.0)
    assert gap_lines("validation", 0.01, "this take's", 0.012, covered, "guneamp check a b") == [
        "gap               this take's ESR 0.012 is 1.20x the validation ESR 0.01"]
    lines = gap_lines("validation", 0.01, "this take's", 0.05, Coverage(0.4, (98.0, 124.0), 20.0), "guneamp check a b")
    assert "5.00x" in lines[0] and "40%" in lines[1] and "`guneamp check a b`" in lines[1]
    lines = gap_lines("validation", 0.01, "this take's", 0.05, covered, "guneamp check a b")
    assert "covers this take's bands" in lines[1] and "more takes of the same playing" in lines[1]
    lines = gap_lines("validation", 0.01, "this take's", 0.05, covered, "guneamp check a b", level_db=2.5)
    assert len(lines) == 2 and "peaks 2.5 dB above" in lines[1]
    assert len(gap_lines("validation", 0.01, "this take's", 0.012, covered, "x", level_db=0.5)) == 1
    assert gap_lines("validation", None, "this take's", 0.05, None, "x") == []
