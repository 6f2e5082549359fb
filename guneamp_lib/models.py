"""The networks, made causal, with their receptive field and size (notebook 04).

Every model maps a signal ``(batch, 1, time)`` to a signal of the same shape, and
output sample ``t`` depends only on input samples ``<= t`` (causality: a real amp
cannot react to notes that have not been played yet). That one rule makes training on
long segments, windowed prediction and block-by-block streaming the same computation.

Convolutional models are built from :class:`CausalConv1d` and pointwise operations
only, so they stream block by block by switching those layers to streaming mode.
Recurrent models (receptive field ``math.inf``) provide
``forward_stateful(x, state) -> (y, state)`` instead.

``SeedCNN`` is the design's network. The design pads each convolution symmetrically
(``padding=dilation``), which lets every output see ``dilation`` samples of the
future; here all padding goes on the left instead. Its receptive field is
``1 + (kernel - 1) * sum(dilations) = 17`` samples, and it has 6,433 parameters, not
"about 4,000": each 32-to-32 layer alone holds ``32 * 32 * 3 + 32 = 3,104``.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

from .activations import tanh


class CausalConv1d(nn.Conv1d):
    """A 1-D convolution padded on the left only, so no output sees the future.

    In streaming mode (``streaming = True``) the left padding is replaced by the last
    ``left_pad`` input samples of the previous call, so a signal fed block by block
    gives the same output as the whole signal at once. ``reset_state()`` forgets them.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1, bias: bool = True):
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation, bias=bias)
        self.left_pad = dilation * (kernel_size - 1)
        self.streaming = False
        self._history: torch.Tensor | None = None

    def reset_state(self) -> None:
        self._history = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.streaming:
            return super().forward(F.pad(x, (self.left_pad, 0)))
        if self._history is None or self._history.shape[:2] != x.shape[:2]:
            self._history = x.new_zeros(x.shape[0], x.shape[1], self.left_pad)
        xp = torch.cat([self._history, x], dim=-1)
        self._history = xp[..., xp.shape[-1] - self.left_pad :].detach()
        return super().forward(xp)

    def forward_valid(self, x: torch.Tensor) -> torch.Tensor:
        """No padding at all: ``left_pad`` samples shorter than the input, each output exact."""
        return super().forward(x)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class SeedCNN(nn.Module):
    """The designed 4-layer dilated CNN: 1 -> 32 -> 32 -> 32 -> 1, kernel 3, dilations 1, 2, 4, 1."""

    name = "seed_cnn"

    def __init__(self, channels: int = 32, kernel_size: int = 3, dilations: tuple[int, ...] = (1, 2, 4, 1)):
        super().__init__()
        if kernel_size < 1 or channels < 1 or not dilations or min(dilations) < 1:
            raise ValueError("channels, kernel_size and every dilation must be positive")
        self.config = {"channels": int(channels), "kernel_size": int(kernel_size), "dilations": [int(d) for d in dilations]}
        sizes = [1] + [channels] * (len(dilations) - 1) + [1]
        self.layers = nn.ModuleList(
            CausalConv1d(cin, cout, kernel_size, d) for cin, cout, d in zip(sizes[:-1], sizes[1:], dilations)
        )

    @property
    def receptive_field(self) -> int:
        k = self.config["kernel_size"]
        return 1 + (k - 1) * sum(self.config["dilations"])

    @property
    def num_parameters(self) -> int:
        return count_parameters(self)

    # forward(x, pad=False) exists: training on segments that bring their own context uses it.
    supports_valid = True

    def forward(self, x: torch.Tensor, pad: bool = True) -> torch.Tensor:
        """``pad=False``: no zero padding, so the output is ``receptive_field - 1`` samples
        shorter and every sample of it is exact; it saves a copy of every activation."""
        for i, layer in enumerate(self.layers):
            x = layer(x) if pad or layer.streaming else layer.forward_valid(x)
            if i < len(self.layers) - 1:
                x = tanh(x)  # the last layer stays linear: output level is unconstrained
        return x


def seed_cnn_parameter_breakdown(channels: int = 32, kernel_size: int = 3, n_layers: int = 4) -> list[tuple[str, int]]:
    """Weights plus biases per layer, written out by hand so the notebook can show the sum."""
    sizes = [1] + [channels] * (n_layers - 1) + [1]
    return [
        (f"conv{i + 1} ({cin}->{cout})", cin * cout * kernel_size + cout)
        for i, (cin, cout) in enumerate(zip(sizes[:-1], sizes[1:]))
    ]


MODELS: dict[str, Callable[..., nn.Module]] = {"seed_cnn": SeedCNN}


def register(name: str):
    """Class decorator that makes a model selectable by ``name`` in the CLI and notebooks."""

    def wrap(cls):
        MODELS[name] = cls
        cls.name = name
        return cls

    return wrap


def build_model(name: str, **kwargs) -> nn.Module:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(sorted(MODELS))}")
    return MODELS[name](**kwargs)


def model_config(model: nn.Module) -> dict:
    return dict(getattr(model, "config", {}))


def receptive_field(model: nn.Module) -> float:
    """Input samples that can affect one output sample (``math.inf`` for recurrent models)."""
    return getattr(model, "receptive_field", math.inf)


def measure_receptive_field(model: nn.Module, length: int | None = None) -> int:
    """Measure, by back-propagating from the last output, how far back the input matters."""
    rf = receptive_field(model)
    n = length or (int(rf) * 2 + 64 if math.isfinite(rf) else 8192)
    x = torch.randn(1, 1, n, dtype=torch.float64, requires_grad=True)
    was = model.training
    model.eval()
    model.double()
    try:
        y = model(x)
        y[0, 0, -1].backward()
    finally:
        model.float()
        model.train(was)
    nz = torch.nonzero(x.grad[0, 0].abs() > 0).flatten()
    return int(n - nz.min().item())
from . import lstm, wavenet  # noqa: E402,F401  (registers "lstm" and "wavenet" in MODELS)
