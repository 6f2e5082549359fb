"""The design's network, made causal, with its receptive field and size (notebook 04).

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

import torch
from torch import nn

from ..dsp.activations import tanh
from .base import AmpModel, CausalConv1d


class SeedCNN(AmpModel):
    """The designed 4-layer dilated CNN: 1 -> 32 -> 32 -> 32 -> 1, kernel 3, dilations 1, 2, 4, 1.

    Notebook: 04
    """

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
    """Weights plus biases per layer, written out by hand so the notebook can show the sum.

    Notebook: 04
    """
    sizes = [1] + [channels] * (n_layers - 1) + [1]
    return [
        (f"conv{i + 1} ({cin}->{cout})", cin * cout * kernel_size + cout)
        for i, (cin, cout) in enumerate(zip(sizes[:-1], sizes[1:]))
    ]


