"""The training loss and the error metric (taught in notebook 05).

The design trains on ``MSE + 0.5 * MSE(pre_emphasis(pred), pre_emphasis(target))``.
Pre-emphasis is a first-order high-pass, ``y[n] = x[n] - a x[n-1]``: it weights the
error towards the upper harmonics and pick attacks that plain MSE (dominated by the loud
low notes) barely sees. The score we report everywhere is the error-to-signal ratio,
``ESR = sum((y - y_hat)^2) / sum(y^2)``: 0 is perfect, 1 is as bad as predicting
silence, and it does not depend on the overall level.

Pre-emphasis only makes sense along *time*. The design's sketch applies it to a batch
of single-sample predictions drawn from shuffled windows, where neighbouring entries
are unrelated samples; here it is applied along the last (time) axis of contiguous
predictions, which is what the fully convolutional training produces.
"""

from __future__ import annotations

import torch

from ..dsp.error import DEFAULT_PRE_EMPHASIS, ESR_EPS, esr, pre_emphasis  # noqa: F401  (the loss is built on them)

DEFAULT_PRE_EMPHASIS_WEIGHT = 0.5


def design_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    coeff: float = DEFAULT_PRE_EMPHASIS,
    weight: float = DEFAULT_PRE_EMPHASIS_WEIGHT,
) -> torch.Tensor:
    """The designed loss: MSE plus ``weight`` times the MSE of the pre-emphasized signals.

    Notebook: 05
    """
    if pred.shape != target.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
    mse = torch.mean((pred - target) ** 2)
    if weight == 0.0:
        return mse
    return mse + weight * torch.mean((pre_emphasis(pred, coeff) - pre_emphasis(target, coeff)) ** 2)


class DesignLoss(torch.nn.Module):
    """:func:`design_loss` as a module, for code that expects ``criterion(pred, target)``.

    Notebook: 05
    """

    def __init__(self, coeff: float = DEFAULT_PRE_EMPHASIS, weight: float = DEFAULT_PRE_EMPHASIS_WEIGHT):
        super().__init__()
        self.coeff, self.weight = coeff, weight

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return design_loss(pred, target, self.coeff, self.weight)


def esr_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Differentiable ESR, for models trained on it directly.

    Notebook: 05
    """
    return torch.sum((pred - target) ** 2) / (torch.sum(target**2) + ESR_EPS)
