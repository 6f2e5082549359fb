"""The cabinet in a stream: uniformly partitioned convolution (notebook 08).

A cabinet IR is thousands of taps long; convolving it directly costs that many
multiply-adds per sample. :class:`PartitionedConvolver` does the first
:data:`PARTITION` taps directly (no latency) and the rest by FFT, one partition at a
time, so a block of 64 samples costs little more than its share of one FFT. Its
per-block work is one compiled call (:mod:`.fft_kernels`) that allocates nothing: ``render``
and ``guneamp play``'s audio callback run the same convolver.
"""

from __future__ import annotations

import numpy as np
from ..errors import GuneampError
from . import compiled

# Cabinet partition: IR taps done directly per sample (the head) and the block length
# of the FFT part (a power of two: the compiled FFT's size is twice it). One FFT per 256
# samples spreads its cost over four host blocks of 64, and 256 direct taps per sample
# stay cheap.
PARTITION = 256


class DirectCabinet:
    """Reference engine: the IR applied directly (float64), keeping its length minus one of input.

    Notebook: 08
    """

    def __init__(self, ir: np.ndarray):
        self.ir = np.asarray(ir, dtype=np.float64)
        self.reset()

    def reset(self) -> None:
        self.hist = np.zeros(self.ir.size - 1)

    def push(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        xp = np.concatenate([self.hist, x])
        self.hist = xp[xp.size - (self.ir.size - 1) :] if self.ir.size > 1 else xp[:0]
        y = np.convolve(xp, self.ir, mode="valid").astype(np.float32)
        if out is None:
            return y
        out[:] = y
        return out


class PartitionedConvolver:
    """Zero-latency streaming convolution with a long IR, for any block size.

    The IR is cut into partitions of ``partition`` taps. The first is applied directly,
    sample by sample (the head). For the others, each completed ``partition``-sample
    input block is transformed once (FFT of size ``2 * partition``) and kept; at every
    block boundary the next block's contribution of all later partitions is one sum of
    products of kept spectra with the partitions' spectra and one inverse FFT (uniformly
    partitioned overlap-save). Partition ``j >= 1`` only needs input at least
    ``partition`` samples old, which is complete at the boundary: no latency. An IR of
    at most ``partition`` taps is all head, a plain direct convolution. Computed in
    float64; the FFT work falls on the blocks that cross a partition boundary.

    With numba (``fast``), :meth:`push` is one compiled call
    (:func:`~guneamp_lib.render.fft_kernels.convolve_block`) on arrays made here, with its
    own fixed-size FFT: a block allocates nothing, so ``guneamp play``'s audio callback can
    run it. ``partition`` must then be a power of two. Without numba, NumPy's FFT does
    the same sums (and allocates).

    Notebook: 08
    """

    def __init__(self, ir, partition: int = PARTITION, fast: bool = True):
        h = np.asarray(ir, dtype=np.float64).reshape(-1)
        if h.size == 0:
            raise GuneampError("the impulse response is empty")
        self.p = p = int(min(partition, h.size))
        self.head_rev = np.ascontiguousarray(h[:p][::-1])
        tail = h[p:]
        self.nparts = -(-tail.size // p)  # partitions after the head
        self.k = compiled.kernels() if fast else None
        if self.k is not None:
            from . import fft_kernels  # numba is there: k is the kernels module

            self._block = fft_kernels.convolve_block
            if self.nparts and p & (p - 1):
                raise GuneampError(f"the convolver's partition must be a power of two, got {p}")
            self._tables = fft_kernels.fft_tables(p if self.nparts else 1)
        parts = np.zeros((self.nparts, 2 * p))
        padded = np.zeros(self.nparts * p)
        padded[: tail.size] = tail
        parts[:, :p] = padded.reshape(self.nparts, p)
        # last partition first: matches the delay line
        self.spectra_rev = np.ascontiguousarray(np.fft.rfft(parts, axis=1)[::-1]).reshape(self.nparts, p + 1)
        self.out = np.zeros(p, np.float64)
        self._acc = np.zeros(p + 1, np.complex128)
        self._z = np.zeros(p, np.complex128)
        self.state = np.zeros(2, np.int64)  # fft_kernels.FILL, SLOT
        self.win = np.zeros(2 * p)  # previous block | current block
        self.tail = np.zeros(p)  # the later partitions' contribution to the current block
        # each spectrum stored twice, so the last nparts are always one contiguous slice
        self.fdl = np.zeros((2 * self.nparts, p + 1), np.complex128)
        self.reset()

    def reset(self) -> None:
        self.win[:] = 0.0
        self.tail[:] = 0.0
        self.fdl[:] = 0.0
        self.state[:] = (0, max(self.nparts - 1, 0))

    def push(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``x`` (any length) convolved, into ``out`` (float32, ``x.size``; made when None)."""
        y = np.empty(len(x), np.float32) if out is None else out
        if self.k is not None:
            self._block(x, y, self.state, self.win, self.head_rev, self.out, self.tail, self.fdl, self.spectra_rev,
                        self._acc, self._z, *self._tables)
            return y
        x = np.asarray(x)
        p, done = self.p, 0
        while done < x.size:
            fill = int(self.state[0])
            m = min(x.size - done, p - fill)
            pos = p + fill
            self.win[pos : pos + m] = x[done : done + m]
            head = np.convolve(self.win[pos - p + 1 : pos + m], self.head_rev[::-1], mode="valid")
            y[done : done + m] = head + self.tail[fill : fill + m]
            self.state[0] = fill + m
            done += m
            if fill + m == p:
                self._boundary()
        return y

    def _boundary(self) -> None:
        """NumPy's form of the compiled kernel's boundary (numba missing)."""
        p = self.p
        if self.nparts:
            slot = self.state[1] = (self.state[1] + 1) % self.nparts
            spec = np.fft.rfft(self.win)
            self.fdl[slot] = spec
            self.fdl[slot + self.nparts] = spec
            lines = self.fdl[slot + 1 : slot + 1 + self.nparts]  # oldest .. newest
            acc = np.einsum("ij,ij->j", lines, self.spectra_rev)
            self.tail[:] = np.fft.irfft(acc, 2 * p)[p:]
        self.win[:p] = self.win[p:]
        self.state[0] = 0
