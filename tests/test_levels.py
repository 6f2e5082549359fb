"""Models that remember their levels; `guneamp score`; your own datasets in `evaluate`; one table of defaults."""

import argparse
import json

import numpy as np
import pytest
import soundfile as sf
import torch

from guneamp_lib.cli import main
from guneamp_lib.cli.train import _train_config, register as register_train
from guneamp_lib.errors import GuneampError
from guneamp_lib.models.checkpoint import load_checkpoint, save_checkpoint
from guneamp_lib.render.files import render_file, render_streaming
from guneamp_lib.render.inference import predict
from guneamp_lib.study.datasets import PairDataset
from guneamp_lib.training.train import train_config
from guneamp_lib.study.score import score_files
from guneamp_lib.training.data import load_training_data
from guneamp_lib.training.defaults import TRAINING, ModelSpec
from guneamp_lib.training.losses import esr
from guneamp_lib.training.train import TrainConfig, segment_length, train
from tests.conftest import toy_amp, toy_di, write

# Recorded levels far from full scale, so a gain of 1.0 and a peak gain cannot be confused.
DI_PEAK, AMP_PEAK = 0.3, 0.45
LATE = 37  # samples the held-out target trails its DI by (an interface's latency)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A WaveNet trained briefly on quiet recordings, and a held-out take recorded late."""
    d = tmp_path_factory.mktemp("levels")
    x = toy_di(3.0, seed=1)
    y = toy_amp(x)
    clean = write(d / "clean.wav", x * DI_PEAK)
    amp = write(d / "amp.wav", y / np.abs(y).max() * AMP_PEAK)
    xt = toy_di(2.0, seed=2) * 0.8  # the second take is played softer
    yt = toy_amp(xt) / np.abs(y).max() * AMP_PEAK  # through the same gear, at the same settings
    test_clean = write(d / "test_clean.wav", xt * DI_PEAK)
    test_amp = write(d / "test_amp.wav", np.concatenate([np.zeros(LATE, np.float32), yt]))
    data = load_training_data(clean, amp, target_kind="amp_direct")
    cfg = TrainConfig(model="wavenet", model_kwargs={"preset": "nano"}, segment=2048, batch_size=4, epochs=2,
                      steps_per_epoch=4, time_budget_s=None, device="cpu")
    result = train(data, cfg, out_dir=d / "run", progress=False)
    return {"dir": d, "clean": clean, "amp": amp, "test_clean": test_clean, "test_amp": test_amp,
            "model": result.best_path}


def test_training_stores_the_gains_and_loading_keeps_them(trained):
    ckpt = load_checkpoint(trained["model"])
    assert ckpt.input_gain == pytest.approx(1 / DI_PEAK, rel=1e-5)
    assert ckpt.output_gain == pytest.approx(1 / AMP_PEAK, rel=1e-5)


def test_a_checkpoint_without_gains_loads_at_unity_with_a_note(trained, tmp_path):
    payload = torch.load(trained["model"], weights_only=True)
    del payload["input_gain"], payload["output_gain"]
    old = tmp_path / "old.pt"
    torch.save(payload, old)
    with pytest.warns(UserWarning, match="normalize-input"):
        ckpt = load_checkpoint(old)
    assert ckpt.input_gain == ckpt.output_gain == 1.0


def test_render_at_the_trained_level_is_the_model_on_scaled_di(trained, tmp_path):
    ckpt = load_checkpoint(trained["model"])
    raw, _ = sf.read(trained["test_clean"], dtype="float32")
    expected = predict(ckpt.model, torch.from_numpy(raw) * np.float32(ckpt.input_gain), ckpt.oversample)
    expected = expected / np.float32(ckpt.output_gain)
    whole = render_file(trained["model"], trained["test_clean"], tmp_path / "whole.wav", device="cpu", progress=False)
    streamed = render_streaming(trained["model"], trained["test_clean"], tmp_path / "streamed.wav", 64, progress=False)
    for path in (whole, streamed):
        y, _ = sf.read(path, dtype="float32")
        np.testing.assert_allclose(y, expected.numpy(), atol=1e-5)
    # at the target's level, not normalized: the output peaks near the recording's peak, far below 1
    assert np.abs(expected.numpy()).max() < 0.9


def test_a_loud_click_does_not_change_the_drive_unless_normalizing(trained, tmp_path):
    raw, sr = sf.read(trained["test_clean"], dtype="float32")
    click = np.zeros(sr // 10, np.float32)
    click[sr // 20] = 1.0  # far louder than the playing: the file's new peak
    clicked = write(tmp_path / "clicked.wav", np.concatenate([raw, click]))
    n = raw.size
    outs = {}
    for tag, flags in (("trained", {}), ("normalized", {"normalize_input": True})):
        for name, src in (("plain", trained["test_clean"]), ("clicked", clicked)):
            out = render_file(trained["model"], src, tmp_path / f"{tag}_{name}.wav", device="cpu", progress=False,
                              **flags)
            outs[tag, name] = sf.read(out, dtype="float32")[0][:n]
    assert np.abs(outs["trained", "plain"] - outs["trained", "clicked"]).max() < 1e-5
    # the design's per-file normalization turns the whole take down by the click
    assert esr(torch.from_numpy(outs["normalized", "plain"]), torch.from_numpy(outs["normalized", "clicked"])) > 0.01


def test_score_equals_the_library_computation(trained):
    from guneamp_lib.capture.lag import align_pair

    got = score_files(trained["model"], trained["test_clean"], trained["test_amp"])
    ckpt = load_checkpoint(trained["model"])
    clean, _ = sf.read(trained["test_clean"], dtype="float32")
    target, sr = sf.read(trained["test_amp"], dtype="float32")
    c, t, _ = align_pair(clean, target, sr, lag=LATE)
    pred = predict(ckpt.model, torch.from_numpy(c) * ckpt.input_gain, ckpt.oversample) / ckpt.output_gain
    expected = esr(torch.from_numpy(t).double(), pred.double())
    assert got.lag_samples == LATE
    assert got.esr == pytest.approx(float(expected), rel=1e-6)
    assert got.input_gain == ckpt.input_gain and got.cabinet == "none"


def test_score_json_is_one_parsable_line_with_the_same_numbers(trained, capsys):
    code, out, err = run(capsys, "score", "--model", trained["model"], "--clean", trained["test_clean"],
                         "--amp", trained["test_amp"], "--json")
    assert code == 0, err
    assert len(out.strip().splitlines()) == 1
    payload = json.loads(out)
    direct = score_files(trained["model"], trained["test_clean"], trained["test_amp"])
    assert payload["esr"] == pytest.approx(direct.esr) and payload["quality"] == direct.quality
    assert payload["esr_pre_emphasis"] == pytest.approx(direct.esr_pre_emphasis)


def test_score_bad_input_is_one_error_line(trained, tmp_path, capsys):
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("not audio")
    slow = write(tmp_path / "slow.wav", toy_di(1.0, sr=22050) * 0.3, sr=22050)
    cases = [
        (["--model", tmp_path / "missing.pt", "--clean", trained["test_clean"], "--amp", trained["test_amp"]], "not found"),
        (["--model", trained["model"], "--clean", not_audio, "--amp", trained["test_amp"]], "not a readable"),
        (["--model", trained["model"], "--clean", slow, "--amp", trained["test_amp"]], "Hz"),
        (["--model", trained["model"], "--clean", trained["test_clean"], "--amp", trained["test_amp"], "--ir",
          tmp_path / "no_ir.wav"], "not found"),
    ]
    for argv, words in cases:
        code, out, err = run(capsys, "score", *argv)
        assert code == 2 and out == ""
        lines = [ln for ln in err.strip().splitlines() if not ln.startswith("warning:")]
        assert len(lines) == 1 and lines[0].startswith("error:") and words in lines[0], err


def _train_args(*argv):
    p = argparse.ArgumentParser()
    register_train(p.add_subparsers())
    return p.parse_args(["train", *argv])


@pytest.mark.parametrize("model", ["seed_cnn", "wavenet:lite", "lstm:16"])
def test_train_cli_and_evaluate_read_the_same_defaults(model):
    from_cli = _train_config(_train_args("--model", model))
    from_evaluate = train_config(ModelSpec.parse(model))
    row = TRAINING[from_cli.model]
    for field in ("oversample", "batch_size", "learning_rate"):
        assert getattr(from_cli, field) == getattr(from_evaluate, field) == getattr(row, field)
    for has_ir in (True, False):
        assert segment_length(from_cli, has_ir) == segment_length(from_evaluate, has_ir) == row.segment(has_ir)


def test_wavenet_lite_trains_on_long_segments_through_every_door():
    cli = _train_config(_train_args("--model", "wavenet:lite"))
    assert (cli.oversample, segment_length(cli, False), cli.batch_size) == (1, 8192, 4)
    explicit = _train_config(_train_args("--model", "wavenet:lite", "--batch-size", "2", "--oversample", "2"))
    assert (explicit.batch_size, explicit.oversample) == (2, 2)
    with pytest.raises(GuneampError, match="learning rate"):
        TrainConfig(model="wavenet", learning_rate=float("nan"))


def test_dataset_pair_parses_and_refuses_what_it_cannot_use(trained):
    f = trained
    spec = PairDataset.parse(f"mine={f['clean']},{f['amp']},{f['test_clean']},{f['test_amp']}")
    assert spec.name == "mine" and spec.test_amp == f["test_amp"] and spec.ir is None
    for bad, words in ((f"mine={f['clean']},{f['amp']}", "write NAME="),
                       (f"RAT={f['clean']},{f['amp']},{f['test_clean']},{f['test_amp']}", "built-in"),
                       (f"mine={f['clean']},{f['amp']},{f['test_clean']},missing.wav", "not a file")):
        with pytest.raises(GuneampError, match=words):
            PairDataset.parse(bad)


def test_dataset_pair_tests_the_second_take_at_the_first_takes_level(trained):
    f = trained
    data = PairDataset.parse(f"mine={f['clean']},{f['amp']},{f['test_clean']},{f['test_amp']}").load()
    assert data.full.input_gain == pytest.approx(1 / DI_PEAK, rel=1e-5)
    test_clean = data.full.clean[data.test_start :].numpy()
    raw, _ = sf.read(f["test_clean"], dtype="float32")
    # aligned (the 37-sample latency taken out) and scaled by the training take's gain, not its own peak
    np.testing.assert_allclose(test_clean, raw[: test_clean.size] / DI_PEAK, rtol=1e-5, atol=1e-6)
    # each take aligned by the same estimator: the test take is late by the interface's latency more
    assert data.lags[1].lag - data.lags[0].lag == LATE


def test_evaluate_runs_on_your_own_dataset_alone(trained, tmp_path, capsys):
    f = trained
    code, out, err = run(capsys, "evaluate", "--dataset-pair",
                         f"mine={f['clean']},{f['amp']},{f['test_clean']},{f['test_amp']}",
                         "--models", "seed_cnn@1x", "--quick", "--device", "cpu", "--out", tmp_path, "--quiet")
    assert code == 0, err
    payload = json.loads((tmp_path / "evaluation.json").read_text())
    assert list(payload["datasets"]) == ["mine"]
    assert len(payload["datasets"]["mine"]["reports"]) == 1
    code, _, err = run(capsys, "evaluate", "--dataset-pair", "mine=a.wav,b.wav", "--quick")
    assert code == 2 and "write NAME=" in err
