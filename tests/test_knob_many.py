"""train-many on knob manifests: one knob model per row (or per --model), through Dask, resumable."""

import json

import numpy as np
import pytest
import torch

from guneamp_lib.cli import main
from guneamp_lib.errors import GuneampError
from guneamp_lib.jobs import Engine
from guneamp_lib.study import many

from .conftest import toy_di, toy_knob_amp, toy_knob_set, write

STEPS = 3
TRAIN_OPTIONS = ["--steps", str(STEPS), "--device", "cpu", "--quiet"]


@pytest.fixture
def knob_set(tmp_path):
    (tmp_path / "knobs").mkdir()
    return toy_knob_set(tmp_path / "knobs", [0, 5, 10], [7], seconds=1.0)


def weights(path):
    return torch.load(path, weights_only=True)["state_dict"]


def assert_same_weights(a, b):
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=0, atol=0)


@pytest.mark.slow
def test_knob_models_trained_on_a_cluster_equal_train_manifest(knob_set, tmp_path, capsys):
    models = ["lstm:8", "gru:8"]
    argv = ["train-many", str(knob_set), *sum((["--model", m] for m in models), []), "--out", str(tmp_path / "many"),
            "--workers", "2", *TRAIN_OPTIONS]
    assert main(argv) == 0
    summary = json.loads((knob_set.parent / "knobs.summary.json").read_text())
    assert [r["status"] for r in summary] == ["trained", "trained"]
    assert [r["steps"] for r in summary] == [STEPS, STEPS]
    for m, row in zip(models, summary):
        out = tmp_path / "solo" / m.replace(":", "-")
        # every train-many job runs with one PyTorch thread (jobs.py); two threads split float
        # sums differently and end about 1e-8 away, so the solo run takes one thread too
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            assert main(["train", "--manifest", str(knob_set), "--model", m, "--target-kind", "amp_direct",
                         "--out", str(out), *TRAIN_OPTIONS]) == 0
        finally:
            torch.set_num_threads(threads)
        folder = tmp_path / "many" / m.replace(":", "-")
        assert_same_weights(folder / "best.pt", out / "best.pt")
        # the held-out row (drive 7) is scored at its own setting, as `score --manifest` scores it
        from guneamp_lib.models.nam import load_model_file
        from guneamp_lib.study.knob_score import held_out_esrs
        from guneamp_lib.study.manifest import read_knob_manifest

        esrs = held_out_esrs(read_knob_manifest(knob_set), load_model_file(out / "best.pt"))
        assert row["test_esr"] == pytest.approx(esrs[0], rel=1e-9)
        record = json.loads((folder / "result.json").read_text())
        assert record["inputs"]["files"]["knob row 4 target"]["path"].endswith("held_7.wav")
    assert summary[0]["validation_esr"] != summary[1]["validation_esr"]  # two models, not one twice


def test_a_rerun_skips_and_a_changed_capture_retrains(knob_set, tmp_path, capsys):
    rows = tmp_path / "rows.csv"
    rows.write_text(f"name,manifest,model,out,seed\nknob lstm,{knob_set},lstm:8,m/lstm,2\n")
    first = many.train_many(rows, steps=STEPS, engine=Engine(progress=False), device="cpu")
    assert first[0]["status"] == "trained" and first[0]["test_esr"] is not None
    best = tmp_path / "m" / "lstm" / "best.pt"
    before = weights(best)
    again = many.train_many(rows, steps=STEPS, engine=Engine(progress=False), device="cpu")
    assert again[0]["status"] == "skipped" and again[0]["validation_esr"] == first[0]["validation_esr"]
    # one capture re-recorded: the knob model trains again, and on the new recording
    x = toy_di(1.0, seed=1)
    write(knob_set.parent / "amp_10.wav", toy_knob_amp(x, 9))
    capsys.readouterr()
    changed = many.train_many(rows, steps=STEPS, engine=Engine(progress=False), device="cpu")
    assert "training again: knob row 3 target changed" in capsys.readouterr().out
    assert changed[0]["status"] == "trained"
    assert any(not torch.equal(before[k], v) for k, v in weights(best).items())
    # the knob manifest itself edited (a setting renamed): trains again too
    knob_set.write_text(knob_set.read_text().replace("train 5,", "middle,"))
    capsys.readouterr()
    many.train_many(rows, steps=STEPS, engine=Engine(progress=False), device="cpu")
    assert "training again: manifest changed" in capsys.readouterr().out


@pytest.mark.parametrize("rows, argv, message", [
    ("name,manifest,clean,model,out\nk,KNOBS,di.wav,lstm:8,m/k\n", [], "takes its captures from it; leave clean empty"),
    ("name,manifest,model,out\nk,KNOBS,seed_cnn,m/k\n", [], "a seed_cnn model takes no knobs"),
    ("name,manifest,model,out\nk,NOKNOBS,lstm:8,m/k\n", [], "row 1: .*no knob columns"),
    ("name,manifest,model,out\nk,KNOBS,lstm:8,m/k\n", ["--model", "lstm:8"], "is a train-many manifest"),
    (None, [], "name the knob models to train on it with --model"),
    (None, ["--model", "seed_cnn"], "--model seed_cnn: a seed_cnn model takes no knobs"),
    (None, ["--model", "lstm:8", "--model", "lstm:8"], "name each once"),
])
def test_bad_knob_rows_are_one_error_line_before_anything_trains(knob_set, tmp_path, capsys, rows, argv, message):
    (tmp_path / "noknobs.csv").write_text("clean,target\ndi.wav,amp.wav\n")
    manifest = knob_set
    if rows is not None:
        manifest = tmp_path / "rows.csv"
        manifest.write_text(rows.replace("NOKNOBS", str(tmp_path / "noknobs.csv")).replace("KNOBS", str(knob_set)))
    assert main(["train-many", str(manifest), *argv, "--device", "cpu", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert pytest.importorskip("re").search(message, err), err
    assert not (tmp_path / "m").exists() and not list(knob_set.parent.glob("*-models"))


def test_a_knob_capture_that_is_a_rows_output_is_refused(knob_set, tmp_path):
    rows = tmp_path / "rows.csv"
    rows.write_text(f"name,manifest,model,out\nk,{knob_set},lstm:8,{knob_set.parent / 'amp_5.wav'}\n")
    with pytest.raises(GuneampError, match="knob row 2 target .* is row 1's output folder"):
        many.read_manifest(rows)


def test_train_steps_is_the_fixed_step_count_train_many_uses(toy_pair, tmp_path):
    """`train --steps N` trains N steps whatever the clock, and refuses --epochs beside it."""
    base = ["train", "--clean", str(toy_pair["clean"]), "--amp", str(toy_pair["amp_direct"]), "--target-kind",
            "amp_direct", "--model", "lstm:8", "--device", "cpu", "--quiet"]
    assert main([*base, "--steps", "2", "--out", str(tmp_path / "a")]) == 0
    ckpt = torch.load(tmp_path / "a" / "best.pt", weights_only=True)
    assert max(h["step"] for h in ckpt["history"] if "step" in h) == 2
    assert np.isfinite(ckpt["history"][-1]["val_esr"])
    assert main([*base, "--steps", "2", "--epochs", "1", "--out", str(tmp_path / "b")]) == 2
