"""Knobs: the names, dial ranges and normalization that every knob model shares (notebook 13).

A knob ("parametric") model is one network for every setting of an amp. It takes the
settings as extra inputs next to the audio. The gear's own dial units (``treble=7.5`` on a
0-10 dial) are what a guitarist types and what a capture manifest records; the network
sees each knob scaled once to ``0..1`` over the range it was trained on. That scaling is
fixed when training starts (from the manifest's training rows, or from declared
ranges), stored with the model, and applied by every path that feeds the model: training,
``render``, the streaming engine, ``play`` and the exports. AIDA-X reads knobs in
``0..1`` too, so its export needs no further scaling.

This module imports only the standard library (and NumPy lazily), so the command line can
check ``--knob drive=11`` against a model's stored ranges before torch loads.

Conventions shared by the manifest, the command line and the checkpoint:

* a knob name is a short identifier: letters, digits, ``_`` and ``-``, starting with a
  letter (``drive``, ``treble``, ``gain_2``);
* a CSV knob manifest names each knob's column ``knob:<name>`` (YAML rows may instead carry
  a ``knobs`` mapping); each value is in dial units;
* on the command line a setting is ``--knob name=value`` and a range ``--knob name=low:high``;
* a value outside the trained range is refused unless the caller asks to extrapolate.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Iterable, Mapping

from .errors import GuneampError

# The column prefix that marks a knob in a CSV manifest (``knob:treble``).
KNOB_COLUMN_PREFIX = "knob:"
# Knob models are judged with up to five knobs (the reference amp's drive, bass, mid,
# treble, master); more than eight is no capture anyone can record densely enough.
MAX_KNOBS = 8
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,31}$")


def check_knob_name(name: str) -> str:
    name = str(name).strip()
    if not _NAME.match(name):
        raise GuneampError(
            f"knob name {name!r} is not valid: use letters, digits, '_' or '-', starting with a letter "
            "(for example drive, treble, gain_2)"
        )
    return name


def _finite(text, what: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise GuneampError(f"{what} must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise GuneampError(f"{what} must be a finite number, got {text!r}")
    return value


def parse_setting(text: str) -> tuple[str, float]:
    """``"treble=7.5"`` -> ``("treble", 7.5)``, as given to ``--knob``."""
    name, sep, value = str(text).partition("=")
    if not sep or not value.strip():
        raise GuneampError(f"--knob takes name=value (for example treble=7.5), got {text!r}")
    name = check_knob_name(name)
    return name, _finite(value.strip(), f"knob {name}")


@dataclass(frozen=True)
class Knob:
    """One knob: its name and the dial range, in the gear's own units, that maps to 0..1."""

    name: str
    low: float
    high: float

    def __post_init__(self):
        check_knob_name(self.name)
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise GuneampError(f"knob {self.name}: its range must be finite, got {self.low}:{self.high}")
        if not self.high > self.low:
            raise GuneampError(
                f"knob {self.name}: its range {self.low:g}:{self.high:g} is empty; a knob needs at least two "
                "different settings (give low:high with low < high, or capture it at two settings or more)"
            )


def parse_range(text: str) -> Knob:
    """``"drive=0:10"`` -> ``Knob("drive", 0, 10)``, as given to ``capture-plan --knob``."""
    name, sep, span = str(text).partition("=")
    low, colon, high = span.partition(":")
    if not sep or not colon:
        raise GuneampError(f"--knob takes name=low:high (for example drive=0:10), got {text!r}")
    name = check_knob_name(name)
    return Knob(name, _finite(low.strip(), f"knob {name}'s low end"), _finite(high.strip(), f"knob {name}'s high end"))


class KnobSpace:
    """The ordered knobs of one model: the order is the order of the model's knob inputs."""

    def __init__(self, knobs: Iterable[Knob]):
        knobs = tuple(knobs)
        names = [k.name for k in knobs]
        if len(set(names)) != len(names):
            twice = sorted({n for n in names if names.count(n) > 1})
            raise GuneampError(f"knob {twice[0]!r} is given twice; each knob may appear once")
        if len(knobs) > MAX_KNOBS:
            raise GuneampError(f"{len(knobs)} knobs is more than the {MAX_KNOBS} a knob model takes")
        self.knobs = knobs

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_settings(cls, settings: Iterable[Mapping[str, float]], names: Iterable[str] | None = None) -> "KnobSpace":
        """The ranges a set of captured settings spans (each knob's lowest to highest value)."""
        settings = list(settings)
        names = list(names) if names is not None else (list(settings[0]) if settings else [])
        knobs = []
        for name in names:
            values = [float(s[name]) for s in settings]
            knobs.append(Knob(name, min(values), max(values)))
        return cls(knobs)

    def to_json(self) -> list[dict]:
        return [{"name": k.name, "low": k.low, "high": k.high} for k in self.knobs]

    @classmethod
    def from_json(cls, data) -> "KnobSpace":
        """Rebuild from :meth:`to_json`; a malformed entry is a :class:`GuneampError`."""
        if not isinstance(data, list):
            raise GuneampError("the model's knob list is malformed (expected a list of {name, low, high})")
        knobs = []
        for entry in data:
            if not isinstance(entry, dict) or set(entry) != {"name", "low", "high"}:
                raise GuneampError("the model's knob list is malformed (expected a list of {name, low, high})")
            if not isinstance(entry["name"], str):
                raise GuneampError("the model's knob list is malformed (a knob name is not text)")
            knobs.append(Knob(entry["name"], _finite(entry["low"], "a knob's low end"), _finite(entry["high"], "a knob's high end")))
        return cls(knobs)

    # ------------------------------------------------------------------ questions

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.knobs)

    def __len__(self) -> int:
        return len(self.knobs)

    def __eq__(self, other) -> bool:
        return isinstance(other, KnobSpace) and self.knobs == other.knobs

    def __repr__(self) -> str:
        return "KnobSpace(" + ", ".join(f"{k.name}={k.low:g}:{k.high:g}" for k in self.knobs) + ")"

    def describe(self) -> str:
        return ", ".join(f"{k.name} {k.low:g} to {k.high:g}" for k in self.knobs) or "no knobs"

    # ------------------------------------------------------------------ scaling

    def check(self, settings: Mapping[str, float], *, extrapolate: bool = False, complete: bool = True) -> dict[str, float]:
        """Refuse unknown names, missing knobs (when ``complete``) and values out of range.

        Returns the settings as floats, in this space's order."""
        unknown = [n for n in settings if n not in self.names]
        if unknown:
            raise GuneampError(
                f"unknown knob {unknown[0]!r}: this model's knobs are {', '.join(self.names) or 'none'}"
            )
        missing = [n for n in self.names if n not in settings]
        if complete and missing:
            raise GuneampError(f"knob {missing[0]!r} has no value; give every knob ({self.describe()})")
        out = {}
        for k in self.knobs:
            if k.name not in settings:
                continue
            value = _finite(settings[k.name], f"knob {k.name}")
            if not extrapolate and not k.low <= value <= k.high:
                raise GuneampError(
                    f"knob {k.name}={value:g} is outside the range the model was trained on ({k.low:g} to {k.high:g}); "
                    "choose a value inside it, or pass --extrapolate to ask the model anyway"
                )
            out[k.name] = value
        return out

    def normalize(self, settings: Mapping[str, float], *, extrapolate: bool = False):
        """Dial units -> the ``(len(self),)`` float32 vector in 0..1 that the network sees."""
        import numpy as np

        checked = self.check(settings, extrapolate=extrapolate)
        return np.array([(checked[k.name] - k.low) / (k.high - k.low) for k in self.knobs], dtype=np.float32)

    def denormalize(self, vector) -> dict[str, float]:
        return {k.name: k.low + float(v) * (k.high - k.low) for k, v in zip(self.knobs, vector)}

    def center(self) -> dict[str, float]:
        """Every knob at the middle of its range: a default where none is given."""
        return {k.name: (k.low + k.high) / 2 for k in self.knobs}


class KnobAutomation:
    """Knob values over time, as ``render --knob-automation sweep.csv`` reads them (notebook 13).

    The CSV has a header ``time`` (seconds, rising) then one column per knob (dial units,
    ``treble`` or ``knob:treble``); between rows each knob moves linearly, before the first
    row and after the last it holds.
    """

    def __init__(self, times: list[float], names: tuple[str, ...], rows: list[tuple[float, ...]]):
        self.times, self.names, self.rows = times, names, rows

    @classmethod
    def read(cls, path) -> "KnobAutomation":
        import csv
        from pathlib import Path

        path = Path(path)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise GuneampError(f"cannot read the knob automation {path}: {exc.strerror or exc}") from None
        reader = csv.reader(line for line in lines if line.strip())
        header = [h.strip() for h in next(reader, [])]
        if len(header) < 2 or header[0] != "time":
            raise GuneampError(f"{path}: the header must be time, then one column per knob (for example time,treble)")
        names = tuple(check_knob_name(h[len(KNOB_COLUMN_PREFIX):] if h.startswith(KNOB_COLUMN_PREFIX) else h)
                      for h in header[1:])
        if len(set(names)) != len(names):
            raise GuneampError(f"{path}: a knob column appears twice")
        times, rows = [], []
        for i, rec in enumerate(reader, start=2):
            if len(rec) != len(header):
                raise GuneampError(f"{path}, line {i}: {len(rec)} values for {len(header)} columns")
            t = _finite(rec[0].strip(), f"{path}, line {i}: time")
            if times and t <= times[-1]:
                raise GuneampError(f"{path}, line {i}: the times must rise from row to row")
            times.append(t)
            rows.append(tuple(_finite(v.strip(), f"{path}, line {i}: knob {n}") for n, v in zip(names, rec[1:])))
        if not rows:
            raise GuneampError(f"{path} holds no rows; give at least one time and its knob values")
        return cls(times, names, rows)

    def check(self, space: KnobSpace, *, extrapolate: bool = False) -> None:
        """Every row against the model's knobs: all named, none unknown, in range unless ``extrapolate``."""
        for row in self.rows:
            space.check(dict(zip(self.names, row)), extrapolate=extrapolate)

    def at(self, t: float) -> dict[str, float]:
        """The knob values at ``t`` seconds."""
        import bisect

        j = bisect.bisect_right(self.times, t)
        if j == 0:
            return dict(zip(self.names, self.rows[0]))
        if j == len(self.times):
            return dict(zip(self.names, self.rows[-1]))
        t0, t1 = self.times[j - 1], self.times[j]
        w = (t - t0) / (t1 - t0)
        return {n: a + w * (b - a) for n, a, b in zip(self.names, self.rows[j - 1], self.rows[j])}
