"""``guneamp score --manifest``: a knob model on held-out settings, beside the pooled and nearest baselines."""

import json

import numpy as np
import pytest
import torch

from guneamp_lib.cli import main
from guneamp_lib.dsp.audio import read_audio
from guneamp_lib.knobs import Knob, KnobSpace
from guneamp_lib.models import build_model
from guneamp_lib.models.checkpoint import Checkpoint, save_checkpoint
from guneamp_lib.render.inference import predict
from guneamp_lib.study.knob_score import pooled_training_data, score_knob_manifest
from guneamp_lib.study.manifest import read_knob_manifest
from guneamp_lib.study.metrics import esr

from .conftest import toy_knob_set

SR = 44100


def esr_of(target_path, pred) -> float:
    target, _, _ = read_audio(target_path)
    pred = torch.as_tensor(pred).double().reshape(-1)[: target.size]
    return float(esr(torch.from_numpy(target).double(), pred))


def tiny(path, num_knobs=1, space=KnobSpace([Knob("drive", 0, 10)]), seed=0):
    torch.manual_seed(seed)
    model = build_model("lstm", hidden_size=8, num_knobs=num_knobs).eval()
    save_checkpoint(path, Checkpoint(model, "lstm", SR, 1, 256, target_kind="amp_direct", input_gain=2.0,
                                     output_gain=3.0, knobs=space if num_knobs else None))
    return model


@pytest.fixture
def knob_set(tmp_path):
    return toy_knob_set(tmp_path, [0, 5, 10], [2.5, 7.5], seconds=1.0)


def test_table_holds_the_knob_model_and_both_baselines_as_computed_directly(knob_set, tmp_path, capsys):
    model = tiny(tmp_path / "knob.pt")
    pooled_dir = tmp_path / "pooled"
    scores = score_knob_manifest(knob_set, tmp_path / "knob.pt", pooled_steps=2, pooled_out=pooled_dir, device="cpu")
    assert [r.name for r in scores.rows] == ["held 2.5", "held 7.5"]
    di, _, _ = read_audio(tmp_path / "di_test.wav")
    for r, drive, near in zip(scores.rows, (2.5, 7.5), (0, 5)):
        # The knob model at the row's setting, scaled over the trained range, at its stored levels.
        with torch.no_grad():
            pred = predict(model, torch.from_numpy(di) * 2.0, 1, None, knobs=np.array([drive / 10], np.float32)) / 3.0
        assert r.knob_model == pytest.approx(esr_of(tmp_path / f"held_{drive}.wav", pred), rel=1e-6)
        # (b): the nearest training setting's recording of the same take (the first of two equally near).
        recorded, _, _ = read_audio(tmp_path / f"amp_test_{near}.wav")
        assert r.nearest == pytest.approx(esr_of(tmp_path / f"held_{drive}.wav", recorded), rel=1e-9)
        assert r.nearest_is == f"recording at drive {near}"
        assert np.isfinite(r.pooled)
    # The pooled snapshot kept on disk scores the same when given back as --pooled.
    assert main(["score", "--manifest", str(knob_set), "--model", str(tmp_path / "knob.pt"),
                 "--pooled", str(pooled_dir / "best.pt"), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert [r["pooled"] for r in again["rows"]] == pytest.approx([r.pooled for r in scores.rows], rel=1e-6)
    s = again["summary"]
    values = [r.knob_model for r in scores.rows]
    assert s["knob model"] == {"median": pytest.approx(np.median(values)), "worst": pytest.approx(max(values)),
                               "rows": 2}
    table = scores.table()
    assert "| median |" in table and "| worst |" in table and "(a) pooled snapshot" in table


def test_nearest_falls_back_to_that_settings_snapshot_and_else_says_none(tmp_path):
    path = toy_knob_set(tmp_path, [0, 10], [3], seconds=1.0)
    # No training row recorded the held-out take; the nearest setting (drive 0) has a snapshot in its out folder.
    path.write_text("name,clean,target,split,out,knob:drive\n"
                    "train 0,di.wav,amp_0.wav,train,snap0,0\n"
                    "train 10,di.wav,amp_10.wav,train,snap10,10\n"
                    "held 3,di_test.wav,held_3.wav,test,,3\n")
    m = read_knob_manifest(path)
    assert [r.test_clean for r in m.train] == [None, None]
    model = tiny(tmp_path / "pooled.pt", num_knobs=0)
    (tmp_path / "snap0").mkdir()
    snapshot = tiny(tmp_path / "snap0" / "best.pt", num_knobs=0, seed=5)
    row = score_knob_manifest(path, pooled_path=tmp_path / "pooled.pt").rows[0]
    di, _, _ = read_audio(tmp_path / "di_test.wav")
    with torch.no_grad():
        by_snapshot = predict(snapshot, torch.from_numpy(di) * 2.0, 1, None) / 3.0
        by_pooled = predict(model, torch.from_numpy(di) * 2.0, 1, None) / 3.0
    assert row.nearest_is == "snapshot at drive 0"
    assert row.nearest == pytest.approx(esr_of(tmp_path / "held_3.wav", by_snapshot), rel=1e-6)
    assert row.pooled == pytest.approx(esr_of(tmp_path / "held_3.wav", by_pooled), rel=1e-6)
    assert row.knob_model is None
    (tmp_path / "snap0" / "best.pt").unlink()
    row = score_knob_manifest(path, pooled_path=tmp_path / "pooled.pt").rows[0]
    assert row.nearest is None and row.nearest_is.startswith("none")


def test_pooled_data_trains_on_every_rows_head_and_validates_on_every_rows_tail(knob_set):
    m = read_knob_manifest(knob_set)
    data = pooled_training_data(m)
    takes = [read_audio(r.target)[0] for r in m.train]
    n, gap = takes[0].size, int(round(0.2 * SR))
    cut = int(round(n * 0.8))
    assert data.val_start == 3 * cut + 3 * gap
    assert data.clean.numel() == 3 * n + 5 * gap
    # One output gain for all rows: the loudest target sets it, the quieter ones keep their level.
    g = data.output_gain
    assert g == pytest.approx(1 / max(np.abs(t).max() for t in takes), rel=1e-6)
    np.testing.assert_allclose(data.target[:cut].numpy(), takes[0][:cut] * g, rtol=1e-6)
    np.testing.assert_allclose(data.target[data.val_start:data.val_start + n - cut].numpy(), takes[0][cut:] * g,
                               rtol=1e-6)


def test_refusals_are_one_error_line(knob_set, tmp_path, capsys):
    tiny(tmp_path / "snap.pt", num_knobs=0)
    tiny(tmp_path / "narrow.pt", space=KnobSpace([Knob("drive", 0, 5)]))
    tiny(tmp_path / "treble.pt", space=KnobSpace([Knob("treble", 0, 10)]))
    cases = {
        "snap.pt": "snapshot model: it has no knobs",
        "narrow.pt": "row 5: knob drive=7.5 is outside the range .* --extrapolate",
        "treble.pt": "row 4: unknown knob 'drive'",
    }
    for name, message in cases.items():
        assert main(["score", "--manifest", str(knob_set), "--model", str(tmp_path / name), "--pooled-steps", "1"]) == 2
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and err[0].startswith("error:"), err
        assert __import__("re").search(message, err[0]), err[0]
    assert main(["score", "--manifest", str(knob_set), "--pooled", str(tmp_path / "narrow.pt")]) == 2
    assert "is a knob model" in capsys.readouterr().err
    assert main(["score", "--manifest", str(knob_set), "--model", str(tmp_path / "narrow.pt"),
                 "--clean", "x.wav"]) == 2
    assert "leave out --clean" in capsys.readouterr().err
    only_train = tmp_path / "train_only.csv"
    only_train.write_text("\n".join(ln for ln in knob_set.read_text().splitlines() if ",test," not in ln) + "\n")
    assert main(["score", "--manifest", str(only_train), "--pooled", str(tmp_path / "snap.pt")]) == 2
    assert "no held-out rows" in capsys.readouterr().err


def test_evaluate_knob_data_set_agrees_with_score_manifest(tmp_path, monkeypatch):
    from guneamp_lib import paths
    from guneamp_lib.study import evaluate as ev

    monkeypatch.setattr(paths, "data_dir", lambda: tmp_path / "data")
    out = tmp_path / "ev"
    results = ev.run_evaluation(datasets=("knobs",), quick=True, out_dir=out, models=("lstm:8",), device="cpu",
                                progress=False)
    x = results["knobs"][0].extra
    assert len(x["held_out_esr"]) == 8 and x["held_out_median"] == pytest.approx(np.median(x["held_out_esr"]))
    assert x["held_out_worst"] == max(x["held_out_esr"])
    # The same two checkpoints scored by `score --manifest` give the same rows.
    where = out / "checkpoints" / "knobs" / "lstm_8_1x"
    scores = score_knob_manifest(tmp_path / "data" / "knobs_4s" / "knobs.csv", where / "knobs" / "best.pt",
                                 pooled_path=where / "pooled" / "best.pt")
    assert [r.knob_model for r in scores.rows] == pytest.approx(x["held_out_esr"], rel=1e-5)
    assert [r.pooled for r in scores.rows] == pytest.approx(x["pooled_esr"], rel=1e-5)
    assert [r.nearest for r in scores.rows] == pytest.approx(x["nearest_esr"], rel=1e-9)
    text = (out / "evaluation.md").read_text()
    assert "## knob models on held-out settings" in text and "lstm:8 @1x (knobs)" in text


def test_pooled_snapshot_trains_as_many_steps_as_the_knob_model_by_default():
    from guneamp_lib.study.knob_score import trained_steps

    model = build_model("lstm", hidden_size=8)
    ckpt = Checkpoint(model, "lstm", SR, 1, 256, history=[{"step": 100, "epoch": 1}, {"step": 300, "epoch": 3}])
    assert trained_steps(ckpt) == 300
    assert trained_steps(Checkpoint(model, "lstm", SR, 1, 256)) == 500


@pytest.mark.parametrize("name,kw", [("wavenet", {"preset": "nano"}), ("lstm", {"hidden_size": 8}),
                                     ("gru", {"hidden_size": 8}), ("wavenet", {"preset": "nano", "film": True})])
def test_the_pooled_snapshot_is_the_knob_models_architecture_without_knobs(name, kw):
    from guneamp_lib.models import model_config
    from guneamp_lib.study.knob_score import snapshot_config

    knob = build_model(name, num_knobs=3, **kw)
    twin = build_model(name, **snapshot_config(model_config(knob)))
    plain = build_model(name, **{k: v for k, v in kw.items() if k != "film"})
    assert twin.num_knobs == 0 and model_config(twin) == model_config(plain)
    assert list(twin.state_dict()) == list(plain.state_dict())
