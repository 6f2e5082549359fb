"""A knob model's ESR over a plane of two knobs, against the reference amp (notebook 13).

A knob model is scored on the settings it never heard (:mod:`~guneamp_lib.study.knob_score`
does it for the held-out rows of a capture). With the reference amp standing in for the
gear, every setting has a true answer, so the error can be drawn everywhere: the amp and
the model play one DI take at each point of a grid over two knobs, the other knobs held,
and :class:`KnobMap` keeps the ESR of each point. Marked with the settings the model
trained on, the map shows where it interpolates well (near and between them) and where it
does not (far from every one, or outside their range, which the model is asked with
``extrapolate``); :meth:`KnobMap.worst` is where one more capture helps most.

The amp's renders do not depend on the model, so a ``references`` dict passed to
:func:`esr_map` keeps them for the next map of another model on the same grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from ..capture.knob_synth import reference_take
from ..dsp.error import esr
from ..errors import GuneampError
from ..models.checkpoint import Checkpoint
from .knob_score import knob_model_output


def model_settings(ckpt: Checkpoint, setting: Mapping[str, float]) -> dict:
    """The part of a full amp ``setting`` that ``ckpt``'s model has knobs for; each of its knobs must be set.

    Notebook: 13
    """
    if ckpt.knobs is None:
        raise GuneampError("this is a snapshot model: it has no knobs to set (train one on captures at many settings)")
    missing = [n for n in ckpt.knobs.names if n not in setting]
    if missing:
        raise GuneampError(f"knob {missing[0]!r} has no value; give every knob of the model ({ckpt.knobs.describe()})")
    return {n: float(setting[n]) for n in ckpt.knobs.names}


def reference_output(setting: Mapping[str, float], di, sr: int, references: dict | None = None) -> np.ndarray:
    """The reference amp at ``setting`` playing ``di``, from ``references`` if it was rendered before.

    Notebook: 13
    """
    key = tuple(sorted((k, float(v)) for k, v in setting.items()))
    if references is None:
        return reference_take(setting, di, sr)
    if key not in references:
        references[key] = reference_take(setting, di, sr)
    return references[key]


@dataclass
class KnobMap:
    """The ESR at every point of a grid over two knobs (``esr[i, j]``: ``y[i]``, ``x[j]``).

    Notebook: 13
    """

    x_knob: str
    y_knob: str
    x: np.ndarray
    y: np.ndarray
    esr: np.ndarray
    fixed: dict

    def setting(self, i: int, j: int) -> dict:
        return {**self.fixed, self.x_knob: float(self.x[j]), self.y_knob: float(self.y[i])}

    def worst(self) -> dict:
        """The setting with the largest ESR (the first of equals, row by row)."""
        i, j = np.unravel_index(int(np.argmax(self.esr)), self.esr.shape)
        return self.setting(int(i), int(j))

    def at(self, setting: Mapping[str, float]) -> float:
        """The ESR at a grid point, given by its two knobs."""
        try:
            j = int(np.flatnonzero(np.isclose(self.x, setting[self.x_knob]))[0])
            i = int(np.flatnonzero(np.isclose(self.y, setting[self.y_knob]))[0])
        except (KeyError, IndexError):
            raise GuneampError(f"{dict(setting)} is not a point of this map's grid") from None
        return float(self.esr[i, j])

    def select(self, keep) -> np.ndarray:
        """The ESRs of the points where ``keep(setting)`` is true."""
        return np.array([self.esr[i, j] for i in range(self.y.size) for j in range(self.x.size)
                         if keep(self.setting(i, j))])


def esr_map(ckpt: Checkpoint, di, sr: int, x_knob: str, x_values: Sequence[float], y_knob: str,
            y_values: Sequence[float], *, fixed: Mapping[str, float] | None = None, extrapolate: bool = True,
            references: dict | None = None) -> KnobMap:
    """The model in ``ckpt`` against the reference amp on every point of the ``x_values`` by ``y_values`` grid.

    ``fixed`` sets the amp's other knobs (and the model's, if it has them); the rest stay at
    noon. Points outside the model's trained range are asked with ``extrapolate`` (refused
    without it). Both play ``di`` at the level the model trained at.

    Notebook: 13
    """
    if x_knob == y_knob:
        raise GuneampError(f"a knob map needs two different knobs, got {x_knob!r} twice")
    fixed = {k: float(v) for k, v in (fixed or {}).items() if k not in (x_knob, y_knob)}
    x, y = np.asarray(x_values, dtype=np.float64), np.asarray(y_values, dtype=np.float64)
    out = np.empty((y.size, x.size))
    grid = KnobMap(x_knob, y_knob, x, y, out, fixed)
    for i in range(y.size):
        for j in range(x.size):
            setting = grid.setting(i, j)
            pred = knob_model_output(ckpt, di, model_settings(ckpt, setting), extrapolate=extrapolate)
            out[i, j] = esr(reference_output(setting, di, sr, references), pred.numpy())
    return grid


__all__ = ["KnobMap", "esr_map", "model_settings", "reference_output"]
