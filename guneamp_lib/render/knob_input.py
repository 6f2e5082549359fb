"""Knobs turned while a model plays: the smoothed knob vector every streaming engine shares (notebook 13).

A knob model's streaming engine takes a new knob vector whenever the host sends one
(once per block, from a slider or an automation lane). Jumping to it would step every
layer's bias at once, and a step in a bias is a step in the output: a click per block
while a knob turns ("zipper noise"). Instead the engine ramps the vector linearly to its
new target over :data:`KNOB_RAMP` file-rate samples, in sub-blocks of :data:`KNOB_STEP`
samples: the bias moves by at most ``1 / (KNOB_RAMP / KNOB_STEP)`` of the change per
sub-block. On a quiet held note through an untrained WaveNet nano, a one-second sweep's
worst sample-to-sample step is 1.8 times the output's own largest step with the knob still,
against 59 times without the glide (``benchmarks/sections/knobs.py`` prints both). A knob
that is not moving costs nothing: the block runs whole.

Within a sub-block the knobs are constant, so they fold into biases: the WaveNet's input
mixer times the knob vector is an extra bias on each layer's dilated convolution, and
the LSTM's input weights times the knob vector an extra gate bias. The compiled engines
recompute those bias vectors per sub-block (a few hundred multiply-adds) and run their
unchanged kernels; the torch engine passes the vector to the model as ``(1, K)``.
Either way the stream equals the offline model fed the same piecewise-constant knob
track (``tests/test_knob_models.py``).

:meth:`KnobInput.set_knob_vector` is what a real-time caller (a JACK callback) uses:
it copies into preallocated arrays and never allocates array memory, locks or logs.
"""

from __future__ import annotations

import numpy as np

from ..errors import GuneampError
from ..knobs import Knob, KnobSpace

# File-rate samples over which a knob glides to a new value (43 ms at 48 kHz): long
# enough that a jump from 0 to 10 makes no click, short enough to feel immediate.
KNOB_RAMP = 2048
# File-rate samples per sub-block while a knob glides: the biases move in 64 steps. At a
# host block of 64 that is two sub-blocks per block while a knob moves: a standard WaveNet
# then costs 1.16x to 1.39x the same model without knobs (three runs of
# benchmarks/sections/knobs.py at load 12 to 16 on 2 cores; knobs still: 0.92x to 1.24x), an
# LSTM of 16 1.19x to 1.25x in CPU time since its glide runs in one compiled call
# (lstm_kernels.lstm_glide_kernel; 1.67x before, same run, load 11).
# 64-sample steps measured 1.02x and 1.39x once, with 1.7 times the zipper step.
KNOB_STEP = 32


def default_space(num_knobs: int) -> KnobSpace:
    """``knob1..knobK`` on 0..1: the space of a knob model given without its checkpoint's ranges.

    Notebook: 13
    """
    return KnobSpace(Knob(f"knob{i + 1}", 0.0, 1.0) for i in range(num_knobs))


class KnobInput:
    """The knob state of one streaming engine: target, current value and the ramp between.

    Engines call :meth:`init_knobs` in their constructor, implement ``_apply_knobs()``
    (write the current vector ``self.knob_now`` into their biases) and ``_push(u, out)``
    (run one block with the biases as they are), and call :meth:`snap_knobs` at reset.
    The compiled engines also replace ``_retarget`` and ``_step_knobs`` by one compiled
    call each (:func:`~guneamp_lib.render.kernels.knob_retarget`, ``knob_step``): at a host
    block of 64, NumPy's per-call overhead would double a small LSTM's time while a knob moves.

    Notebook: 13
    """

    num_knobs = 0

    def init_knobs(self, num_knobs: int, oversample: int = 1) -> None:
        self.num_knobs = int(num_knobs)
        self.knob_target = np.full(self.num_knobs, 0.5, np.float32)  # the middle of every range
        self.knob_now = self.knob_target.copy()
        self._knob_delta = np.zeros(self.num_knobs, np.float32)
        self._knob_left = 0  # sub-blocks of ramp still to go
        self._knob_step = KNOB_STEP * int(oversample)
        self._knob_steps = KNOB_RAMP // KNOB_STEP

    def set_glide(self, samples: int) -> None:
        """Glide over ``samples`` file-rate samples (0: jump at the next sub-block, as an unsmoothed engine)."""
        self._knob_steps = max(int(samples) // KNOB_STEP, 1)

    def set_knob_vector(self, vector: np.ndarray) -> None:
        """Glide to ``vector`` (normalized, float32, ``(K,)``); no checks, no array allocation.

        The same target again (an automation holding still, a host resending its values)
        leaves a glide in progress alone, so it lands.

        Notebook: 13
        """
        if self.num_knobs and self._retarget(vector, self.knob_target, self.knob_now, self._knob_delta,
                                             1.0 / self._knob_steps):
            self._knob_left = self._knob_steps

    @staticmethod
    def _retarget(vector, target, now, delta, inv_steps) -> bool:
        """NumPy's form of :func:`~guneamp_lib.render.kernels.knob_retarget`."""
        if np.array_equal(vector, target):
            return False
        target[:] = vector
        np.subtract(target, now, out=delta)
        delta *= inv_steps
        return True

    def _step_knobs(self, last: bool) -> None:
        if last:
            self.knob_now[:] = self.knob_target  # land exactly, whatever the rounding
        else:
            self.knob_now += self._knob_delta
        self._apply_knobs()

    def snap_knobs(self) -> None:
        """Jump to the target (at reset: a stream starts at its knobs, not gliding to them)."""
        if self.num_knobs:
            self.knob_now[:] = self.knob_target
            self._knob_left = 0
            self._apply_knobs()

    def push(self, u: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        out = self.out[: u.size] if out is None else out
        if not self._knob_left:
            self._push(u, out)
            return out
        s, n = 0, u.size
        while s < n:
            if self._knob_left:
                self._knob_left -= 1
                self._step_knobs(self._knob_left == 0)
                e = min(n, s + self._knob_step)
            else:
                e = n
            self._push(u[s:e], out[s:e])
            s = e
        return out

    def _apply_knobs(self) -> None:
        raise NotImplementedError

    def _push(self, u: np.ndarray, out: np.ndarray) -> None:
        raise NotImplementedError


def knob_vector(space: KnobSpace | None, settings, extrapolate: bool = False) -> np.ndarray:
    """Dial settings -> the normalized vector, refusing knobs given to a snapshot model.

    Notebook: 13
    """
    if space is None or not len(space):
        raise GuneampError("this is a snapshot model: it has no knobs to set (train one on a knob manifest)")
    return space.normalize(settings, extrapolate=extrapolate)
