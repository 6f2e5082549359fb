"""The networks behind the streaming processor: a torch reference and compiled engines (notebook 07).

Each engine takes a block of network-rate samples and returns the same number of
outputs, carrying its own history between calls. :class:`TorchEngine` runs the torch
module itself in streaming mode (the reference, any model); the ``_Fast*`` engines run
the compiled kernels of :mod:`guneamp_lib.render.kernels` on float32 copies of the
weights, with the history in ring buffers that are compacted once per
:data:`COMPACT_SPAN` samples. Every engine takes a knob model's knobs the same way
(:class:`~guneamp_lib.render.knob_input.KnobInput`: ``set_knob_vector``, glided per
sample, folded into biases by the compiled engines).
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch

from ..errors import GuneampError
from ..models import CausalConv1d, LSTMModel, SeedCNN, WaveNet, receptive_field
from ..models.nam_lstm import NamLSTM
from ..models.nam_wavenet import NamWaveNet
from .buffers import COMPACT_SPAN, MAX_MODEL_BLOCK, ROW_PAD, prime
from .knob_input import GLIDE_COUNTS, KnobInput
from .nam_engines import FastNamWaveNet
from .nam_program import FastNamProgram


class TorchEngine(KnobInput):
    """Reference engine: the model's own modules, in streaming mode.

    Notebook: 07
    """

    def __init__(self, model: torch.nn.Module, oversample: int = 1):
        self.model = copy.deepcopy(model).float().cpu().eval()
        self.init_knobs(self.model.num_knobs, oversample)
        # The model reads the current knobs through this view of the same memory; a glide,
        # through this track (K, block) of them sample by sample.
        self._knobs_t = torch.from_numpy(self.knob_now).view(1, -1) if self.num_knobs else None
        self._track = np.zeros((self.num_knobs, MAX_MODEL_BLOCK), np.float32)
        self.out = np.zeros(MAX_MODEL_BLOCK, np.float32)
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

    def _apply_knobs(self) -> None:
        pass  # self._knobs_t shares knob_now's memory

    def _run(self, x: torch.Tensor, knobs: torch.Tensor | None, *state):
        if knobs is None:  # a snapshot model's forward takes no knobs argument
            return self.model.forward_stateful(x, *state) if state else self.model(x)
        if state:
            return self.model.forward_stateful(x, *state, knobs=knobs)
        return self.model(x, knobs=knobs)

    @torch.inference_mode()
    def reset(self) -> None:
        self.snap_knobs()
        if self.recurrent:
            self.state = None
            return
        for c in self.convs:
            c.reset_state()
        if self.rf > 1:
            self._run(torch.zeros(1, 1, self.rf - 1), self._knobs_t)

    @torch.inference_mode()
    def _push(self, u: np.ndarray, out: np.ndarray, knobs: torch.Tensor | None = None) -> None:
        x = torch.from_numpy(u).view(1, 1, -1)
        knobs = self._knobs_t if knobs is None else knobs
        if self.recurrent:
            y, self.state = self._run(x, knobs, self.state)
        else:
            y = self._run(x, knobs)
        out[:] = y.reshape(-1).numpy()

    def _glide(self, u: np.ndarray, out: np.ndarray, last: bool) -> None:
        track = self._track[:, : u.size]
        np.multiply(self._knob_delta[:, None], GLIDE_COUNTS[None, : u.size], out=track)
        track += self.knob_now[:, None]
        self._push(u, out, torch.from_numpy(track)[None])
        self._advance(u.size, last)


def f32(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().float().numpy())


class _RingEngine(KnobInput):
    """What the compiled convolutional engines share: history in ring buffers, primed with silence."""

    def reset(self) -> None:
        self.snap_knobs()
        self.bufs[:] = 0.0
        self.pos = self.hist
        prime(self, self.rf - 1)


class FastSeedCNN(_RingEngine):
    """Fast engine for :class:`~guneamp_lib.models.SeedCNN`: causal convolutions, tanh between.

    Notebook: 07
    """

    def __init__(self, model: SeedCNN, k, oversample: int = 1):
        self.k = k
        self.init_knobs(0)
        layers = list(model.layers)
        cmax = max(max(l.in_channels, l.out_channels) for l in layers)
        kmax = max(l.kernel_size[0] for l in layers)
        self.weights = np.zeros((len(layers), kmax, cmax, cmax), np.float32)
        self.biases = np.zeros((len(layers), cmax), np.float32)
        self.table = np.zeros((len(layers), 5), np.int64)
        for i, l in enumerate(layers):
            ks = l.kernel_size[0]
            self.weights[i, :ks, : l.out_channels, : l.in_channels] = f32(l.weight.permute(2, 0, 1))
            self.biases[i, : l.out_channels] = f32(l.bias)
            self.table[i] = (l.in_channels, l.out_channels, ks, l.dilation[0], l.left_pad)
        self.hist = int(self.table[:, k.CS_HISTORY].max())
        self.bufs = np.zeros((len(layers), cmax, self.hist + COMPACT_SPAN + ROW_PAD), np.float32)
        self.scratch = np.zeros((cmax, MAX_MODEL_BLOCK + ROW_PAD), np.float32)
        self.rf = model.receptive_field
        self.out = np.zeros(MAX_MODEL_BLOCK, np.float32)

    def _push(self, u: np.ndarray, out: np.ndarray) -> None:
        self.pos = self.k.conv_stack_block(u, out, self.pos, self.bufs, self.weights, self.biases, self.table,
                                           self.scratch)


class FastWaveNet(_RingEngine):
    """Fast engine for :class:`~guneamp_lib.models.wavenet.WaveNet` with plain (non-gated) tanh layers.

    Notebook: 07
    """

    def __init__(self, model, k, oversample: int = 1):
        from . import wavenet_kernels as wk  # numba is there: k is the kernels module

        self.k, self._block = k, wk.wavenet_block
        self.init_knobs(model.num_knobs, oversample)
        arrays = model.stream_weights()
        layers = [l for a in arrays for l in a["layers"]]
        cmax = max(max(a["rechannel"].shape[0], a["rechannel"].shape[1], a["head"].shape[0]) for a in arrays)
        kmax = max(l["conv"].shape[2] for l in layers)
        nl, na = len(layers), len(arrays)
        conv_w = np.zeros((nl, kmax, cmax, cmax), np.float32)
        conv_b = np.zeros((nl, cmax), np.float32)
        mix_w = np.zeros((nl, cmax), np.float32)
        res_w = np.zeros((nl, cmax, cmax), np.float32)
        res_b = np.zeros((nl, cmax), np.float32)
        self.layers = np.zeros((nl, 3), np.int64)
        # A knob model: the mixer's knob columns, (layer, channel) rows by knob, and the
        # conv biases without them; conv_b = base + knob_w @ knobs (module docstring of knob_input).
        self.knob_w = np.zeros((nl * cmax, self.num_knobs), np.float32)
        for i, l in enumerate(layers):
            c, ks, d = l["res"].shape[0], l["conv"].shape[2], l["dilation"]
            conv_w[i, :ks, :c, :c] = f32(l["conv"].permute(2, 0, 1))
            conv_b[i, :c] = f32(l["conv_bias"])
            self.knob_w[i * cmax : i * cmax + c] = f32(l["knob_mixer"])
            mix_w[i, :c] = f32(l["mixer"])
            res_w[i, :c, :c] = f32(l["res"])
            res_b[i, :c] = f32(l["res_bias"])
            self.layers[i] = (ks, d, d * (ks - 1))
        self.arrays = np.zeros((na, 5), np.int64)
        rech_w = np.zeros((na, cmax, cmax), np.float32)
        head_w = np.zeros((na, cmax, cmax), np.float32)
        head_b = np.zeros((na, cmax), np.float32)
        first = 0
        for i, a in enumerate(arrays):
            (ch, cin), hs = a["rechannel"].shape, a["head"].shape[0]
            self.arrays[i] = (first, len(a["layers"]), ch, cin, hs)
            first += len(a["layers"])
            rech_w[i, :ch, :cin] = f32(a["rechannel"])
            head_w[i, :hs, :ch] = f32(a["head"])
            if a["head_bias"] is not None:
                head_b[i, :hs] = f32(a["head_bias"])
        self.head_scale = float(model.head_scale)
        self.hist = int(self.layers[:, wk.WL_HISTORY].max())
        self.bufs = np.zeros((nl, cmax, self.hist + COMPACT_SPAN + ROW_PAD), np.float32)
        # four work areas and a fifth of zeros (the kernels' bias when there is none)
        self.scratch = np.zeros((5, cmax, MAX_MODEL_BLOCK + ROW_PAD), np.float32)
        self.rf = model.receptive_field
        self.out = np.zeros(MAX_MODEL_BLOCK, np.float32)
        # What the knobs move, folded at once: conv_b = base + knob_w @ knobs, and with FiLM
        # also each channel's scale = 1 + film @ knobs, stacked under it. The kernel runs
        # the convolution without its bias then, and the scaled bias is affine in the knobs
        # too: scale * b + mixer @ k = b + (b * film + mixer) @ k.
        size = nl * cmax
        base, fold_w = conv_b.reshape(-1), self.knob_w
        if getattr(model, "film", False):
            film_w = np.zeros((size, self.num_knobs), np.float32)
            for i, l in enumerate(layers):
                film_w[i * cmax : i * cmax + l["res"].shape[0]] = f32(l["film"])
            fold_w = np.vstack([self.knob_w + base[:, None] * film_w, film_w])
            base = np.concatenate([base, np.ones(size, np.float32)])
        self._fold_base, self._fold_w = base, np.ascontiguousarray(fold_w)
        # The kernel takes every weight in one flat array, in wavenet_block's order; the
        # biases (with FiLM the scales after them) and their move per sample while a knob
        # glides come last, and stay views the knob kernels write into.
        parts = [conv_w, mix_w, res_w, res_b, rech_w, head_w, head_b]
        self.wf = np.concatenate([a.reshape(-1) for a in parts] + [base, np.zeros(base.size, np.float32)])
        at = self.wf.size - 2 * base.size
        self.conv_b, self._ramp_b = self.wf[at : at + base.size], self.wf[at + base.size :]
        self._bf, self._sf = self.bufs.reshape(-1), self.scratch.reshape(-1)
        self._cmax, self._bst, self._kmax = cmax, self.bufs.shape[2], kmax

    @staticmethod
    def supports(model) -> bool:
        return all(not lc["gated"] and lc["activation"] == "Tanh" for lc in model.config["layers"])

    def _apply_knobs(self) -> None:
        self.k.fold_knobs(self._fold_base, self._fold_w, self.knob_now, self.conv_b)

    def _retarget(self, vector: np.ndarray, inv_ramp: float) -> bool:
        return self.k.knob_retarget(vector, self.knob_target, self.knob_now, self._knob_delta, inv_ramp, self._fold_w,
                                    self._ramp_b)

    def _push(self, u: np.ndarray, out: np.ndarray, ramp: bool = False) -> None:
        self.pos = self._block(u, out, self.pos, self._bf, self._cmax, self._bst, self._kmax, self.wf,
                               self.layers, self.arrays, self.head_scale, self._sf, ramp)

    def _glide(self, u: np.ndarray, out: np.ndarray, last: bool) -> None:
        # the whole block in one call, the biases moving per sample inside (wavenet_block's ramp)
        self._push(u, out, True)
        self.k.knob_advance(self.knob_now, self._knob_delta, self.knob_target, u.size, last, self._fold_base,
                            self._fold_w, self.conv_b)


class FastLSTM(KnobInput):
    """Fast engine for :class:`~guneamp_lib.models.lstm.LSTMModel` and for NAM's LSTM as read from
    a ``.nam`` file (:class:`~guneamp_lib.models.nam_lstm.NamLSTM`: stacked layers, no skip,
    a stored start state).

    Notebook: 07
    """

    def __init__(self, model, k, oversample: int = 1):
        from . import lstm_kernels as lk  # numba is there: k is the kernels module

        self.init_knobs(model.num_knobs, oversample)
        lstm = model.lstm
        layers, hidden = lstm.num_layers, lstm.hidden_size
        # the kernel sums 16 inputs (or 8, for narrow layers) as a tree: other layers are
        # padded with units whose weights are zero (they stay at zero). A NAM-written 2 x 6
        # LSTM padded to 16 took 1.98 times NAM core's time on AVX2.
        width = lk.NARROW if hidden <= lk.NARROW else max(hidden, lk.WIDTH)
        self._block = lk.lstm_kernel(width, layers)
        K = self.num_knobs
        self._glide_k = lk.lstm_glide_kernel(width, K, layers) if K else None
        self._retarget_tail = lk.glide_retarget(width, K) if K else None
        where = lk.lstm_layout(layers, width)
        # a knob model's glide state after the kernel's parameters (lstm_glide_kernel)
        glide = lk.glide_size(width, K) if K else 0
        self.params = np.zeros(sum(size for _, size in where.values()) + glide, np.float32)
        # sigmoid(v) = 0.5 tanh(v / 2) + 0.5: the i, f and o rows are scaled by 0.5 here
        # (exact in floating point), so the kernels compute act * tanh(gate) + offset
        scale, shift = np.full((4, width), 0.5, np.float32), np.full((4, width), 0.5, np.float32)
        scale[2], shift[2] = 1.0, 0.0

        order, rows = lk.gate_order(width), lk.gate_count(width)

        def padded(v):
            """Zero gate rows after the real ones, up to whole vector registers (lk.GATE_PAD)."""
            return np.concatenate([v, np.zeros((rows - v.shape[0], *v.shape[1:]), np.float32)])

        def gate_rows(w):
            """``(4 * hidden, ...)`` in PyTorch's gate order -> ``(rows, ...)``, scaled, padded
            and in the kernel's order."""
            w = w.reshape(4, hidden, *w.shape[1:])
            out = np.zeros((4, width, *w.shape[2:]), np.float32)
            out[:, :hidden] = w * scale[:, :hidden].reshape(4, hidden, *[1] * (w.ndim - 2))
            return padded(out.reshape(4 * width, *w.shape[2:])[order])

        def transposed(w):
            """``(4 * hidden, hidden)`` -> ``(width, rows)``: one row per input."""
            out = np.zeros((width, rows), np.float32)
            out[:hidden] = gate_rows(w).T
            return out

        def put(name, values):
            start, size = where[name]
            self.params[start : start + size] = np.concatenate([np.ravel(v) for v in values])

        def weight(name, l):
            return f32(getattr(lstm, f"{name}_l{l}"))

        put("w_in", [gate_rows(weight("weight_ih", 0)[:, 0])])
        put("bias", [gate_rows(weight("bias_ih", l) + weight("bias_hh", l)) for l in range(layers)])
        # A knob model: the input weights' knob columns add a gate bias, W_k @ knobs, to layer 0.
        start, _ = where["bias"]
        self._bias0 = self.params[start : start + rows]  # a view: _apply_knobs writes through it
        # The knobs' now, delta and target, the bias without knobs and the knob weights: views of
        # the parameter array's tail, so one compiled call glides a whole block (lstm_glide_kernel).
        tail = self.params[self.params.size - glide :]
        for i, name in enumerate(("knob_now", "_knob_delta", "knob_target")):
            tail[i * K : (i + 1) * K] = getattr(self, name)
            setattr(self, name, tail[i * K : (i + 1) * K])
        self._bias0_base = tail[3 * K : 3 * K + rows] if K else self._bias0.copy()
        self._bias0_base[:] = self._bias0
        self._knob_w = tail[3 * K + rows : 3 * K + rows + rows * K].reshape(rows, K)
        self._knob_w[:] = gate_rows(weight("weight_ih", 0)[:, 1:])
        self._fold = k.fold_knobs
        put("act", [padded(scale.ravel()[order]), padded(shift.ravel()[order])])
        skip = 0.0 if isinstance(model, NamLSTM) else 1.0
        head = np.zeros(width, np.float32)
        head[:hidden] = f32(model.head.weight[0])
        put("head", [head, f32(model.head.bias), np.float32([skip])])
        put("w_hh", [transposed(weight("weight_hh", l)) for l in range(layers)])
        if layers > 1:
            put("w_ih", [transposed(weight("weight_ih", l)) for l in range(1, layers)])
        # rows h_0, c_0, h_1, c_1, ...
        self.state = np.zeros((2 * layers, width), np.float32)
        self._state_flat = self.state.reshape(-1)  # the same memory
        self.gates = np.zeros(rows, np.float32)
        self.start = np.zeros((2 * layers, width), np.float32)
        if isinstance(model, NamLSTM):
            self.start[0::2, :hidden] = f32(model.initial_hidden)
            self.start[1::2, :hidden] = f32(model.initial_cell)
        self.out = np.zeros(MAX_MODEL_BLOCK, np.float32)

    @staticmethod
    def supports(model) -> bool:
        lstm = model.lstm
        return (lstm.input_size == 1 + model.num_knobs and not lstm.bidirectional and lstm.bias
                and lstm.proj_size == 0)

    def reset(self) -> None:
        self.snap_knobs()
        self.state[:] = self.start

    def _apply_knobs(self) -> None:
        self._fold(self._bias0_base, self._knob_w, self.knob_now, self._bias0)

    def set_knob_vector(self, vector: np.ndarray) -> None:
        # KnobInput's, in one compiled call on the parameter array's tail (lstm_glide_kernel)
        if self._glide_k is not None and self._retarget_tail(vector, self.params, 1.0 / self._knob_ramp):
            self._knob_left = self._knob_ramp

    def push(self, u: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        out = self.out[: u.size] if out is None else out
        if not self._knob_left:
            self._block(u, out, self.params, self._state_flat, self.gates)
        else:  # KnobInput.push's per-sample glide, in one compiled call (lstm_glide_kernel)
            self._knob_left = self._glide_k(u, out, self.params, self._state_flat, self.gates, self._knob_left)
        return out

    def _push(self, u: np.ndarray, out: np.ndarray) -> None:
        self._block(u, out, self.params, self._state_flat, self.gates)


def fast_engine(model: torch.nn.Module, k, oversample: int = 1):
    """The fast engine for ``model`` (running at ``oversample`` times the file rate), or ``None``.

    Notebook: 07
    """
    if k is None:
        return None
    if type(model) is SeedCNN:
        return FastSeedCNN(model, k, oversample)
    if type(model) is WaveNet and FastWaveNet.supports(model):
        return FastWaveNet(model, k, oversample)
    if type(model) in (LSTMModel, NamLSTM) and FastLSTM.supports(model):
        return FastLSTM(model, k, oversample)
    if type(model) is NamWaveNet and FastNamWaveNet.supports(model):
        return FastNamWaveNet(model, k)
    if FastNamProgram.supports(model):  # everything else NAM core plays: never torch
        return FastNamProgram(model, k, FastLSTM)
    return None
