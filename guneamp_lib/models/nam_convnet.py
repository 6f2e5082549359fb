"""NAM's two plain convolutional networks, ConvNet and Linear, for ``.nam`` files read back (notebook 11_beyond_the_seed).

Both are older NAM architectures that files in the wild still hold; NAM core 0.5.5
(``NAM/convnet.cpp``, ``NAM/linear.cpp``) plays them, so we do too.

**ConvNet**: blocks of a causal convolution with two taps (dilation ``d``), a batch norm
or a bias, and an activation; then a 1x1 head with a bias. The file keeps, per block,
the convolution's weights ``(out, in / groups, 2)``, its bias (without batch norm), then
the batch norm's running mean, running variance, weight, bias and ``eps``; NAM core folds
those into ``scale = weight / sqrt(eps + var)`` and ``loc = bias - scale * mean`` in
float32, and so do we (:func:`batchnorm_affine`).

NAM core gives a ConvNet no prewarm: its histories start at zero, not at the state that
silence leaves (a block's bias and activation make that state non-zero). For the first
receptive field of a render the two differ; from there on they agree.

**Linear**: one causal FIR ``y[t] = b + sum_j w[j] x[t - j]`` (the file's first weight
is the tap at lag 0), an impulse response.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import AmpModel, CausalConv1d
from .nam_activations import activation_function


def batchnorm_affine(block: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """NAM core's ``(scale, loc)`` from a file's ``mean, var, weight, bias, eps`` (``4 dim + 1`` float32 numbers)."""
    b = block.float()
    mean, var, weight, bias, eps = b[:dim], b[dim : 2 * dim], b[2 * dim : 3 * dim], b[3 * dim : 4 * dim], b[4 * dim]
    scale = weight / torch.sqrt(eps + var)
    return scale, bias - scale * mean


class _Block(nn.Module):
    def __init__(self, cin: int, cout: int, dilation: int, batchnorm: bool, groups: int):
        super().__init__()
        self.conv = CausalConv1d(cin, cout, 2, dilation, bias=not batchnorm, groups=groups)
        self.scale = nn.Parameter(torch.ones(cout)) if batchnorm else None
        self.loc = nn.Parameter(torch.zeros(cout)) if batchnorm else None

    def forward(self, x):
        y = self.conv(x)
        return y if self.scale is None else y * self.scale[:, None] + self.loc[:, None]


class NamConvNet(AmpModel):
    """``(B, in, T) -> (B, out, T)``: NAM's ConvNet.

    Notebook: 11
    """

    name = "nam_convnet"

    def __init__(self, channels: int, dilations: list[int], batchnorm: bool, activation: dict, groups: int = 1,
                 in_channels: int = 1, out_channels: int = 1):
        super().__init__()
        self.config = {"channels": channels, "dilations": list(dilations), "batchnorm": batchnorm,
                       "activation": activation, "groups": groups, "in_channels": in_channels,
                       "out_channels": out_channels}
        self.blocks = nn.ModuleList(_Block(in_channels if i == 0 else channels, channels, d, batchnorm, groups)
                                    for i, d in enumerate(dilations))
        self.head = nn.Conv1d(channels, out_channels, 1)
        self.act = activation_function(activation)

    @property
    def receptive_field(self) -> int:
        return 1 + sum(self.config["dilations"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = self.act(block(x))
        return self.head(x)


class NamLinear(AmpModel):
    """``(B, 1, T) -> (B, 1, T)``: NAM's Linear model, one causal FIR.

    Notebook: 11
    """

    name = "nam_linear"

    def __init__(self, receptive_field: int, bias: bool):
        super().__init__()
        self.config = {"receptive_field": receptive_field, "bias": bias}
        # torch's tap k multiplies x[t - (K - 1 - k)]: the file's taps are stored reversed
        self.fir = CausalConv1d(1, 1, receptive_field, bias=bias)

    @property
    def receptive_field(self) -> int:
        return self.config["receptive_field"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fir(x)
