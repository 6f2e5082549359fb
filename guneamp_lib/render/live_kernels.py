"""The compiled steps of ``guneamp play``'s audio callback around the model (notebook 12).

:meth:`~guneamp_lib.render.live_chain.LiveChain.run` is three compiled calls: :func:`chain_in`
(the knob version, the drive and the gate), the model's streaming engine, and
:func:`chain_out` (the level, the recording rings, the counters and the block's time).
Each NumPy expression the callback ran before (``np.multiply(..., out=)``, ``.max()``,
an index into a counter) made a scalar or a 0-d array per call; here the same arithmetic
reads and writes only the chain's own arrays. Both keep the GIL (``nogil=False``): the
recorder thread reads the rings after the counter :func:`chain_out` publishes last, and
a kernel holding the GIL cannot be seen half done.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .kernels import JIT_OPTIONS

_JIT = dict(JIT_OPTIONS, nogil=False, fastmath=False)  # the gate's float32 steps exactly as NumPy's
# Indices into LiveChain.controls (the terminal thread writes them).
DRIVE, LEVEL, GATE, KNOB_VERSION = range(4)
# Indices into LiveChain.counts (the terminal and recorder threads read them).
BLOCKS, RECORDED, BAD_BLOCK, KNOB_ERRORS, FAILED = range(5)
# Indices into the gate's state: its gain at the end of the last block, blocks it stays open
# after the DI fell under the threshold, that hold in blocks, the gain's step per block
# opening and closing; then the knob version last applied.
GAIN, HOLD, HOLD_BLOCKS, OPEN_STEP, CLOSE_STEP, APPLIED = range(6)


@njit(**_JIT)
def chain_in(x_in, x, controls, state, ramp):
    """``x = x_in * drive``, gated when the threshold is above 0. True when the knobs moved
    since the last block (the caller hands the new vector to the model)."""
    n = x_in.size
    drive = controls[DRIVE]
    for t in range(n):
        x[t] = x_in[t] * drive
    moved = controls[KNOB_VERSION] != state[APPLIED]
    state[APPLIED] = controls[KNOB_VERSION]
    threshold = controls[GATE]
    if threshold <= 0.0:
        return moved
    peak = np.float32(0.0)
    for t in range(n):
        peak = max(peak, abs(x_in[t]))
    if peak >= threshold:
        state[HOLD] = state[HOLD_BLOCKS]
    elif peak < 0.5 * threshold and state[HOLD] > 0:
        state[HOLD] -= 1
    target = 1.0 if state[HOLD] > 0 else 0.0
    start = state[GAIN]
    if target > start:
        end = min(target, start + state[OPEN_STEP])
    else:
        end = max(target, start - state[CLOSE_STEP])
    state[GAIN] = end
    if start == end == 1.0:
        return moved
    if start == end == 0.0:
        for t in range(n):
            x[t] = 0.0
        return moved
    # a linear ramp of the gain over the block, in float32 as the DI
    step, base = np.float32(end - start), np.float32(start)
    for t in range(n):
        x[t] *= ramp[t] * step + base
    return moved


@njit(**_JIT)
def chain_out(y, y_out, x_in, controls, slots, dry, wet, counts, timings, elapsed):
    """``y_out = y * level``; the block into the recording rings' first ``slots`` rows (0: not
    recording); the block counted, ``elapsed`` seconds kept in the timings ring."""
    level = controls[LEVEL]
    n = y.size
    for t in range(n):
        y_out[t] = y[t] * level
    k = counts[BLOCKS]
    if slots:
        slot = k % slots
        for t in range(n):
            dry[slot, t] = x_in[t]
            wet[slot, t] = y_out[t]
        counts[RECORDED] = k + 1  # published last: the recorder reads up to here
    counts[BLOCKS] = k + 1
    timings[k % timings.size] = elapsed
