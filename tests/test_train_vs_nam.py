"""`benchmarks/train_vs_nam.py` still runs both trainers on today's library (figures not judged)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.parametrize("side", ["ours", "nam"])
def test_train_vs_nam_runs_and_scores(side, tmp_path):
    if side == "nam":
        pytest.importorskip("nam", reason="neural-amp-modeler (dev extra) is not installed")
    if not (ROOT / "data" / "clean.wav").exists():
        pytest.skip("default data missing: run `guneamp synth` (make data)")
    out = tmp_path / f"{side}.json"
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "train_vs_nam.py"), "--side", side,
                          "--preset", "lite", "--budget", "2", "--every", "1", "--json", str(out)],
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    r = json.loads(out.read_text())
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
