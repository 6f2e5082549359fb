"""How far knob models get in a fixed CPU budget on the reference amp's knob capture (issue 18, notebook 13).

    python benchmarks/knob_convergence.py [--budget 900] [--workers 2] [--json out.json]
    python benchmarks/knob_convergence.py --quick        (a 4 s capture set, 2 steps a model)

The issue judges knob models on ``guneamp synth --knobs`` data: within 15 CPU-minutes on one
thread, the conditioned WaveNet at a held-out median ESR of at most 0.01 and a worst of at
most 0.03, the conditioned LSTM at a median of at most 0.03, and both better than the pooled
snapshot on every held-out setting. This script trains, each for the same CPU seconds
(``TrainConfig(clock="cpu")``, one PyTorch thread):

* the conditioned WaveNet and LSTM with the knob recipe of ``guneamp train --manifest``
  (:data:`~guneamp_lib.training.defaults.KNOB_TRAINING`), on every training row;
* baseline (a), the pooled snapshot: the same WaveNet without knobs, with the same recipe,
  on every training row joined (what ``guneamp score --manifest`` trains);

and scores each on the held-out settings (a DI take no training row plays), as
``guneamp score --manifest`` does. It prints one Markdown table: each held-out setting's
ESR under each model and under baseline (b), the recording of the nearest training
setting; then the median, the worst, and whether each knob model beats (a) on every
held-out setting; then the steps each model took and the CPU seconds it used.

``--workers N`` trains the models in N processes of a Dask ``LocalCluster``
(:class:`~guneamp_lib.jobs.Engine`); the budget is each process's own CPU time, so the
figures do not depend on how many run at once, only the wall time does. Unlike
``train-many``'s jobs these read a clock: a CPU budget is what the issue judges.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import torch

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from guneamp_lib.errors import GuneampWarning  # noqa: E402
from guneamp_lib.jobs import Engine, Task  # noqa: E402
from guneamp_lib.study.evaluate import QUICK_KNOB_SECONDS  # noqa: E402
from guneamp_lib.study.knob_eval import held_out_esr, load_knob_dataset, median_worst  # noqa: E402
from guneamp_lib.study.knob_score import pooled_training_data  # noqa: E402
from guneamp_lib.training.defaults import ModelSpec  # noqa: E402
from guneamp_lib.training.train import segment_length, train, train_config  # noqa: E402
from real_gear import parse_overrides  # noqa: E402  (the same --set as the real-gear recipe search)

# The judged budget: 15 CPU-minutes on one thread.
BUDGET_S = 900.0
# (label, model spec, trained with knobs?): the pooled snapshot is the WaveNet's architecture.
MODELS = (("wavenet", "wavenet:standard", True), ("lstm", "lstm:16", True), ("pooled", "wavenet:standard", False))
# The goals: median and worst held-out ESR per knob model (None: not judged).
GOALS = {"wavenet": (0.01, 0.03), "lstm": (0.03, None)}
QUICK_STEPS = 2


def run_model(label: str, spec_text: str, knobs: bool, budget_s: float | None, steps: int | None, seconds: float | None,
              seed: int = 0, out_dir: str | None = None, overrides: dict | None = None) -> dict:
    """Train one model of the comparison on the knob capture and score it on the held-out settings."""
    torch.set_num_threads(1)
    warnings.simplefilter("ignore", GuneampWarning)  # the synthetic takes' lag note, once per capture
    dataset = load_knob_dataset(seconds=seconds, seed=seed)
    spec = ModelSpec.parse(spec_text)
    cfg = train_config(spec, time_budget_s=budget_s, epochs=1 if steps else None, steps_per_epoch=steps,
                       device="cpu", seed=seed, knob_recipe=True)
    cfg = replace(cfg, clock="cpu", **(overrides or {}))
    data = dataset.train if knobs else pooled_training_data(dataset.manifest)
    shortest = min(c.n_train for c in dataset.train.captures) if knobs else data.n_train
    cfg = replace(cfg, segment=min(segment_length(cfg, data.ir is not None), shortest))  # the quick set's short takes
    result = train(data, cfg, out_dir=None if out_dir is None else Path(out_dir) / label, progress=False)
    scores, _ = held_out_esr(dataset, result.checkpoint)
    last = result.history[-1]
    return {"label": label, "model": spec.label, "knobs": knobs, "steps": last["step"], "cpu_seconds": last["seconds"],
            "validation_esr": result.best_val_esr, "parameters": result.checkpoint.meta["parameters"],
            "batch_size": cfg.batch_size, "segment": cfg.segment, "learning_rate": cfg.learning_rate,
            "held_out_esr": scores, "median": median_worst(scores)[0], "worst": median_worst(scores)[1],
            "history": [{k: h[k] for k in ("step", "seconds", "val_esr")} for h in result.history]}


def bench(budget_s: float = BUDGET_S, quick: bool = False, workers: int = 1, seed: int = 0,
          labels: tuple[str, ...] = tuple(label for label, _, _ in MODELS), out_dir: str | None = None,
          wavenet: str | None = None, overrides: dict | None = None) -> dict:
    """Train and score the models named in ``labels`` (default: all of :data:`MODELS`); with ``out_dir``,
    each model's ``best.pt`` and ``last.pt`` go into ``out_dir/<label>``. ``wavenet`` replaces the
    WaveNet's spec (knob model and pooled snapshot alike) and ``overrides`` change
    :class:`~guneamp_lib.training.train.TrainConfig` fields of every model: a recipe search."""
    seconds = QUICK_KNOB_SECONDS if quick else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GuneampWarning)
        dataset = load_knob_dataset(seconds=seconds, seed=seed)  # written here once, before the workers read it
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    specs = {label: (wavenet if wavenet and spec.startswith("wavenet") else spec) for label, spec, _ in MODELS}
    tasks = [Task(label, run_model, (label, specs[label], knobs, None if quick else budget_s,
                                     QUICK_STEPS if quick else None, seconds, seed, out_dir, overrides))
             for label, _, knobs in MODELS if label in labels]
    started = time.perf_counter()
    with Engine(workers=workers, progress=False) as engine:
        engine.fit(len(tasks))
        outcomes = engine.run(tasks, desc="knob models")
    failed = [f"{o.key}: {o.error}" for o in outcomes if not o.ok]
    if failed:
        raise SystemExit("a model failed: " + "; ".join(failed))
    return {"quick": quick, "budget_s": None if quick else budget_s, "steps": QUICK_STEPS if quick else None,
            "dataset": dataset.description, "held_out": [row.name for row, _, _ in dataset.held_out],
            "nearest_esr": [e for e, _ in dataset.nearest], "runs": {o.key: o.value for o in outcomes},
            "overrides": overrides or {}, "wall_seconds": time.perf_counter() - started,
            "machine": {"cpu": platform.processor() or platform.machine(), "logical_cpus": os.cpu_count(),
                        "torch": torch.__version__, "load_average": load}}


def merge(parts: list[dict]) -> dict:
    """One report from runs of the same data and budget made apart (``--models``, then ``--merge``)."""
    first = parts[0]
    for other in parts[1:]:
        if (other["dataset"], other["budget_s"], other["steps"]) != (first["dataset"], first["budget_s"], first["steps"]):
            raise SystemExit("--merge takes runs on the same data with the same budget")
    runs = {}
    for part in parts:
        runs.update(part["runs"])
    loads = [p["machine"]["load_average"] for p in parts if p["machine"]["load_average"]]
    machine = {**first["machine"], "load_average": [max(v) for v in zip(*loads)] if loads else None}
    return {**first, "runs": {label: runs[label] for label, _, _ in MODELS if label in runs}, "machine": machine,
            "wall_seconds": max(p["wall_seconds"] for p in parts)}


def beats_pooled(r: dict) -> dict[str, int]:
    """For each knob model, on how many held-out settings its ESR is below the pooled snapshot's."""
    if "pooled" not in r["runs"]:
        return {}
    pooled = r["runs"]["pooled"]["held_out_esr"]
    return {label: sum(m < p for m, p in zip(run["held_out_esr"], pooled))
            for label, run in r["runs"].items() if run["knobs"]}


def _cell(v) -> str:
    return "n/a" if v is None else f"{v:.4g}"


def report_lines(r: dict) -> list[str]:
    runs = r["runs"]
    effort = (f"{r['steps']} steps each (quick: a plumbing check)" if r["quick"]
              else f"{r['budget_s']:g} CPU-seconds each on one thread")
    load = r["machine"]["load_average"]
    lines = [f"knob convergence: {effort}; {r['dataset']}",
             f"machine: {r['machine']['cpu']}, {r['machine']['logical_cpus']} logical CPUs, torch {r['machine']['torch']}"
             + (f"; load average at start {', '.join(f'{v:.1f}' for v in load)}" if load else "")
             + f"; {r['wall_seconds']:.0f} s of wall time", ""]
    names = {label: f"{run['model']} {'knobs' if run['knobs'] else '(a) pooled snapshot'}" for label, run in runs.items()}
    lines += ["| held-out setting | " + " | ".join(names.values()) + " | (b) nearest recording |",
              "|---|" + "---:|" * (len(runs) + 1)]
    for i, name in enumerate(r["held_out"]):
        lines.append(f"| {name} | " + " | ".join(_cell(run["held_out_esr"][i]) for run in runs.values())
                     + f" | {_cell(r['nearest_esr'][i])} |")
    nearest = median_worst(r["nearest_esr"])
    lines.append("| **median** | " + " | ".join(f"**{_cell(run['median'])}**" for run in runs.values())
                 + f" | {_cell(nearest[0])} |")
    lines.append("| **worst** | " + " | ".join(f"**{_cell(run['worst'])}**" for run in runs.values())
                 + f" | {_cell(nearest[1])} |")
    n = len(r["held_out"])
    beats = beats_pooled(r)
    lines.append("| beats (a) on every setting | " + " | ".join(
        ("yes" if beats[label] == n else f"no ({beats[label]} of {n})") if label in beats else ""
        for label in runs) + " | |")
    lines.append("| goal (median / worst) | " + " | ".join(
        " / ".join(_cell(g) if g else "-" for g in GOALS[label]) if label in GOALS else "" for label in runs) + " | |")
    lines.append("| steps | " + " | ".join(f"{run['steps']:,}" for run in runs.values()) + " | |")
    lines.append("| CPU seconds | " + " | ".join(f"{run['cpu_seconds']:.0f}" for run in runs.values()) + " | |")
    lines.append("| batch x segment, learning rate | " + " | ".join(
        f"{run['batch_size']} x {run['segment']:,}, {run['learning_rate']:g}" for run in runs.values()) + " | |")
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--budget", type=float, default=BUDGET_S, help=f"CPU seconds per model (default {BUDGET_S:g})")
    p.add_argument("--quick", action="store_true", help=f"a {QUICK_KNOB_SECONDS:g} s capture set, {QUICK_STEPS} steps a model")
    p.add_argument("--workers", type=int, default=1, help="train the models in this many processes (Dask)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--models", nargs="+", choices=[label for label, _, _ in MODELS], default=None,
                   help="train only these (default: all); --merge joins the JSON of such runs")
    p.add_argument("--merge", nargs="+", metavar="JSON", help="print one table from the JSON of earlier runs; train nothing")
    p.add_argument("--json", metavar="PATH", help="also write the figures to this JSON file")
    p.add_argument("--wavenet", metavar="SPEC", help="the WaveNet to train, e.g. wavenet:lite (default: wavenet:standard)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                   help="change one TrainConfig field of every model's recipe (repeatable): a recipe search")
    p.add_argument("--out", metavar="DIR", help="keep each model's best.pt and last.pt in DIR/<model> (default: none)")
    args = p.parse_args(argv)
    if args.wavenet and not args.wavenet.startswith("wavenet"):
        raise SystemExit(f"--wavenet {args.wavenet!r}: write a WaveNet spec such as wavenet:lite")
    overrides = parse_overrides(args.overrides)
    if args.merge:
        r = merge([json.loads(Path(path).read_text()) for path in args.merge])
    else:
        r = bench(args.budget, args.quick, args.workers, args.seed,
                  tuple(args.models or (label for label, _, _ in MODELS)), args.out, args.wavenet, overrides)
    print("\n".join(report_lines(r)))
    if args.json:
        Path(args.json).write_text(json.dumps({**r, "beats_pooled": beats_pooled(r)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
