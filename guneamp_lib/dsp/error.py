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
