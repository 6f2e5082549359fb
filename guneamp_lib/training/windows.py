"""Training examples: the designed sliding windows and their memory-safe twin (notebook 03).

The design cuts the audio into one 256-sample window per target sample. Each window is
a copy, so the examples take 256 times the memory of the audio itself: 40 s at 8x
oversampling (14 million samples) would need about 14 GB. A causal convolutional
network does not need the copies: run it once over a long segment and output sample
``i`` *is* the prediction of the window that ends at ``i``. The two views give the same
targets and the same loss (``tests/test_windows.py`` proves it), and only the second
scales to real recordings.

Alignment: the window for target ``y[i]`` is ``x[i - window + 1 : i + 1]``, i.e. it
ends at (and includes) sample ``i``. The design's sketch uses ``x[i - window : i]``,
which hides the current input sample from the network and turns modeling into one-step
prediction.
"""

from __future__ import annotations

import torch

from ..errors import GuneampError
from .losses import design_loss

DEFAULT_WINDOW = 256
# The designed windows are for teaching on excerpts; beyond this they should not be built.
MAX_WINDOW_BYTES = 1 << 30


def window_memory_bytes(n_samples: int, window: int = DEFAULT_WINDOW, dtype: torch.dtype = torch.float32) -> int:
    """Bytes the designed windows (inputs and targets) would take for ``n_samples`` of audio.

    Notebook: 03
    """
    n_windows = max(n_samples - window + 1, 0)
    itemsize = torch.empty((), dtype=dtype).element_size()
    return n_windows * (window + 1) * itemsize


def make_window(x: torch.Tensor, y: torch.Tensor, window: int = DEFAULT_WINDOW, max_bytes: int = MAX_WINDOW_BYTES):
    """The design's sliding windows: ``X[k] = x[i-window+1 : i+1]`` and ``Y[k] = y[i]``.

    Returns ``X`` of shape ``(n, window)`` and ``Y`` of shape ``(n,)`` with
    ``n = len(x) - window + 1``. Refuses inputs whose windows would not fit in memory.

    Notebook: 03
    """
    if x.ndim != 1 or y.ndim != 1:
        raise GuneampError("make_window takes 1-D signals (time only)")
    if x.shape != y.shape:
        raise GuneampError(f"input and target differ in length ({x.numel()} vs {y.numel()} samples)")
    if x.numel() < window:
        raise GuneampError(f"the signal has {x.numel()} samples, fewer than one window of {window}")
    need = window_memory_bytes(x.numel(), window, x.dtype)
    if need > max_bytes:
        raise GuneampError(
            f"the designed windows for {x.numel():,} samples would take {need / 1e9:.1f} GB "
            f"({window} copies of the audio). Use them only on a short excerpt, and train on whole "
            "segments instead: guneamp_lib.training.windows.full_signal_loss / guneamp_lib.training.train.train."
        )
    X = x.unfold(0, window, 1).contiguous()  # contiguous() materializes the copies, as the design does
    Y = y[window - 1 :].clone()
    return X, Y


def window_predictions(model: torch.nn.Module, X: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    """One prediction per designed window: the model's output at the window's last sample.

    Notebook: 03
    """
    outs = [model(X[i : i + batch_size].unsqueeze(1))[:, 0, -1] for i in range(0, X.shape[0], batch_size)]
    return torch.cat(outs)


def windowed_loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, window: int = DEFAULT_WINDOW, **loss_kw):
    """The designed loss computed the designed way: windows in time order, one target each.

    Notebook: 03
    """
    X, Y = make_window(x, y, window)
    return design_loss(window_predictions(model, X), Y, **loss_kw)


def segment_targets(y: torch.Tensor, window: int = DEFAULT_WINDOW) -> torch.Tensor:
    """The targets the full-signal view trains on: the same ones the windows have.

    Notebook: 03
    """
    return y[window - 1 :]


def full_signal_loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, window: int = DEFAULT_WINDOW, **loss_kw):
    """The same loss, from one pass of the causal network over the whole signal.

    Equal to :func:`windowed_loss` whenever the model's receptive field fits in the
    window, because then no output before the crop can see the zero padding.

    Notebook: 03
    """
    rf = model.receptive_field
    if rf > window:
        raise GuneampError(f"the model sees {rf} samples, more than the window of {window}; use a window >= {rf}")
    pred = model(x.reshape(1, 1, -1))[0, 0, window - 1 :]
    return design_loss(pred, segment_targets(y, window), **loss_kw)


def designed_step(model: torch.nn.Module, opt: torch.optim.Optimizer, X: torch.Tensor, Y: torch.Tensor) -> float:
    """One step of the design's training: a batch of windows, the last output of each, the designed loss.

    Kept so the course and the benchmarks can measure what the design's loop costs.

    Notebook: 03
    """
    loss = design_loss(model(X.unsqueeze(1))[:, 0, -1], Y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()
