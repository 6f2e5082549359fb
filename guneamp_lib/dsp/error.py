"""The error-to-signal ratio and pre-emphasis: how far one signal is from another (notebook 05).

``ESR = sum((y - y_hat)^2) / sum(y^2)``: 0 is perfect, 1 is as bad as predicting
silence, and it does not depend on the overall level. Pre-emphasis, ``y[n] = x[n] -
a x[n-1]``, is a first-order high-pass that weights an error towards the upper
harmonics and pick attacks. Both are plain signal measurements, so they live here,
below everything that uses them: capture checks, the training loss and the study.
"""

from __future__ import annotations

import numpy as np
import torch

DEFAULT_PRE_EMPHASIS = 0.95
# Keeps ESR finite on a silent target; far below any real signal's energy.
ESR_EPS = 1e-10


def pre_emphasis(x: torch.Tensor, coeff: float = DEFAULT_PRE_EMPHASIS) -> torch.Tensor:
    """First-order high-pass along the last axis; one sample shorter than ``x``.

    Notebook: 05
    """
    return x[..., 1:] - coeff * x[..., :-1]


def esr(target, prediction) -> float:
    """Error-to-signal ratio of ``prediction`` against ``target`` (tensors or arrays).

    Notebook: 05
    """
    t = torch.as_tensor(np.asarray(target) if not isinstance(target, torch.Tensor) else target).double().reshape(-1)
    p = torch.as_tensor(np.asarray(prediction) if not isinstance(prediction, torch.Tensor) else prediction).double().reshape(-1)
    if t.shape != p.shape:
        raise ValueError(f"ESR needs equal lengths, got {t.numel()} and {p.numel()} samples")
    return float(torch.sum((t - p) ** 2) / (torch.sum(t**2) + ESR_EPS))


class ErrorSums:
    """ESR and pre-emphasized ESR of two signals fed block by block, in float64.

    Sums of squared error and of target energy accumulate per block; the pre-emphasis
    filter carries each signal's last sample into the next block, so the result equals
    :func:`esr` and the ESR of :func:`pre_emphasis` over the whole signals (to float
    summation order) in memory that does not grow with them.

    Notebook: 05, 12
    """

    def __init__(self, coeff: float = DEFAULT_PRE_EMPHASIS) -> None:
        self.coeff, self.error, self.energy, self.pe_error, self.pe_energy = coeff, 0.0, 0.0, 0.0, 0.0
        self.last: tuple[float, float] | None = None  # the previous block's last target and prediction

    def add(self, target, prediction) -> None:
        t = np.asarray(target, dtype=np.float64).reshape(-1)
        p = np.asarray(prediction, dtype=np.float64).reshape(-1)
        if t.shape != p.shape:
            raise ValueError(f"ESR needs equal lengths, got {t.size} and {p.size} samples")
        if not t.size:
            return
        self.error += float(np.sum((t - p) ** 2))
        self.energy += float(np.sum(t**2))
        tt, pp = (t, p) if self.last is None else (np.concatenate([[self.last[0]], t]), np.concatenate([[self.last[1]], p]))
        et, ep = tt[1:] - self.coeff * tt[:-1], pp[1:] - self.coeff * pp[:-1]
        self.pe_error += float(np.sum((et - ep) ** 2))
        self.pe_energy += float(np.sum(et**2))
        self.last = (float(t[-1]), float(p[-1]))

    @property
    def esr(self) -> float:
        return self.error / (self.energy + ESR_EPS)

    @property
    def esr_pre_emphasis(self) -> float:
        return self.pe_error / (self.pe_energy + ESR_EPS)
