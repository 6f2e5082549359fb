"""`benchmarks/train_vs_nam.py` still runs both trainers on today's library (figures not judged)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_side(side: str, tmp_path, *options: str) -> dict:
    """The script's JSON for one side, run as a user runs it."""
    if side == "nam":
        pytest.importorskip("nam", reason="neural-amp-modeler (dev extra) is not installed")
    if not (ROOT / "data" / "clean.wav").exists():
        pytest.skip("default data missing: run `guneamp synth` (make data)")
    out = tmp_path / f"{side}.json"
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "train_vs_nam.py"), "--side", side, *options,
                          "--json", str(out)], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.mark.slow
@pytest.mark.parametrize("side", ["ours", "nam"])
def test_train_vs_nam_runs_and_scores(side, tmp_path):
    r = run_side(side, tmp_path, "--preset", "lite", "--budget", "2", "--every", "1")
    assert r["side"] == side and r["clock"] == "cpu" and r["threads"] == 1
    curve = r["curve"]
    assert len(curve) >= 2
    steps = [p["step"] for p in curve]
    assert steps == sorted(steps) and steps[-1] >= 1
    for p in curve:
        # one thread: CPU seconds can only fall behind elapsed ones, and the budget is on CPU seconds
        assert p["seconds"] == p["cpu_s"] <= p["wall_s"] * 1.05 + 0.05
        assert 0.0 < p["esr"] < 2.0
    assert curve[-1]["seconds"] >= 2.0
    assert r["final_esr"] == curve[-1]["esr"]


@pytest.mark.slow
@pytest.mark.parametrize("side", ["ours", "nam"])
def test_a2_quick_runs_nams_default_recipe_against_ours(side, tmp_path):
    """--preset a2 --quick: NAM 0.13's packed A2 (scored on Full, Lite beside it) against our wavenet:a2-full."""
    r = run_side(side, tmp_path, "--preset", "a2", "--quick")
    assert r["quick"] and r["budget_s"] == 3.0 and r["held_out_s"] == 1.0 and r["clock"] == "cpu"
    assert r["trained"] == "a2-full" if side == "ours" else "A2" in r["trained"]
    curve = r["curve"]
    assert curve and curve[-1]["seconds"] >= 3.0 and r["final_esr"] == curve[-1]["esr"]
    for p in curve:
        assert 0.0 < p["esr"] < 2.0
        # NAM's packed net is scored on both sizes; two different networks give two scores
        assert ("esr_lite" in p) == (side == "nam") and p.get("esr_lite") != p["esr"]
