"""The cabinet in a stream: uniformly partitioned convolution (notebook 08).

A cabinet IR is thousands of taps long; convolving it directly costs that many
multiply-adds per sample. :class:`PartitionedConvolver` does the first
:data:`PARTITION` taps directly (no latency) and the rest by FFT, one partition at a
time, so a block of 64 samples costs little more than its share of one FFT.
"""

from __future__ import annotations

import numpy as np
from ..errors import GuneampError
from . import compiled

# Cabinet partition: IR taps done directly per sample (the head) and the block length
# of the FFT part. One FFT per 256 samples keeps numpy's per-call cost small at a
# host block of 64, and 256 direct taps per sample stay cheap.
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

    def push(self, x: np.ndarray) -> np.ndarray:
        xp = np.concatenate([self.hist, x])
        self.hist = xp[xp.size - (self.ir.size - 1) :] if self.ir.size > 1 else xp[:0]
        return np.convolve(xp, self.ir, mode="valid").astype(np.float32)


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
        if self.nparts:
            parts = np.zeros((self.nparts, 2 * p))
            padded = np.zeros(self.nparts * p)
            padded[: tail.size] = tail
            parts[:, :p] = padded.reshape(self.nparts, p)
            spectra = np.fft.rfft(parts, axis=1)
            self.spectra_rev = np.ascontiguousarray(spectra[::-1])  # last partition first: matches the delay line
        self.k = compiled.kernels() if fast else None
        self.out = np.zeros(p, np.float64)
        self.reset()

    def reset(self) -> None:
        p = self.p
        self.win = np.zeros(2 * p)  # previous block | current block
        self.fill = 0
        self.tail = np.zeros(p)  # the later partitions' contribution to the current block
        if self.nparts:
            # each spectrum stored twice, so the last nparts are always one contiguous slice
            self.fdl = np.zeros((2 * self.nparts, p + 1), np.complex128)
            self.slot = self.nparts - 1

    def push(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        y = np.empty(x.size, np.float32)
        p, done = self.p, 0
        while done < x.size:
            m = min(x.size - done, p - self.fill)
            pos = p + self.fill
            self.win[pos : pos + m] = x[done : done + m]
            head = self.out[:m]
            if self.k is not None:
                self.k.fir_block(self.win, pos, m, self.head_rev, head)
            else:
                head[:] = np.convolve(self.win[pos - p + 1 : pos + m], self.head_rev[::-1], mode="valid")
            y[done : done + m] = head + self.tail[self.fill : self.fill + m]
            self.fill += m
            done += m
            if self.fill == p:
                self._boundary()
        return y

    def _boundary(self) -> None:
        p = self.p
        if self.nparts:
            self.slot = (self.slot + 1) % self.nparts
            spec = np.fft.rfft(self.win)
            self.fdl[self.slot] = spec
            self.fdl[self.slot + self.nparts] = spec
            lines = self.fdl[self.slot + 1 : self.slot + 1 + self.nparts]  # oldest .. newest
            acc = np.einsum("ij,ij->j", lines, self.spectra_rev)
            self.tail[:] = np.fft.irfft(acc, 2 * p)[p:]
        self.win[:p] = self.win[p:]
        self.fill = 0
