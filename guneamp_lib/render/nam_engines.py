"""The compiled streaming engine of NAM's WaveNet as read from a ``.nam`` file (notebook 07).

:class:`FastNamWaveNet` packs a :class:`~guneamp_lib.models.nam_wavenet.NamWaveNet`'s
weights into the flat float32 layout of :func:`~guneamp_lib.render.nam_kernels.nam_wavenet_block`
and keeps its histories in ring buffers, as the engines beside it in
:mod:`~guneamp_lib.render.engines` do. :meth:`FastNamWaveNet.supports` is the one test
of what the kernel covers: everything NAM 0.13's trainer writes (A2 and its slimmed
sizes, gated and blended layers, bottlenecks, head 1x1s, long head rechannels, every
activation but the per-channel PReLU); FiLM, grouped convolutions, a post-stack head and
a condition DSP run on the general compiled engine,
:class:`~guneamp_lib.render.nam_program.FastNamProgram` (never on torch).
"""

from __future__ import annotations

import numpy as np

from ..models.nam_wavenet import NamWaveNet
from .buffers import COMPACT_SPAN, MAX_MODEL_BLOCK, ROW_PAD, prime
from .knob_input import KnobInput


def _f32(t) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().float().numpy()).ravel()


class FastNamWaveNet(KnobInput):
    """Fast engine for :class:`~guneamp_lib.models.nam_wavenet.NamWaveNet` (see :meth:`supports`).

    Notebook: 07
    """

    def __init__(self, model: NamWaveNet, k):
        from . import nam_kernels as nk  # numba is there: k is the kernels module

        self.k, self._block = k, nk.nam_wavenet_block
        self.init_knobs(0)  # a .nam plays one setting: no knob inputs
        codes = {"Tanh": nk.ACT_TANH, "Hardtanh": nk.ACT_HARDTANH, "Fasttanh": nk.ACT_FASTTANH,
                 "ReLU": nk.ACT_LEAKY, "LeakyReLU": nk.ACT_LEAKY, "PReLU": nk.ACT_LEAKY, "Sigmoid": nk.ACT_SIGMOID,
                 "SiLU": nk.ACT_SILU, "Hardswish": nk.ACT_HARDSWISH, "LeakyHardtanh": nk.ACT_LEAKY_HARDTANH,
                 "Softsign": nk.ACT_SOFTSIGN}
        modes = {"none": nk.MODE_NONE, "gated": nk.MODE_GATED, "blended": nk.MODE_BLENDED}
        chunks, size = [], 0

        def put(values: np.ndarray) -> int:
            nonlocal size
            chunks.append(values)
            size += values.size
            return size - values.size

        def params(spec: dict | None) -> list[float]:
            if spec is None:
                return [0.0] * 4
            if spec["type"] == "LeakyHardtanh":
                return [spec["min_val"], spec["max_val"], spec["min_slope"], spec["max_slope"]]
            return [0.0 if spec["type"] == "ReLU" else spec.get("negative_slope", 0.01), 0.0, 0.0, 0.0]

        cfgs = model.config["arrays"]
        nl = sum(len(lc["dilations"]) for lc in cfgs)
        self.layers = np.zeros((nl, 13), np.int64)
        self.acts = np.zeros((nl, 2, 4), np.float32)
        self.arrays = np.zeros((len(cfgs), 14), np.int64)
        histories = []
        l, cmax = 0, 1
        for a, (lc, arr) in enumerate(zip(cfgs, model.arrays)):
            c, b, hin = lc["channels"], lc["bottleneck"], lc["head1x1_out"] or lc["bottleneck"]
            cmax = max(cmax, c, 2 * b, hin, lc["head_out"], lc["input_size"])
            self.arrays[a, : nk.NA_RECH_W] = (l, len(lc["dilations"]), lc["input_size"], c, b, int(lc["layer1x1"]),
                                              lc["head1x1_out"], lc["head_out"], lc["head_kernel"],
                                              lc.get("head_dilation", 1))
            self.arrays[a, nk.NA_RECH_W] = put(_f32(arr.rechannel.weight))
            for i, layer in enumerate(arr.layers):
                row = self.layers[l]
                row[nk.NL_KERNEL], row[nk.NL_DILATION] = lc["kernel_sizes"][i], lc["dilations"][i]
                row[nk.NL_HISTORY] = lc["dilations"][i] * (lc["kernel_sizes"][i] - 1)
                row[nk.NL_MODE] = modes[lc["gating_modes"][i]]
                row[nk.NL_ACT] = codes[lc["activations"][i]["type"]]
                second = lc["secondary_activations"][i]
                row[nk.NL_GATE] = codes[second["type"]] if second is not None else 0
                self.acts[l, 0], self.acts[l, 1] = params(lc["activations"][i]), params(second)
                row[nk.NL_CONV_W] = put(_f32(layer.conv.weight.permute(2, 0, 1)))
                row[nk.NL_CONV_B] = put(_f32(layer.conv.bias))
                row[nk.NL_MIX] = put(_f32(layer.input_mixer.weight))
                if layer.layer1x1 is not None:
                    row[nk.NL_L1_W], row[nk.NL_L1_B] = put(_f32(layer.layer1x1.weight)), put(_f32(layer.layer1x1.bias))
                if layer.head1x1 is not None:
                    row[nk.NL_H1_W], row[nk.NL_H1_B] = put(_f32(layer.head1x1.weight)), put(_f32(layer.head1x1.bias))
                l += 1
            head = arr.head_rechannel
            self.arrays[a, nk.NA_HEAD_W] = put(_f32(head.weight.permute(2, 0, 1)))
            if head.bias is not None:
                self.arrays[a, nk.NA_HEAD_B], self.arrays[a, nk.NA_HEAD_BIAS] = put(_f32(head.bias)), 1
            histories.append(lc.get("head_dilation", 1) * (lc["head_kernel"] - 1))
        # zeros last: the kernel's missing taps (nam_kernels.ZERO_WEIGHTS)
        self.wts = np.concatenate(chunks + [np.zeros(nk.ZERO_WEIGHTS, np.float32)]).astype(np.float32)
        # the head inputs' histories are rows of the same ring buffers, after the layers'
        self.layers = np.concatenate([self.layers, np.zeros((len(cfgs), 13), np.int64)])
        self.layers[nl:, nk.NL_HISTORY] = histories
        self.hist = int(self.layers[:, nk.NL_HISTORY].max())
        self.bufs = np.zeros((nl + len(cfgs), cmax, self.hist + COMPACT_SPAN + ROW_PAD), np.float32)
        # four work areas and a fifth of zeros (the kernels' bias when there is none)
        self.scratch = np.zeros((5, cmax, MAX_MODEL_BLOCK + ROW_PAD), np.float32)
        # the kernel's flat views of both (one array argument each, its shape as integers)
        self._bf, self._sf = self.bufs.reshape(-1), self.scratch.reshape(-1)
        self._cmax, self._bst = self.bufs.shape[1], self.bufs.shape[2]
        self.head_scale = float(model.head_scale)
        self.rf = model.receptive_field
        self.out = np.zeros(MAX_MODEL_BLOCK, np.float32)
        self._layer_rows = nl

    @staticmethod
    def supports(model: NamWaveNet) -> bool:
        """Whether the kernel computes this network: no FiLM, groups, post-stack head or condition DSP."""
        if model.condition is not None or model.head is not None:
            return False
        for lc in model.config["arrays"]:
            specs = lc["activations"] + [s for s in lc["secondary_activations"] if s is not None]
            if (lc.get("films") or lc["condition_size"] != 1 or any("negative_slopes" in s for s in specs)
                    or any(lc.get(g, 1) != 1 for g in ("groups_input", "groups_input_mixin", "layer1x1_groups",
                                                        "head1x1_groups"))):
                return False
        return True

    def reset(self) -> None:
        self.bufs[:] = 0.0
        self.pos = self.hist
        prime(self, self.rf - 1)

    def push(self, u: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        out = self.out[: u.size] if out is None else out
        self.pos = self._block(u, out, self.pos, self._bf, self._cmax, self._bst, self.wts, self.layers,
                               self.acts, self.arrays, self.head_scale, self._sf)
        return out
