"""`benchmarks/run.py --quick` runs and reports every section (figures are not judged: timings vary)."""

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from guneamp_lib.render.resamplers import stream_latency

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ("limit", "training", "inference", "streaming", "memory", "render_memory", "check_memory", "startup",
            "knobs", "wavenet_step")


def numbers(tree, path=""):
    """Every number in a JSON tree, with where it is (booleans are not numbers here)."""
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from numbers(v, f"{path}.{k}")
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from numbers(v, f"{path}[{i}]")
    elif isinstance(tree, (int, float)) and not isinstance(tree, bool):
        yield path, tree


@pytest.mark.slow
def test_quick_benchmark_reports_every_section(tmp_path):
    out = tmp_path / "bench.json"
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--json", str(out)],
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    r = json.loads(out.read_text())
    assert r["quick"] is True and r["machine"]["cpu"] and r["machine"]["torch"]
    for section in SECTIONS:
        found = list(numbers(r[section]))
        assert found, section
        for where, value in found:
            assert math.isfinite(value), (section, where)
            # a 1x model streams without latency; every other figure is a positive amount
            assert value > 0 or (value == 0 and where.endswith("latency_samples")), (section, where, value)
    models = r["streaming"]["models"]
    assert {"seed_cnn_8x", "seed_cnn_1x", "wavenet_standard", "wavenet_lite", "wavenet_feather", "wavenet_nano",
            "lstm"} <= set(models)
    assert models["seed_cnn_8x"]["latency_samples"] == stream_latency(8)
    assert len(r["training"]["segments"]) >= 2
    assert r["limit"]["tanh"]["speedup"] > 0 and "torch.tanh" in res.stdout
    if r["gpu"]["available"]:
        assert r["gpu"]["segment_targets_per_s"] > 0 and r["gpu"]["name"]
    else:
        assert "no GPU" in res.stdout
    for heading in ("1. training", "2. offline inference", "3. streaming", "4. memory", "5. GPU", "6. limit",
                    "7. memory: guneamp render", "7b. memory: guneamp check and guneamp score",
                    "knob models, compiled engine"):
        assert heading in res.stdout
    assert "WaveNet training step" in res.stdout
    for case in r["wavenet_step"].values():  # both sides of the ratio come from this run
        assert case["speedup"] == pytest.approx(case["padded_s"] / case["valid_s"])
    assert "real gear" in res.stdout  # section benchmarks/sections/real_gear.py (skipped without ../shared/data)
    nam = r["nam_core"]  # section 8 runs on a cached NAM core build only (--quick builds nothing)
    if not nam["available"]:
        assert "8. NAM core: skipped" in res.stdout
        return
    # issue 21: ours / NAM core at blocks 16, 64 and 256 for NAM's A2 and slimmable files and the standard WaveNet
    names = ["wavenet:standard"] + (["nam:a2-full", "nam:a2-lite", "nam:slimmable"] if importlib.util.find_spec("nam")
                                    else [])
    for name in names:
        ratios = nam["models"][name]["ratio_by_block"]
        assert set(ratios) == {"16", "64", "256"} and all(v > 0 for v in ratios.values()), name
        assert f"   {name}" in res.stdout


def test_benchmark_segments_follow_train_defaults():
    """The rows labelled as train()'s defaults use the segment lengths train() picks."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import run as bench
    finally:
        sys.path.pop(0)
    from guneamp_lib.training.train import TrainConfig, segment_length

    cfg = TrainConfig()
    direct = bench.SEGMENT_CONFIGS["like for like: amp_direct target, no cabinet, train()'s default"]
    cab = bench.SEGMENT_CONFIGS["guneamp train default: cabinet in the loss"]
    assert direct == (segment_length(cfg, has_ir=False), False)
    assert cab == (segment_length(cfg, has_ir=True), True)
