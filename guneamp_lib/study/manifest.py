"""Capture manifests as written: the rows of ``train-many`` and of a knob capture (notebook 13).

A manifest is CSV (a header line, then one line per capture) or YAML (a list of mappings,
or a mapping whose ``captures`` key holds that list). :func:`read_records` turns either
into plain ``{column: text}`` records; :mod:`guneamp_lib.study.many` builds its rows from them.

**The knob manifest** describes one amp captured at many settings, for one knob model.
It is the ``train-many`` manifest plus one ``knob:<name>`` column per knob, each value in
the gear's own dial units, and an optional ``split`` column::

    name,clean,target,split,knob:drive,knob:treble
    d0 t0,di.wav,amp_d0_t0.wav,train,0,0
    d5 t7.5,di_test.wav,amp_d5_t7.5.wav,test,5,7.5

YAML rows may carry a ``knobs: {drive: 0, treble: 0}`` mapping instead of the columns.
``split`` is ``train`` (the default) or ``test``: a test row is held out from training and
scored by ``guneamp score --manifest``. A row may repeat a DI take at another setting.
A training row's ``test_clean``/``test_target`` is another take at the same setting: scoring
uses it as the recording a held-out row's nearest setting has of that take (baseline b).
``model``, ``out``, ``steps``, ``seed`` and ``align`` are accepted (one model is trained on
all rows, so ``model`` and ``out`` are not required per row).

What makes the whole knob manifest unusable is refused at once, with one message naming
the row and column: a knob column missing or empty in a row, a value that is not a finite
number, a split other than train/test, no training row, a knob that every training row
sets to one value (no range to learn). Missing or broken audio files are a row's problem,
reported per row by ``guneamp check --manifest``.

This module imports neither torch nor NumPy, so the command line checks a manifest before
loading them.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import GuneampError
from ..knobs import KNOB_COLUMN_PREFIX, KnobSpace, check_knob_name

# The train-many columns (``guneamp_lib.study.many`` reads the same names).
MANY_REQUIRED = ("clean", "target", "model", "out")
MANY_OPTIONAL = ("name", "ir", "target_kind", "test_clean", "test_target", "steps", "seed", "align")
PATH_COLUMNS = ("clean", "target", "ir", "test_clean", "test_target")
SPLITS = ("train", "test")
KNOB_REQUIRED = ("clean", "target")
KNOB_OPTIONAL = tuple(c for c in MANY_REQUIRED + MANY_OPTIONAL if c not in KNOB_REQUIRED) + ("split",)
# A YAML row's mapping of knob name to dial value.
YAML_KNOBS_KEY = "knobs"


def _text(value) -> str:
    return "" if value is None else str(value)


def _yaml_record(path: Path, i: int, rec: dict) -> dict:
    out = {}
    for key, value in rec.items():
        if str(key) == YAML_KNOBS_KEY:
            if not isinstance(value, dict):
                raise GuneampError(f"{path}, row {i}: '{YAML_KNOBS_KEY}' must be a mapping of knob: value "
                                   "(for example knobs: {{drive: 5, treble: 7.5}})")
            out.update({KNOB_COLUMN_PREFIX + str(k): _text(v) for k, v in value.items()})
        else:
            out[str(key)] = _text(value)
    return out


def read_records(path: Path) -> list[dict]:
    """The manifest's rows (at least one) as ``{column: text}``; a YAML ``knobs`` mapping becomes ``knob:<name>`` columns.

    Notebook: 13
    """
    path = Path(path)
    if not path.is_file():
        raise GuneampError(f"no manifest at {path}")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise GuneampError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
        if isinstance(data, dict):
            data = data.get("captures")
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise GuneampError(f"{path}: write a list of captures, each a mapping of column: value "
                               "(or put that list under the key 'captures')")
        rows = [_yaml_record(path, i, r) for i, r in enumerate(data, start=1)]
    elif path.suffix.lower() != ".csv":
        raise GuneampError(f"{path}: a manifest is a .csv or a .yaml file")
    else:
        rows = _csv_records(path, text)
    if not rows:
        raise GuneampError(f"{path} lists no captures")
    return rows


def _csv_records(path: Path, text: str) -> list[dict]:
    # newline="": a quoted value keeps a line break it holds (splitlines would drop it
    # silently), so that a reader can refuse it.
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if reader.fieldnames is None:
        raise GuneampError(f"{path} is empty: write a header line ({','.join(MANY_REQUIRED)},...) and one line per capture")
    rows = []
    for r in reader:
        if None in r:
            raise GuneampError(f"{path}, line {reader.line_num}: more values than columns in the header")
        rows.append({k.strip(): (v or "").strip(" \t") for k, v in r.items()})
    return rows


# --------------------------------------------------------------------------- knob manifests


@dataclass(frozen=True)
class KnobRow:
    """One capture of a knob manifest: a DI take and its recording at one setting (paths resolved).

    ``settings`` maps each knob to its dial value, in the manifest's knob order.

    Notebook: 13
    """

    index: int
    name: str
    clean: Path
    target: Path
    settings: dict = field(hash=False)
    split: str = "train"
    ir: Path | None = None
    target_kind: str = ""
    test_clean: Path | None = None
    test_target: Path | None = None
    model: str = ""
    out: Path | None = None
    steps: str = ""
    seed: str = ""
    align: str = ""

    def takes(self) -> list[tuple[Path, Path]]:
        """The (DI, recording) pairs this row holds at its setting: the main one, then the test take."""
        pairs = [(self.clean, self.target)]
        if self.test_clean is not None and self.test_target is not None:
            pairs.append((self.test_clean, self.test_target))
        return pairs


@dataclass(frozen=True)
class KnobManifest:
    """A knob manifest read and checked: its rows, its knob names and the space they span.

    Notebook: 13
    """

    path: Path
    rows: tuple[KnobRow, ...]
    knob_names: tuple[str, ...]

    @property
    def train(self) -> list[KnobRow]:
        return [r for r in self.rows if r.split == "train"]

    @property
    def test(self) -> list[KnobRow]:
        return [r for r in self.rows if r.split == "test"]

    @property
    def space(self) -> KnobSpace:
        """The knob ranges of the training rows: what the model's 0..1 scaling is fixed from."""
        return KnobSpace.from_settings([r.settings for r in self.train], self.knob_names)


def _knob_value(path: Path, i: int, column: str, text: str) -> float:
    if not text:
        raise GuneampError(f"{path}, row {i}: column {column} is empty; give every row a value for every knob")
    try:
        value = float(text)
    except ValueError:
        raise GuneampError(f"{path}, row {i}: column {column} must be a number in dial units, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise GuneampError(f"{path}, row {i}: column {column} must be a finite number, got {text!r}")
    return value


def _knob_names(path: Path, records: list[dict]) -> tuple[str, ...]:
    names: list[str] = []
    for rec in records:
        for col in rec:
            if col.startswith(KNOB_COLUMN_PREFIX) and col not in names:
                names.append(col)
    if not names:
        raise GuneampError(f"{path} has no knob columns: a knob manifest names each knob's column "
                           f"{KNOB_COLUMN_PREFIX}<name> (for example {KNOB_COLUMN_PREFIX}treble), "
                           f"or gives YAML rows a '{YAML_KNOBS_KEY}' mapping")
    out = []
    for col in names:
        try:
            out.append(check_knob_name(col[len(KNOB_COLUMN_PREFIX):]))
        except GuneampError as exc:
            raise GuneampError(f"{path}: column {col}: {exc}") from None
    return tuple(out)


def _knob_row(path: Path, base: Path, i: int, rec: dict, knobs: tuple[str, ...]) -> KnobRow:
    known = set(KNOB_REQUIRED) | set(KNOB_OPTIONAL) | {KNOB_COLUMN_PREFIX + k for k in knobs}
    unknown = sorted(set(rec) - known)
    if unknown:
        raise GuneampError(f"{path}, row {i}: unknown column(s) {', '.join(unknown)}; the columns are "
                           f"{', '.join(KNOB_REQUIRED + KNOB_OPTIONAL)} and {KNOB_COLUMN_PREFIX}<name> per knob")
    for col in KNOB_REQUIRED:
        if not rec.get(col):
            raise GuneampError(f"{path}, row {i}: column {col} is empty; give the "
                               f"{'DI take' if col == 'clean' else 'recording at this setting'} of every row")
    settings = {}
    for k in knobs:
        col = KNOB_COLUMN_PREFIX + k
        if col not in rec:
            raise GuneampError(f"{path}, row {i}: column {col} is missing; give every row a value for every knob")
        settings[k] = _knob_value(path, i, col, rec[col])
    split = rec.get("split", "").lower() or "train"
    if split not in SPLITS:
        raise GuneampError(f"{path}, row {i}: column split must be train or test, got {rec['split']!r}")
    vals = {k: rec.get(k, "") for k in KNOB_REQUIRED + KNOB_OPTIONAL if k not in ("name", "split")}
    for k in PATH_COLUMNS + ("out",):
        vals[k] = (base / vals[k]) if vals[k] else None
    if (vals["test_clean"] is None) != (vals["test_target"] is None):
        raise GuneampError(f"{path}, row {i}: give both test_clean and test_target, or neither")
    name = rec.get("name") or ", ".join(f"{k} {v:g}" for k, v in settings.items())
    return KnobRow(index=i, name=name, settings=settings, split=split, **vals)


def read_knob_manifest(path) -> KnobManifest:
    """Read and check a knob manifest (see the module docstring); paths are resolved from its folder.

    ``manifest.train``, ``manifest.test`` and ``manifest.space`` (the training rows' knob ranges,
    :meth:`~guneamp_lib.knobs.KnobSpace.from_settings`) are what training and scoring need.

    Notebook: 13
    """
    path = Path(path)
    records = read_records(path)
    knobs = _knob_names(path, records)
    base = path.resolve().parent
    rows = tuple(_knob_row(path, base, i, rec, knobs) for i, rec in enumerate(records, start=1))
    manifest = KnobManifest(path=path, rows=rows, knob_names=knobs)
    if not manifest.train:
        raise GuneampError(f"{path}: every row is split=test; mark the captures to train on split=train")
    for k in knobs:
        values = {r.settings[k] for r in manifest.train}
        if len(values) == 1:
            raise GuneampError(f"{path}: every training row sets {KNOB_COLUMN_PREFIX}{k} to {values.pop():g}; a knob "
                               "model needs each knob captured at two settings or more")
    return manifest


def knob_recording(manifest: KnobManifest, target_kind: str = "", ir=None) -> tuple[str, Path | None]:
    """``(target kind, IR)`` the training rows were recorded with: one for all of them.

    A row's own ``target_kind``/``ir`` wins; ``target_kind`` and ``ir`` are what rows that
    say nothing use (``guneamp train``'s options, or the train-many row naming the
    manifest). Without either, a row with an IR is ``amp_with_cab``, one without ``amp_direct``.

    Notebook: 13
    """
    rows = manifest.train
    kinds = {r.target_kind for r in rows if r.target_kind}
    irs = {r.ir for r in rows if r.ir is not None}
    if len(kinds) > 1 or len(irs) > 1:
        raise GuneampError(f"{manifest.path}: the training rows name {len(kinds)} target kinds and {len(irs)} IRs; "
                           "a knob model is one amp recorded one way: give every row the same")
    ir = irs.pop() if irs else ir
    kind = kinds.pop() if kinds else (target_kind or ("amp_with_cab" if ir is not None else "amp_direct"))
    return kind, (None if kind == "amp_direct" else ir)


__all__ = ["KnobManifest", "KnobRow", "PATH_COLUMNS", "SPLITS", "knob_recording", "read_knob_manifest",
           "read_records"]
