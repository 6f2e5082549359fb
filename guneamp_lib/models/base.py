"""What every model in guneamp is: the protocol, and the causal convolution (notebook 04).

Every model maps a signal ``(batch, 1, time)`` to a signal of the same shape, and
output sample ``t`` depends only on input samples ``<= t`` (causality: a real amp
cannot react to notes that have not been played yet). That one rule makes training on
long segments, windowed prediction and block-by-block streaming the same computation.

:class:`AmpModel` states, once per model, what the rest of the library may ask of it:
its receptive field (``math.inf`` for recurrent models), whether it can run without
zero padding on segments that carry their own context (``supports_valid``), and its
constructor arguments (``config``) so a checkpoint can rebuild it. Code elsewhere asks
these attributes; it never probes with ``getattr``.

Convolutional models are built from :class:`CausalConv1d` and pointwise operations
only, so they stream block by block by switching those layers to streaming mode.
Recurrent models provide ``forward_stateful(x, state) -> (y, state)`` instead.

A knob ("conditioned") model is the same class with ``num_knobs`` in its config: its
``forward`` takes ``knobs``, the settings scaled to 0..1 (:mod:`guneamp_lib.knobs`), as
``(B, K)`` (constant over the signal) or ``(B, K, T)`` (one vector per sample);
:func:`with_knobs` puts them beside the audio as extra input channels.
"""

from __future__ import annotations

import math

from torch import nn
from torch.nn import functional as F

import torch


class AmpModel(nn.Module):
    """The protocol every guneamp model implements.

    Subclasses set ``name`` (the key in :data:`guneamp_lib.models.MODELS`), fill
    ``self.config`` with their constructor arguments, and override
    ``receptive_field`` when it is finite and ``supports_valid`` when
    ``forward(x, pad=False)`` returns only the exact, unpadded part of the output.

    Notebook: 04
    """

    name: str = ""
    supports_valid: bool = False

    def __init__(self) -> None:
        super().__init__()
        self.config: dict = {}

    @property
    def receptive_field(self) -> float:
        """Input samples that can affect one output sample (``math.inf`` for recurrent models)."""
        return math.inf

    @property
    def num_parameters(self) -> int:
        return count_parameters(self)

    @property
    def num_knobs(self) -> int:
        """Knob inputs beside the audio (notebook 13); 0 for a snapshot model."""
        return int(self.config.get("num_knobs", 0))


class CausalConv1d(nn.Conv1d):
    """A 1-D convolution padded on the left only, so no output sees the future.

    In streaming mode (``streaming = True``) the left padding is replaced by the last
    ``left_pad`` input samples of the previous call, so a signal fed block by block
    gives the same output as the whole signal at once. ``reset_state()`` forgets them.

    Notebook: 04
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1, bias: bool = True,
                 groups: int = 1):
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation, bias=bias, groups=groups)
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




def check_num_knobs(num_knobs) -> int:
    """A model's knob count: a whole number from 0 to :data:`~guneamp_lib.knobs.MAX_KNOBS`."""
    from ..knobs import MAX_KNOBS

    if isinstance(num_knobs, bool) or not isinstance(num_knobs, int) or not 0 <= num_knobs <= MAX_KNOBS:
        raise ValueError(f"num_knobs must be a whole number from 0 to {MAX_KNOBS}, got {num_knobs!r}")
    return num_knobs


def with_knobs(x: torch.Tensor, knobs: torch.Tensor | None, num_knobs: int) -> torch.Tensor:
    """``(B, 1, T)`` audio and ``(B, K)`` or ``(B, K, T)`` knobs -> ``(B, 1 + K, T)``: the knobs as channels.

    Notebook: 13
    """
    if num_knobs == 0:
        if knobs is not None and knobs.numel():
            raise ValueError("this is a snapshot model: it takes no knobs")
        return x
    if knobs is None:
        raise ValueError(f"this model takes {num_knobs} knob(s): pass knobs=(B, {num_knobs}) or (B, {num_knobs}, T)")
    knobs = knobs.to(x)
    if knobs.ndim == 2:
        knobs = knobs.unsqueeze(-1).expand(-1, -1, x.shape[-1])
    if knobs.ndim != 3 or knobs.shape[1] != num_knobs or knobs.shape[2] != x.shape[-1]:
        raise ValueError(f"knobs must be (B, {num_knobs}) or (B, {num_knobs}, {x.shape[-1]}), got {tuple(knobs.shape)}")
    if knobs.shape[0] != x.shape[0]:
        knobs = knobs.expand(x.shape[0], -1, -1)
    return torch.cat([x, knobs], dim=1)
