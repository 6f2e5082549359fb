"""The audio callback of ``guneamp play``: one JACK block in, one block out (notebook 12).

:class:`LiveChain` is everything the real-time thread runs. It is built, with every array
it touches, before the JACK client is activated; :meth:`LiveChain.run` then only reads
and writes those arrays. What the callback never does:

* **allocate an audio buffer.** The DI, the model's output, the gate's ramp, the
  recording rings and the per-block timings are NumPy arrays made here, at the server's
  block size; each block writes into them with ``out=`` arguments and ``np.copyto``. The
  port buffers are wrapped in NumPy views once per buffer address (JACK-Client's
  ``get_array`` would build a new array every block). The network is the streaming
  engine ``render`` uses (:class:`~guneamp_lib.render.streaming.StreamingProcessor`),
  whose compiled kernels write into the chain's output array; ``tests/test_play.py`` holds the
  peak of what a thousand blocks allocate under 4 KB (one block-sized array would be 8).
  What Python itself makes per call (a float from ``perf_counter``, a cffi pointer) comes
  from its small-object pool, not the system allocator. One exception: a cabinet IR runs
  through the streaming engine's partitioned convolver, which allocates its block's output
  and, once per partition, its FFT's temporaries.
* **take a lock.** No ``threading`` object, queue or logger is touched. The one lock a
  Python callback cannot avoid is the interpreter's own (the GIL); the other threads of
  ``play`` hold it only for short steps (a file write releases it) and the compiled
  kernels run without it.
* **print, log or wait.** Xruns, load and errors are counted into arrays that the
  terminal thread reads and prints.

How a change reaches the callback: the terminal thread (the arrow keys, see
:mod:`guneamp_lib.render.live_keys`) writes new values into :attr:`LiveChain.controls`, a
preallocated float32 array: the input drive, the output level, the gate threshold and a
knob version number. The callback reads them once at the start of each block, so a change
takes effect at the next block boundary, whole (one float32 store is atomic). A knob
change writes the new 0..1 vector into :attr:`LiveChain.knob_vector` first and bumps
the version last; the callback hands the vector to the knob model when the version
differs from the one it last applied, and the model glides to it over its own ramp
(:mod:`guneamp_lib.render.knob_input`: no click, no allocation).

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

# Indices into LiveChain.controls.
DRIVE, LEVEL, GATE, KNOB_VERSION = range(4)
# Gate timing: open fast enough to keep a pick attack, close slowly enough not to chop a
# decaying note, and hold between so a note's own dips do not flutter the gate.
GATE_OPEN_S = 0.001
GATE_CLOSE_S = 0.02
GATE_HOLD_S = 0.05
# The timings ring: the last this-many callbacks (about 87 s at block 64, 48 kHz).
TIMINGS = 1 << 16
# Indices into LiveChain.counts.
BLOCKS, RECORDED, BAD_BLOCK, KNOB_ERRORS, FAILED = range(5)


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
        self._knob_version = 0.0
        n = self.block
        self._x = np.zeros(n, np.float32)  # the DI at the model's drive
        self._y = np.zeros(n, np.float32)  # the model's output
        self._tmp = np.zeros(n, np.float32)
        self._ramp = np.arange(1, n + 1, dtype=np.float32) / np.float32(n)
        self._gain = 0.0  # the gate's gain at the end of the last block: closed until the first note
        self._hold = 0  # blocks the gate stays open after the DI fell under the threshold
        self._hold_blocks = max(1, round(GATE_HOLD_S * rate / n))
        self._open_step = min(1.0, n / (GATE_OPEN_S * rate))
        self._close_step = min(1.0, n / (GATE_CLOSE_S * rate))
        self.slots = int(record_slots)
        self.dry = np.zeros((max(self.slots, 1), n), np.float32)
        self.wet = np.zeros((max(self.slots, 1), n), np.float32)
        self._dry_rows, self._wet_rows = list(self.dry), list(self.wet)
        self.timings = np.zeros(TIMINGS, np.float64)  # seconds per callback, a ring
        self.counts = np.zeros(5, np.int64)
        self.failure: Exception | None = None  # what made a block fail, for the terminal thread
        self._ports = None
        self._in_ptr = self._out_ptr = None
        self._in = self._out = None

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
        c = self.controls
        if self._set_knobs is not None and c[KNOB_VERSION] != self._knob_version:
            self._knob_version = c[KNOB_VERSION]
            try:
                self._set_knobs(self.knob_vector)
            except Exception:  # noqa: BLE001  a refused vector keeps the last setting
                self.counts[KNOB_ERRORS] += 1
        x, y = self._x, self._y
        np.multiply(x_in, c[DRIVE], out=x)
        if c[GATE] > 0.0:
            self._gate(x_in, c[GATE])
        self.proc.process_block(x, y)
        np.multiply(y, c[LEVEL], out=y_out)
        k = self.counts[BLOCKS]
        if self.slots:
            slot = k % self.slots
            np.copyto(self._dry_rows[slot], x_in)
            np.copyto(self._wet_rows[slot], y_out)
            self.counts[RECORDED] = k + 1  # published last: the recorder reads up to here
        self.counts[BLOCKS] = k + 1
        self.timings[k % TIMINGS] = time.perf_counter() - t0

    def _gate(self, x_in: np.ndarray, threshold) -> None:
        np.abs(x_in, out=self._tmp)
        peak = self._tmp.max()
        if peak >= threshold:
            self._hold = self._hold_blocks
        elif peak < 0.5 * threshold and self._hold > 0:
            self._hold -= 1
        target = 1.0 if self._hold > 0 else 0.0
        start = self._gain
        if target > start:
            end = min(target, start + self._open_step)
        else:
            end = max(target, start - self._close_step)
        self._gain = end
        if start == end == 1.0:
            return
        if start == end == 0.0:
            self._x.fill(0.0)
            return
        np.multiply(self._ramp, end - start, out=self._tmp)
        self._tmp += start
        self._x *= self._tmp

    # ---------------------------------------------------------------- for the terminal thread

    def callback_times(self) -> np.ndarray:
        """The recorded callback durations (seconds), oldest first, at most :data:`TIMINGS`."""
        k = int(self.counts[BLOCKS])
        if k <= TIMINGS:
            return self.timings[:k].copy()
        s = k % TIMINGS
        return np.concatenate([self.timings[s:], self.timings[:s]])
