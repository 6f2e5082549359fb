"""The compiled kernel of the streaming cabinet (notebook 08): a block in, never an allocation.

:class:`~guneamp_lib.render.convolver.PartitionedConvolver` calls :func:`convolve_block`
once per host block. It runs the direct head, and at each partition boundary the FFT of
the last ``2 * p`` input samples, the spectral multiply-accumulate against every later
partition and the inverse FFT, all inside one compiled call on arrays the convolver
made at construction. NumPy's ``rfft``/``irfft``/``einsum`` allocated their results and
temporaries at every boundary, which ``guneamp play``'s audio callback must not do.

The FFT is the textbook one, made for one fixed size: a real transform of ``N = 2 p``
samples as a complex radix-2 transform of ``p`` points (even samples as the real part,
odd as the imaginary), then one split pass (:func:`rfft_into`, :func:`irfft_into`). The
bit-reversal order and both tables of twiddle factors (:func:`fft_tables`) are computed
once, in NumPy, in float64: each twiddle is an exact ``exp`` of its own angle, not a
product of earlier ones, so rounding does not grow with the stage. ``p`` must be a power
of two.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .kernels import JIT_OPTIONS, fir_block

# The convolver's state vector: the samples of the current partition already in, and the
# delay line's newest slot.
FILL, SLOT = range(2)


def fft_tables(p: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(tw, rtw, bitrev)`` for a real FFT of ``2 * p`` samples: ``exp(-2 pi i k / p)`` for
    ``k < p / 2``, ``exp(-2 pi i k / (2 p))`` for ``k <= p`` and the bit-reversed order of ``p`` points."""
    if p < 1 or p & (p - 1):
        raise ValueError(f"the FFT partition must be a power of two, got {p}")
    bits = p.bit_length() - 1
    idx = np.arange(p)
    bitrev = np.zeros(p, np.int64)
    for b in range(bits):
        bitrev |= ((idx >> b) & 1) << (bits - 1 - b)
    tw = np.exp(-2j * np.pi * np.arange(max(p // 2, 1)) / p)
    rtw = np.exp(-2j * np.pi * np.arange(p + 1) / (2 * p))
    return tw, rtw, bitrev


@njit(**JIT_OPTIONS)
def _fft_in_place(z, tw, bitrev):
    """Complex radix-2 FFT of ``z`` (length ``p``, a power of two), in place, forward sign."""
    p = z.size
    for i in range(p):
        j = bitrev[i]
        if j > i:
            t = z[i]
            z[i] = z[j]
            z[j] = t
    h = 1
    while h < p:
        step = p // (2 * h)
        for s in range(0, p, 2 * h):
            for k in range(h):
                w = tw[k * step]
                a = z[s + k]
                b = z[s + k + h] * w
                z[s + k] = a + b
                z[s + k + h] = a - b
        h *= 2


@njit(**JIT_OPTIONS)
def rfft_into(x, x0, spec, z, tw, rtw, bitrev):
    """``spec[k] = sum_n x[x0 + n] exp(-2 pi i k n / N)`` for ``k <= N / 2``, ``N = 2 z.size``."""
    p = z.size
    for n in range(p):
        z[n] = complex(x[x0 + 2 * n], x[x0 + 2 * n + 1])
    _fft_in_place(z, tw, bitrev)
    for k in range(p + 1):
        a = z[k % p]
        b = z[(p - k) % p].conjugate()
        even = 0.5 * (a + b)
        odd = -0.5j * (a - b)
        spec[k] = even + rtw[k] * odd


@njit(**JIT_OPTIONS)
def irfft_into(spec, out, z, tw, rtw, bitrev, first):
    """The real inverse of :func:`rfft_into`: samples ``first .. N - 1`` of it into ``out[0 ..]``."""
    p = z.size
    scale = 1.0 / p
    for k in range(p):
        a = spec[k]
        b = spec[p - k].conjugate()
        even = 0.5 * (a + b)
        odd = 0.5 * (a - b) * rtw[k].conjugate()
        # the inverse as a forward transform of the conjugate
        z[k] = (even + 1j * odd).conjugate()
    _fft_in_place(z, tw, bitrev)
    for n in range(first // 2, p):
        v = z[n]
        if 2 * n >= first:
            out[2 * n - first] = v.real * scale
        out[2 * n + 1 - first] = -v.imag * scale


@njit(**JIT_OPTIONS)
def _boundary(state, win, tail, fdl, spectra_rev, acc, z, tw, rtw, bitrev):
    """A partition is complete: its spectrum into the delay line, the next partition's tail out."""
    p = tail.size
    nparts = spectra_rev.shape[0]
    if nparts:
        slot = (state[SLOT] + 1) % nparts
        state[SLOT] = slot
        rfft_into(win, 0, fdl[slot], z, tw, rtw, bitrev)
        # each spectrum stored twice, so the last nparts are rows slot+1 .. slot+nparts
        for k in range(p + 1):
            fdl[slot + nparts, k] = fdl[slot, k]
        for k in range(p + 1):
            acc[k] = 0.0
        for j in range(nparts):
            line = fdl[slot + 1 + j]
            part = spectra_rev[j]
            for k in range(p + 1):
                acc[k] += line[k] * part[k]
        irfft_into(acc, tail, z, tw, rtw, bitrev, p)
    for i in range(p):
        win[i] = win[p + i]


@njit(**JIT_OPTIONS)
def convolve_block(x, y, state, win, head_rev, head, tail, fdl, spectra_rev, acc, z, tw, rtw, bitrev):
    """One host block of any length through the partitioned convolver, ``y[t]`` for every ``x[t]``.

    ``win``: the previous partition then the current one (``2 p``); ``head_rev``: the
    first ``p`` taps reversed; ``tail``: the later partitions' sum for the current one;
    ``fdl``: the input spectra, twice over; ``spectra_rev``: the IR's partitions' spectra,
    last first; ``head`` (``p``), ``acc`` (``p + 1``) and ``z`` (``p``): work arrays.
    """
    p = head_rev.size
    n = x.size
    done = 0
    while done < n:
        fill = state[FILL]
        m = min(n - done, p - fill)
        pos = p + fill
        for t in range(m):
            win[pos + t] = x[done + t]
        fir_block(win, pos, m, head_rev, head)
        for t in range(m):
            y[done + t] = head[t] + tail[fill + t]
        fill += m
        done += m
        if fill == p:
            _boundary(state, win, tail, fdl, spectra_rev, acc, z, tw, rtw, bitrev)
            fill = 0
        state[FILL] = fill
