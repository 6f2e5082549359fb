"""``tanh`` for the networks: the same function as :func:`torch.tanh`, faster on the CPU.

PyTorch's CPU ``tanh`` (2.11, float32) runs at about a third of the speed of its
``sigmoid`` on the same tensor: measured on one AVX-512 core, 13 ms against 3.8 ms for
6 million samples (a SeedCNN layer's activations for one training step). Since
``tanh(x) = 2 * sigmoid(2 x) - 1``, the cheap route costs one sigmoid and three
in-place passes. Its error against float64 is at most 1.8e-7 (``torch.tanh``'s:
6e-8), far below anything a model or a listener notices. The backward pass is
``torch.tanh``'s own: ``grad * (1 - y**2)``. On a GPU ``torch.tanh`` is used as it is.
Measured in ``benchmarks/run.py``; taught nowhere, since it changes no result.
"""

from __future__ import annotations

import torch


def _tanh_via_sigmoid(x: torch.Tensor) -> torch.Tensor:
    y = x * 2
    torch.sigmoid_(y)
    return y.mul_(2).sub_(1)


class _Tanh(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = _tanh_via_sigmoid(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return torch.ops.aten.tanh_backward(grad, y)


def tanh(x: torch.Tensor) -> torch.Tensor:
    """``torch.tanh(x)``, through ``sigmoid`` on the CPU (see the module's docstring).

    Notebook: 04
    """
    if x.device.type != "cpu" or not x.is_floating_point():
        return torch.tanh(x)
    if torch.is_grad_enabled() and x.requires_grad:
        return _Tanh.apply(x)
    return _tanh_via_sigmoid(x)


__all__ = ["tanh"]
