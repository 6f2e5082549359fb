"""Neural Amp Modeler's WaveNet with every option NAM 0.13 trains, for ``.nam`` files read back (notebook 11_beyond_the_seed).

Our :class:`~guneamp_lib.models.wavenet.WaveNet` is NAM's 0.5-era network: one kernel
size and one activation per array, a 1x1 head rechannel. NAM 0.13 trains wider choices:
its default model (two packed WaveNets in a ``SlimmableContainer``) uses kernel sizes 6
and 15 in one array, LeakyReLU and a 16-tap head rechannel. This class runs any such
layer array faithfully, so a file NAM writes today renders in guneamp too; files that fit
our WaveNet are still read into it (see :mod:`guneamp_lib.models.nam_read`).

One layer, as NAM computes it (``B`` is the bottleneck, ``C`` the channels)::

    z = dilated_conv(x) + input_mixer(c)              # 2B channels when gated or blended
    a = act(z)                                         # "none"
      = act(z[:B]) * gate(z[B:])                       # "gated"
      = g * act(z[:B]) + (1 - g) * z[:B],  g = gate(z[B:])   # "blended"
    x = x + layer1x1(a)       (or x + a without the 1x1)
    head += head1x1(a)        (or head += a)

Without the layer 1x1 this follows NAM's Python package (``x + a``). NAM core 0.5.5, the
plugin's engine, passes ``x`` through unchanged there instead: on such a file the two
disagree by ESR 0.3 (measured), while with every other option above they agree to 1e-13.
NAM's trainer and our exports keep the layer 1x1, so only hand-made configs meet this.

Each array ends with a head rechannel of any kernel size, made causal here like every
dilated convolution, so ``(B, 1, T)`` maps to ``(B, 1, T)``; once the receptive field
has passed, the numbers are NAM's. Grouped convolutions and FiLM are not implemented:
a file that uses them is refused by name. The flat weight list is ``parameters()`` in
registration order, which is NAM's order.
"""

from __future__ import annotations

import functools

import torch
from torch import nn
from torch.nn import functional as F

from .base import AmpModel, CausalConv1d

GATING_MODES = ("none", "gated", "blended")


def _activation(spec: dict):
    """``{"type": name, **params}`` (NAM's export vocabulary) as a function of a tensor."""
    name, params = spec["type"], {k: v for k, v in spec.items() if k != "type"}
    simple = {"Tanh": torch.tanh, "ReLU": F.relu, "Sigmoid": torch.sigmoid, "SiLU": F.silu,
              "Hardswish": F.hardswish, "Softsign": F.softsign}
    if name in simple and not params:
        return simple[name]
    if name == "LeakyReLU" and set(params) <= {"negative_slope"}:
        return functools.partial(F.leaky_relu, negative_slope=float(params.get("negative_slope", 0.01)))
    if name == "Hardtanh" and set(params) <= {"min_val", "max_val"}:
        return functools.partial(F.hardtanh, min_val=float(params.get("min_val", -1.0)),
                                 max_val=float(params.get("max_val", 1.0)))
    raise ValueError(f"activation {spec}, which guneamp does not implement")


class _Layer(nn.Module):
    def __init__(self, lc: dict, i: int):
        super().__init__()
        c, b, self.mode = lc["channels"], lc["bottleneck"], lc["gating_modes"][i]
        mid = b if self.mode == "none" else 2 * b
        # Registration order is NAM's weight order: conv, input mixer, layer 1x1, head 1x1.
        self.conv = CausalConv1d(c, mid, lc["kernel_sizes"][i], lc["dilations"][i])
        self.input_mixer = nn.Conv1d(lc["condition_size"], mid, 1, bias=False)
        self.layer1x1 = nn.Conv1d(b, c, 1) if lc["layer1x1"] else None
        self.head1x1 = nn.Conv1d(b, lc["head1x1_out"], 1) if lc["head1x1_out"] else None
        self.act = _activation(lc["activations"][i])
        self.gate = _activation(lc["secondary_activations"][i]) if self.mode != "none" else None
        self.b = b

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.conv(x) + self.input_mixer(c)
        if self.mode == "none":
            a = self.act(z)
        elif self.mode == "gated":
            a = self.act(z[:, : self.b]) * self.gate(z[:, self.b :])
        else:
            g = self.gate(z[:, self.b :])
            a = g * self.act(z[:, : self.b]) + (1 - g) * z[:, : self.b]
        out = a if self.layer1x1 is None else self.layer1x1(a)
        return x + out, a if self.head1x1 is None else self.head1x1(a)


class _LayerArray(nn.Module):
    def __init__(self, lc: dict):
        super().__init__()
        self.rechannel = nn.Conv1d(lc["input_size"], lc["channels"], 1, bias=False)
        self.layers = nn.ModuleList(_Layer(lc, i) for i in range(len(lc["dilations"])))
        head_in = lc["head1x1_out"] or lc["bottleneck"]
        self.head_rechannel = CausalConv1d(head_in, lc["head_out"], lc["head_kernel"], bias=lc["head_bias"])

    def forward(self, x, c, head):
        x = self.rechannel(x)
        for layer in self.layers:
            x, h = layer(x, c)
            head = h if head is None else head + h
        return self.head_rechannel(head), x


class NamWaveNet(AmpModel):
    """``(B, 1, T) -> (B, 1, T)``: a WaveNet as NAM 0.13 configures it (``arrays``: see :func:`array_config`).

    Notebook: 11
    """

    name = "nam_wavenet"

    def __init__(self, arrays: list[dict], head_scale: float):
        super().__init__()
        self.config = {"arrays": arrays, "head_scale": float(head_scale)}
        self.head_scale = float(head_scale)
        self.arrays = nn.ModuleList(_LayerArray(lc) for lc in arrays)

    @property
    def receptive_field(self) -> int:
        return 1 + sum(sum((k - 1) * d for k, d in zip(lc["kernel_sizes"], lc["dilations"])) + lc["head_kernel"] - 1
                       for lc in self.config["arrays"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c, head = x, None
        for array in self.arrays:
            head, x = array(x, c, head)
        return self.head_scale * head


def _per_layer(value, n: int, what: str) -> list:
    values = list(value) if isinstance(value, list) else [value] * n
    if len(values) != n:
        raise ValueError(f"{len(values)} {what} for {n} layers")
    return values


def _spec(a) -> dict:
    """An activation as NAM writes it: a name, or ``{"type": name, ...}`` (older files: ``"name"``)."""
    if isinstance(a, str):
        return {"type": a}
    a = dict(a)
    if "type" not in a:
        a["type"] = a.pop("name")
    return a


def array_config(lc: dict) -> dict:
    """One layer array of a ``.nam`` file (format 0.5.x or 0.7.x keys), in this module's plain vocabulary.

    ValueError names whatever it holds that guneamp does not run (FiLM, groups).

    Notebook: 11
    """
    n = len(lc["dilations"])
    if "head" in lc:  # 0.7
        head = lc["head"]
        head_out, head_kernel, head_bias = head["out_channels"], head.get("kernel_size", 1), head["bias"]
        if head.get("head_dilation", 1) != 1:
            raise ValueError("a dilated head rechannel, which guneamp does not implement")
    else:  # 0.5
        head_out, head_kernel, head_bias = lc["head_size"], 1, lc["head_bias"]
    kernels = lc["kernel_sizes"] if "kernel_sizes" in lc else lc["kernel_size"]
    modes = lc.get("gating_mode", "gated" if lc.get("gated", False) else "none")
    modes = _per_layer(modes, n, "gating modes")
    secondary = lc.get("secondary_activation", "Sigmoid")
    unsupported = [m for m in set(modes) if m not in GATING_MODES]
    unsupported += [f"FiLM ({k})" for k, v in lc.items() if k.endswith("_film") and (v or {}).get("active", False)]
    groups = [lc.get("groups_input", 1), lc.get("groups_input_mixin", 1), (lc.get("layer1x1") or {}).get("groups", 1)]
    head1x1 = lc.get("head1x1") or {"active": False}
    if any(g != 1 for g in groups) or (head1x1.get("active") and head1x1.get("groups", 1) != 1):
        unsupported.append("grouped convolutions")
    if lc.get("condition_size", 1) != 1:
        unsupported.append(f"a {lc['condition_size']}-channel condition")
    if unsupported:
        raise ValueError(f"{', '.join(unsupported)}, which guneamp does not implement")
    return {
        "input_size": int(lc["input_size"]), "condition_size": 1, "channels": int(lc["channels"]),
        "bottleneck": int(lc.get("bottleneck", lc["channels"])),
        "kernel_sizes": [int(k) for k in _per_layer(kernels, n, "kernel sizes")],
        "dilations": [int(d) for d in lc["dilations"]],
        "activations": [_spec(a) for a in _per_layer(lc["activation"], n, "activations")],
        "gating_modes": modes,
        "secondary_activations": [None if m == "none" else _spec(s or "Sigmoid")
                                  for m, s in zip(modes, _per_layer(secondary, n, "secondary activations"))],
        "layer1x1": bool((lc.get("layer1x1") or {"active": True}).get("active", True)),
        "head1x1_out": int(head1x1["out_channels"]) if head1x1.get("active") else 0,
        "head_out": int(head_out), "head_kernel": int(head_kernel), "head_bias": bool(head_bias),
    }
