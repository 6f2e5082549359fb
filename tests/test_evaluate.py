import json
import math
import warnings

import numpy as np
import pytest
import torch

from guneamp_lib.study import datasets as ds
from guneamp_lib.study import evaluate as ev
from guneamp_lib.training import defaults as spec
from guneamp_lib.training.data import make_training_data
from guneamp_lib.errors import GuneampError, GuneampWarning
from guneamp_lib.study.metrics import Report
from guneamp_lib.models import receptive_field
from tests.conftest import toy_amp, toy_di

REPORT_FIELDS = {"name", "esr", "esr_pre_emphasis", "mrstft", "dc_error", "quality", "parameters",
                 "receptive_field", "train_seconds", "device"}
TABLE_COLUMNS = ("ESR", "quality", "ESR pre-emph.", "MR-STFT", "DC error", "parameters", "receptive field",
                 "train time (s)", "device")


def toy_eval_data(seconds=4.0) -> ds.EvalData:
    x = toy_di(seconds)
    d = make_training_data(x, toy_amp(x), 44100, target_kind="amp_direct")
    test_start = int(0.8 * d.clean.numel())
    d.val_start = test_start
    return ds.EvalData("toy", d, test_start, "toy amp")


def test_model_specs_parse_and_name_their_rate():
    assert spec.ModelSpec.parse("seed_cnn@8x") == spec.ModelSpec("seed_cnn", None, 8)
    assert spec.ModelSpec.parse("wavenet:lite").kwargs() == {"preset": "lite"}
    assert spec.ModelSpec.parse("lstm:24").kwargs() == {"hidden_size": 24}
    assert spec.ModelSpec.parse("lstm:24").label == "lstm:24 @1x"
    for bad in ("seed_cnn:3", "lstm:big", "lstm:96", "wavenet:huge", "wave net", "unknown_model", "seed_cnn@0x"):
        with pytest.raises(GuneampError):
            spec.ModelSpec.parse(bad)


def test_the_three_parts_never_overlap_and_the_test_part_is_last():
    data = ds.load_default(seconds=10.0)
    tr = data.train
    n = data.full.clean.numel()
    assert tr.n_train < tr.clean.numel() == data.test_start < n
    assert data.test_start == pytest.approx(0.8 * n, abs=1)
    assert tr.val_start == pytest.approx(0.8 * data.test_start, abs=1)
    # the training material is the start of the recording, at the same level (no re-normalization)
    assert torch.equal(tr.target, data.full.target[: data.test_start])
    s = data.split_seconds()
    assert s["training"] + s["validation"] + s["test"] == pytest.approx(10.0, abs=1e-3)
    assert data.full.ir is not None and ds.load_default(direct=True, seconds=5.0).full.ir is None


def test_summary_says_whether_the_training_part_covers_the_test_part():
    data = ds.load_default(seconds=10.0)
    cv = data.coverage()
    assert cv.uncovered_share < 0.05  # one performance, split in time: the same kind of playing
    assert data.summary().endswith(f"Coverage: {cv.describe()}.")


def test_test_targets_are_never_trained_on():
    data = toy_eval_data()
    data.full.target[data.test_start :] = 1e6  # poison: training on it would blow the loss up
    t = ev.train_and_test(data, "seed_cnn@1x", time_budget_s=None, epochs=1, steps_per_epoch=3, device="cpu",
                          progress=False)
    assert all(math.isfinite(h["train_loss"]) and h["train_loss"] < 10 for h in t.history)
    assert t.report.esr > 0.9  # while the test score does see them


def test_report_scores_the_test_part_and_records_what_the_model_hears():
    data = toy_eval_data()
    t = ev.train_and_test(data, "seed_cnn@8x", time_budget_s=None, epochs=1, steps_per_epoch=2, device="cpu",
                          progress=False)
    assert t.prediction.numel() == data.full.clean.numel() - data.test_start
    again = Report.compute(data.full.target[data.test_start :], t.prediction)
    assert t.report.esr == pytest.approx(again.esr)
    assert t.report.receptive_field == receptive_field(t.model) == 17
    assert t.report.extra["receptive_field_ms"] == pytest.approx(1000 * 17 / (8 * 44100))
    assert "0.05 ms" in t.report.extra["hears"] and "shorter than one period" in t.report.extra["hears"]


def test_quick_evaluation_writes_the_table_and_json_with_all_columns(tmp_path):
    results = ev.run_evaluation(datasets=("default",), quick=True, out_dir=tmp_path, device="cpu", progress=False)
    assert [r.name for r in results["default"]] == [spec.ModelSpec.parse(m).label for m in ev.DEFAULT_MODELS]
    md = (tmp_path / "evaluation.md").read_text()
    for col in TABLE_COLUMNS:
        assert f" {col} |" in md
    assert "receptive field (ms)" in md and "aliasing" in md
    payload = json.loads((tmp_path / "evaluation.json").read_text())
    reports = payload["datasets"]["default"]["reports"]
    assert len(reports) == len(ev.DEFAULT_MODELS)
    for r in reports:
        assert REPORT_FIELDS <= set(r) and all(r[k] is not None for k in REPORT_FIELDS)
        assert r["extra"]["receptive_field_ms"] is not None
    assert payload["datasets"]["default"]["aliasing"]
    assert payload["quick"] is True


def test_missing_shared_data_skips_pedals_with_a_message(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GUNEAMP_SHARED_DATA", str(tmp_path / "nowhere"))
    assert ds.load_dataset("RAT") is None
    assert "skipping RAT" in capsys.readouterr().out
    assert ev.evaluate_models("RAT", ["seed_cnn@1x"], time_budget_s=1, progress=False) == []


def test_joined_clips_are_separated_by_more_than_any_models_memory():
    gap = int(ds.CLIP_GAP_S * 44100)
    assert gap > spec.ModelSpec.parse("wavenet:standard").build().receptive_field
    from guneamp_lib.training.train import TrainConfig

    assert gap > TrainConfig().burn_in
    pairs = [(np.ones(100, np.float32), 2 * np.ones(100, np.float32))] * 3
    c, t, starts = ds.join_clips(pairs, 44100)
    assert starts == [0, 100 + gap, 200 + 2 * gap]
    assert c.size == t.size == 300 + 2 * gap and not c[100 : 100 + gap].any()


def test_default_capture_is_misaligned_and_load_pair_finds_the_offset(tmp_path):
    clean, target = ds.default_capture(tmp_path, seconds=4.0)
    data = ds.load_pair(clean, target)
    # the target is early by the offset, less the few samples of the reference amp's own delay
    assert -round(ds.DEMO_CAPTURE_OFFSET_S * 44100) <= data.lags[0].lag <= -round(ds.DEMO_CAPTURE_OFFSET_S * 44100) + 8
    assert data.full.clean.numel() == data.full.target.numel()


@pytest.mark.shared_data
def test_real_clips_align_without_hand_set_offsets(shared_data):
    for pedal in ds.PEDALS:
        for i in range(4):
            with warnings.catch_warnings():
                warnings.simplefilter("error", GuneampWarning)  # an unreliable estimate fails the test
                c, t, sr, lag = ds.aligned_clip(pedal, i)
            assert lag.reliable and lag.method == "bla"
            # The clips are stored with the pedal's output cut 0.1 s later than the DI.
            assert abs(lag.lag + 4410) <= 3, (pedal, i, lag)
            assert c.size == t.size
            from guneamp_lib.dsp.audio import read_audio

            raw_c, _, _ = read_audio(shared_data / "egfxset" / "input" / f"clip_{i}.wav")
            raw_t, _, _ = read_audio(shared_data / "egfxset" / pedal / f"clip_{i}.wav")
            before = ds.linear_fit_correlation(raw_c, raw_t)
            after = ds.linear_fit_correlation(c, t)
            assert after > before, (pedal, i, before, after)


@pytest.mark.shared_data
def test_pedal_dataset_trains_on_clips_0_to_2_and_tests_on_clip_3(shared_data):
    data = ds.load_pedal("RAT", seconds=1.0)
    gap = int(round(ds.CLIP_GAP_S * 44100))
    assert data.test_start == 3 * 44100 + 3 * gap
    assert data.full.clean.numel() == data.test_start + 44100
    assert not data.full.clean[data.test_start - gap : data.test_start].any()  # silence before the test clip
    assert float(data.full.clean[: data.test_start].abs().max()) == pytest.approx(1.0, abs=1e-6)
    assert len(data.lags) == 4 and data.full.ir is None
    reports = ev.evaluate_models(data, ["lstm:16"], time_budget_s=None, epochs=1, steps_per_epoch=1, device="cpu",
                                 progress=False)
    assert reports[0].extra["dataset"] == "RAT" and math.isfinite(reports[0].esr)


def test_linear_fit_correlation_sees_a_shift():
    x = toy_di(2.0)
    y = toy_amp(x)
    early = y[4410:]  # the target 0.1 s early, as the EGFxSet clips are stored
    aligned = ds.linear_fit_correlation(x, y)
    assert aligned > 0.9
    assert ds.linear_fit_correlation(x, early) < aligned - 0.3
    with pytest.raises(GuneampError):
        ds.linear_fit_correlation(x[:40], y[:40])


def test_dataset_names_parse_and_bad_ones_say_what_to_use():
    assert ds.parse_dataset("default") == ("default", None)
    assert ds.parse_dataset("RAT") == ("RAT", 3)
    assert ds.parse_dataset("BluesDriver@1") == ("BluesDriver", 1)
    for bad in ("Fuzz", "default@1", "RAT@x", "RAT@"):
        with pytest.raises(GuneampError, match="dataset|pedal"):
            ds.parse_dataset(bad)


@pytest.mark.shared_data
def test_pedal_dataset_can_test_on_another_clip(shared_data):
    """RAT@1: clips 0, 2 and 3 train, clip 1 tests; the test part is clip 1 itself."""
    from guneamp_lib.study.datasets import aligned_clip

    data = ds.load_dataset("RAT@1", seconds=1.0)
    assert data.name == "RAT@1" and "clips 0, 2, 3 to train, clip 1 to test" in data.description
    clip1 = aligned_clip("RAT", 1)[0][:44100]
    test = data.full.clean[data.test_start :].numpy()
    assert test.size == 44100
    assert np.allclose(test / np.abs(test).max(), clip1 / np.abs(clip1).max(), atol=1e-6)
    with pytest.raises(GuneampError, match="no clip 7"):
        ds.load_pedal("RAT", test_clip=7)
