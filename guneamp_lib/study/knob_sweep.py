"""Zipper noise: does a knob turned while the model plays click? (notebook 13)

A host sends knob values at its control rate (a GUI slider: tens of times a second). A
streaming engine that jumped to each value would step every bias at once, and the output
with it: "zipper noise", loudest on a quiet, sustained note. :func:`zipper_steps` plays a
quiet sine through a knob model while one knob sweeps from one end of its range to the
other, its value sent every ``control_every`` samples, and compares the largest
sample-to-sample step of that output with the largest step of the same output with the
knob held at either end: the output's own movement. A ratio near 1 means the sweep adds no
step the note itself does not make; well above 1, the knob clicks.
``benchmarks/sections/knobs.py`` prints it with the engine's glide and without.
"""

from __future__ import annotations

import numpy as np

from ..knobs import KnobSpace
from ..render.knob_input import KNOB_RAMP
from ..render.streaming import StreamingProcessor

# The probe: a quiet low E held, where a step stands out most.
PROBE_HZ, PROBE_LEVEL = 82.4, 0.05


def _play(proc: StreamingProcessor, x: np.ndarray, block: int, values) -> np.ndarray:
    out = np.empty_like(x)
    for s in range(0, x.size, block):
        v = values(s)
        if v is not None:
            proc.set_knobs(v)
        proc.process_block(x[s : s + block], out[s : s + block])
    return out


def zipper_steps(model, space: KnobSpace, knob: str, *, sample_rate: int = 48000, seconds: float = 1.0,
                 control_every: int = 512, block: int = 64, glide: int = KNOB_RAMP, engine: str = "auto") -> dict:
    """The worst step of a knob sweep against the output's own, as ``{sweep_step, still_step, ratio}``.

    The other knobs sit at the middle of their ranges; ``glide`` is the engine's
    (:meth:`~guneamp_lib.render.streaming.StreamingProcessor.set_knob_glide`; 0: none).

    Notebook: 13
    """
    n = int(seconds * sample_rate)
    x = (PROBE_LEVEL * np.sin(2 * np.pi * PROBE_HZ * np.arange(n) / sample_rate)).astype(np.float32)
    k = next(kn for kn in space.knobs if kn.name == knob)
    base = space.center()

    def at(frac: float) -> dict:
        return {**base, knob: k.low + frac * (k.high - k.low)}

    proc = StreamingProcessor(model, 1, engine=engine, knob_space=space)
    proc.set_knob_glide(glide)
    still = []
    for end in (0.0, 1.0):
        proc.set_knobs(at(end))
        proc.reset()
        still.append(float(np.abs(np.diff(_play(proc, x, block, lambda s: None))).max()))
    proc.set_knobs(at(0.0))
    proc.reset()
    controls = set(range(0, n, control_every))
    sweep = _play(proc, x, block, lambda s: at(s / n) if any(c in controls for c in range(s, s + block)) else None)
    worst = float(np.abs(np.diff(sweep)).max())
    return {"sweep_step": worst, "still_step": max(still), "ratio": worst / max(still)}
