"""Where the compiled kernels come from: numba, if it is installed (notebook 07).

Every fast path asks :func:`kernels` once; ``None`` means numba is missing and the
caller falls back to torch. :func:`as_block` makes the float32, contiguous 1-D array
the kernels expect.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import GuneampError

# The engine names every render path takes: the compiled kernels, the model's own torch
# modules, or the compiled kernels where they cover the model and torch elsewhere.
ENGINES = ("auto", "compiled", "torch")

def kernels():
    """The compiled kernels, or ``None`` where numba is missing.

    Notebook: 07
    """
    try:
        from . import kernels as compiled_kernels
    except ImportError:
        return None
    return compiled_kernels


def as_block(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 2 and 1 in x.shape:
        x = x.reshape(-1)
    if x.ndim != 1:
        raise GuneampError(f"a block is one channel of samples (1-D), got shape {x.shape}")
    return np.ascontiguousarray(x)
