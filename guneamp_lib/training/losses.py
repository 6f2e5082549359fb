"""The training loss and the error metric (taught in notebook 05).

The design trains on ``MSE + 0.5 * MSE(pre_emphasis(pred), pre_emphasis(target))``.
Pre-emphasis is a first-order high-pass, ``y[n] = x[n] - a x[n-1]``: it weights the
error towards the upper harmonics and pick attacks that plain MSE (dominated by the loud
low notes) barely sees. The score we report everywhere is the error-to-signal ratio,
``ESR = sum((y - y_hat)^2) / sum(y^2)``: 0 is perfect, 1 is as bad as predicting
silence, and it does not depend on the overall level.

Two optional terms (``TrainConfig.mrstft_weight``, ``dc_weight``; off by default, and
measured on real pedals in docs/evaluation.md): a multi-resolution STFT distance, as NAM's
trainer adds to its ESR, and a DC term, the squared mean of the error relative to the
target's power, for gear whose output must not drift off zero.

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


# The FFT sizes of the multi-resolution STFT term: NAM's trainer uses auraloss's defaults
# (1024, 2048, 512); segments here are 2,048 samples or more, so all three fit.
MRSTFT_FFT_SIZES = (512, 1024, 2048)
MRSTFT_EPS = 1e-7  # floor of the log magnitude, as study.metrics uses


def mrstft_loss(pred: torch.Tensor, target: torch.Tensor, fft_sizes=MRSTFT_FFT_SIZES) -> torch.Tensor:
    """Spectral convergence plus log-magnitude L1, averaged over FFT sizes, for batches ``(..., time)``.

    Notebook: 05
    """
    p, t = pred.reshape(-1, pred.shape[-1]), target.reshape(-1, target.shape[-1])
    sizes = [n for n in fft_sizes if n <= p.shape[-1]] or [p.shape[-1]]
    total = pred.new_zeros(())
    for n in sizes:
        window = torch.hann_window(n, device=p.device, dtype=p.dtype)
        mp, mt = (torch.stft(s, n, n // 4, window=window, center=False, return_complex=True).abs() for s in (p, t))
        total = total + torch.linalg.norm(mt - mp) / (torch.linalg.norm(mt) + ESR_EPS)
        total = total + torch.mean(torch.abs(torch.log(mt + MRSTFT_EPS) - torch.log(mp + MRSTFT_EPS)))
    return total / len(sizes)


def dc_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Each segment's mean error squared, over the target's mean power.

    Notebook: 05
    """
    return torch.mean(torch.mean(pred - target, dim=-1) ** 2) / (torch.mean(target**2) + ESR_EPS)


def training_loss(pred: torch.Tensor, target: torch.Tensor, cfg) -> torch.Tensor:
    """:func:`design_loss` plus the optional terms ``cfg`` weights (``mrstft_weight``, ``dc_weight``).

    Notebook: 05
    """
    loss = design_loss(pred, target, cfg.pre_emphasis, cfg.pre_emphasis_weight)
    if cfg.mrstft_weight:
        loss = loss + cfg.mrstft_weight * mrstft_loss(pred, target)
    if cfg.dc_weight:
        loss = loss + cfg.dc_weight * dc_loss(pred, target)
    return loss
