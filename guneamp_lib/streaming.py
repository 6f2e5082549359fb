"""Real-time processing: a trained model, block by block, as a plugin would run it.

:func:`guneamp_lib.inference.predict` renders a whole recording at once. A plugin gets
the guitar in host blocks of a few dozen samples and must answer each block at once,
with the same number of samples. :class:`StreamingProcessor` does that, and its output
is the offline render delayed by a constant :attr:`~StreamingProcessor.latency`
(``tests/test_streaming.py`` checks every model, block size and option against
``predict`` to 1e-5).

What each stage keeps between blocks, so no sample is ever computed twice:

* the upsampler: the last few input samples (torchaudio's polyphase kernel, read off by
  resampling impulses, so the numbers are the offline ones);
* the network: every dilated layer's input history, primed at :meth:`~StreamingProcessor.reset`
  with the receptive field's worth of silence, as :func:`~guneamp_lib.inference.process`
  does (a hidden layer's response to silence is tanh(bias), not zero); an LSTM keeps
  its state ``(h, c)``;
* the downsampler: the last few network outputs;
* the cabinet: a direct-form head of :data:`PARTITION` taps for the current samples and
  an FFT of every past :data:`PARTITION`-sample block for the rest of the IR (uniformly
  partitioned convolution), which adds no latency at any host block size.

Where the latency comes from: the windowed-sinc resampler
(:data:`~guneamp_lib.oversampling.RESAMPLE_KW`) is not causal. Each upsampled frame needs
about 35 input samples after it and each downsampled sample about 35 input samples'
worth of network output after it, so with oversampling output ``n`` is final once
input ``n + 70`` is in: 70 samples, 1.6 ms at 44.1 kHz, at any factor
(:func:`stream_latency` reads it off the kernels). Without oversampling the latency is
0. The first ``latency`` samples out are silence.

Two engines compute the same numbers. ``"reference"`` runs the model's own PyTorch
modules in streaming mode (:class:`~guneamp_lib.models.CausalConv1d` keeps its history,
the LSTM its state) and direct convolutions: plainly right, and slow at small blocks,
where each PyTorch call costs more than its arithmetic. ``"fast"`` runs each block of
the network in one compiled call (:mod:`guneamp_lib.streaming_kernels`). ``"auto"``
picks the fast engine where it supports the model. Notebook 07 (inference) teaches the
offline path this module reproduces.
"""

from __future__ import annotations

import copy
import functools
import math
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from .activations import tanh
from .audio import NORMALIZE_EPS
from .errors import GuneampError, GuneampWarning
from .paths import atomic_output
from .models import CausalConv1d, SeedCNN, receptive_field

# Network samples per compiled call: a 32-channel activation of this length (256 KB)
# stays in the L2 cache; longer host blocks are cut into pieces of this size.
MAX_MODEL_BLOCK = 2048
# Room in each history buffer beyond the history itself: the buffer is compacted once
# per this many samples, instead of being shifted at every block.
COMPACT_SPAN = 4 * MAX_MODEL_BLOCK
# Extra columns per channel row of every work array. Rows a power-of-two bytes apart
# all fall into the same few L1 cache sets and evict each other; one cache line (16
# floats) more per row spreads them out (measured: the standard WaveNet runs 1.7x faster).
ROW_PAD = 16
# Cabinet partition: IR taps done directly per sample (the head) and the block length
# of the FFT part. One FFT per 256 samples keeps numpy's per-call cost small at a
# host block of 64, and 256 direct taps per sample stay cheap.
PARTITION = 256
# Blocks read from and written to files by render_streaming: large enough that file
# I/O is not the bottleneck, small enough to keep memory flat.
FILE_BLOCK = 1 << 16
# torchaudio's kernels are a few dozen taps wide; impulses this far apart never overlap.
_IMPULSE_SPAN = 256
# torchaudio's kernel ends where its Hann window reaches zero, which float32 computes as
# about 1e-24 instead: taps this small relative to the largest cannot change a float32
# sample, and keeping them would add 2 samples of latency.
NEGLIGIBLE_TAP = 1e-12
# Below this many samples per thread, starting threads costs more than it saves.
MIN_PARALLEL_PART = 1 << 15
ENGINES = ("auto", "fast", "reference")


# --------------------------------------------------------------------------- resampler kernels

@functools.lru_cache(maxsize=None)
def upsampler_taps(factor: int) -> tuple[np.ndarray, int]:
    """torchaudio's ``resample(x, 1, factor)`` as ``(kernel, first)``.

    Upsampled sample ``k * factor + p`` is ``sum_j kernel[p, j] * x[k + first + j]``.
    Read off by upsampling an impulse, so it is torchaudio's kernel to the last bit,
    less the :data:`NEGLIGIBLE_TAP` ends.
    """
    from .oversampling import oversample

    n = 2 * _IMPULSE_SPAN + 1
    x = torch.zeros(n)
    x[_IMPULSE_SPAN] = 1.0
    u = oversample(x, factor).numpy().reshape(n, factor)  # u[k, p]: frame k, phase p
    # frame k sees the impulse at offset SPAN - k, so reversing the frames orders the
    # kernel's columns by offset, from -SPAN to SPAN
    return _trim(np.ascontiguousarray(u[::-1].T, dtype=np.float32), -_IMPULSE_SPAN)


@functools.lru_cache(maxsize=None)
def downsampler_taps(factor: int) -> tuple[np.ndarray, int]:
    """torchaudio's ``resample(y, factor, 1)`` as ``(taps, first)``: ``out[i] = sum_j taps[j] * y[i * factor + first + j]``."""
    from .oversampling import downsample

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
    """File-rate samples by which the stream lags the offline render at this factor."""
    if oversample == 1:
        return 0
    up, up_first = upsampler_taps(oversample)
    down, down_first = downsampler_taps(oversample)
    up_ahead = up_first + up.shape[1] - 1  # input samples after a frame that it needs
    down_ahead = down_first + down.shape[1] - 1  # network samples after an output that it needs
    return up_ahead + math.ceil((down_ahead + 1) / oversample) - 1


# --------------------------------------------------------------------------- engines

def _kernels():
    """The compiled kernels, or ``None`` where numba is missing."""
    try:
        from . import streaming_kernels
    except ImportError:
        return None
    return streaming_kernels


def _as_block(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 2 and 1 in x.shape:
        x = x.reshape(-1)
    if x.ndim != 1:
        raise GuneampError(f"a block is one channel of samples (1-D), got shape {x.shape}")
    return np.ascontiguousarray(x)


class _FIRStream:
    """A streaming bank of FIR filters with a stride: torchaudio's resampler, causally.

    Output ``c`` (``rows`` values) is ``kernel @ x[c * stride + first : ... + ntaps]``,
    with ``x`` zero before sample 0. Samples arrive in pieces; each output is produced
    as soon as its last input is in, and inputs no output needs are dropped.
    """

    def __init__(self, kernel: np.ndarray, first: int, stride: int, max_in: int, fast: bool):
        self.kernel = np.ascontiguousarray(kernel, dtype=np.float32)
        self.rows, self.ntaps = self.kernel.shape
        self.first, self.stride = first, stride
        self.buf = np.zeros(self.ntaps + 2 * max_in + stride, dtype=np.float32)
        self.out = np.zeros(self.rows * (max_in // stride + 2), dtype=np.float32)
        self.k = _kernels() if fast else None
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


class _TorchModel:
    """Reference engine: the model's own modules, in streaming mode."""

    def __init__(self, model: torch.nn.Module):
        self.model = copy.deepcopy(model).float().cpu().eval()
        rf = receptive_field(self.model)
        self.recurrent = not math.isfinite(rf)
        if self.recurrent:
            if not hasattr(self.model, "forward_stateful"):
                raise GuneampError(f"{type(model).__name__} has no finite receptive field and no forward_stateful(x, state)")
        else:
            self.rf = int(rf)
            self.convs = [m for m in self.model.modules() if isinstance(m, CausalConv1d)]
            if not self.convs:
                raise GuneampError(f"{type(model).__name__} has no CausalConv1d layers to stream")
            for c in self.convs:
                c.streaming = True

    @torch.inference_mode()
    def reset(self) -> None:
        if self.recurrent:
            self.state = None
            return
        for c in self.convs:
            c.reset_state()
        if self.rf > 1:
            self.model(torch.zeros(1, 1, self.rf - 1))

    @torch.inference_mode()
    def push(self, u: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(u).view(1, 1, -1)
        if self.recurrent:
            y, self.state = self.model.forward_stateful(x, self.state)
        else:
            y = self.model(x)
        return y.reshape(-1).numpy()


def _f32(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().float().numpy())


class _FastSeedCNN:
    """Fast engine for :class:`~guneamp_lib.models.SeedCNN`: causal convolutions, tanh between."""

    def __init__(self, model: SeedCNN, k):
        self.k = k
        layers = list(model.layers)
        cmax = max(max(l.in_channels, l.out_channels) for l in layers)
        kmax = max(l.kernel_size[0] for l in layers)
        self.weights = np.zeros((len(layers), kmax, cmax, cmax), np.float32)
        self.biases = np.zeros((len(layers), cmax), np.float32)
        self.table = np.zeros((len(layers), 5), np.int64)
        for i, l in enumerate(layers):
            ks = l.kernel_size[0]
            self.weights[i, :ks, : l.out_channels, : l.in_channels] = _f32(l.weight.permute(2, 0, 1))
            self.biases[i, : l.out_channels] = _f32(l.bias)
            self.table[i] = (l.in_channels, l.out_channels, ks, l.dilation[0], l.left_pad)
        self.hist = int(self.table[:, k.CS_HISTORY].max())
        self.bufs = np.zeros((len(layers), cmax, self.hist + COMPACT_SPAN + ROW_PAD), np.float32)
        self.scratch = np.zeros((cmax, MAX_MODEL_BLOCK + ROW_PAD), np.float32)
        self.rf = model.receptive_field
        self.out = np.zeros(MAX_MODEL_BLOCK, np.float32)

    def reset(self) -> None:
        self.bufs[:] = 0.0
        self.pos = self.hist
        _prime(self, self.rf - 1)

    def push(self, u: np.ndarray) -> np.ndarray:
        out = self.out[: u.size]
        self.pos = self.k.conv_stack_block(u, out, self.pos, self.bufs, self.weights, self.biases, self.table,
                                           self.scratch)
        return out


class _FastWaveNet:
    """Fast engine for :class:`~guneamp_lib.wavenet.WaveNet` with plain (non-gated) tanh layers."""

    def __init__(self, model, k):
        self.k = k
        arrays = list(model.arrays)
        layers = [(a, l) for a in arrays for l in a.layers]
        cmax = max(max(a.rechannel.out_channels, a.rechannel.in_channels, a.head_rechannel.out_channels)
                   for a in arrays)
        kmax = max(l.conv.kernel_size[0] for _, l in layers)
        nl, na = len(layers), len(arrays)
        self.conv_w = np.zeros((nl, kmax, cmax, cmax), np.float32)
        self.conv_b = np.zeros((nl, cmax), np.float32)
        self.mix_w = np.zeros((nl, cmax), np.float32)
        self.res_w = np.zeros((nl, cmax, cmax), np.float32)
        self.res_b = np.zeros((nl, cmax), np.float32)
        self.layers = np.zeros((nl, 3), np.int64)
        for i, (_, l) in enumerate(layers):
            c, ks = l.channels, l.conv.kernel_size[0]
            self.conv_w[i, :ks, :c, :c] = _f32(l.conv.weight.permute(2, 0, 1))
            self.conv_b[i, :c] = _f32(l.conv.bias)
            self.mix_w[i, :c] = _f32(l.input_mixer.weight[:, 0, 0])
            self.res_w[i, :c, :c] = _f32(l.conv1x1.weight[:, :, 0])
            self.res_b[i, :c] = _f32(l.conv1x1.bias)
            self.layers[i] = (ks, l.conv.dilation[0], l.conv.left_pad)
        self.arrays = np.zeros((na, 5), np.int64)
        self.rech_w = np.zeros((na, cmax, cmax), np.float32)
        self.head_w = np.zeros((na, cmax, cmax), np.float32)
        self.head_b = np.zeros((na, cmax), np.float32)
        first = 0
        for i, a in enumerate(arrays):
            ch, cin = a.rechannel.out_channels, a.rechannel.in_channels
            hs = a.head_rechannel.out_channels
            self.arrays[i] = (first, len(a.layers), ch, cin, hs)
            first += len(a.layers)
            self.rech_w[i, :ch, :cin] = _f32(a.rechannel.weight[:, :, 0])
            self.head_w[i, :hs, :ch] = _f32(a.head_rechannel.weight[:, :, 0])
            if a.head_rechannel.bias is not None:
                self.head_b[i, :hs] = _f32(a.head_rechannel.bias)
        self.head_scale = float(model.head_scale)
        self.hist = int(self.layers[:, k.WL_HISTORY].max())
        self.bufs = np.zeros((nl, cmax, self.hist + COMPACT_SPAN + ROW_PAD), np.float32)
        self.scratch = np.zeros((4, cmax, MAX_MODEL_BLOCK + ROW_PAD), np.float32)
        self.rf = model.receptive_field
        self.out = np.zeros(MAX_MODEL_BLOCK, np.float32)

    @staticmethod
    def supports(model) -> bool:
        return all(not l.gated and l.activation is tanh for a in model.arrays for l in a.layers)

    def reset(self) -> None:
        self.bufs[:] = 0.0
        self.pos = self.hist
        _prime(self, self.rf - 1)

    def push(self, u: np.ndarray) -> np.ndarray:
        out = self.out[: u.size]
        self.pos = self.k.wavenet_block(u, out, self.pos, self.bufs, self.conv_w, self.conv_b, self.mix_w,
                                        self.res_w, self.res_b, self.layers, self.arrays, self.rech_w,
                                        self.head_w, self.head_b, self.head_scale, self.scratch)
        return out


class _FastLSTM:
    """Fast engine for :class:`~guneamp_lib.lstm.LSTMModel`."""

    def __init__(self, model, k):
        self.k = k
        lstm = model.lstm
        self.w_ih = _f32(lstm.weight_ih_l0[:, 0])
        self.w_hh_t = np.ascontiguousarray(_f32(lstm.weight_hh_l0).T)  # (hidden, 4 hidden): one column per h_j
        self.bias = _f32(lstm.bias_ih_l0 + lstm.bias_hh_l0)
        self.head_w = _f32(model.head.weight[0])
        self.head_b = float(model.head.bias.detach()[0])
        hidden = lstm.hidden_size
        self.h = np.zeros(hidden, np.float32)
        self.c = np.zeros(hidden, np.float32)
        self.gates = np.zeros(4 * hidden, np.float32)
        self.out = np.zeros(MAX_MODEL_BLOCK, np.float32)

    @staticmethod
    def supports(model) -> bool:
        lstm = model.lstm
        return lstm.num_layers == 1 and not lstm.bidirectional and lstm.bias and lstm.proj_size == 0

    def reset(self) -> None:
        self.h[:] = 0.0
        self.c[:] = 0.0

    def push(self, u: np.ndarray) -> np.ndarray:
        out = self.out[: u.size]
        self.k.lstm_block(u, out, self.w_ih, self.w_hh_t, self.bias, self.head_w, self.head_b, self.h, self.c,
                          self.gates)
        return out


def _prime(stream, n: int) -> None:
    """Run ``n`` samples of silence through a freshly zeroed stream, as ``process`` does before a signal."""
    zeros = np.zeros(MAX_MODEL_BLOCK, np.float32)
    while n > 0:
        m = min(n, MAX_MODEL_BLOCK)
        stream.push(zeros[:m])
        n -= m


def _fast_model(model: torch.nn.Module, k):
    """The fast engine for ``model``, or ``None`` where it has none."""
    from .lstm import LSTMModel
    from .wavenet import WaveNet

    if k is None:
        return None
    if type(model) is SeedCNN:
        return _FastSeedCNN(model, k)
    if type(model) is WaveNet and _FastWaveNet.supports(model):
        return _FastWaveNet(model, k)
    if type(model) is LSTMModel and _FastLSTM.supports(model):
        return _FastLSTM(model, k)
    return None


# --------------------------------------------------------------------------- cabinet

class _DirectCabinet:
    """Reference engine: the IR applied directly (float64), keeping its length minus one of input."""

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
        self.k = _kernels() if fast else None
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


# --------------------------------------------------------------------------- the processor

class StreamingProcessor:
    """A model (with its oversampling and cabinet) as a block-by-block real-time process.

    ``process_block(x)`` takes a block of any length at the file rate and returns as
    many samples. The output is the offline render
    (:func:`guneamp_lib.inference.predict`) delayed by :attr:`latency` samples: output
    sample ``n`` equals offline sample ``n - latency``, and the first ``latency``
    samples are silence. The latency is 0 without oversampling and :func:`stream_latency`
    samples with it (70 at any factor from 2 to 16, 1.6 ms at 44.1 kHz): the resampling
    filters look about 35 samples ahead on the way up and 35 on the way down (see the
    module docstring). The
    cabinet adds none. :meth:`flush` ends a stream: it returns the last ``latency`` samples of the
    offline render, as if the input were followed by silence the way ``predict`` pads it.

    ``engine``: ``"fast"`` (compiled kernels; SeedCNN, tanh WaveNets and the LSTM),
    ``"reference"`` (the model's PyTorch modules) or ``"auto"`` (fast where possible).
    The model is copied; the original is not touched.
    """

    def __init__(self, model: torch.nn.Module, oversample: int = 1, ir=None, *, engine: str = "auto"):
        if engine not in ENGINES:
            raise GuneampError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
        if int(oversample) != oversample or oversample < 1:
            raise GuneampError(f"the oversampling factor must be a positive integer, got {oversample!r}")
        self.oversample = F = int(oversample)
        k = _kernels() if engine != "reference" else None
        stream = _fast_model(model, k) if engine != "reference" else None
        if stream is None:
            if engine == "fast":
                why = "numba is not installed" if k is None else f"it does not cover {type(model).__name__} as configured"
                raise GuneampError(f"the fast engine is not available: {why}. Use engine='reference' or 'auto'.")
            stream = _TorchModel(model)
        self.engine = "reference" if isinstance(stream, _TorchModel) else "fast"
        fast = self.engine == "fast"
        self._model = stream
        self._chunk = max(1, MAX_MODEL_BLOCK // F)  # file-rate samples per pass through the network
        self._up = self._down = None
        if F > 1:
            up, up_first = upsampler_taps(F)
            down, down_first = downsampler_taps(F)
            self._up = _FIRStream(up, up_first, 1, self._chunk, fast)
            self._down = _FIRStream(down, down_first, F, self._chunk * F, fast)
        self._cab = None
        if ir is not None:
            ir = ir.detach().cpu().numpy() if isinstance(ir, torch.Tensor) else np.asarray(ir)
            if ir.ndim != 1:
                raise GuneampError(f"the impulse response must be 1-D, got shape {ir.shape}")
            self._cab = PartitionedConvolver(ir, fast=fast) if fast else _DirectCabinet(ir)
        self._latency = stream_latency(F)
        self.reset()

    @classmethod
    def from_checkpoint(cls, ckpt, *, ir="checkpoint", engine: str = "auto") -> "StreamingProcessor":
        """A processor for a :class:`~guneamp_lib.checkpoints.Checkpoint` (or a path to one).

        ``ir="checkpoint"`` uses the cabinet IR stored with the model, ``None`` none, an
        array that IR.
        """
        if isinstance(ckpt, (str, os.PathLike)):
            from .checkpoints import load_checkpoint

            ckpt = load_checkpoint(ckpt)
        if isinstance(ir, str) and ir == "checkpoint":
            ir = ckpt.ir
        return cls(ckpt.model, ckpt.oversample, ir, engine=engine)

    @property
    def latency(self) -> int:
        """Samples (at the file rate) between an input sample and its output: constant."""
        return self._latency

    def reset(self) -> None:
        """Start again as after silence: every history is the response to silence."""
        self._model.reset()
        for stage in (self._up, self._down, self._cab):
            if stage is not None:
                stage.reset()
        self._n_in = 0
        self._frames = 0
        self._end = None  # frame at which the input stopped, once flush() has begun

    def process_block(self, x, out: np.ndarray | None = None) -> np.ndarray:
        """Process one host block (any length); returns the same number of samples (float32)."""
        x = _as_block(x)
        if out is None:
            out = np.empty(x.size, np.float32)
        for s in range(0, x.size, self._chunk):
            self._run(x[s : s + self._chunk], out[s : s + self._chunk])
        return out

    def flush(self) -> np.ndarray:
        """End the stream: the offline render's last :attr:`latency` samples; then :meth:`reset`."""
        self._end = self._n_in
        out = self.process_block(np.zeros(self._latency, np.float32))
        self.reset()
        return out

    def _run(self, x: np.ndarray, out: np.ndarray) -> None:
        self._n_in += x.size
        if self._up is not None:
            u = self._up.push(x)
            y = self._model.push(u) if u.size else u
            if self._end is not None:
                # predict() stops the network at the input's end and the downsampler sees
                # zeros after it, not the network's answer to the padding.
                y = y.copy()
                y[max(0, (self._end - self._frames) * self.oversample) :] = 0.0
            self._frames += u.size // self.oversample
            d = self._down.push(y)
        else:
            d = self._model.push(x)
        if self._cab is not None and d.size:
            d = self._cab.push(d)
        lead = x.size - d.size
        out[:lead] = 0.0
        out[lead:] = d


def process_compiled(model: torch.nn.Module, x, workers: int = 1) -> torch.Tensor:
    """:func:`guneamp_lib.inference.process` through the fast engine (same numbers to 1e-5).

    One causal pass from silence in pieces of :data:`MAX_MODEL_BLOCK` samples, each
    continuing the last one's histories: no chunk overlap to recompute. With
    ``workers > 1`` and a finite receptive field, the signal is cut into that many parts
    run on parallel threads (the kernels release the GIL); each part first hears the
    receptive field's worth of input before it, so the joins leave no trace. Raises
    :class:`GuneampError` where the fast engine does not cover the model.
    """
    x = _as_block(x)
    rf = getattr(model, "receptive_field", math.inf)
    if workers <= 1 or not math.isfinite(rf) or x.size < workers * MIN_PARALLEL_PART:
        return torch.from_numpy(StreamingProcessor(model, 1, engine="fast").process_block(x))
    from concurrent.futures import ThreadPoolExecutor

    ctx = int(rf) - 1
    bounds = np.linspace(0, x.size, workers + 1).astype(int)
    out = np.empty(x.size, np.float32)

    def run(i: int) -> None:
        a, b = bounds[i], bounds[i + 1]
        proc = StreamingProcessor(model, 1, engine="fast")
        if a > 0:
            proc.process_block(x[max(a - ctx, 0) : a])  # fill every history with the real past
        proc.process_block(x[a:b], out[a:b])

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(run, range(workers)))
    return torch.from_numpy(out)


# --------------------------------------------------------------------------- files

def _read_peak(path: Path) -> tuple[float, int, int, int]:
    """First pass: the input's peak (after mixing to mono), rate, length and channels, block by block."""
    import soundfile as sf

    peak, n = 0.0, 0
    with sf.SoundFile(str(path)) as f:
        sr, channels = f.samplerate, f.channels
        for block in f.blocks(blocksize=FILE_BLOCK, dtype="float32", always_2d=True):
            mono = block[:, 0] if channels == 1 else block.mean(axis=1)
            bad = ~np.isfinite(mono)
            if bad.any():
                first = n + int(np.flatnonzero(bad)[0])
                raise GuneampError(
                    f"{path} contains NaN or infinite samples (first at {first / sr:.3f} s). "
                    "Export the file again from your recorder or editor."
                )
            peak = max(peak, float(np.max(np.abs(mono))) if mono.size else 0.0)
            n += mono.size
    return peak, sr, n, channels


def _open_input(path: Path):
    import soundfile as sf

    from .audio import _check_wav_header

    if not path.exists():
        raise GuneampError(f"input file not found: {path}. Check the path.")
    if path.is_dir():
        raise GuneampError(f"input path {path} is a folder; give an audio file.")
    _check_wav_header(path)
    try:
        info = sf.info(str(path))
    except Exception as exc:
        raise GuneampError(f"{path} is not a readable audio file ({exc.__class__.__name__}). Give a WAV, FLAC or OGG file.") from None
    if info.frames == 0:
        raise GuneampError(f"{path} holds no audio samples. Export it again.")
    return info


def render_streaming(
    checkpoint,
    input_path,
    output_path,
    block_size: int = 64,
    *,
    ir_path=None,
    use_ir: bool = True,
    gain_db: float = 0.0,
    engine: str = "auto",
    progress: bool = True,
) -> Path:
    """Render a DI file through a model block by block, with memory that does not grow with the file.

    The same result as :func:`guneamp_lib.inference.render_file` (to 1e-5), and the
    same checks, computed the way a plugin would: ``block_size`` samples at a time
    through a :class:`StreamingProcessor`. The input is read twice: once for its peak
    (the design drives the model with the peak-normalized DI), once to process it. The
    output is written un-normalized as 32-bit float to a temporary file next to
    ``output_path``, and its peak tracked; a last pass rescales that file in place and
    renames it over ``output_path``. Float WAV keeps every sample exactly, so rescaling
    afterwards equals normalizing in memory, and it costs a read and a write instead of a
    second run of the network. The latency is compensated: the first ``latency``
    outputs are dropped and :meth:`StreamingProcessor.flush` supplies the end, so the
    output lines up with the input sample for sample.
    """
    import soundfile as sf
    from tqdm.auto import tqdm

    from .audio import _same_file, _zero_peak_timestamp
    from .cabinet import load_ir
    from .checkpoints import load_checkpoint

    block_size = int(block_size)
    if block_size < 1:
        raise GuneampError(f"the block size must be at least 1 sample, got {block_size}")
    input_path, output_path = Path(input_path), Path(output_path)
    protect = [input_path] + ([Path(ir_path)] if ir_path else [])
    for p in protect:
        if output_path.resolve() == p.resolve() or _same_file(output_path, p):
            raise GuneampError(f"refusing to write {output_path}: it is one of the input files. Choose another output path.")
    ckpt = load_checkpoint(checkpoint)
    _open_input(input_path)
    peak, sr, n, channels = _read_peak(input_path)
    if sr != ckpt.sample_rate:
        raise GuneampError(
            f"{input_path} is at {sr} Hz but the model was trained at {ckpt.sample_rate} Hz. "
            f"Resample the file to {ckpt.sample_rate} Hz first (e.g. `sox in.wav -r {ckpt.sample_rate} out.wav`)."
        )
    min_len = int(math.ceil(ckpt.min_input_samples))
    if n < min_len:
        raise GuneampError(f"{input_path} is {n} samples long; the model needs at least {min_len}.")
    if channels > 1:
        warnings.warn(f"{input_path} has {channels} channels; mixing them to mono (the model takes one channel).",
                      GuneampWarning, stacklevel=2)
    if peak < 1e-6:
        warnings.warn(f"{input_path} is silent (peak {20 * np.log10(max(peak, 1e-12)):.0f} dBFS).", GuneampWarning,
                      stacklevel=2)
    ir = None
    if use_ir:
        ir = load_ir(ir_path, sr) if ir_path else ckpt.ir
        if ir is not None and ir.numel() > n:
            raise GuneampError(
                f"the cabinet IR ({ir.numel()} samples) is longer than {input_path} ({n} samples). "
                "Render a longer file, trim the IR, or pass --no-ir."
            )
    proc = StreamingProcessor(ckpt.model, ckpt.oversample, ir, engine=engine)
    # The same arithmetic as render_file: peak-normalize in float32, then the drive.
    norm = np.float32(peak + NORMALIZE_EPS)
    drive = np.float32(10.0 ** (gain_db / 20.0))

    with atomic_output(output_path) as tmp:
        out_peak = 0.0
        skip = proc.latency
        bar = tqdm(total=n, desc="streaming render", unit="sample", unit_scale=True, disable=not progress, leave=False)
        with sf.SoundFile(str(input_path)) as fin, sf.SoundFile(str(tmp), "w", samplerate=sr, channels=1, subtype="FLOAT",
                                                              format="WAV") as fout:
            def emit(y):
                nonlocal out_peak
                if not np.all(np.isfinite(y)):
                    raise GuneampError(f"refusing to write {output_path}: the model produced NaN or infinite samples.")
                if y.size:
                    out_peak = max(out_peak, float(np.max(np.abs(y))))
                    fout.write(y)

            for block in fin.blocks(blocksize=block_size, dtype="float32", always_2d=True):
                x = block[:, 0] if channels == 1 else block.mean(axis=1)
                y = proc.process_block((x / norm) * drive)
                cut = min(skip, y.size)
                skip -= cut
                emit(y[cut:])
                bar.update(x.size)
            emit(proc.flush()[skip:])
        bar.close()
        scale = np.float32(out_peak + NORMALIZE_EPS)
        with sf.SoundFile(str(tmp), "r+") as f:
            for start in range(0, f.frames, FILE_BLOCK):
                f.seek(start)
                y = f.read(FILE_BLOCK, dtype="float32")
                f.seek(start)
                f.write(y / scale)
        _zero_peak_timestamp(tmp)
    return output_path
