"""One training step, written once: draw segments, run them, score them, update (notebook 06).

:func:`train` and ``benchmarks/`` both use these, so a benchmark times exactly what
training does. A :class:`SegmentSampler` holds the training part of the recording,
oversampled once, with silence before it for the context of the first segments; each
draw picks ``batch_size`` random segments of ``length`` scored samples, each with the
``context`` samples before it that fill the network's receptive field, the
downsampler's filter and the cabinet IR. :func:`forward_segments` runs them the way
rendering does and keeps only the scored part; :func:`train_step` takes one optimizer
step on the designed loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..dsp.cabinet import fft_convolve, ir_energy_length
from ..dsp.oversampling import RESAMPLER_REACH, downsample, oversample
from ..models import AmpModel, receptive_field
from .data import TrainingData
from .losses import design_loss

# File-rate samples the downsampler's filter reaches either side of each output sample.
RESAMPLER_MARGIN = RESAMPLER_REACH
# Cabinet IR samples used inside the training loss: beyond 99.99% of its energy the
# tail only costs time (validation and rendering always use the whole IR).
IR_LOSS_ENERGY = 0.9999


def context_samples(model: torch.nn.Module, cfg, ir_len: int) -> int:
    """File-rate samples of input each segment needs before its first scored sample.

    Notebook: 06
    """
    rf = receptive_field(model)
    model_ctx = math.ceil((rf - 1) / cfg.oversample) if math.isfinite(rf) else cfg.burn_in
    return model_ctx + RESAMPLER_MARGIN + max(ir_len - 1, 0)


def forward_segments(model, x_os: torch.Tensor, factor: int, ir: torch.Tensor | None, context: int, length: int,
                     knobs: torch.Tensor | None = None):
    """Network at the oversampled rate -> file rate -> cabinet; the scored part only.

    ``knobs``: a knob model's ``(B, K)`` normalized vectors, one per segment (notebook 13).

    Notebook: 06
    """
    if knobs is not None:
        y = model(x_os.unsqueeze(1), knobs=knobs)[:, 0]
    elif model.supports_valid:
        y = model(x_os.unsqueeze(1), pad=False)[:, 0]
        # Zeros where the padded network would have guessed from padding: both lie in
        # the context, which `context` keeps out of the scored part.
        y = torch.nn.functional.pad(y, (x_os.shape[-1] - y.shape[-1], 0))
    else:
        y = model(x_os.unsqueeze(1))[:, 0]
    y = downsample(y, factor)
    if ir is not None:
        y = fft_convolve(y, ir)[..., : y.shape[-1]]
    return y[:, context : context + length]


@dataclass
class SegmentSampler:
    """Random training segments from one recording: oversampled input with context, and targets.

    Notebook: 06
    """

    padded: torch.Tensor  # oversampled input, with ``context`` samples of silence before it
    target: torch.Tensor
    oversample: int
    context: int
    length: int
    n_starts: int
    ir: torch.Tensor | None  # the cabinet IR as used in the loss (its tail trimmed)

    @classmethod
    def build(cls, model: AmpModel, data: TrainingData, cfg, length: int, device) -> "SegmentSampler":
        F = cfg.oversample
        ir = None if data.ir is None else data.ir[: ir_energy_length(data.ir, IR_LOSS_ENERGY)].to(device)
        ctx = context_samples(model, cfg, 0 if ir is None else ir.numel())
        L = min(length, data.n_train)
        # Zeros before the recording stand for the silence the amp heard before it started.
        clean_os = oversample(data.clean[: data.val_start + RESAMPLER_MARGIN], F)
        padded = torch.cat([torch.zeros(ctx * F), clean_os, torch.zeros(RESAMPLER_MARGIN * F)]).to(device)
        return cls(padded, data.target.to(device), F, ctx, L, data.n_train - L + 1, ir)

    def draw(self, batch_size: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``batch_size`` segments: inputs ``(B, span * oversample)`` and targets ``(B, length)``.

        The inputs are whatever :meth:`forward` takes (a knob sampler's carry their knobs too)."""
        device = self.padded.device
        span = self.context + self.length + RESAMPLER_MARGIN
        starts = torch.randint(0, self.n_starts, (batch_size,), generator=gen).to(device)
        x = self.padded[starts[:, None] * self.oversample + torch.arange(span * self.oversample, device=device)]
        y = self.target[starts[:, None] + torch.arange(self.length, device=device)]
        return x, y

    def forward(self, model: AmpModel, x: torch.Tensor) -> torch.Tensor:
        return forward_segments(model, x, self.oversample, self.ir, self.context, self.length)


def cosine_lr(base_lr: float, frac: float) -> float:
    """The learning rate at ``frac`` (0 to 1) of the run: cosine decay to zero.

    Notebook: 06
    """
    return base_lr * 0.5 * (1.0 + math.cos(math.pi * min(max(frac, 0.0), 1.0)))


def train_step(model: AmpModel, opt: torch.optim.Optimizer, sampler: SegmentSampler, batch_size: int,
               gen: torch.Generator, cfg, lr: float) -> float:
    """One optimizer step on a fresh batch; returns the batch's loss.

    Notebook: 06
    """
    for g in opt.param_groups:
        g["lr"] = lr
    x, y = sampler.draw(batch_size, gen)
    pred = sampler.forward(model, x)
    loss = design_loss(pred, y, cfg.pre_emphasis, cfg.pre_emphasis_weight)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if cfg.grad_clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    opt.step()
    return loss.item()
