"""Speed-up of the evaluation grid on a local Dask cluster: 1 worker against 2 (``guneamp_lib.jobs``).

    python benchmarks/workers.py [--steps 40] [--repeats 2] [--json out.json]

Runs the same small grid (the default data, four models, a fixed number of steps each)
serially in this process and on a two-worker ``LocalCluster``, alternating, so a busy
machine slows both alike. Every job runs with one PyTorch thread in both, so the
numbers of the two runs are equal (checked here) and only the wall time differs. The
cluster's wall time includes starting it (worker processes importing PyTorch).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time

from guneamp_lib.jobs import Engine
from guneamp_lib.study.evaluate import run_evaluation

MODELS = ("seed_cnn@1x", "seed_cnn@2x", "lstm:16", "wavenet:nano")


def cpu_seconds() -> float:
    """CPU time of this process and of its children that have ended (the cluster's workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def one_run(workers: int, steps: int) -> tuple[float, float, float, list]:
    """Wall seconds, of which starting the cluster, CPU seconds, and the test ESRs."""
    with tempfile.TemporaryDirectory() as tmp:
        t0, c0 = time.perf_counter(), cpu_seconds()
        engine = Engine(workers, progress=False)
        with engine:
            started = time.perf_counter() - t0
            results = run_evaluation(datasets=["default"], models=MODELS, steps=steps, out_dir=tmp, device="cpu",
                                     progress=False, aliasing=False, engine=engine)
        seconds, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    return seconds, started, cpu, [r.esr for r in results["default"]]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=40, help="training steps per model (default 40)")
    p.add_argument("--repeats", type=int, default=2, help="alternating pairs of runs (default 2)")
    p.add_argument("--json", default=None, help="also write the figures here")
    args = p.parse_args()
    times = {1: [], 2: []}
    reference = None
    for _ in range(args.repeats):
        for workers in (1, 2):
            seconds, started, cpu, esrs = one_run(workers, args.steps)
            reference = reference or esrs
            if esrs != reference:
                raise SystemExit(f"the {workers}-worker run's numbers differ from the first run's: {esrs} vs {reference}")
            times[workers].append(seconds)
            print(f"{workers} worker(s): {seconds:.1f} s wall ({started:.1f} s of it starting the cluster), "
                  f"{cpu:.1f} CPU-seconds, load average {os.getloadavg()[0]:.1f}", flush=True)
    best = {w: min(t) for w, t in times.items()}
    print(f"grid of {len(MODELS)} models x {args.steps} steps on {os.cpu_count()} CPUs: "
          f"1 worker {best[1]:.1f} s, 2 workers {best[2]:.1f} s (best of {args.repeats}); "
          f"speed-up {best[1] / best[2]:.2f}x; equal numbers: yes")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"models": MODELS, "steps": args.steps, "seconds": times, "speedup": best[1] / best[2]}, f, indent=2)


if __name__ == "__main__":
    main()
