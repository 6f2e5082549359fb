"""How long ``guneamp`` takes to refuse a bad option, next to what importing torch costs.

    python benchmarks/startup.py [--quick] [--json out.json]

Issue 10 asks that a bad option cost less than a second. The command line checks every
option before it imports torch, SciPy or numba (``guneamp_lib.vocabulary``), so a
refusal costs the interpreter's start and argparse; the reference is a bare
``import torch``, what every refusal cost when the command line imported it at once.
Each figure is the median wall time of a few runs in a fresh subprocess (a cold start,
as a user gets it), with the exit status checked; ``tests/test_startup.py`` holds the
imports themselves, without timing them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Each a refusal issue 10 names; the command must answer with exit status 2.
REFUSALS = {
    "train --lr nan": ["train", "--lr", "nan"],
    "render --gain-db nan": ["render", "--model", "m.pt", "--input", "di.wav", "--output", "out.wav", "--gain-db", "nan"],
}
REPEATS = 3


def _wall_seconds(argv: list[str], expect: int, cwd: str) -> float:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, *argv], capture_output=True, text=True, cwd=cwd, env=env)
    seconds = time.perf_counter() - t0
    if res.returncode != expect:
        raise RuntimeError(f"{' '.join(argv)} exited {res.returncode}, not {expect}: {res.stderr[-500:]}")
    return seconds


def bench(quick: bool = False) -> dict:
    """Median seconds to refuse each of :data:`REFUSALS`, and to import torch, in fresh interpreters.

    ``quick`` times the torch import once instead of :data:`REPEATS` times (it takes seconds).
    """
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    with tempfile.TemporaryDirectory() as cwd:
        refusals = {label: statistics.median(_wall_seconds(["-m", "guneamp_lib.cli", *argv], 2, cwd)
                                             for _ in range(REPEATS))
                    for label, argv in REFUSALS.items()}
        torch_s = statistics.median(_wall_seconds(["-c", "import torch"], 0, cwd)
                                    for _ in range(1 if quick else REPEATS))
    return {"refusal_seconds": refusals, "import_torch_seconds": torch_s, "repeats": REPEATS,
            "load_average": list(load) if load else None, "goal_seconds": 1.0}


def report_lines(s: dict) -> list[str]:
    load = f"; load average {', '.join(f'{v:.1f}' for v in s['load_average'])}" if s["load_average"] else ""
    lines = [f"start-up: a bad option refused, fresh interpreter, median of {s['repeats']}{load}"]
    for label, seconds in s["refusal_seconds"].items():
        lines.append(f"   guneamp {label:22s} {seconds:6.2f} s (exit 2; goal < {s['goal_seconds']:.0f} s)")
    lines.append(f"   for reference, python -c 'import torch' {s['import_torch_seconds']:6.2f} s")
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="time the torch import once")
    p.add_argument("--json", metavar="PATH", help="also write the figures to this JSON file")
    args = p.parse_args(argv)
    s = bench(args.quick)
    print("\n".join(report_lines(s)))
    if args.json:
        Path(args.json).write_text(json.dumps({"startup": s}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
