"""`benchmarks/real_gear.py` runs every side on a real pedal and scores the unseen take (figures not judged)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_real_gear_benchmark_scores_every_side_on_the_unseen_take(shared_data, tmp_path):
    pytest.importorskip("nam", reason="neural-amp-modeler (dev extra) is not installed")
    if not (shared_data / "egfxset").is_dir():
        pytest.skip("../shared/data/egfxset is not present")
    out = tmp_path / "rg.json"
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "real_gear.py"), "--pedals", "TubeScreamer",
                          "--budget", "2", "--also-at", "1", "--seconds", "2", "--set", "grad_clip=1.0",
                          "--json", str(out)],
                         capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert [(r["side"], r["budget_cpu_s"]) for r in rows] == [
        ("ours", 2), ("nam-a2", 1), ("nam-a2", 2), ("nam-standard", 1), ("nam-standard", 2)]
    for early, final in ((rows[1], rows[2]), (rows[3], rows[4])):
        # NAM's shorter run is the longer one's prefix: fewer or as many steps, at least its budget
        assert 1 <= early["steps"] <= final["steps"] and early["cpu_s"] >= 1.0
        assert 0.0 < early["validation_esr"] < 10.0 and 0.0 < early["esr"] < 2.0
    rows = [rows[0], rows[2], rows[4]]
    for r in rows:
        assert r["pedal"] == "TubeScreamer@1"
        assert r["steps"] >= 1
        # the budget is spent on the CPU clock: NAM's loop stops after the batch that crosses it,
        # ours before a step (and its last validation) that would not fit
        assert r["cpu_s"] >= 2.0 if r["side"] != "ours" else 1.0 <= r["cpu_s"] <= 2.0
        assert 0.0 < r["esr"] < 2.0 and 0.0 < r["esr_pre_emphasis"] < 2.0 and r["mrstft"] > 0.0
        assert 0.0 <= r["uncovered_share"] < 0.05  # clip 1 is the take the training notes cover
    assert rows[0]["recipe"] == {"grad_clip": 1.0}
    # ours also scores the weights training ended with, beside those its validation chose
    assert 0.0 < rows[0]["last_esr"] < 2.0 and 1 <= rows[0]["best_epoch"] <= rows[0]["epochs"]
    assert len(rows[1]["submodels"]) == 2  # A2 trains its 3- and 8-channel submodels together
    table = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "real_gear.py"), "--table", str(out)],
                           capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert table.returncode == 0 and table.stdout.count("TubeScreamer@1") == 5


def test_validation_per_take_and_its_share_keep_every_sample_in_one_part(shared_data):
    """load_pedal(val_per_take, val_fraction): the heads of the training clips first, then their
    tails to validate; the test take unchanged, at the same gain; nothing lost or doubled."""
    if not (shared_data / "egfxset").is_dir():
        pytest.skip("../shared/data/egfxset is not present")
    import torch
    from guneamp_lib.study.datasets import CLIP_GAP_S, load_pedal

    plain = load_pedal("BluesDriver", seconds=1.0, test_clip=1)
    sr, gap = plain.sample_rate, int(round(CLIP_GAP_S * plain.sample_rate))
    clip = int(1.0 * sr)  # every clip trimmed to one second
    per_take = load_pedal("BluesDriver", seconds=1.0, test_clip=1, val_per_take=True, val_fraction=0.25)
    head = clip - int(round(clip * 0.25))
    tr, ptr = plain.train, per_take.train
    # the tail of the joined takes, 20 %; or each take's last quarter, joined after the heads
    assert tr.val_start == round(plain.test_start * 0.8)
    assert ptr.val_start == 3 * head + 3 * gap
    assert per_take.test_start == ptr.val_start + 3 * (clip - head) + 3 * gap
    torch.testing.assert_close(per_take.full.clean[per_take.test_start :], plain.full.clean[plain.test_start :])
    assert per_take.full.input_gain == plain.full.input_gain and per_take.full.output_gain == plain.full.output_gain
    second = plain.full.clean[clip + gap : 2 * clip + gap]  # clip 2, the second training take
    torch.testing.assert_close(ptr.clean[head + gap : 2 * head + gap], second[:head])
    start = ptr.val_start + (clip - head) + gap
    torch.testing.assert_close(ptr.clean[start : start + clip - head], second[head:])
    short = load_pedal("BluesDriver", seconds=1.0, test_clip=1, val_fraction=0.05)
    assert short.train.val_start == round(short.test_start * 0.95) and short.test_start == plain.test_start


@pytest.mark.parametrize("value", ["0", "0.5", "nan"])
def test_real_gear_refuses_a_validation_share_out_of_range(value, capsys):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import real_gear

    with pytest.raises(SystemExit) as stop:
        real_gear.main(["--val-fraction", value])
    assert stop.value.code == 2 and "--val-fraction" in capsys.readouterr().err


def test_a_separate_validation_take_trains_on_the_other_two(shared_data):
    """load_pedal(val_take=3): clips 0 and 2 train, clip 3 whole is the validation part, the
    test take and the gain as without it; a take that is the test's, or not a clip, is refused."""
    if not (shared_data / "egfxset").is_dir():
        pytest.skip("../shared/data/egfxset is not present")
    import torch
    from guneamp_lib.errors import GuneampError
    from guneamp_lib.study.datasets import CLIP_GAP_S, aligned_clip, load_pedal

    plain = load_pedal("BluesDriver", seconds=1.0, test_clip=1)
    sr, gap = plain.sample_rate, int(round(CLIP_GAP_S * plain.sample_rate))
    clip = int(1.0 * sr)
    vt = load_pedal("BluesDriver", seconds=1.0, test_clip=1, val_take=3)
    assert vt.train.val_start == 2 * clip + 2 * gap and vt.test_start == plain.test_start
    torch.testing.assert_close(vt.full.clean[vt.test_start :], plain.full.clean[plain.test_start :])
    assert vt.full.input_gain == plain.full.input_gain
    third = torch.from_numpy(aligned_clip("BluesDriver", 3)[0][:clip]) * vt.full.input_gain
    torch.testing.assert_close(vt.train.clean[vt.train.val_start : vt.train.val_start + clip], third)
    assert "clip 3 to validate" in vt.description
    for bad in (1, 4):
        with pytest.raises(GuneampError, match="validation take"):
            load_pedal("BluesDriver", seconds=1.0, test_clip=1, val_take=bad)
    with pytest.raises(GuneampError, match="validation take"):
        load_pedal("BluesDriver", seconds=1.0, test_clip=1, val_take=3, val_per_take=True)


@pytest.mark.parametrize("args", [["--val-take", "1"], ["--val-take", "5"], ["--val-take", "3", "--val-per-take"]])
def test_real_gear_refuses_a_validation_take_it_cannot_use(args, capsys):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import real_gear

    with pytest.raises(SystemExit):
        real_gear.main(["--sides", "ours", *args])
    assert "--val-take" in capsys.readouterr().err
