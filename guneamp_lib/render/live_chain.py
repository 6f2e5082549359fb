"""The audio callback of ``guneamp play``: one JACK block in, one block out (notebook 12).

:class:`LiveChain` is everything the real-time thread runs. It is built, with every array
it touches, before the JACK client is activated; :meth:`LiveChain.run` then only reads
and writes those arrays, through compiled kernels called directly. What the callback
never does:

* **allocate.** A block is a few compiled calls on arrays made here or by the engine's
  constructor: :func:`~guneamp_lib.render.live_kernels.chain_in` (drive, gate, the knob
  version), the network's kernel (with the resamplers' around it at 2x and more), the cabinet's
  (:func:`~guneamp_lib.render.fft_kernels.convolve_block`: the direct head, and at a partition
  boundary its own fixed-size FFT, the spectral multiply-accumulate and the inverse FFT in
  preallocated work arrays) and :func:`~guneamp_lib.render.live_kernels.chain_out` (level,
  recording rings, counters, the block's time). No NumPy expression runs per block: each
  made a scalar or a 0-d array, and NumPy's FFT its spectra. The port buffers are wrapped
  in NumPy views once per buffer address (JACK-Client's ``get_array`` would build a new
  array every block). What is left is Python's own small objects of a call (numba's
  argument bookkeeping, a view of the block, a float from ``perf_counter``), from the
  interpreter's small-object pool, about 1.5 KB at most at any block size:
  ``tests/test_play.py`` runs three hundred blocks with a cabinet, a knob model turned
  mid-way, the gate, gains and recording under ``tracemalloc`` and holds each block's peak
  under 2 KB at blocks 64 and 1024 (one float32 block at 1024, or one of the cabinet's
  spectra, is 4 KB; before the compiled cabinet a block at 64 peaked at 15 KB). Every kernel
  is compiled (or read from numba's cache) before the client starts: by the engines'
  warm-up and :meth:`LiveChain.__init__`.
* **take a lock or call anything that can block.** No ``threading`` object, queue, logger
  or file is touched: the test above also lists, with ``sys.setprofile``, every function a
  block calls (the render modules' own, and ``perf_counter`` and ``min`` in C). The one
  lock a Python callback cannot avoid is the interpreter's own (the GIL); the other
  threads of ``play`` hold it only for short steps (a file write releases it), and the
  network's and the cabinet's kernels release it while they run.
* **print, log or wait.** Xruns, load and errors are counted into arrays that the
  terminal thread reads and prints.

How a change reaches the callback: the terminal thread (the arrow keys, see
:mod:`guneamp_lib.render.live_keys`) writes new values into :attr:`LiveChain.controls`, a
preallocated float32 array: the input drive, the output level, the gate threshold and a
knob version number. The callback reads them once at the start of each block, so a change
takes effect at the next block boundary, whole (one float32 store is atomic). A knob
change writes the new 0..1 vector into :attr:`LiveChain.knob_vector` (preallocated) first
and bumps the version last; ``chain_in`` sees the version differ from the one it last
applied, and the callback hands the vector to the knob model, which glides to it over its
own ramp (:mod:`guneamp_lib.render.knob_input`: compiled steps, no click, no allocation).

The recorder thread (:mod:`guneamp_lib.render.live_record`) never runs in the callback:
``chain_out`` copies each block's DI and output into a row of the preallocated rings
:attr:`LiveChain.dry` and ``wet`` and then publishes the count of blocks recorded; the
recorder reads the rows up to that count and writes them to the WAV files at its own pace.

The gate sits before the model, as a pedal would: it opens when a block's peak DI
passes the threshold and closes, after :data:`GATE_HOLD_S`, below half of it; the gain
moves in a linear ramp of at most one block, over :data:`GATE_OPEN_S` opening and
:data:`GATE_CLOSE_S` closing. With the gate off (the default) the chain is exactly
``render``'s: the DI times the training drive, through the model, times the output level.
"""

from __future__ import annotations

import time

import jack
import numpy as np

from . import live_kernels
from .live_kernels import (BAD_BLOCK, BLOCKS, CLOSE_STEP, DRIVE, FAILED, GATE, HOLD_BLOCKS,
                           KNOB_ERRORS, KNOB_VERSION, LEVEL, OPEN_STEP, RECORDED)

__all__ = ["BAD_BLOCK", "BLOCKS", "DRIVE", "FAILED", "GATE", "KNOB_ERRORS", "KNOB_VERSION", "LEVEL", "RECORDED",
           "LiveChain"]
# Gate timing: open fast enough to keep a pick attack, close slowly enough not to chop a
# decaying note, and hold between so a note's own dips do not flutter the gate.
GATE_OPEN_S = 0.001
GATE_CLOSE_S = 0.02
GATE_HOLD_S = 0.05
# The timings ring: the last this-many callbacks (about 87 s at block 64, 48 kHz).
TIMINGS = 1 << 16


class LiveChain:
    """The callback's state: the model's processor and every array a block uses.

    ``proc``: a :class:`~guneamp_lib.render.streaming.StreamingProcessor` (or any object with
    ``process_block(x, out)``); ``block``: the server's block size; ``drive`` and ``level``:
    the linear factors before and after the model (``render``'s ``input_gain`` and
    ``1 / output_gain`` times the user's gains); ``record_slots``: blocks the recording
    rings hold (0: no recording); ``knobs``: the model's knob setter taking a 0..1 vector,
    or None.

    Notebook: 12
    """

    def __init__(self, proc, block: int, rate: int, *, drive: float, level: float, gate: float = 0.0,
                 record_slots: int = 0, set_knob_vector=None, knob_vector=None):
        self.proc, self.block, self.rate = proc, int(block), int(rate)
        self.controls = np.array([drive, level, gate, 0.0], np.float32)
        self.knob_vector = None if knob_vector is None else np.array(knob_vector, np.float32)
        self._set_knobs = set_knob_vector
        n = self.block
        self._x = np.zeros(n, np.float32)  # the DI at the model's drive
        self._y = np.zeros(n, np.float32)  # the model's output
        self._ramp = np.arange(1, n + 1, dtype=np.float32) / np.float32(n)
        # the gate closed until the first note; the knob version 0 applied
        self._state = np.zeros(6, np.float64)
        self._state[HOLD_BLOCKS] = max(1, round(GATE_HOLD_S * rate / n))
        self._state[OPEN_STEP] = min(1.0, n / (GATE_OPEN_S * rate))
        self._state[CLOSE_STEP] = min(1.0, n / (GATE_CLOSE_S * rate))
        self._in_k, self._out_k = live_kernels.chain_in, live_kernels.chain_out
        self.slots = int(record_slots)
        self.dry = np.zeros((max(self.slots, 1), n), np.float32)
        self.wet = np.zeros((max(self.slots, 1), n), np.float32)
        self.timings = np.zeros(TIMINGS, np.float64)  # seconds per callback, a ring
        self.counts = np.zeros(5, np.int64)
        self.failure: Exception | None = None  # what made a block fail, for the terminal thread
        self._compile()
        self._ports = None
        self._in_ptr = self._out_ptr = None
        self._in = self._out = None

    def _compile(self) -> None:
        """Call both kernels once on copies, so that numba compiles them (or reads its cache) now."""
        z = np.zeros(self.block, np.float32)
        controls, state = self.controls.copy(), self._state.copy()
        controls[GATE] = 1.0
        self._in_k(z, z.copy(), controls, state, self._ramp)
        self._out_k(z, z.copy(), z, controls, 1, self.dry.copy(), self.wet.copy(), self.counts.copy(),
                    self.timings[:1].copy(), 0.0)

    # ---------------------------------------------------------------- the JACK side

    def attach(self, inport, outport) -> None:
        """Read from ``inport`` and write to ``outport`` (JACK-Client ``OwnPort``) in :meth:`callback`."""
        self._ports = (inport._ptr, outport._ptr)

    def callback(self, frames: int) -> None:
        """JACK's process callback: the port buffers through :meth:`run`."""
        get = jack._lib.jack_port_get_buffer
        pin, pout = self._ports
        if frames != self.block:
            # the server changed its block size: answer silence, and play stops with a message
            self.counts[BAD_BLOCK] += 1
            np.frombuffer(jack._ffi.buffer(get(pout, frames), frames * 4), np.float32).fill(0.0)
            return
        p = get(pin, frames)
        if p != self._in_ptr:  # a new address (after a graph change): wrap it once
            self._in_ptr, self._in = p, np.frombuffer(jack._ffi.buffer(p, frames * 4), np.float32)
        p = get(pout, frames)
        if p != self._out_ptr:
            self._out_ptr, self._out = p, np.frombuffer(jack._ffi.buffer(p, frames * 4), np.float32)
        try:
            self.run(self._in, self._out)
        except Exception as exc:  # noqa: BLE001  a bug must not leave noise on the speakers
            self.failure = exc
            self.counts[FAILED] += 1
            self._out.fill(0.0)

    # ---------------------------------------------------------------- one block

    def run(self, x_in: np.ndarray, y_out: np.ndarray) -> None:
        """One block: ``x_in`` (the DI, ``block`` float32 samples) -> ``y_out`` (the same length)."""
        t0 = time.perf_counter()
        x, y = self._x, self._y
        if self._in_k(x_in, x, self.controls, self._state, self._ramp) and self._set_knobs is not None:
            try:
                self._set_knobs(self.knob_vector)
            except Exception:  # noqa: BLE001  a refused vector keeps the last setting
                self.counts[KNOB_ERRORS] += 1
        self.proc.process_block(x, y)
        self._out_k(y, y_out, x_in, self.controls, self.slots, self.dry, self.wet, self.counts, self.timings,
                    time.perf_counter() - t0)

    # ---------------------------------------------------------------- for the terminal thread

    def callback_times(self) -> np.ndarray:
        """The recorded callback durations (seconds), oldest first, at most :data:`TIMINGS`."""
        k = int(self.counts[BLOCKS])
        if k <= TIMINGS:
            return self.timings[:k].copy()
        s = k % TIMINGS
        return np.concatenate([self.timings[s:], self.timings[:s]])
