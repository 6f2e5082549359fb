"""A WaveNet in Neural Amp Modeler's family, made causal and same-length (notebook 11_beyond_the_seed).

NAM's WaveNet is two *layer arrays* in a row. Inside an array every layer does

    z = tanh(dilated_conv(x) + input_mixer(c))      # c: the raw input, "the condition"
    x = x + conv1x1(z)                               # residual path, to the next layer
    head += z                                        # skip path, summed over the layers

and the array ends with a 1x1 "head rechannel" that squeezes the summed skip signal to
``head_size`` channels. The second array starts from the first one's residual output
(rechannelled to its own width) and adds its skip signals onto the first one's head
output, so both arrays feed one head. The model's output is ``head_scale`` times the
last head rechannel: NAM's presets have no further head network (``"head": null``).

Two changes from NAM, neither of which touches the weights:

* NAM uses valid convolutions and crops, so its output is ``receptive_field - 1``
  samples shorter than its input. Here every dilated convolution is a
  :class:`~guneamp_lib.models.CausalConv1d` (padded on the left), so ``(B, 1, T)``
  maps to ``(B, 1, T)`` and output ``t`` sees input ``<= t`` only. Once
  ``receptive_field - 1`` samples have gone in, both give the same numbers; NAM's
  way is ``forward(x, pad=False)``, which training and offline rendering use.
* Everything other than the dilated convolutions is pointwise in time (1x1
  convolutions, tanh, additions), so :meth:`WaveNet.set_streaming` is all it takes
  to run the model block by block.

A knob model (``num_knobs``, notebook 13) uses NAM's own conditioning path: the condition
``c`` is the input and the knob vector, ``condition_size = 1 + K`` in every layer array, so
the input mixer sees the knobs in every layer. Held still, the knobs' columns of the mixer
are one more bias per layer (:mod:`guneamp_lib.models.bake`). With ``film=True`` (the knob
recipe's choice, :func:`~guneamp_lib.training.train.knob_config`) the knobs also scale each
layer, FiLM-style: ``z = (1 + film(knobs)) * dilated_conv(x) + input_mixer(c)``, a scale per
channel that starts at 1. A bias alone can only move a tanh along its curve; a tone knob
changes how much of each filter passes, which a scale says directly. On the reference amp's
knob capture it took the held-out median ESR from 0.0090 to 0.0129 down to 0.0072 to 0.0078
(three seeds each, 900 CPU-seconds, docs/evaluation.md). Held still, the scale folds into the dilated
conv's weights and bias, so a baked setting is still a plain NAM WaveNet.

Parameter layout: ``model.parameters()`` yields the tensors in exactly the order of
NAM's flat ``.nam`` weight list. For each array: rechannel weight; then for each layer
the dilated conv's weight and bias, the input mixer's weight, the 1x1's weight and
bias; then the head rechannel's weight (and bias where ``head_bias``). Each tensor is
flattened row-major (``(out, in, kernel)`` for a convolution), which is the order NAM's
C++ reads them in. ``head_scale`` is appended last; it is a constant, not a parameter.
See :mod:`guneamp_lib.models.nam`.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn
from torch.nn import functional as F

from ..dsp.activations import tanh
from .base import AmpModel, CausalConv1d, check_num_knobs, with_knobs

# NAM's own presets (nam/train/core.py). Every one sees 4,093 samples: 85 ms at 48 kHz.
# lite/feather/nano spend 7 dilations in the first array and 13 in the second, the
# second repeating the long dilations 128..512 so the receptive field stays the same.
_DOUBLING = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
_SHORT = _DOUBLING[:7]
_LONG = [128, 256, 512] + _DOUBLING

# NAM's presets multiply the output by 0.02: an untrained model starts near silence, not loud noise.
NAM_HEAD_SCALE = 0.02


def _array(input_size: int, channels: int, head_size: int, dilations: list[int], head_bias: bool) -> dict:
    """One layer array in NAM's config vocabulary, so the dict goes into a .nam file as is."""
    return {
        "input_size": input_size,
        "condition_size": 1,
        "head_size": head_size,
        "channels": channels,
        "kernel_size": 3,
        "dilations": list(dilations),
        "activation": "Tanh",
        "gated": False,
        "head_bias": head_bias,
    }


def _preset(c1: int, c2: int, d1: list[int], d2: list[int]) -> dict:
    # The first array's head output is added to the second array's skip sum, so its
    # head_size must equal the second array's width.
    return {
        "layers": [_array(1, c1, c2, d1, False), _array(c1, c2, 1, d2, True)],
        "head_scale": NAM_HEAD_SCALE,
    }


PRESETS: dict[str, dict] = {
    "standard": _preset(16, 8, _DOUBLING, _DOUBLING),
    "lite": _preset(12, 6, _SHORT, _LONG),
    "feather": _preset(8, 4, _SHORT, _LONG),
    "nano": _preset(4, 2, _SHORT, _LONG),
}

# The names NAM's plugin understands, mapped to the same functions in torch
# (tanh through guneamp_lib.dsp.activations: the same function, faster on the CPU).
ACTIVATIONS = {"Tanh": tanh, "Hardtanh": F.hardtanh, "ReLU": F.relu, "Sigmoid": torch.sigmoid}


class _Layer(nn.Module):
    """One dilated layer: residual output to the next layer, skip output to the head."""

    def __init__(self, condition_size: int, channels: int, kernel_size: int, dilation: int, activation: str,
                 gated: bool, film: bool = False):
        super().__init__()
        mid = 2 * channels if gated else channels
        # Registration order is NAM's weight order: conv, input mixer, 1x1.
        self.conv = CausalConv1d(channels, mid, kernel_size, dilation)
        self.input_mixer = nn.Conv1d(condition_size, mid, 1, bias=False)  # the conv's bias covers it
        self.conv1x1 = nn.Conv1d(channels, channels, 1)
        self.film = None
        if film:
            # FiLM's scale, 1 + film(knobs) per channel: it starts at 1, the model without it.
            # Registered after NAM's three, so parameters() still begins in NAM's order.
            self.film = nn.Conv1d(condition_size - 1, mid, 1, bias=False)
            nn.init.zeros_(self.film.weight)
        self.activation = ACTIVATIONS[activation]
        self.gated = gated
        self.channels = channels

    def forward(self, x: torch.Tensor, c: torch.Tensor, pad: bool = True,
                knobs: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``knobs`` (FiLM layers only): ``(B, K, 1)`` held still, or ``(B, K, T)`` like ``c``."""
        if pad or self.conv.streaming:
            z = self.conv(x)
        else:
            # NAM's own way: no padding, and everything beside the convolution cropped to it
            z = self.conv.forward_valid(x)
            n = z.shape[-1]
            c = c[..., c.shape[-1] - n :]
            x = x[..., x.shape[-1] - n :]
            if knobs is not None and knobs.shape[-1] > 1:
                knobs = knobs[..., knobs.shape[-1] - n :]
        if self.film is not None:
            z = z * (1 + self.film(knobs))
        z = z + self.input_mixer(c)
        if self.gated:
            z = self.activation(z[:, : self.channels]) * torch.sigmoid(z[:, self.channels :])
        else:
            z = self.activation(z)
        return x + self.conv1x1(z), z


class _LayerArray(nn.Module):
    def __init__(self, input_size: int, condition_size: int, head_size: int, channels: int, kernel_size: int,
                 dilations: list[int], activation: str, gated: bool, head_bias: bool, film: bool = False):
        super().__init__()
        self.rechannel = nn.Conv1d(input_size, channels, 1, bias=False)
        self.layers = nn.ModuleList(
            _Layer(condition_size, channels, kernel_size, d, activation, gated, film) for d in dilations
        )
        self.head_rechannel = nn.Conv1d(channels, head_size, 1, bias=head_bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor, head: torch.Tensor | None,
                pad: bool = True, knobs: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.rechannel(x)
        for layer in self.layers:
            # The last array's last 1x1 feeds nothing (only the skip path reaches the
            # output); NAM keeps its weights in the file all the same.
            x, z = layer(x, c, pad, knobs)
            head = z if head is None else head[..., head.shape[-1] - z.shape[-1] :] + z
        return self.head_rechannel(head), x


def _check_layers(layers: list[dict], num_knobs: int = 0) -> None:
    if not layers:
        raise ValueError("a WaveNet needs at least one layer array")
    for i, lc in enumerate(layers):
        if lc["condition_size"] != 1 + num_knobs:
            raise ValueError(f"layer array {i}: the condition is the mono input and the {num_knobs} knob(s), so "
                             f"condition_size must be {1 + num_knobs}")
        if lc["kernel_size"] < 1 or lc["channels"] < 1 or lc["head_size"] < 1:
            raise ValueError(f"layer array {i}: kernel_size, channels and head_size must be positive")
        if not lc["dilations"] or min(lc["dilations"]) < 1:
            raise ValueError(f"layer array {i}: give at least one dilation, all positive")
        if lc["activation"] not in ACTIVATIONS:
            raise ValueError(f"layer array {i}: activation {lc['activation']!r} is not one of {', '.join(ACTIVATIONS)}")
        want_in = 1 if i == 0 else layers[i - 1]["channels"]
        if lc["input_size"] != want_in:
            raise ValueError(f"layer array {i}: input_size must be {want_in} (the previous array's channels, or 1)")
        if i > 0 and layers[i - 1]["head_size"] != lc["channels"]:
            raise ValueError(
                f"layer array {i}: the previous array's head_size ({layers[i - 1]['head_size']}) must equal "
                f"this array's channels ({lc['channels']}), because its head output joins this array's skip sum"
            )
    if layers[-1]["head_size"] != 1:
        raise ValueError("the last layer array's head_size must be 1: the model has one output channel")


def preset_of(layers: list[dict]) -> str | None:
    """The name of the preset with exactly these layer arrays, or ``None``.

    Notebook: 11
    """
    plain = [_plain_layer(lc) for lc in layers]
    return next((name for name, p in PRESETS.items() if p["layers"] == plain), None)


def _plain_layer(lc: dict) -> dict:
    keys = ("input_size", "condition_size", "head_size", "channels", "kernel_size", "dilations", "activation",
            "gated", "head_bias")
    missing = [k for k in keys if k not in lc]
    if missing:
        raise ValueError(f"layer array config lacks {', '.join(missing)}")
    out = {k: lc[k] for k in keys}
    for k in ("input_size", "condition_size", "head_size", "channels", "kernel_size"):
        out[k] = int(out[k])
    out["dilations"] = [int(d) for d in out["dilations"]]
    out["activation"] = str(out["activation"])
    out["gated"], out["head_bias"] = bool(out["gated"]), bool(out["head_bias"])
    return out


class WaveNet(AmpModel):
    """NAM's WaveNet, causal and same-length: ``(B, 1, T) -> (B, 1, T)``.

    ``preset`` is one of :data:`PRESETS` (``standard``, ``lite``, ``feather``,
    ``nano``). ``layers`` (a list of layer-array dicts in NAM's vocabulary) and
    ``head_scale`` override the preset's; ``preset=None`` builds from ``layers`` alone.

    Notebook: 11
    """

    name = "wavenet"
    supports_valid = True

    def __init__(self, preset: str | None = "standard", layers: list[dict] | None = None,
                 head_scale: float | None = None, num_knobs: int = 0, film: bool = False):
        super().__init__()
        num_knobs = check_num_knobs(num_knobs)
        if preset is None:
            if layers is None:
                raise ValueError("without a preset, give the layer arrays (layers=[...])")
            base = {"layers": None, "head_scale": NAM_HEAD_SCALE}
        elif preset in PRESETS:
            base = PRESETS[preset]
        else:
            raise ValueError(f"unknown WaveNet preset {preset!r}; choose one of: {', '.join(PRESETS)}")
        from_preset = layers is None
        layers = [_plain_layer(lc) for lc in (copy.deepcopy(base["layers"]) if layers is None else layers)]
        if from_preset:
            # The knobs join the input in every layer's condition (NAM's input mixer).
            for lc in layers:
                lc["condition_size"] = 1 + num_knobs
        _check_layers(layers, num_knobs)
        head_scale = float(base["head_scale"] if head_scale is None else head_scale)
        if not math.isfinite(head_scale):
            raise ValueError("head_scale must be a finite number")
        # The resolved layers are stored, so a checkpoint rebuilds this exact network
        # even if a preset is changed later.
        self.config = {"preset": preset, "layers": layers, "head_scale": head_scale}
        if num_knobs:  # a snapshot model's config (and checkpoint) stays as it always was
            self.config["num_knobs"] = num_knobs
        self.head_scale = head_scale
        if film:
            if not num_knobs:
                raise ValueError("FiLM scales each layer by the knobs: a model with film=True needs num_knobs")
            self.config["film"] = True
        self.film = bool(film)
        self.arrays = nn.ModuleList(_LayerArray(**lc, film=film) for lc in layers)

    @property
    def receptive_field(self) -> int:
        return 1 + sum((lc["kernel_size"] - 1) * sum(lc["dilations"]) for lc in self.config["layers"])

    def set_streaming(self, on: bool = True) -> "WaveNet":
        """Switch every dilated convolution to (or from) block-by-block mode, with fresh history."""
        for m in self.modules():
            if isinstance(m, CausalConv1d):
                m.streaming = on
                m.reset_state()
        return self

    def reset_state(self) -> None:
        """Forget the streamed history: the next block starts after silence."""
        for m in self.modules():
            if isinstance(m, CausalConv1d):
                m.reset_state()

    def stream_weights(self) -> list[dict]:
        """The network as plain tensors, one dict per layer array, for engines that run it
        outside torch (the compiled streaming engine): ``rechannel`` ``(channels, input_size)``;
        ``layers``, each ``{"conv": (mid, channels, kernel), "conv_bias", "mixer": (mid,),
        "knob_mixer": (mid, num_knobs), "res": (channels, channels), "res_bias", "dilation",
        "activation", "gated", "film"}`` (``mid`` is twice the channels when gated; ``film``
        ``(mid, num_knobs)``, the knobs' weights of each channel's scale ``1 + film @ knobs``, or None); ``head`` ``(head_size, channels)`` and
        ``head_bias`` (None without one). Together with :attr:`head_scale` this is the
        whole model, in NAM's roles.

        Notebook: 11
        """
        out = []
        for array, lc in zip(self.arrays, self.config["layers"]):
            layers = [{
                "conv": l.conv.weight.detach(), "conv_bias": l.conv.bias.detach(),
                "mixer": l.input_mixer.weight.detach()[:, 0, 0], "knob_mixer": l.input_mixer.weight.detach()[:, 1:, 0],
                "res": l.conv1x1.weight.detach()[:, :, 0],
                "res_bias": l.conv1x1.bias.detach(), "dilation": l.conv.dilation[0],
                "activation": lc["activation"], "gated": l.gated,
                "film": None if l.film is None else l.film.weight.detach()[:, :, 0],
            } for l in array.layers]
            hb = array.head_rechannel.bias
            out.append({"rechannel": array.rechannel.weight.detach()[:, :, 0], "layers": layers,
                        "head": array.head_rechannel.weight.detach()[:, :, 0],
                        "head_bias": None if hb is None else hb.detach()})
        return out

    def forward(self, x: torch.Tensor, knobs: torch.Tensor | None = None, pad: bool = True) -> torch.Tensor:
        """``x`` ``(B, 1, T)``; ``knobs`` (conditioned models only) normalized, ``(B, K)`` or ``(B, K, T)``.

        ``pad=False`` (not while streaming): valid convolutions, as NAM computes them, so the
        output is the last ``T - receptive_field + 1`` samples, each exact. Training on
        segments that carry their own context uses it: each layer then skips the part of
        the context no later sample needs, and no padded copy is made.
        """
        c = with_knobs(x, knobs, self.num_knobs)
        # FiLM's scales from the knobs alone: (B, K, 1) for knobs held still, not (B, K, T)
        k = None if not self.film else (knobs.to(x).unsqueeze(-1) if knobs.ndim == 2 else knobs.to(x))
        head = None
        for array in self.arrays:
            head, x = array(x, c, head, pad, k)
        return self.head_scale * head
