"""Knobs turned while a model plays: the smoothed knob vector every streaming engine shares (notebook 13).

A knob model's streaming engine takes a new knob vector whenever the host sends one
(once per block, from a slider or an automation lane). Jumping to it would step every
layer's bias at once, and a step in a bias is a step in the output: a click per block
while a knob turns ("zipper noise"). Instead the engine ramps the vector linearly to its
new target over :data:`KNOB_RAMP` file-rate samples, sample by sample: sample ``t`` of a
glide sits at ``now + (t + 1) * delta``, and the last lands on the target exactly. On a
quiet held note through an untrained WaveNet nano, a one-second sweep's worst
sample-to-sample step is 1.03 times the output's own largest step with the knob
still, against 59 times without the glide (``benchmarks/sections/knobs.py``
prints both; 1.8 times when the glide moved in 32-sample steps). A knob that is not
moving costs nothing: the block runs whole on the existing path.

The knobs enter the models linearly, so a glide is a linear move of biases: the WaveNet's
input mixer times the knob vector is an extra bias on each layer's dilated convolution
(and a FiLM WaveNet's scale, ``1 + film @ knobs``, moves linearly with the knobs too: the
compiled kernel glides it per sample beside the bias),
the LSTM's input weights times the knob vector an extra gate bias. The compiled WaveNet
runs a gliding block whole, its kernel adding ``(t + 1) * (mixer @ delta)`` to each
channel's bias in its tanh loop (one multiply-add per channel and sample, beside the
convolution's ``kernel x channels``); the LSTM's glide kernel sets its gate bias per
sample (``R`` multiply-adds beside the recurrent product's ``R x width``, the bias and its
move per sample worked out once per block); the torch
engine passes the model a ``(1, K, T)`` knob track. Either way the stream equals the
offline model fed the same per-sample knob track (``tests/test_knob_models.py``).
Before, the knobs moved in 32-sample steps, one kernel call per step: at a host block of
64 a moving knob doubled the WaveNet's per-call and per-layer overhead (1.33x to 1.58x its
model without knobs). Now it costs 1.00x to 1.06x, and the LSTM 16 1.11x to 1.13x (two runs
of ``benchmarks/sections/knobs.py``, 7 December, load 1 to 2).

:meth:`KnobInput.set_knob_vector` is what a real-time caller (a JACK callback) uses:
it copies into preallocated arrays and never allocates array memory, locks or logs.
"""

from __future__ import annotations

import numpy as np

from ..errors import GuneampError
from ..knobs import Knob, KnobSpace
from .buffers import MAX_MODEL_BLOCK

# File-rate samples over which a knob glides to a new value (43 ms at 48 kHz): long
# enough that a jump from 0 to 10 makes no click, short enough to feel immediate.
KNOB_RAMP = 2048
# t + 1 for the samples t of a block: sample t of a glide sits t + 1 samples along it
# (the kernels multiply each layer's per-sample bias change by it; made once, read-only).
GLIDE_COUNTS = np.arange(1, MAX_MODEL_BLOCK + 1, dtype=np.float32)


def default_space(num_knobs: int) -> KnobSpace:
    """``knob1..knobK`` on 0..1: the space of a knob model given without its checkpoint's ranges.

    Notebook: 13
    """
    return KnobSpace(Knob(f"knob{i + 1}", 0.0, 1.0) for i in range(num_knobs))


class KnobInput:
    """The knob state of one streaming engine: target, current value and the ramp between.

    Engines call :meth:`init_knobs` in their constructor, implement ``_apply_knobs()``
    (write the current vector ``self.knob_now`` into their biases), ``_push(u, out)`` (run
    one block with the biases as they are) and ``_glide(u, out, last)`` (run one block with
    sample ``t`` at the knobs ``knob_now + (t + 1) * _knob_delta``, then move ``knob_now`` on
    by the block, onto the target when ``last``), and call :meth:`snap_knobs` at reset.
    The compiled engines replace ``_retarget`` and the move by one compiled call each
    (:func:`~guneamp_lib.render.kernels.knob_retarget`, ``knob_advance``): at a host block of
    64, NumPy's per-call overhead would double a small model's time while a knob moves.

    Notebook: 13
    """

    num_knobs = 0

    def init_knobs(self, num_knobs: int, oversample: int = 1) -> None:
        self.num_knobs = int(num_knobs)
        self.knob_target = np.full(self.num_knobs, 0.5, np.float32)  # the middle of every range
        self.knob_now = self.knob_target.copy()
        self._knob_delta = np.zeros(self.num_knobs, np.float32)  # the glide's move per network-rate sample
        self._knob_left = 0  # network-rate samples of glide still to go
        self._oversample = int(oversample)
        self._knob_ramp = KNOB_RAMP * self._oversample

    def set_glide(self, samples: int) -> None:
        """Glide over ``samples`` file-rate samples (0: jump at the next sample, as an unsmoothed engine)."""
        self._knob_ramp = max(int(samples) * self._oversample, 1)

    def set_knob_vector(self, vector: np.ndarray) -> None:
        """Glide to ``vector`` (normalized, float32, ``(K,)``); no checks, no array allocation.

        The same target again (an automation holding still, a host resending its values)
        leaves a glide in progress alone, so it lands.

        Notebook: 13
        """
        if self.num_knobs and self._retarget(vector, 1.0 / self._knob_ramp):
            self._knob_left = self._knob_ramp

    def _retarget(self, vector: np.ndarray, inv_ramp: float) -> bool:
        """NumPy's form of :func:`~guneamp_lib.render.kernels.knob_retarget` (without the biases)."""
        if np.array_equal(vector, self.knob_target):
            return False
        self.knob_target[:] = vector
        np.subtract(self.knob_target, self.knob_now, out=self._knob_delta)
        self._knob_delta *= np.float32(inv_ramp)
        return True

    def _advance(self, n: int, last: bool) -> None:
        """NumPy's form of :func:`~guneamp_lib.render.kernels.knob_advance`."""
        if last:
            self.knob_now[:] = self.knob_target  # land exactly, whatever the rounding
        else:
            self.knob_now += np.float32(n) * self._knob_delta
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
        # the glide's samples in this block, then (where it lands within the block) the rest still
        m = min(u.size, self._knob_left)
        self._knob_left -= m
        self._glide(u[:m], out[:m], self._knob_left == 0)
        if m < u.size:
            self._push(u[m:], out[m:])
        return out

    def _apply_knobs(self) -> None:
        raise NotImplementedError

    def _push(self, u: np.ndarray, out: np.ndarray) -> None:
        raise NotImplementedError

    def _glide(self, u: np.ndarray, out: np.ndarray, last: bool) -> None:
        raise NotImplementedError


def knob_vector(space: KnobSpace | None, settings, extrapolate: bool = False) -> np.ndarray:
    """Dial settings -> the normalized vector, refusing knobs given to a snapshot model.

    Notebook: 13
    """
    if space is None or not len(space):
        raise GuneampError("this is a snapshot model: it has no knobs to set (train one on a knob manifest)")
    return space.normalize(settings, extrapolate=extrapolate)
