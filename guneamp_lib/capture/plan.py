"""Which settings of the amp to record for a knob model, and which to hold out (notebook 13).

A knob model learns between the settings it heard, so the plan decides what it can do.
``guneamp capture-plan`` (and ``guneamp synth --knobs``) draw it from here:

* **Every knob at five levels or more** (``levels``, default :data:`DEFAULT_LEVELS`): the
  parametric-capture literature (Proteus, AIDA-X's knob captures) records each knob at 5 to
  10 positions; fewer leave a curve that bends between two takes unseen.
* **The corners** (every knob at its low or high end, together): the extremes are where a
  model extrapolates worst, and where players go (drive 10, treble 10).
* **Combinations without the full grid.** One or two knobs: the full ``levels``-step grid
  (25 takes at 5 levels). Three or more: a grid is ``levels ** K`` takes (625 for four knobs at
  5 levels), so the plan is the corners plus a *maximin Latin hypercube* on the same lattice:
  ``levels * K`` settings in which every knob takes each of its levels ``K`` times (or a denser
  ``levels * per_level``), arranged
  (by random restarts and swaps, deterministic from ``seed``) so that the closest two
  settings, corners included, are as far apart as possible. Four knobs: 16 + 20 = 36 takes.
* **Held-out settings** (``split=test``) on the half-step lattice (each knob midway between
  two of its levels), so each is inside the range and at least half a step from every
  training setting on every knob; chosen greedily, each the farthest from the training
  settings and the held-out ones already chosen.

Distances are measured with each knob scaled to 0..1 over its range
(:meth:`~guneamp_lib.knobs.KnobSpace.normalize`), the way the model sees the knobs.
:func:`nearest_setting` uses the same measure for the baseline a knob model is scored
against: the recording of the nearest training setting.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from ..errors import GuneampError
from ..knobs import KNOB_COLUMN_PREFIX, KnobSpace

DEFAULT_LEVELS = 5
MAX_LEVELS = 11
# At 6 knobs the 64 corners alone are over three hours at the default 3-minute capture
# signal; the reference amp has five knobs.
PLAN_MAX_KNOBS = 5
# Knob counts from this up get the Latin hypercube instead of the full grid.
GRID_MAX_KNOBS = 2
# Restarts and swaps of the maximin search: a few hundred milliseconds at five knobs, and
# more stop improving the closest distance on the 5-level lattice.
RESTARTS = 20
SWAPS = 400
# Dial values are written with this many decimals (2.5, 3.75, never 3.7500000000000004).
DECIMALS = 4
SPLITS = ("train", "test")
PLAN_COLUMNS = ("name", "clean", "target", "split")


@dataclass(frozen=True)
class Plan:
    """The settings to record, in dial units, each with its split (train or test).

    Notebook: 13
    """

    space: KnobSpace
    settings: tuple[dict, ...]
    splits: tuple[str, ...]

    @property
    def train(self) -> list[dict]:
        return [s for s, p in zip(self.settings, self.splits) if p == "train"]

    @property
    def test(self) -> list[dict]:
        return [s for s, p in zip(self.settings, self.splits) if p == "test"]

    def minutes(self, seconds_per_take: float) -> float:
        return len(self.settings) * seconds_per_take / 60.0

    def describe(self, seconds_per_take: float) -> str:
        return (f"{len(self.settings)} takes ({len(self.train)} to train on, {len(self.test)} held out), "
                f"{self.minutes(seconds_per_take):.1f} minutes of recording at {seconds_per_take:g} s a take")


def _min_distance(points: np.ndarray, fixed: np.ndarray) -> tuple[float, int]:
    """(closest distance, how many pairs sit at it) among ``points`` and from them to ``fixed``."""
    d = np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(-1))
    d = d[np.triu_indices(len(points), 1)]
    if len(fixed):
        d = np.concatenate([d, np.sqrt(((points[:, None, :] - fixed[None, :, :]) ** 2).sum(-1)).ravel()])
    low = float(d.min())
    return low, int(np.sum(d <= low + 1e-9))


def maximin_hypercube(k: int, levels: int, rng: np.random.Generator, fixed: np.ndarray, per_level: int) -> np.ndarray:
    """``levels * per_level`` points in ``[0, 1]^k`` on the ``levels``-step lattice, each knob at each level
    ``per_level`` times, spread so the closest pair (``fixed`` points included) is as far apart as the search finds.

    Notebook: 13
    """
    n = levels * per_level
    column = np.repeat(np.arange(levels), n // levels)
    scale = 1.0 / (levels - 1)

    def score(idx):
        low, ties = _min_distance(idx * scale, fixed)
        return low, -ties

    best, best_score = None, None
    for _ in range(RESTARTS):
        idx = np.stack([rng.permutation(column) for _ in range(k)], axis=1)
        current = score(idx)
        for _ in range(SWAPS):  # swapping two rows' values in one column keeps every level count
            c, (i, j) = int(rng.integers(k)), rng.choice(n, size=2, replace=False)
            idx[[i, j], c] = idx[[j, i], c]
            trial = score(idx)
            if trial >= current:
                current = trial
            else:
                idx[[i, j], c] = idx[[j, i], c]
        if best_score is None or current > best_score:
            best, best_score = idx.copy(), current
    return best * scale


def _held_out(train: np.ndarray, k: int, levels: int, count: int) -> np.ndarray:
    mids = (np.arange(levels - 1) + 0.5) / (levels - 1)
    candidates = np.stack(np.meshgrid(*[mids] * k, indexing="ij"), axis=-1).reshape(-1, k)
    chosen: list[np.ndarray] = []
    for _ in range(min(count, len(candidates))):
        ref = np.vstack([train] + chosen) if chosen else train
        d = np.sqrt(((candidates[:, None, :] - ref[None, :, :]) ** 2).sum(-1)).min(axis=1)
        best = int(np.argmax(d))  # the first of equals: the plan is the same on every run
        chosen.append(candidates[best][None])
        candidates = np.delete(candidates, best, axis=0)
    return np.vstack(chosen) if chosen else np.zeros((0, k))


def default_test_count(n_train: int) -> int:
    """About one held-out setting for five training ones, and two at least."""
    return max(2, math.ceil(n_train / 5))


def plan_settings(space: KnobSpace, *, levels: int = DEFAULT_LEVELS, test: int | None = None, seed: int = 0,
                  per_level: int | None = None) -> Plan:
    """The settings to record for ``space`` (see the module docstring); deterministic from ``seed``.

    From three knobs, ``per_level`` (default: the number of knobs) is how often the hypercube
    sets each knob to each level: a denser plan is ``levels * per_level`` settings plus the corners.

    Training settings come first, ordered knob by knob (the first knob moves least often, so a
    session turns as few knobs as it can between takes), then the held-out ones.

    Notebook: 13
    """
    k = len(space)
    if k == 0:
        raise GuneampError("a capture plan needs at least one knob (for example --knob drive=0:10)")
    if k > PLAN_MAX_KNOBS:
        raise GuneampError(f"{k} knobs is more than a capture plan covers ({PLAN_MAX_KNOBS}): the corners alone "
                           f"would be {2 ** k} takes. Capture the knobs that matter most, the others at one setting")
    if isinstance(levels, bool) or not isinstance(levels, int) or not DEFAULT_LEVELS <= levels <= MAX_LEVELS:
        raise GuneampError(f"levels must be a whole number from {DEFAULT_LEVELS} to {MAX_LEVELS}, got {levels!r}")
    grid = np.stack(np.meshgrid(*[np.linspace(0, 1, levels if k <= GRID_MAX_KNOBS else 2)] * k, indexing="ij"),
                    axis=-1).reshape(-1, k)
    per_level = k if per_level is None else per_level
    if isinstance(per_level, bool) or not isinstance(per_level, int) or per_level < 1:
        raise GuneampError(f"per_level must be a whole number of 1 or more, got {per_level!r}")
    if k > GRID_MAX_KNOBS:  # the corners, then the hypercube spread away from them
        grid = np.vstack([grid, maximin_hypercube(k, levels, np.random.default_rng(seed), grid, per_level)])
    train = np.unique(np.round(grid, 9), axis=0)  # sorted row by row: the first knob moves least
    count = default_test_count(len(train)) if test is None else test
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise GuneampError(f"the number of held-out settings must be a whole number of 0 or more, got {count!r}")
    held = _held_out(train, k, levels, count)
    units = [_dial(space, p) for p in np.vstack([train, held])]
    return Plan(space, tuple(units), ("train",) * len(train) + ("test",) * len(held))


def _dial(space: KnobSpace, unit: np.ndarray) -> dict:
    return {kn.name: round(kn.low + float(u) * (kn.high - kn.low), DECIMALS) for kn, u in zip(space.knobs, unit)}


def nearest_setting(space: KnobSpace, setting: Mapping[str, float], candidates: Sequence[Mapping[str, float]]) -> int:
    """Index of the candidate closest to ``setting``, each knob scaled to 0..1 (the first of equals).

    Notebook: 13
    """
    if not candidates:
        raise GuneampError("there is no training setting to compare with")
    here = space.normalize(setting, extrapolate=True)
    d = [float(np.sum((space.normalize(c, extrapolate=True) - here) ** 2)) for c in candidates]
    return int(np.argmin(d))


def setting_name(setting: Mapping[str, float]) -> str:
    """``{"drive": 2.5, "treble": 10}`` -> ``"drive 2.5, treble 10"``, the name a row gets."""
    return ", ".join(f"{k} {v:g}" for k, v in setting.items())


def manifest_text(plan: Plan, rows: Sequence[Mapping[str, str]] | None = None) -> str:
    """The plan as a knob manifest (CSV). ``rows`` fills each take's other columns (clean, target...);
    without it the file columns are left empty: a template to fill in as the takes are recorded.

    Notebook: 13
    """
    rows = list(rows) if rows is not None else [{} for _ in plan.settings]
    extra = [c for r in rows for c in r if c not in PLAN_COLUMNS]
    columns = list(PLAN_COLUMNS) + list(dict.fromkeys(extra)) + [KNOB_COLUMN_PREFIX + n for n in plan.space.names]
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    for setting, split, row in zip(plan.settings, plan.splits, rows):
        record = {"name": setting_name(setting), "split": split, **row}
        record.update({KNOB_COLUMN_PREFIX + k: f"{v:g}" for k, v in setting.items()})
        w.writerow(record)
    return out.getvalue()


__all__ = ["DEFAULT_LEVELS", "PLAN_MAX_KNOBS", "Plan", "default_test_count", "manifest_text", "maximin_hypercube",
           "nearest_setting", "plan_settings", "setting_name"]
