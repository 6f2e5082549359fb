"""Neural Amp Modeler's WaveNet with every option NAM core plays, for ``.nam`` files read back (notebook 11_beyond_the_seed).

Our :class:`~guneamp_lib.models.wavenet.WaveNet` is NAM's 0.5-era network: one kernel
size and one activation per array, a 1x1 head rechannel. NAM 0.13 trains wider choices:
its default model (A2: two packed WaveNets in a ``SlimmableContainer``) uses kernel
sizes 6 and 15 in one array, LeakyReLU and a 16-tap head rechannel. This class runs
every layer NAM core 0.5.5 (the plugin's engine, ``NAM/wavenet/model.cpp``) can build;
the file's config is read and checked by :mod:`guneamp_lib.models.nam_wavenet_config`.

One layer, as NAM core computes it (``B`` is the bottleneck, ``C`` the channels, ``c``
the condition: the input, or a condition DSP's output; ``film_*(v)`` is ``v * s + t``
with ``(s, t)`` a 1x1 convolution of ``c``, where the file switches that FiLM on)::

    z = film_conv_post(conv(film_conv_pre(x))) + film_mix_post(mixer(film_mix_pre(c)))
    z = film_act_pre(z)                                   # 2B channels when gated or blended
    a = act(z)                                            # "none"
      = act(z[:B]) * gate(z[B:])                          # "gated"
      = g * act(z[:B]) + (1 - g) * z[:B],  g = gate(z[B:])   # "blended"
    a = film_act_post(a)
    x = x + layer1x1(a)    (the layer 1x1's FiLM applies in "blended" layers only, as in NAM core)
      = x                  (without a layer 1x1: NAM core passes x on unchanged)
    head += film_head_post(head1x1(a))  (or head += a)

NAM's Python package adds ``a`` to ``x`` where there is no layer 1x1; the plugin does
not, and the plugin is what a user hears, so we follow it (NAM's trainer and our exports
keep the layer 1x1, so only hand-made configs meet the difference). Each array ends with
a head rechannel of any kernel size and dilation; after the last array, the output is
``head_scale`` times the head, then optionally a post-stack head (activation, then a
causal convolution, per stage). Every convolution is causal, so ``(B, 1, T)`` maps to
``(B, 1, T)``. The flat weight list is ``parameters()`` in registration order, which is
NAM's order; a condition DSP carries its own weights. An LSTM condition DSP makes the
network recurrent: it then runs through :meth:`NamWaveNet.forward_stateful`, primed with
silence as NAM core's prewarm leaves it.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .base import AmpModel, CausalConv1d
from .nam_activations import activation_function
from .nam_convnet import NamConvNet, NamLinear
from .nam_lstm import NamLSTM

GATING_MODES = ("none", "gated", "blended")
# NAM core's FiLM slots, in its weight order (``Layer::set_weights_``).
FILM_SLOTS = ("conv_pre_film", "conv_post_film", "input_mixin_pre_film", "input_mixin_post_film",
              "activation_pre_film", "activation_post_film", "layer1x1_post_film", "head1x1_post_film")


class FiLM(nn.Module):
    """``x * scale + shift`` with ``(scale, shift)`` a grouped 1x1 convolution of the condition (NAM's ``FiLM``)."""

    def __init__(self, condition: int, dim: int, shift: bool, groups: int):
        super().__init__()
        self.dim, self.shift = dim, shift
        self.film = nn.Conv1d(condition, (2 if shift else 1) * dim, 1, groups=groups)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        ss = self.film(c)
        return x * ss[:, : self.dim] + ss[:, self.dim :] if self.shift else x * ss


def _film(lc: dict, slot: str, dim: int) -> FiLM | None:
    f = lc.get("films", {}).get(slot)
    return None if f is None else FiLM(lc["condition_size"], dim, f["shift"], f["groups"])


class _Layer(nn.Module):
    def __init__(self, lc: dict, i: int):
        super().__init__()
        c, b, self.mode = lc["channels"], lc["bottleneck"], lc["gating_modes"][i]
        mid = b if self.mode == "none" else 2 * b
        cond = lc["condition_size"]
        # Registration order is NAM's weight order: conv, input mixer, layer 1x1, head 1x1, FiLMs.
        self.conv = CausalConv1d(c, mid, lc["kernel_sizes"][i], lc["dilations"][i], groups=lc.get("groups_input", 1))
        self.input_mixer = nn.Conv1d(cond, mid, 1, bias=False, groups=lc.get("groups_input_mixin", 1))
        self.layer1x1 = nn.Conv1d(b, c, 1, groups=lc.get("layer1x1_groups", 1)) if lc["layer1x1"] else None
        self.head1x1 = (nn.Conv1d(b, lc["head1x1_out"], 1, groups=lc.get("head1x1_groups", 1))
                        if lc["head1x1_out"] else None)
        dims = {"conv_pre_film": c, "conv_post_film": mid, "input_mixin_pre_film": cond, "input_mixin_post_film": mid,
                "activation_pre_film": mid, "activation_post_film": b, "layer1x1_post_film": c,
                "head1x1_post_film": lc["head1x1_out"]}
        self.films = nn.ModuleDict({s: f for s in FILM_SLOTS if (f := _film(lc, s, dims[s])) is not None})
        self.act = activation_function(lc["activations"][i])
        self.gate = activation_function(lc["secondary_activations"][i]) if self.mode != "none" else None
        self.b = b

    def _f(self, slot: str, v: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.films[slot](v, c) if slot in self.films else v

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self._f("conv_post_film", self.conv(self._f("conv_pre_film", x, c)), c)
        z = z + self._f("input_mixin_post_film", self.input_mixer(self._f("input_mixin_pre_film", c, c)), c)
        z = self._f("activation_pre_film", z, c)
        if self.mode == "none":
            a = self.act(z)
        elif self.mode == "gated":
            a = self.act(z[:, : self.b]) * self.gate(z[:, self.b :])
        else:
            g = self.gate(z[:, self.b :])
            a = g * self.act(z[:, : self.b]) + (1 - g) * z[:, : self.b]
        a = self._f("activation_post_film", a, c)
        if self.layer1x1 is None:
            out = x
        else:
            r = self.layer1x1(a)
            out = x + (self._f("layer1x1_post_film", r, c) if self.mode == "blended" else r)
        head = a if self.head1x1 is None else self._f("head1x1_post_film", self.head1x1(a), c)
        return out, head


class _LayerArray(nn.Module):
    def __init__(self, lc: dict):
        super().__init__()
        self.rechannel = nn.Conv1d(lc["input_size"], lc["channels"], 1, bias=False)
        self.layers = nn.ModuleList(_Layer(lc, i) for i in range(len(lc["dilations"])))
        head_in = lc["head1x1_out"] or lc["bottleneck"]
        self.head_rechannel = CausalConv1d(head_in, lc["head_out"], lc["head_kernel"], lc.get("head_dilation", 1),
                                           bias=lc["head_bias"])

    def forward(self, x, c, head):
        x = self.rechannel(x)
        for layer in self.layers:
            x, h = layer(x, c)
            head = h if head is None else head + h
        return self.head_rechannel(head), x


class _PostHead(nn.Module):
    """NAM's post-stack head: per stage, the activation, then a causal convolution with a bias."""

    def __init__(self, head: dict):
        super().__init__()
        sizes = [head["in_channels"]] + [head["channels"]] * (len(head["kernel_sizes"]) - 1) + [head["out_channels"]]
        self.convs = nn.ModuleList(CausalConv1d(sizes[i], sizes[i + 1], k) for i, k in enumerate(head["kernel_sizes"]))
        self.act = activation_function(head["activation"])

    def forward(self, x):
        for conv in self.convs:
            x = conv(self.act(x))
        return x


# What a condition DSP may be, rebuilt from its own config: every model NAM core reads (a
# WaveNet too). An LSTM makes the whole network recurrent (see NamWaveNet.forward_stateful).
CONDITION_MODELS = {"nam_convnet": NamConvNet, "nam_linear": NamLinear, "nam_lstm": NamLSTM}


class NamWaveNet(AmpModel):
    """``(B, 1, T) -> (B, out, T)``: a WaveNet as NAM configures it (see :mod:`~guneamp_lib.models.nam_wavenet_config`).

    ``head`` is the post-stack head's config (or None); ``condition`` is a condition DSP's
    ``{"name", "config"}`` (or None). ``out`` is 1 for a file's model; a condition DSP
    may have several outputs.

    Notebook: 11
    """

    name = "nam_wavenet"

    def __init__(self, arrays: list[dict], head_scale: float, head: dict | None = None, condition: dict | None = None):
        super().__init__()
        self.config = {"arrays": arrays, "head_scale": float(head_scale), "head": head, "condition": condition}
        self.head_scale = float(head_scale)
        if condition is None:
            self.condition = None
        else:
            cls = NamWaveNet if condition["name"] == self.name else CONDITION_MODELS[condition["name"]]
            self.condition = cls(**condition["config"])
        self.arrays = nn.ModuleList(_LayerArray(lc) for lc in arrays)
        self.head = None if head is None else _PostHead(head)

    @property
    def stack_receptive_field(self) -> int:
        """The receptive field of the layers and heads alone, without the condition DSP's."""
        rf = 1 + sum(sum((k - 1) * d for k, d in zip(lc["kernel_sizes"], lc["dilations"]))
                     + (lc["head_kernel"] - 1) * lc.get("head_dilation", 1) for lc in self.config["arrays"])
        if self.config["head"] is not None:
            rf += sum(k - 1 for k in self.config["head"]["kernel_sizes"])
        return rf

    @property
    def receptive_field(self) -> float:
        rf = self.stack_receptive_field
        return rf if self.condition is None else rf + self.condition.receptive_field - 1

    @property
    def recurrent_condition(self) -> bool:
        """Whether the condition DSP is an LSTM (or holds one), which makes the whole network recurrent."""
        return self.condition is not None and not math.isfinite(self.condition.receptive_field)

    def _stack(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        head = None
        for array in self.arrays:
            head, x = array(x, c, head)
        y = self.head_scale * head
        return y if self.head is None else self.head(y)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.recurrent_condition:
            return self.forward_stateful(x)[0]
        return self._stack(x, x if self.condition is None else self.condition(x))

    def forward_stateful(self, x: torch.Tensor, state=None):
        """A WaveNet fed by an LSTM condition DSP, continuing from ``state``; returns ``(y, state)``.

        The state is the LSTM's, with the last ``stack_receptive_field - 1`` samples of input
        and of condition that the layers read back. ``None`` starts as every engine does
        and as NAM core's prewarm leaves it: the LSTM from its stored state, then that many
        samples of silence through the whole network, so each layer's history holds its
        answer to silence rather than zeros.
        """
        if not self.recurrent_condition:
            raise TypeError("forward_stateful is for a WaveNet whose condition DSP holds an LSTM")
        ctx = self.stack_receptive_field - 1
        if state is None:
            zeros = x.new_zeros(x.shape[0], 1, ctx)
            c0, lstm_state = self.condition.forward_stateful(zeros) if ctx else (zeros, None)
            state = (lstm_state, zeros, c0)
        lstm_state, x_past, c_past = state
        c, lstm_state = self.condition.forward_stateful(x, lstm_state)
        xs, cs = torch.cat([x_past, x], -1), torch.cat([c_past, c], -1)
        y = self._stack(xs, cs)[..., ctx:]
        keep = xs.shape[-1] - ctx
        return y, (lstm_state, xs[..., keep:], cs[..., keep:])
