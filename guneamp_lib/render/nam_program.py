"""The compiled engine for every ``.nam`` network NAM core plays that the fixed kernels do not (notebook 07).

:class:`~guneamp_lib.render.nam_engines.FastNamWaveNet` is the fast path for the WaveNets
NAM's trainer writes. Everything else NAM core plays runs here, compiled, never on
torch: a WaveNet with FiLM, grouped convolutions, a per-channel PReLU, a post-stack head
or a condition DSP (itself a WaveNet, ConvNet or Linear model, or an LSTM, which runs on
the LSTM engine before each block and feeds the program its output), and NAM's ConvNet
and Linear models themselves. :class:`NamProgram` writes the model once, at load, as a list
of operations on rows of one memory (:mod:`~guneamp_lib.render.nam_ops`), following
the torch model's ``forward`` step for step: the same products, activations and FiLMs
in the same order, so the two agree to float32 rounding
(``tests/test_nam_engines.py``). :class:`FastNamProgram` streams it.

A layer of :class:`~guneamp_lib.models.nam_wavenet.NamWaveNet`, as operations (``R``
the layer's input history, ``Z`` its pre-activation, ``C`` the condition rows)::

    R <- input (filmed by conv_pre_film if on)   Z <- conv(R) + bias (then FiLM)
    Z += mixer(C) (FiLMs before and after)       Z <- act / gated / blended (FiLMs)
    head += head1x1(Z) (FiLM) or Z               next R <- input + layer1x1(Z) (FiLM)
"""

from __future__ import annotations

import numpy as np
import torch

from ..models.nam_convnet import NamConvNet, NamLinear
from ..models.nam_lstm import NamLSTM
from ..models.nam_wavenet import NamWaveNet
from .buffers import COMPACT_SPAN, MAX_MODEL_BLOCK, ROW_PAD, prime
from .knob_input import KnobInput
from .nam_table import (
    C_B, C_CIN, C_DIL, C_DST, C_FLAG, C_OP, C_ROWS, C_SRC, C_SRC2, C_TAPS, C_W, COLUMNS, OP_ACT, OP_ADD, OP_AFFINE,
    OP_BLEND, OP_CONV, OP_COPY, OP_FILM, OP_INPUT, OP_MUL, OP_OUTPUT, OP_SCALE, OP_SUM, OP_ZERO,
)

DEFAULT_SLOPE = 0.01  # NAM core's LeakyReLU and PReLU slope where a file gives none


def activation_params(spec: dict, rows: int) -> np.ndarray:
    """``(rows, 4)``: each row's four activation parameters (see :func:`~guneamp_lib.render.nam_kernels.activation_row`)."""
    out = np.zeros((rows, 4), np.float32)
    kind = spec["type"]
    if kind == "LeakyHardtanh":
        out[:] = [spec["min_val"], spec["max_val"], spec["min_slope"], spec["max_slope"]]
    elif kind == "PReLU" and "negative_slopes" in spec:
        out[:, 0] = spec["negative_slopes"]
    elif kind in ("LeakyReLU", "PReLU"):
        out[:, 0] = spec.get("negative_slope", DEFAULT_SLOPE)
    return out


def dense_taps(conv: torch.nn.Conv1d) -> np.ndarray:
    """A (possibly grouped) convolution's weights as the dense ``(taps, out, in)`` matrices, zero off its groups."""
    w = conv.weight.detach().cpu().float().numpy()
    g = conv.groups
    cout, per, k = w.shape
    dense = np.zeros((cout, per * g, k), np.float32)
    og = cout // g
    for j in range(g):
        dense[j * og : (j + 1) * og, j * per : (j + 1) * per] = w[j * og : (j + 1) * og]
    return np.ascontiguousarray(dense.transpose(2, 0, 1))


class NamProgram:
    """A model written as operations on rows of memory (see the module docstring).

    ``NamProgram(model)`` writes a :class:`NamWaveNet`, :class:`NamConvNet` or
    :class:`NamLinear` (with its condition DSP); :attr:`ops`, :attr:`wts`, :attr:`acts`
    and :attr:`hist` are what :func:`~guneamp_lib.render.nam_ops.run_ops` takes.

    Notebook: 07
    """

    def __init__(self, model: torch.nn.Module):
        self._ops: list[list[int]] = []
        self._hist: list[int] = []
        self._wts: list[np.ndarray] = []
        self._acts: list[np.ndarray] = []
        self._wsize = self._asize = 0
        self.lstms: list[NamLSTM] = []  # condition DSPs that are LSTMs, in the order the program reads them
        from . import nam_kernels as nk  # numba is there: the engine chooser only writes programs then

        self._codes = {"Tanh": nk.ACT_TANH, "Hardtanh": nk.ACT_HARDTANH, "Fasttanh": nk.ACT_FASTTANH,
                       "ReLU": nk.ACT_LEAKY, "LeakyReLU": nk.ACT_LEAKY, "PReLU": nk.ACT_LEAKY,
                       "Sigmoid": nk.ACT_SIGMOID, "SiLU": nk.ACT_SILU, "Hardswish": nk.ACT_HARDSWISH,
                       "LeakyHardtanh": nk.ACT_LEAKY_HARDTANH, "Softsign": nk.ACT_SOFTSIGN}
        x = self.slot(1)
        self.emit(OP_INPUT, dst=x)
        y, _ = self.model(model, x, 1)
        self.emit(OP_OUTPUT, src=y)
        self.ops = np.array(self._ops, np.int64).reshape(-1, COLUMNS)
        self.hist = np.array(self._hist, np.int64)
        self.wts = np.concatenate(self._wts).astype(np.float32) if self._wts else np.zeros(1, np.float32)
        self.acts = np.concatenate(self._acts).astype(np.float32) if self._acts else np.zeros(4, np.float32)

    # -- the table ------------------------------------------------------------------------
    def slot(self, rows: int) -> int:
        """``rows`` new rows of memory; the first one's index."""
        self._hist += [0] * rows
        return len(self._hist) - rows

    def put(self, values) -> int:
        values = np.ascontiguousarray(values, np.float32).ravel()
        self._wts.append(values)
        self._wsize += values.size
        return self._wsize - values.size

    def emit(self, code: int, dst: int = 0, src: int = 0, src2: int = 0, rows: int = 0, cin: int = 0, taps: int = 1,
             dil: int = 1, w: int = 0, b: int = 0, flag: int = 0) -> None:
        row = [0] * COLUMNS
        row[C_OP], row[C_DST], row[C_SRC], row[C_SRC2], row[C_ROWS] = code, dst, src, src2, rows
        row[C_CIN], row[C_TAPS], row[C_DIL], row[C_W], row[C_B], row[C_FLAG] = (cin, taps, dil, w,
                                                                                                  b, flag)
        self._ops.append(row)

    def conv(self, dst: int, src: int, conv: torch.nn.Conv1d, add: bool = False) -> None:
        """``dst = conv(src)`` (``add``: ``dst += conv(src)`` without its bias); causal, dilated, any groups."""
        w = dense_taps(conv)
        taps, cout, cin = w.shape
        dil = conv.dilation[0]
        bias = conv.bias.detach().cpu().float().numpy() if conv.bias is not None and not add else np.zeros(cout)
        for r in range(src, src + cin):  # the rows this product reads back in time keep that history
            self._hist[r] = max(self._hist[r], (taps - 1) * dil)
        self.emit(OP_CONV, dst=dst, src=src, rows=cout, cin=cin, taps=taps, dil=dil, w=self.put(w),
                  b=self.put(bias), flag=int(add))

    def act(self, dst: int, rows: int, spec: dict) -> None:
        params = activation_params(spec, rows).ravel()
        self._acts.append(params)
        self._asize += params.size
        self.emit(OP_ACT, dst=dst, rows=rows, taps=self._codes[spec["type"]], b=self._asize - params.size)

    # -- the models -----------------------------------------------------------------------
    def model(self, model: torch.nn.Module, x: int, rows: int) -> tuple[int, int]:
        """Write ``model`` on the ``rows`` input rows from ``x``; its output's first row and row count."""
        if isinstance(model, NamWaveNet):
            return self.wavenet(model, x)
        if isinstance(model, NamConvNet):
            return self.convnet(model, x)
        if isinstance(model, NamLinear):
            y = self.slot(1)
            self.conv(y, x, model.fir)
            return y, 1
        raise TypeError(f"no program for {type(model).__name__}")

    def convnet(self, model: NamConvNet, x: int) -> tuple[int, int]:
        c = model.config["channels"]
        for block in model.blocks:
            y = self.slot(c)
            self.conv(y, x, block.conv)
            if block.scale is not None:  # the batch norm, folded (NAM core's order: after the bias-free conv)
                self.emit(OP_AFFINE, dst=y, rows=c, w=self.put(block.scale.detach()),
                          b=self.put(block.loc.detach()))
            self.act(y, c, model.config["activation"])
            x = y
        out = model.config["out_channels"]
        y = self.slot(out)
        self.conv(y, x, model.head)
        return y, out

    def _film(self, layer, slot: str, dst: int, rows: int, cond: int, scratch: int) -> None:
        if slot not in layer.films:
            return
        f = layer.films[slot]
        self.conv(scratch, cond, f.film)
        self.emit(OP_FILM, dst=dst, src=scratch, rows=rows, flag=int(f.shift))

    def wavenet(self, model: NamWaveNet, x: int) -> tuple[int, int]:
        cfgs = model.config["arrays"]
        if model.condition is None:
            cond, cs = x, 1
        elif isinstance(model.condition, NamLSTM):
            # an LSTM runs on its own engine before the block (FastNamProgram.push); its
            # output arrives as the run's k-th condition input
            self.lstms.append(model.condition)
            cond, cs = self.slot(1), 1
            self.emit(OP_INPUT, dst=cond, flag=len(self.lstms))
        else:
            cond, cs = self.model(model.condition, x, 1)
        wide = max(max(lc["channels"], 2 * lc["bottleneck"], lc["head1x1_out"], lc["head_out"], cs) for lc in cfgs)
        z, pre, t, t2, m = (self.slot(wide) for _ in range(5))
        f = self.slot(2 * wide)  # a FiLM's scales and shifts
        xa, xb = self.slot(wide), self.slot(wide)  # a layer's input where its history is filmed
        head_out, src = None, x
        for a, (lc, arr) in enumerate(zip(cfgs, model.arrays)):
            c, b = lc["channels"], lc["bottleneck"]
            hin = lc["head1x1_out"] or b
            h = self.slot(hin)
            if head_out is None:
                self.emit(OP_ZERO, dst=h, rows=hin)
            else:
                self.emit(OP_COPY, dst=h, src=head_out, rows=hin)
            rings = [self.slot(c) for _ in arr.layers]
            inputs = [(xa if i % 2 else xb) if "conv_pre_film" in layer.films else rings[i]
                      for i, layer in enumerate(arr.layers)]
            self.conv(inputs[0], src, arr.rechannel)
            out = self.slot(c) if a < len(cfgs) - 1 else None
            for i, layer in enumerate(arr.layers):
                xi, r = inputs[i], rings[i]
                if xi != r:
                    self.emit(OP_COPY, dst=r, src=xi, rows=c)
                    self._film(layer, "conv_pre_film", r, c, cond, f)
                mid = layer.conv.out_channels
                self.conv(z, r, layer.conv)
                self._film(layer, "conv_post_film", z, mid, cond, f)
                mix = cond
                if "input_mixin_pre_film" in layer.films:
                    self.emit(OP_COPY, dst=m, src=cond, rows=cs)
                    self._film(layer, "input_mixin_pre_film", m, cs, cond, f)
                    mix = m
                if "input_mixin_post_film" in layer.films:
                    self.conv(t2, mix, layer.input_mixer)
                    self._film(layer, "input_mixin_post_film", t2, mid, cond, f)
                    self.emit(OP_ADD, dst=z, src=t2, rows=mid)
                else:
                    self.conv(z, mix, layer.input_mixer, add=True)
                self._film(layer, "activation_pre_film", z, mid, cond, f)
                spec, second = lc["activations"][i], lc["secondary_activations"][i]
                if layer.mode == "blended":
                    self.emit(OP_COPY, dst=pre, src=z, rows=b)
                self.act(z, b, spec)
                if layer.mode != "none":
                    self.act(z + b, b, second)
                    if layer.mode == "gated":
                        self.emit(OP_MUL, dst=z, src=z + b, rows=b)
                    else:
                        self.emit(OP_BLEND, dst=z, src=z + b, src2=pre, rows=b)
                self._film(layer, "activation_post_film", z, b, cond, f)
                if layer.head1x1 is None:
                    self.emit(OP_ADD, dst=h, src=z, rows=b)
                else:
                    self.conv(t, z, layer.head1x1)
                    self._film(layer, "head1x1_post_film", t, hin, cond, f)
                    self.emit(OP_ADD, dst=h, src=t, rows=hin)
                last = i == len(arr.layers) - 1
                if last and out is None:
                    continue  # the last array's residual reaches nothing
                nxt = out if last else inputs[i + 1]
                if layer.layer1x1 is None:
                    self.emit(OP_COPY, dst=nxt, src=xi, rows=c)
                else:
                    self.conv(t, z, layer.layer1x1)
                    if layer.mode == "blended":
                        self._film(layer, "layer1x1_post_film", t, c, cond, f)
                    self.emit(OP_SUM, dst=nxt, src=xi, src2=t, rows=c)
            head_out = self.slot(lc["head_out"])
            self.conv(head_out, h, arr.head_rechannel)
            src = out
        rows = cfgs[-1]["head_out"]
        y = self.slot(rows)
        self.emit(OP_SCALE, dst=y, src=head_out, rows=rows, w=self.put([model.head_scale]))
        if model.head is not None:
            for conv in model.head.convs:
                r = self.slot(conv.in_channels)  # the activated input, kept for the convolution's taps
                self.emit(OP_COPY, dst=r, src=y, rows=conv.in_channels)
                self.act(r, conv.in_channels, model.config["head"]["activation"])
                y = self.slot(conv.out_channels)
                self.conv(y, r, conv)
            rows = model.head.convs[-1].out_channels
        return y, rows


class FastNamProgram(KnobInput):
    """Fast engine for any :class:`NamWaveNet`, :class:`NamConvNet` or :class:`NamLinear` (see the module docstring).

    Notebook: 07
    """

    def __init__(self, model: torch.nn.Module, k, lstm_engine=None):
        """``lstm_engine(model, k)`` runs an LSTM condition DSP (the engine chooser passes its
        LSTM engine: this module imports no engine module, which imports this one)."""
        from .nam_ops import run_ops  # numba is there: k is the kernels module

        self.init_knobs(0)  # a .nam plays one setting: no knob inputs
        self.program = p = NamProgram(model)
        self._run = run_ops
        self.hist = p.hist
        self.mem = np.zeros((p.hist.size, 1, int(p.hist.max()) + COMPACT_SPAN + ROW_PAD), np.float32)
        # what the kernel takes: flat views and a shape (kernels.LEAF_OPTIONS)
        self._mf, self._span, self._hist2 = self.mem.reshape(-1), self.mem.shape[2], self.hist.reshape(-1, 1)
        # An LSTM condition DSP (any depth: each reads the model's input) runs on the LSTM
        # engine, its output a row of ``conds``; the layers' look-back is primed as usual.
        if p.lstms and lstm_engine is None:
            raise ValueError("this network's condition DSP is an LSTM: pass the LSTM engine (lstm_engine)")
        self.lstms = [lstm_engine(m, k) for m in p.lstms]
        self.conds = np.zeros((max(1, len(self.lstms)), MAX_MODEL_BLOCK), np.float32)
        self.rf = int(_conv_receptive_field(model))
        self.out = np.zeros(MAX_MODEL_BLOCK, np.float32)

    @staticmethod
    def supports(model: torch.nn.Module) -> bool:
        """Every model NAM core plays but a bare LSTM (WaveNets, their condition DSPs an LSTM too, ConvNets, Linear)."""
        return isinstance(model, (NamWaveNet, NamConvNet, NamLinear))

    def reset(self) -> None:
        for lstm in self.lstms:
            lstm.reset()
        self.mem[:] = 0.0
        self.pos = int(self.hist.max())
        prime(self, self.rf - 1)

    def push(self, u: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        out = self.out[: u.size] if out is None else out
        for k, lstm in enumerate(self.lstms):
            lstm.push(u, self.conds[k, : u.size])
        p = self.program
        self.pos = self._run(u, self.conds, out, self.pos, self._mf, self._span, self._hist2, p.ops, p.wts, p.acts)
        return out


def _conv_receptive_field(model: torch.nn.Module) -> int:
    """The look-back of a model's convolutions: its receptive field, with an LSTM condition's left out."""
    if isinstance(model, NamWaveNet) and model.recurrent_condition:
        inner = 1 if isinstance(model.condition, NamLSTM) else _conv_receptive_field(model.condition)
        return model.stack_receptive_field + inner - 1
    return int(model.receptive_field)
