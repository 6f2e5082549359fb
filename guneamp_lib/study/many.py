"""One model per capture: every row of a manifest trained as its own job (``guneamp train-many``).

A guitarist who captures every channel and tone setting of an amp wants one model per
setting; 23 tone-stack settings is an ordinary afternoon. The manifest lists them, one
row per capture, as CSV (a header line, then one line per row) or YAML (a list of
mappings, or a mapping whose ``captures`` key holds that list)::

    name,clean,target,ir,target_kind,model,out,test_clean,test_target
    bass 3,di.wav,jvm_bass3.wav,,amp_direct,wavenet:lite,models/bass3,di_test.wav,jvm_bass3_test.wav

Columns: ``clean``, ``target``, ``model`` (``name[:arg][@Nx]``, as ``guneamp evaluate``
writes it) and ``out`` (the row's folder) are required; ``name``, ``ir``, ``target_kind``
(default ``amp_with_cab`` with an IR, ``amp_direct`` without), ``test_clean`` and
``test_target`` (a pair recorded apart, scored once after training), ``steps``, ``seed``
and ``align`` (yes/no) are optional. Relative paths are read from the manifest's folder.

**What a row's failure does.** A missing file, a bad model name or a recording too short
is one row's problem: it is written into the summary with its one-line error and the
other rows go on. Only a manifest that cannot be read as a whole (no such file, a
column missing or misspelt, two rows writing one folder) stops the run before it starts.

**Resuming.** A row that finishes writes ``result.json`` into its folder, last, next to
``best.pt``. A rerun skips every row whose folder holds one (``--overwrite`` retrains
them), so a run stopped half-way is picked up where it stopped; ``best.pt`` without
``result.json`` is a row cut off mid-training, and it trains again from the start.

**The same numbers wherever a row runs.** Each row trains a fixed number of steps from
its own seed (no time budget), with one PyTorch thread, so the summary does not depend
on how many workers shared the rows or which got which (see :mod:`guneamp_lib.jobs`).
The summary is rewritten (atomically) after every row, as CSV, Markdown and JSON.
"""

from __future__ import annotations

import csv
import json
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from .. import paths
from ..errors import GuneampError
from ..jobs import Engine, Outcome, Task
from ..training.defaults import ModelSpec
from ..vocabulary import DEFAULT_STEPS, TARGET_KINDS
from .manifest import MANY_OPTIONAL, MANY_REQUIRED, PATH_COLUMNS, read_records

REQUIRED_COLUMNS = MANY_REQUIRED
OPTIONAL_COLUMNS = MANY_OPTIONAL
RESULT_FILE = "result.json"
# Validation (and the choice of the best checkpoint) every this many steps; a step
# count above it is rounded up to a whole number of such rounds.
VALIDATE_EVERY = 100
SUMMARY_COLUMNS = ("row", "name", "status", "model", "validation_esr", "test_esr", "steps", "seconds", "out", "error")
YES = ("1", "true", "yes", "y")
NO = ("", "0", "false", "no", "n")


@dataclass(frozen=True)
class Row:
    """One capture of the manifest, as written (paths resolved); checked when its job runs."""

    index: int
    name: str
    clean: Path
    target: Path
    model: str
    out: Path
    ir: Path | None = None
    target_kind: str = ""
    test_clean: Path | None = None
    test_target: Path | None = None
    steps: str = ""
    seed: str = ""
    align: str = ""


def fixed_steps(steps: int) -> dict:
    """:class:`~guneamp_lib.training.train.TrainConfig` fields for ``steps`` steps and no clock.

    Validated every :data:`VALIDATE_EVERY` steps; above that, rounded up to whole rounds.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise GuneampError(f"the number of steps must be a whole number of 1 or more, got {steps!r}")
    per = min(steps, VALIDATE_EVERY)
    return {"epochs": math.ceil(steps / per), "steps_per_epoch": per, "time_budget_s": None}


# --------------------------------------------------------------------------- the manifest


def read_manifest(path) -> list[Row]:
    """The rows of a manifest; raises only for what makes the whole manifest unusable."""
    path = Path(path)
    records = read_records(path)
    known = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS)
    base = path.resolve().parent
    rows, outs = [], {}
    for i, rec in enumerate(records, start=1):
        unknown = sorted(set(rec) - known)
        if unknown:
            raise GuneampError(f"{path}, row {i}: unknown column(s) {', '.join(unknown)}; "
                               f"the columns are {', '.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)}")
        if not rec.get("out"):
            raise GuneampError(f"{path}, row {i}: every row needs an 'out' folder")
        vals = {k: rec.get(k, "") for k in known}
        for k in PATH_COLUMNS + ("out",):
            vals[k] = (base / vals[k]) if vals[k] else None
        out = vals["out"].resolve()
        if out in outs:
            raise GuneampError(f"{path}: rows {outs[out]} and {i} both write to {vals['out']}; give each its own 'out'")
        outs[out] = i
        name = vals.pop("name") or Path(rec["out"]).name
        rows.append(Row(index=i, name=name, **vals))
    for row in rows:
        for k in PATH_COLUMNS:
            p = getattr(row, k)
            if p is not None and p.resolve() in outs:
                raise GuneampError(f"{path}: row {row.index}'s {k} {p} is row {outs[p.resolve()]}'s output folder")
    return rows


# --------------------------------------------------------------------------- one row


def _whole(column: str, text: str, default: int) -> int:
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise GuneampError(f"{column} must be a whole number, got {text!r}") from None


def _yes(text: str) -> bool:
    if text.lower() in YES + NO:
        return text.lower() in YES
    raise GuneampError(f"align must be yes or no, got {text!r}")


def row_config(row: Row, steps: int, seed: int, device: str):
    """The row's training set-up: its model with the per-model defaults, fixed steps, its seed."""
    from .evaluate import train_config

    spec = ModelSpec.parse(row.model)
    return spec, replace(train_config(spec, device=device, seed=_whole("seed", row.seed, seed)),
                         **fixed_steps(_whole("steps", row.steps, steps)))


def finished(row: Row) -> dict | None:
    """The result a previous run left in the row's folder, or ``None``."""
    try:
        return json.loads((row.out / RESULT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def train_row(row: Row, steps: int = DEFAULT_STEPS, seed: int = 0, device: str = "auto") -> dict:
    """Train one row's model, score its test pair, write ``best.pt`` and ``result.json``.

    The job that :func:`train_many` runs for each row, here or on a worker.
    """
    from ..training.data import load_training_data
    from ..training.train import evaluate, segment_length, train

    if row.clean is None or row.target is None:
        raise GuneampError("the row needs a clean and a target file")
    kind = row.target_kind or ("amp_with_cab" if row.ir is not None else "amp_direct")
    if kind not in TARGET_KINDS:
        raise GuneampError(f"target_kind must be one of {', '.join(TARGET_KINDS)}, got {kind!r}")
    if (row.test_clean is None) != (row.test_target is None):
        raise GuneampError("give both test_clean and test_target, or neither")
    align = _yes(row.align)
    spec, cfg = row_config(row, steps, seed, device)
    ir = row.ir if kind == "amp_with_cab" else None
    data = load_training_data(row.clean, row.target, ir, target_kind=kind, align=align)
    test = None
    if row.test_clean is not None:  # read before training: a bad test file should not cost a training run
        test = load_training_data(row.test_clean, row.test_target, ir, target_kind=kind, align=align)
    cfg = replace(cfg, segment=min(segment_length(cfg, data.ir is not None), data.n_train))
    t0 = time.perf_counter()
    result = train(data, cfg, out_dir=row.out, progress=False)
    test_esr = None
    if test is not None:
        with torch.no_grad():
            test_esr = float(evaluate(result.model, test, cfg, start=0)["esr"])
    summary = {"row": row.index, "name": row.name, "status": "trained", "model": spec.label,
               "validation_esr": float(result.best_val_esr), "test_esr": test_esr,
               "steps": int(result.history[-1]["step"]), "seconds": round(time.perf_counter() - t0, 3),
               "out": str(row.out), "error": None}
    paths.write_text_atomic(row.out / RESULT_FILE, json.dumps(summary, indent=2))
    return summary


# --------------------------------------------------------------------------- the summary


def summary_paths(manifest, out=None) -> dict[str, Path]:
    """Where the summary goes: ``<manifest name>.summary.{csv,md,json}`` beside it, or in ``out``."""
    manifest = Path(manifest)
    folder = Path(out) if out is not None else manifest.parent
    return {ext: folder / f"{manifest.stem}.summary.{ext}" for ext in ("csv", "md", "json")}


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value).replace("|", "/").replace("\n", " ")


def write_summary(results: list[dict], where: dict[str, Path]) -> None:
    """The summary table as CSV, Markdown and JSON, each written atomically."""
    with paths.atomic_output(where["csv"]) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=SUMMARY_COLUMNS)
            w.writeheader()
            w.writerows({k: _cell(r.get(k)) for k in SUMMARY_COLUMNS} for r in results)
    lines = ["| " + " | ".join(SUMMARY_COLUMNS) + " |", "|" + "---|" * len(SUMMARY_COLUMNS)]
    lines += ["| " + " | ".join(_cell(r.get(k)) for k in SUMMARY_COLUMNS) + " |" for r in results]
    trained = sum(r["status"] in ("trained", "skipped") for r in results)
    head = f"# Training summary\n\n{trained} of {len(results)} captures have a model.\n\n"
    paths.write_text_atomic(where["md"], head + "\n".join(lines) + "\n")
    paths.write_text_atomic(where["json"], json.dumps(results, indent=2))


def _failed(row: Row, error: str) -> dict:
    return {"row": row.index, "name": row.name, "status": "failed", "model": row.model, "validation_esr": None,
            "test_esr": None, "steps": None, "seconds": None, "out": str(row.out), "error": error}


def train_many(manifest, *, engine: Engine | None = None, steps: int = DEFAULT_STEPS, seed: int = 0,
               device: str = "auto", overwrite: bool = False, summary_dir=None) -> list[dict]:
    """Train every row of ``manifest`` on ``engine`` (default: here, one after another).

    Returns one summary record per row, in manifest order, and writes the summary files.
    """
    fixed_steps(steps)
    rows = read_manifest(manifest)
    where = summary_paths(manifest, summary_dir)
    inputs = [manifest] + [getattr(r, k) for r in rows for k in PATH_COLUMNS]
    for target in where.values():
        paths.refuse_output_on_inputs(target, inputs)
    results: dict[int, dict] = {}
    todo = []
    for row in rows:
        previous = None if overwrite else finished(row)
        if previous is not None:
            results[row.index] = {**previous, "row": row.index, "name": row.name, "status": "skipped"}
        else:
            todo.append(row)

    def record(outcome: Outcome) -> None:
        row = by_key[outcome.key]
        results[row.index] = outcome.value if outcome.ok else _failed(row, outcome.error)
        write_summary([results[i] for i in sorted(results)], where)

    by_key = {f"row {r.index}": r for r in todo}
    tasks = [Task(key, train_row, (row, steps, seed, device)) for key, row in by_key.items()]
    engine = engine or Engine()
    if tasks:
        with engine:
            engine.run(tasks, desc="captures", on_outcome=record)
    ordered = [results[r.index] for r in rows]
    write_summary(ordered, where)
    return ordered


__all__ = ["DEFAULT_STEPS", "Row", "finished", "fixed_steps", "read_manifest", "summary_paths", "train_many",
           "train_row", "write_summary"]
