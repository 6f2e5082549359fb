"""Comparing models fairly: same data, same time budget, scored on audio none of them trained on (notebook 11).

Taught in notebook 11 (``11_beyond_the_seed``: the comparison); ``guneamp evaluate``
runs it on the real pedal recordings too.

The datasets and how each is split are in :mod:`guneamp_lib.study.datasets`.

**One time budget for all.** Every model trains for the same wall-clock seconds on
the same machine, so the table compares what each gets out of equal effort; the
training time and device columns say what that effort was.

**Or a fixed number of steps, anywhere.** Each (dataset, model) cell is one job of
:mod:`guneamp_lib.jobs`, run here one after another or on a Dask cluster
(``--workers``, ``--scheduler``). On a cluster a time budget would make each cell's result
depend on how busy its worker was, so there the cells train ``--steps`` steps instead,
and the table is the one the serial run writes, to the last bit.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from .. import paths
from ..errors import GuneampError
from ..jobs import Engine, Task
from ..models import receptive_field
from ..training.budget import fixed_steps
from ..training.defaults import ModelSpec
from ..vocabulary import DEFAULT_DATASETS, DEFAULT_MODELS, DEFAULT_TIME_BUDGET_S, KNOB_DATASET, parse_dataset
from .datasets import QUICK_CLIP_SECONDS, QUICK_DEFAULT_SECONDS, EvalData, PairDataset, load_dataset
from .knob_eval import knob_markdown, load_knob_dataset, train_and_test_knobs
from .metrics import Report, reports_to_markdown

# One period of E6 (1,318.5 Hz, the 24th fret of the high E string). A model that
# hears less than this cannot even see one cycle of the note it is distorting.
SHORTEST_PERIOD_MS = 0.76
QUICK_STEPS = 2
# Quick mode's knob capture: eight 0.5 s takes (the plan and the scoring are the full ones).
QUICK_KNOB_SECONDS = 4.0



def receptive_field_ms(model: torch.nn.Module, oversample: int, sample_rate: int) -> float:
    """How far back the model hears, in milliseconds of audio (``inf`` for an LSTM).

    Notebook: 11
    """
    rf = receptive_field(model)
    return math.inf if not math.isfinite(rf) else 1000.0 * rf / (sample_rate * oversample)


def hearing_note(spec: ModelSpec, model: torch.nn.Module, sample_rate: int) -> str:
    """One line on what the model can hear back in time, and what that means for an amp.

    Notebook: 11
    """
    ms = receptive_field_ms(model, spec.oversample, sample_rate)
    if math.isinf(ms):
        return "recurrent: remembers through its state, no fixed limit"
    rf = int(receptive_field(model))
    text = f"{rf:,} samples at {spec.oversample * sample_rate / 1000:g} kHz = {ms:.2f} ms"
    if ms < SHORTEST_PERIOD_MS:
        text += (f"; shorter than one period of the highest note on a guitar ({SHORTEST_PERIOD_MS} ms), "
                 "while an amp's coupling capacitors and tone stack act over many ms")
    return text


# --------------------------------------------------------------------------- training and testing


@dataclass
class Trained:
    """A model trained and tested: its report, the model itself and its test output.

    Notebook: 11
    """

    spec: ModelSpec
    model: torch.nn.Module
    report: Report
    prediction: torch.Tensor
    history: list


def train_and_test(dataset: EvalData, spec, *, time_budget_s=DEFAULT_TIME_BUDGET_S, epochs=None,
                   steps_per_epoch=None, device="auto", seed=0, progress=True, out_dir=None) -> Trained:
    """Train one model on the training material for the budget, then score the test part once.

    Notebook: 11
    """
    from ..training.train import evaluate, segment_length, train, train_config

    spec = ModelSpec.parse(spec)
    cfg = train_config(spec, time_budget_s=time_budget_s, epochs=epochs, steps_per_epoch=steps_per_epoch,
                       device=device, seed=seed)
    tr = dataset.train
    cfg = replace(cfg, segment=min(segment_length(cfg, tr.ir is not None), tr.n_train))  # tiny quick-mode data
    if progress:
        budget = f"{time_budget_s:.0f} s" if time_budget_s else f"{epochs} epoch(s)"
        print(f"[{dataset.name}] training {spec.label} for {budget} ...", flush=True)
    result = train(tr, cfg, out_dir=out_dir, progress=progress)
    model = result.model.eval()
    with torch.no_grad():
        test = evaluate(model, dataset.full, cfg, start=dataset.test_start)
    target = dataset.full.target[dataset.test_start :]
    sr = dataset.sample_rate
    last = result.history[-1]
    extra = {
        "dataset": dataset.name, "oversample": spec.oversample,
        "receptive_field_ms": receptive_field_ms(model, spec.oversample, sr),
        "hears": hearing_note(spec, model, sr), "steps": last["step"], "epochs": last["epoch"],
        "validation_esr": result.best_val_esr,
    }
    report = Report.compute(target, test["prediction"], spec.label, model=model, train_seconds=last["seconds"],
                            device=result.device, extra=extra)
    if progress:
        print(f"[{dataset.name}] {spec.label}: test ESR {report.esr:.4g} ({report.quality}) after "
              f"{last['step']} steps in {last['seconds']:.0f} s", flush=True)
    return Trained(spec, model, report, test["prediction"], result.history)


def train_and_test_knob_set(dataset, spec, **kw) -> Trained:
    """:func:`~guneamp_lib.study.knob_eval.train_and_test_knobs`, as one cell of the evaluation.

    Notebook: 11, 13
    """
    spec = ModelSpec.parse(spec)
    report, model, prediction, history = train_and_test_knobs(dataset, spec, **kw)
    report.extra.update(receptive_field_ms=receptive_field_ms(model, spec.oversample, dataset.sample_rate),
                        hears=hearing_note(spec, model, dataset.sample_rate))
    return Trained(spec, model, report, prediction, history)


def train_models(dataset, models=DEFAULT_MODELS, *, time_budget_s=DEFAULT_TIME_BUDGET_S, epochs=None,
                 steps_per_epoch=None, device="auto", seed=0, progress=True, out_dir=None) -> list[Trained]:
    """:func:`train_and_test` for each model, in order; ``dataset`` is a name or an :class:`EvalData`.

    Notebook: 11
    """
    data = load_dataset(dataset, seed=seed) if isinstance(dataset, str) else dataset
    if data is None:
        return []
    specs = [ModelSpec.parse(m) for m in models]
    out = []
    for spec in specs:
        where = None if out_dir is None else Path(out_dir) / data.name / re.sub(r"[^\w.]+", "_", spec.label)
        out.append(train_and_test(data, spec, time_budget_s=time_budget_s, epochs=epochs,
                                  steps_per_epoch=steps_per_epoch, device=device, seed=seed,
                                  progress=progress, out_dir=where))
    return out


def evaluate_models(dataset, models=DEFAULT_MODELS, time_budget_s=DEFAULT_TIME_BUDGET_S, device="auto", seed=0,
                    progress=True, *, epochs=None, steps_per_epoch=None, out_dir=None) -> list[Report]:
    """Train each model for ``time_budget_s`` on the training part, score each on the test part.

    Notebook: 11
    """
    return [t.report for t in train_models(dataset, models, time_budget_s=time_budget_s, epochs=epochs,
                                           steps_per_epoch=steps_per_epoch, device=device, seed=seed,
                                           progress=progress, out_dir=out_dir)]


# --------------------------------------------------------------------------- the table


def hearing_table(reports) -> str:
    """What each model can hear back in time (Markdown): why the designed CNN falls short.

    Notebook: 11
    """
    rows = ["| model | receptive field (ms) | what it hears |", "|---|---:|---|"]
    for r in reports:
        ms = r.extra.get("receptive_field_ms")
        ms_text = "unbounded" if ms in (math.inf, "inf") else ("n/a" if ms is None else f"{ms:.2f}")
        rows.append(f"| {r.name} | {ms_text} | {r.extra.get('hears', '')} |")
    return "\n".join(rows)


def format_results(results: dict, run_info: bool = True, descriptions: dict | None = None) -> str:
    """The evaluation as Markdown, one section per dataset (the CLI prints exactly this).

    ``run_info=False`` leaves out training time and device, which change from run to run.

    Notebook: 11
    """
    parts = []
    for name, reports in results.items():
        parts.append(f"## {name}")
        if descriptions and name in descriptions:
            parts.append(descriptions[name])
        if not reports:
            if not (descriptions and name in descriptions):
                parts.append("(skipped)")
            continue
        parts += ["", reports_to_markdown(reports, run_info=run_info), "", hearing_table(reports), ""]
    return "\n".join(parts).rstrip() + "\n"


def _cell_line(outcome) -> str:
    if not outcome.ok:
        return f"[{outcome.key}] failed: {outcome.error}"
    r = outcome.value.report
    return f"[{outcome.key}] test ESR {r.esr:.4g} ({r.quality}) after {r.extra['steps']} steps"


def refuse_repeated_datasets(datasets) -> None:
    """Refuse a dataset given twice (``RAT`` and ``RAT@3`` are one): the table has one section per
    dataset, and the second would silently replace the first's results and checkpoints.

    Notebook: 11
    """
    seen = {}
    for dataset in datasets:
        text = dataset.name if isinstance(dataset, PairDataset) else str(dataset)
        key = ("pair", dataset.name) if isinstance(dataset, PairDataset) else parse_dataset(text)
        if key in seen:
            same = "" if seen[key] == text else f" (as {seen[key]!r})"
            raise GuneampError(f"the dataset {text!r} is given twice{same}; give each dataset once, "
                               "and each --dataset-pair its own name")
        seen[key] = text


def run_evaluation(datasets=DEFAULT_DATASETS, time_budget_s: float | None = DEFAULT_TIME_BUDGET_S,
                   quick: bool = False, out_dir=None, *, models=DEFAULT_MODELS, device: str = "auto",
                   seed: int = 0, progress: bool = True, aliasing: bool = True, steps: int | None = None,
                   engine: Engine | None = None) -> dict:
    """Evaluate ``models`` on each dataset; write ``evaluation.md`` and ``evaluation.json`` to ``out_dir``.

    Each (dataset, model) cell is one job on ``engine`` (default: here, one after another;
    see :mod:`guneamp_lib.jobs`). ``steps``: train each cell that many steps instead of for
    ``time_budget_s`` seconds, the only way a spread-out grid gives the numbers a serial one
    gives. ``quick`` uses a few seconds of each recording and two training steps per model:
    a check that everything runs and every column is filled, not a comparison.
    Returns ``{dataset: [Report, ...]}`` (empty list for a skipped dataset); a cell whose job
    failed is left out of its list and named, with its error, in both files.

    Notebook: 11
    """
    from tqdm.auto import tqdm

    from .aliasing import aliasing_markdown, measure_model_aliasing

    specs = [ModelSpec.parse(m) for m in models]  # a typo fails here, before anything is written
    refuse_repeated_datasets(datasets)
    engine = engine or Engine(progress=progress)
    if quick:
        budget, work = None, {"epochs": 1, "steps_per_epoch": QUICK_STEPS}
    elif steps is not None:
        budget, work = None, fixed_steps(steps)
    else:
        budget, work = time_budget_s, {}
    if budget is not None and engine.distributed:
        raise GuneampError("on a cluster a time budget makes each result depend on how busy its worker was: "
                           "give --steps N (a fixed number of training steps per model)")
    out_dir = Path(out_dir) if out_dir else paths.runs_dir() / "evaluation"
    out_dir.mkdir(parents=True, exist_ok=True)
    loaded, descriptions, tasks = {}, {}, []
    for dataset in datasets:
        name = dataset.name if isinstance(dataset, PairDataset) else dataset
        seconds = (QUICK_DEFAULT_SECONDS if name.startswith("default") else QUICK_CLIP_SECONDS) if quick else None
        if name == KNOB_DATASET:
            data = load_knob_dataset(seconds=QUICK_KNOB_SECONDS if quick else None, seed=seed)
        else:
            data = load_dataset(dataset, seconds=seconds, seed=seed)
        if data is None:
            descriptions[name] = "skipped: ../shared/data/egfxset is not present"
            continue
        loaded[name] = data
        descriptions[name] = data.summary()
        if progress:
            print(descriptions[name], flush=True)
    engine.fit(len(loaded) * len(specs))
    with engine:
        for name, data in loaded.items():
            shared = engine.share(data)
            for spec in specs:
                where = out_dir / "checkpoints" / data.name / re.sub(r"[^\w.]+", "_", spec.label)
                job = train_and_test_knob_set if name == KNOB_DATASET else train_and_test
                tasks.append(Task(f"{name}: {spec.label}", job, (shared, spec),
                                  {"time_budget_s": budget, **work, "device": device, "seed": seed,
                                   "progress": False, "out_dir": where}))
        outcomes = engine.run(tasks, desc="models", on_outcome=lambda o: progress and tqdm.write(_cell_line(o)))
    names = [d.name if isinstance(d, PairDataset) else d for d in datasets]
    results = {name: [] for name in names}
    failed = {name: [] for name in names}
    cells = iter(outcomes)
    for name in loaded:
        for spec in specs:
            outcome = next(cells)
            if outcome.ok:
                results[name].append(outcome.value)
            else:
                failed[name].append({"model": spec.label, "error": outcome.error})
    alias = {}
    if aliasing:
        alias = {name: measure_model_aliasing({t.spec.label: (t.model, t.spec.oversample) for t in trained},
                                              loaded[name].sample_rate, quick=quick)
                 for name, trained in results.items() if trained and name != KNOB_DATASET}
    results = {name: [t.report for t in trained] for name, trained in results.items()}
    for name, cells_failed in failed.items():
        if cells_failed:
            descriptions[name] = (descriptions[name] + "\n\n" + "\n".join(
                f"- {c['model']} failed: {c['error']}" for c in cells_failed))
    text = format_results(results, descriptions=descriptions)
    if results.get(KNOB_DATASET):
        text += f"\n## knob models on held-out settings\n\n{knob_markdown(results[KNOB_DATASET])}\n"
    for name, res in alias.items():
        text += f"\n## aliasing, models trained on {name}\n\n{aliasing_markdown(res)}\n"
    effort = ("2 steps (quick mode: a plumbing check, not a comparison)" if quick
              else f"{steps} steps" if budget is None else f"{time_budget_s:.0f} s")
    header = (f"# Model evaluation\n\nEach model trained for {effort} "
              f"per dataset; ESR and the other scores are on the test part, which no model trained on.\n\n")
    paths.write_text_atomic(out_dir / "evaluation.md", header + text)
    payload = {
        "time_budget_s": budget, "steps": steps, "quick": quick, "seed": seed, "models": [s.label for s in specs],
        "datasets": {name: {"description": descriptions.get(name), "reports": [r.to_dict() for r in reps],
                            "failed": failed[name], "aliasing": [a.to_dict() for a in alias.get(name, [])]}
                     for name, reps in results.items()},
    }
    paths.write_text_atomic(out_dir / "evaluation.json", json.dumps(payload, indent=2))
    return results


def main(args) -> int:
    """``guneamp evaluate``: the entry point the CLI calls with its parsed arguments.

    Notebook: 11
    """

    out = Path(args.out)
    engine = Engine(args.workers, args.scheduler, progress=not args.quiet)
    if args.steps is not None:
        fixed_steps(args.steps)
    pairs = [PairDataset.parse(text) for text in args.dataset_pair or []]  # before anything trains
    # Your own datasets alone, unless --datasets asks for built-in ones too.
    named = args.datasets if args.datasets is not None else ([] if pairs else list(DEFAULT_DATASETS))
    run_evaluation(datasets=named + pairs, time_budget_s=args.time_budget, quick=args.quick, out_dir=out,
                   models=args.models, device=args.device, seed=args.seed, progress=not args.quiet,
                   steps=args.steps, engine=engine)
    print((out / "evaluation.md").read_text())
    print(f"wrote {out / 'evaluation.md'} and {out / 'evaluation.json'}")
    cells = json.loads((out / "evaluation.json").read_text())["datasets"].values()
    failed = sum(len(c["failed"]) for c in cells)
    if failed:  # the table holds what worked; the exit status must not call the run a success
        print(f"{failed} of {failed + sum(len(c['reports']) for c in cells)} models failed; "
              "evaluation.md says why")
        return 1
    return 0


__all__ = [
    "DEFAULT_MODELS", "Trained", "evaluate_models", "format_results", "hearing_table", "receptive_field_ms",
    "run_evaluation", "train_and_test", "train_models",
]
