"""Streaming resamplers: torchaudio's oversampling filters run block by block (notebook 07).

The offline path (:func:`guneamp_lib.dsp.oversampling.oversample`) resamples a whole
signal at once with a non-causal windowed-sinc filter. A stream cannot look ahead, so
the same filter taps are read off once (by resampling an impulse) and applied as
polyphase FIR filters over a short history; the price is a fixed latency,
:func:`stream_latency`, which the streaming processor reports.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from ..dsp.oversampling import downsample, oversample
from ..errors import GuneampError
from . import compiled

# torchaudio's kernels are a few dozen taps wide; impulses this far apart never overlap.
_IMPULSE_SPAN = 256
# torchaudio's kernel ends where its Hann window reaches zero, which float32 computes as
# about 1e-24 instead: taps this small relative to the largest cannot change a float32
# sample, and keeping them would add 2 samples of latency.
NEGLIGIBLE_TAP = 1e-12


@functools.lru_cache(maxsize=None)
def upsampler_taps(factor: int) -> tuple[np.ndarray, int]:
    """torchaudio's ``resample(x, 1, factor)`` as ``(kernel, first)``.

    Upsampled sample ``k * factor + p`` is ``sum_j kernel[p, j] * x[k + first + j]``.
    Read off by upsampling an impulse, so it is torchaudio's kernel to the last bit,
    less the :data:`NEGLIGIBLE_TAP` ends.

    Notebook: 07
    """
    n = 2 * _IMPULSE_SPAN + 1
    x = torch.zeros(n)
    x[_IMPULSE_SPAN] = 1.0
    u = oversample(x, factor).numpy().reshape(n, factor)  # u[k, p]: frame k, phase p
    # frame k sees the impulse at offset SPAN - k, so reversing the frames orders the
    # kernel's columns by offset, from -SPAN to SPAN
    return _trim(np.ascontiguousarray(u[::-1].T, dtype=np.float32), -_IMPULSE_SPAN)


@functools.lru_cache(maxsize=None)
def downsampler_taps(factor: int) -> tuple[np.ndarray, int]:
    """torchaudio's ``resample(y, factor, 1)`` as ``(taps, first)``: ``out[i] = sum_j taps[j] * y[i * factor + first + j]``.

    Notebook: 07
    """
    span = _IMPULSE_SPAN * factor
    y = torch.zeros(factor, 2 * span)
    y[torch.arange(factor), span + torch.arange(factor)] = 1.0  # one impulse per phase
    d = downsample(y, factor).numpy()  # d[r, i]: the tap at offset span + r - i * factor
    lowest = factor - span  # the smallest offset that shows up
    taps = np.zeros(2 * span, dtype=np.float32)
    for r in range(factor):
        taps[span + r - np.arange(d.shape[1]) * factor - lowest] = d[r]
    return _trim(taps[None, :], lowest)


def _trim(kernel: np.ndarray, first: int) -> tuple[np.ndarray, int]:
    nz = np.flatnonzero(np.any(np.abs(kernel) > NEGLIGIBLE_TAP * np.abs(kernel).max(), axis=0))
    if nz.size == 0 or nz[0] == 0 or nz[-1] == kernel.shape[1] - 1:
        raise GuneampError("could not read torchaudio's resampling kernel (impulse too close to the edge)")
    return np.ascontiguousarray(kernel[:, nz[0] : nz[-1] + 1]), first + int(nz[0])


def stream_latency(oversample: int) -> int:
    """File-rate samples by which the stream lags the offline render at this factor.

    Notebook: 07
    """
    if oversample == 1:
        return 0
    up, up_first = upsampler_taps(oversample)
    down, down_first = downsampler_taps(oversample)
    up_ahead = up_first + up.shape[1] - 1  # input samples after a frame that it needs
    down_ahead = down_first + down.shape[1] - 1  # network samples after an output that it needs
    return up_ahead + math.ceil((down_ahead + 1) / oversample) - 1


class FIRStream:
    """A streaming bank of FIR filters with a stride: torchaudio's resampler, causally.

    Output ``c`` (``rows`` values) is ``kernel @ x[c * stride + first : ... + ntaps]``,
    with ``x`` zero before sample 0. Samples arrive in pieces; each output is produced
    as soon as its last input is in, and inputs no output needs are dropped.

    Notebook: 07
    """

    def __init__(self, kernel: np.ndarray, first: int, stride: int, max_in: int, fast: bool):
        self.kernel = np.ascontiguousarray(kernel, dtype=np.float32)
        self.rows, self.ntaps = self.kernel.shape
        self.first, self.stride = first, stride
        self.buf = np.zeros(self.ntaps + 2 * max_in + stride, dtype=np.float32)
        self.out = np.zeros(self.rows * (max_in // stride + 2), dtype=np.float32)
        self.k = compiled.kernels() if fast else None
        self.torch_kernel = torch.from_numpy(self.kernel[:, None, :].copy())
        self.reset()

    def reset(self) -> None:
        self.buf[:] = 0.0
        self.g0 = min(self.first, 0)  # sample index held in buf[0]; before 0 it is silence
        self.hi = -self.g0
        self.done = 0  # outputs produced so far

    def push(self, x: np.ndarray) -> np.ndarray:
        need = self.done * self.stride + self.first  # oldest input any future output reads
        if self.hi + x.size > self.buf.size:
            keep = need - self.g0
            self.buf[: self.hi - keep] = self.buf[keep : self.hi]
            self.hi -= keep
            self.g0 = need
        self.buf[self.hi : self.hi + x.size] = x
        self.hi += x.size
        end = self.g0 + self.hi
        count = max(0, (end - self.first - self.ntaps) // self.stride + 1 - self.done)
        start = need - self.g0
        out = self.out[: count * self.rows]
        if count:
            if self.k is not None:
                self.k.polyphase_block(self.buf, start, count, self.stride, self.kernel, out)
            else:
                win = torch.from_numpy(self.buf[start : start + (count - 1) * self.stride + self.ntaps])
                y = torch.nn.functional.conv1d(win.view(1, 1, -1), self.torch_kernel, stride=self.stride)
                out[:] = y[0].T.reshape(-1).numpy()  # (rows, count) -> frame-major, as torchaudio
        self.done += count
        return out
