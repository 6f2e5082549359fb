"""Seeding and device choice (notebooks 00 and 06).

One ``set_seed`` call makes a run repeatable on a given machine: Python's, NumPy's and
PyTorch's generators (CPU and every GPU) all start from it. ``pick_device`` takes the
fastest device present, CUDA, then Apple's MPS, then the CPU, unless told otherwise.
"""

from __future__ import annotations

import random

import numpy as np
import torch

from .errors import GuneampError
from .vocabulary import DEVICE_CHOICES


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)  # also seeds every CUDA device


def mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def pick_device(preference: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA, then MPS, then CPU; a named device must exist."""
    if isinstance(preference, torch.device):
        return preference
    pref = str(preference).lower()
    if pref == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind = pref.split(":")[0]
    if kind == "cuda" and not torch.cuda.is_available():
        raise GuneampError("device 'cuda' was asked for but no CUDA GPU is visible; use --device auto or cpu")
    if kind == "mps" and not mps_available():
        raise GuneampError("device 'mps' was asked for but Apple's Metal backend is not available; use --device auto or cpu")
    if kind not in DEVICE_CHOICES:
        raise GuneampError(f"unknown device {preference!r}; choose one of {', '.join(DEVICE_CHOICES)}")
    return torch.device(pref)


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type
