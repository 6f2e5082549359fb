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

**Knob models.** A row may name a knob manifest (:mod:`guneamp_lib.study.manifest`) in a
``manifest`` column instead of ``clean`` and ``target``: it trains one knob model (``model``
is ``wavenet``, ``lstm`` or ``gru``) on the knob manifest's ``split=train`` rows, exactly as
``guneamp train --manifest M --model ... --steps N`` does, and its ``test_esr`` is the median
ESR of the held-out (``split=test``) rows. The row's ``ir``, ``target_kind`` and ``align``
apply to knob rows that say nothing. ``guneamp train-many knobs.csv --model lstm:16 --model
wavenet:lite`` is the short way: one such row per ``--model``, each in its own folder of
``--out``. Its fingerprint holds the knob manifest and every capture it names, so a rerun
retrains a knob model when any of its captures changed. A knob row that also gives
``clean``/``target``, a model that takes no knobs, or a knob manifest that cannot be read
stops the run before it starts, as a broken manifest does.

**What a row's failure does.** A missing file, a bad model name or a recording too short
is one row's problem: it is written into the summary with its one-line error and the
other rows go on. Only a manifest that cannot be read as a whole (no such file, a
column missing or misspelt, two rows writing one folder) stops the run before it starts.

**Resuming.** A row's job first claims its folder (:func:`guneamp_lib.paths.output_lock`)
and writes ``result.json`` saying it is training, with a fingerprint of the row's inputs
(its fields, and the size and SHA-256 of each of its files); when it finishes it writes
``result.json`` again, last, with the SHA-256 of its ``best.pt``. A rerun skips a row
only if that record is there and the row, its files and its ``best.pt`` are unchanged; a
row whose inputs changed trains again (the run says why), and a row cut off mid-training
trains again from the start. ``--overwrite`` retrains every row.

**Nothing of the user's is replaced.** As with ``guneamp train``, a ``best.pt`` or
``last.pt`` that train-many did not write (no ``result.json`` of its own beside it), or one
changed since, is never replaced without ``--overwrite``: that row fails and says so. No
row's output files may be another row's input.

**The same numbers wherever a row runs.** Each row trains a fixed number of steps from
its own seed (no time budget), with one PyTorch thread, so the summary does not depend
on how many workers shared the rows or which got which (see :mod:`guneamp_lib.jobs`).
The summary is rewritten (atomically) after every row, as CSV, Markdown and JSON.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from .. import paths
from ..errors import GuneampError
from ..jobs import Engine, Outcome, Task, one_line_error
from ..knobs import KNOB_COLUMN_PREFIX
from ..training.budget import fixed_steps
from ..training.defaults import KNOB_MODELS, ModelSpec
from ..vocabulary import DEFAULT_STEPS, TARGET_KINDS
from .many_summary import SUMMARY_COLUMNS, summary_paths, write_summary
from .manifest import MANY_OPTIONAL, MANY_REQUIRED, PATH_COLUMNS, knob_recording, read_knob_manifest, read_records

# A row that names a knob manifest trains one knob model on its split=train rows.
KNOB_MANIFEST = "manifest"
REQUIRED_COLUMNS = MANY_REQUIRED
OPTIONAL_COLUMNS = MANY_OPTIONAL + (KNOB_MANIFEST,)
# The paths a train-many row names itself (a knob row's captures are in its knob manifest).
ROW_PATHS = PATH_COLUMNS + (KNOB_MANIFEST,)
# What a knob row takes from its knob manifest, so may not give itself.
KNOB_ROW_TAKES = ("clean", "target", "test_clean", "test_target")
RESULT_FILE = "result.json"
# What a row's job writes into its folder; none of them may be any row's input.
ROW_OUTPUTS = ("best.pt", "last.pt", RESULT_FILE)
# A path with a line break cannot be written back into a CSV or a Markdown table unchanged.
PATH_BREAKS = ("\n", "\r")
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
    manifest: Path | None = None  # a knob manifest: the row trains one knob model on it


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
        for k in ROW_PATHS + ("out",):
            if any(c in vals[k] for c in PATH_BREAKS):
                raise GuneampError(f"{path}, row {i}: the {k} path {vals[k]!r} contains a line break; rename the "
                                   "file or folder (train-many does not guess which path was meant)")
            vals[k] = (base / vals[k]) if vals[k] else None
        out = vals["out"].resolve()
        if out in outs:
            raise GuneampError(f"{path}: rows {outs[out]} and {i} both write to {vals['out']}; give each its own 'out'")
        outs[out] = i
        name = vals.pop("name") or Path(rec["out"]).name
        rows.append(Row(index=i, name=name, **vals))
        if rows[-1].manifest is not None:
            _check_knob_row(path, rows[-1])
    _check_outputs(path, rows)
    return rows


def row_inputs(row: Row) -> dict[str, Path]:
    """Every file a row's model depends on, by name: its own paths, and a knob row's captures."""
    files = {k: getattr(row, k) for k in ROW_PATHS if getattr(row, k) is not None}
    if row.manifest is not None:
        try:
            knob = read_knob_manifest(row.manifest)
        except GuneampError:
            return files  # changed since it was read: the row's job fails and says why
        for r in knob.rows:
            files.update({f"knob row {r.index} {k}": getattr(r, k) for k in PATH_COLUMNS if getattr(r, k) is not None})
    return files


def _check_outputs(path: Path, rows: list[Row]) -> None:
    outs = {row.out.resolve(): row.index for row in rows}
    for row in rows:
        for k, p in row_inputs(row).items():
            if p.resolve() in outs:
                raise GuneampError(f"{path}: row {row.index}'s {k} {p} is row {outs[p.resolve()]}'s output folder")
            for other in rows:
                for name in ROW_OUTPUTS:
                    if paths.same_file(p, other.out / name):
                        raise GuneampError(f"{path}: row {row.index}'s {k} {p} is row {other.index}'s output "
                                           f"{name}, which training that row would replace; copy it elsewhere first")


def _check_knob_row(path: Path, row: Row) -> None:
    """Refuse, before anything trains, a knob row that cannot mean one knob model on its manifest."""
    given = [k for k in KNOB_ROW_TAKES if getattr(row, k) is not None]
    if given:
        raise GuneampError(f"{path}, row {row.index}: a row naming a knob {KNOB_MANIFEST} takes its captures from "
                           f"it; leave {', '.join(given)} empty (or drop the {KNOB_MANIFEST} to train a snapshot)")
    try:
        arch = ModelSpec.parse(row.model).model
    except GuneampError:
        return  # a bad model name is the row's own problem, as for a snapshot row
    if arch not in KNOB_MODELS:
        raise GuneampError(f"{path}, row {row.index}: a {arch} model takes no knobs; a row naming a knob "
                           f"{KNOB_MANIFEST} trains {', '.join(KNOB_MODELS)}")
    try:
        read_knob_manifest(row.manifest)
    except GuneampError as exc:
        raise GuneampError(f"{path}, row {row.index}: {exc}") from None


def knob_rows(manifest, models, out=None) -> list[Row]:
    """One train-many row per model in ``models`` on the knob manifest ``manifest``.

    What ``guneamp train-many knobs.csv --model lstm:16 --model wavenet:lite`` trains: each
    model into its own folder of ``out`` (default ``<manifest stem>-models`` beside the
    manifest), named after the model (``lstm-16``).

    Notebook: 13
    """
    manifest = Path(manifest)
    out = Path(out) if out is not None else manifest.resolve().parent / f"{manifest.stem}-models"
    if not models:
        raise GuneampError(f"{manifest} is a knob manifest: name the knob models to train on it with --model "
                           f"(one or more of {', '.join(KNOB_MODELS)}, e.g. --model lstm:16)")
    if len(set(models)) != len(models):
        raise GuneampError("each --model trains one model into its own folder; name each once")
    for model in models:
        arch = ModelSpec.parse(model).model
        if arch not in KNOB_MODELS:
            raise GuneampError(f"--model {model}: a {arch} model takes no knobs; a knob manifest trains "
                               f"{', '.join(KNOB_MODELS)}")
    read_knob_manifest(manifest)
    rows = [Row(index=i, name=model, clean=None, target=None, model=model,
                out=out / model.replace(":", "-").replace("@", "-"), manifest=manifest)
            for i, model in enumerate(models, start=1)]
    _check_outputs(manifest, rows)
    return rows


def is_knob_manifest(path) -> bool:
    """Whether the manifest at ``path`` is a knob manifest (it has ``knob:<name>`` columns)."""
    return any(k.startswith(KNOB_COLUMN_PREFIX) for rec in read_records(Path(path)) for k in rec)


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
    """The row's training set-up: its model with the per-model defaults (a knob row's from the
    knob recipe), fixed steps, its seed."""
    from ..training.train import train_config

    spec = ModelSpec.parse(row.model)
    # a knob row trains with the knob recipe, as `guneamp train --manifest` does
    return spec, replace(train_config(spec, device=device, seed=_whole("seed", row.seed, seed),
                                      knob_recipe=row.manifest is not None),
                         **fixed_steps(_whole("steps", row.steps, steps)))


def _record(row: Row) -> dict | None:
    try:
        record = json.loads((row.out / RESULT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def finished(row: Row) -> dict | None:
    """The result a previous run left in the row's folder (a finished training), or ``None``."""
    record = _record(row)
    return record if record is not None and record.get("status") == "trained" else None


def _sha256(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def fingerprint(row: Row, steps: int = DEFAULT_STEPS, seed: int = 0) -> dict:
    """What a row's model depends on: its fields (defaults filled in) and each file's size and SHA-256.

    A knob row's files are its knob manifest and every capture the manifest names.

    Stored in ``result.json``; a rerun retrains the row when it differs.
    """
    fields = {k: getattr(row, k) for k in ("model", "target_kind", "align")}
    fields.update(steps=row.steps or str(steps), seed=row.seed or str(seed))
    files = {}
    for k, p in row_inputs(row).items():
        st = p.stat() if p.is_file() else None
        files[k] = {"path": str(p), "size": st and st.st_size, "sha256": st and _sha256(p)}
    return {"fields": fields, "files": files}


def _changed(old: dict, new: dict) -> str:
    """Which parts of a row differ between two fingerprints, for the reason a row trains again."""
    old = old if isinstance(old, dict) else {}
    names = [k for k in new["fields"] if (old.get("fields") or {}).get(k) != new["fields"][k]]
    names += [k for k in set(new["files"]) | set(old.get("files") or {})
              if (old.get("files") or {}).get(k) != new["files"].get(k)]
    return ", ".join(sorted(names)) or "its record"


def plan_row(row: Row, inputs: dict) -> tuple[str, str]:
    """``("skip" | "train" | "refuse", why)`` for a row, without ``--overwrite``."""
    record, best = _record(row), row.out / "best.pt"
    ours = record is not None and record.get("status") in ("trained", "training", "failed")
    if ours and record.get("status") == "trained" and "best_pt" in record and best.exists():
        if _sha256(best) != record["best_pt"]:
            return "refuse", (f"{best} changed since train-many wrote it; pass --overwrite to train the row "
                              "again and replace it, or move it away")
    if ours and record.get("status") == "trained":
        if record.get("inputs") != inputs:
            return "train", f"{_changed(record.get('inputs'), inputs)} changed since its model was trained"
        if not best.is_file():
            return "train", f"its {best.name} is gone"
        return "skip", ""
    if ours:
        return "train", "its last training was cut off" if record.get("status") == "training" else ""
    for name in ("best.pt", "last.pt"):
        if (row.out / name).exists() or (row.out / name).is_symlink():
            return "refuse", (f"{row.out} already holds a {name} that train-many did not write; pass --overwrite "
                              "to replace it, or give the row another out")
    return "train", ""


def train_row(row: Row, steps: int = DEFAULT_STEPS, seed: int = 0, device: str = "auto", *,
              inputs: dict | None = None) -> dict:
    """Train one row's model, score its test pair, write ``best.pt`` and ``result.json``.

    The job that :func:`train_many` runs for each row, here or on a worker, once
    :func:`plan_row` (or ``--overwrite``) has allowed it to replace what the folder holds.
    ``inputs``: the row's :func:`fingerprint`, recorded in ``result.json``.
    """
    with paths.output_lock(row.out):  # held for the whole training: no other run writes this folder
        record = {"row": row.index, "name": row.name, "status": "training", "inputs": inputs}
        paths.write_text_atomic(row.out / RESULT_FILE, json.dumps(record, indent=2))
        try:
            summary = _train_row(row, steps, seed, device)
        except Exception as exc:
            failed = {**record, "status": "failed", "error": one_line_error(exc)}
            paths.write_text_atomic(row.out / RESULT_FILE, json.dumps(failed, indent=2))
            raise
        paths.write_text_atomic(row.out / RESULT_FILE, json.dumps(
            {**summary, "inputs": inputs, "best_pt": _sha256(row.out / "best.pt")}, indent=2))
    return summary


def _train_row(row: Row, steps: int, seed: int, device: str) -> dict:
    from ..training.data import load_training_data
    from ..training.train import evaluate, segment_length, train

    if row.manifest is not None:
        return _train_knob_row(row, steps, seed, device)
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
    return {"row": row.index, "name": row.name, "status": "trained", "model": spec.label,
            "validation_esr": float(result.best_val_esr), "test_esr": test_esr,
            "steps": int(result.history[-1]["step"]), "seconds": round(time.perf_counter() - t0, 3),
            "out": str(row.out), "error": None}


def _train_knob_row(row: Row, steps: int, seed: int, device: str) -> dict:
    """One knob model on the knob manifest's training rows, as ``guneamp train --manifest --steps`` trains it.

    Its ``test_esr`` is the median ESR of the manifest's held-out rows (``split=test``), each
    at its own setting, as ``guneamp score --manifest`` scores them.
    """
    from ..training.knob_data import load_knob_training_data
    from ..training.train import train
    from .knob_score import held_out_esrs

    if row.target_kind and row.target_kind not in TARGET_KINDS:
        raise GuneampError(f"target_kind must be one of {', '.join(TARGET_KINDS)}, got {row.target_kind!r}")
    align = _yes(row.align)
    manifest = read_knob_manifest(row.manifest)
    kind, ir = knob_recording(manifest, row.target_kind, row.ir)
    spec, cfg = row_config(row, steps, seed, device)
    if spec.model not in KNOB_MODELS:
        raise GuneampError(f"a {spec.model} model takes no knobs; a knob manifest trains {', '.join(KNOB_MODELS)}")
    data = load_knob_training_data([(r.clean, r.target, r.settings) for r in manifest.train], ir,
                                   target_kind=kind, align=align)
    # what `guneamp train --manifest` records, so that `train --resume` and `score` read it alike
    source = {"manifest": str(row.manifest.resolve()), "ir": None if ir is None else str(Path(ir).resolve()),
              "target_kind": kind, "align": align}
    t0 = time.perf_counter()
    result = train(data, cfg, out_dir=row.out, progress=False, source=source)
    esrs = held_out_esrs(manifest, result.checkpoint) if manifest.test else []
    return {"row": row.index, "name": row.name, "status": "trained", "model": spec.label,
            "validation_esr": float(result.best_val_esr), "test_esr": statistics.median(esrs) if esrs else None,
            "test_worst_esr": max(esrs) if esrs else None,
            "steps": int(result.history[-1]["step"]), "seconds": round(time.perf_counter() - t0, 3),
            "out": str(row.out), "error": None}


def _failed(row: Row, error: str) -> dict:
    return {"row": row.index, "name": row.name, "status": "failed", "model": row.model, "validation_esr": None,
            "test_esr": None, "steps": None, "seconds": None, "out": str(row.out), "error": error}


def manifest_rows(manifest, models=(), out=None) -> list[Row]:
    """The rows ``train-many`` trains: a train-many manifest's, or one per model on a knob manifest.

    ``models`` and ``out`` apply to a knob manifest only (see :func:`knob_rows`).
    """
    if is_knob_manifest(manifest):
        return knob_rows(manifest, list(models), out)
    if models or out is not None:
        raise GuneampError(f"{manifest} is a train-many manifest: each row names its own model and out folder "
                           "(--model and --out are for a knob manifest, one with knob:<name> columns)")
    return read_manifest(manifest)


def train_many(manifest, *, engine: Engine | None = None, steps: int = DEFAULT_STEPS, seed: int = 0,
               device: str = "auto", overwrite: bool = False, summary_dir=None, models=(), out=None) -> list[dict]:
    """Train every row of ``manifest`` on ``engine`` (default: here, one after another).

    A knob manifest trains one knob model per name in ``models``, into ``out`` (:func:`knob_rows`).
    Returns one summary record per row, in manifest order, and writes the summary files.
    """
    fixed_steps(steps)
    if any(c in str(manifest) for c in PATH_BREAKS):
        raise GuneampError(f"the manifest path {str(manifest)!r} contains a line break; rename it")
    rows = manifest_rows(manifest, models, out)
    where = summary_paths(manifest, summary_dir)
    inputs = [manifest] + [p for r in rows for p in row_inputs(r).values()]
    for target in where.values():
        paths.refuse_output_on_inputs(target, inputs)
    with paths.output_lock(*where.values()):  # two runs of one manifest would mix their summaries
        return _train_many(rows, where, engine, steps, seed, device, overwrite)


def _train_many(rows, where, engine, steps, seed, device, overwrite) -> list[dict]:
    results: dict[int, dict] = {}
    todo, prints = [], {}
    for row in rows:
        prints[row.index] = fingerprint(row, steps, seed)
        action, why = ("train", "") if overwrite else plan_row(row, prints[row.index])
        if action == "skip":
            previous = {k: v for k, v in finished(row).items() if k in SUMMARY_COLUMNS}
            results[row.index] = {**previous, "row": row.index, "name": row.name, "status": "skipped"}
        elif action == "refuse":
            results[row.index] = _failed(row, why)
        else:
            if why:
                print(f"row {row.index} ({row.name}): training again: {why}", flush=True)
            todo.append(row)

    def record(outcome: Outcome) -> None:
        row = by_key[outcome.key]
        results[row.index] = outcome.value if outcome.ok else _failed(row, outcome.error)
        write_summary([results[i] for i in sorted(results)], where)

    by_key = {f"row {r.index}": r for r in todo}
    tasks = [Task(key, train_row, (row, steps, seed, device), {"inputs": prints[row.index]})
             for key, row in by_key.items()]
    engine = engine or Engine()
    engine.fit(len(tasks))
    if tasks:
        with engine:
            engine.run(tasks, desc="captures", on_outcome=record)
    ordered = [results[r.index] for r in rows]
    write_summary(ordered, where)
    return ordered


__all__ = ["DEFAULT_STEPS", "Row", "fingerprint", "finished", "fixed_steps", "is_knob_manifest", "knob_rows",
           "manifest_rows", "plan_row", "read_manifest", "row_inputs", "summary_paths", "train_many", "train_row",
           "write_summary"]
