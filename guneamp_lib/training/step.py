"""One training step, written once: draw segments, run them, score them, update (notebook 06).

:func:`train` and ``benchmarks/`` both use these, so a benchmark times exactly what
training does. A :class:`SegmentSampler` holds the training part of the recording,
oversampled once, with silence before it for the context of the first segments; each
draw picks ``batch_size`` random segments of ``length`` scored samples, each with the
``context`` samples before it that fill the network's receptive field, the
downsampler's filter and the cabinet IR. :func:`forward_segments` runs them the way
rendering does and keeps only the scored part; :func:`train_step` takes one optimizer
step on the designed loss (:func:`~guneamp_lib.training.losses.training_loss`).

Options of a recipe, each off by default (measured on real pedals in docs/evaluation.md):
:func:`augment` flips the polarity of whole segments (input and target together: right
only for gear that treats both half-waves alike) and jitters each segment's input gain a
little (the target stays, so the model learns to forgive small level errors of a DI);
:class:`WeightAverage` keeps an exponential moving average of the weights, which
validation scores and the best checkpoint keeps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..dsp.cabinet import fft_convolve, ir_energy_length
from ..dsp.oversampling import RESAMPLER_REACH, downsample, oversample
from ..models import AmpModel, receptive_field
from .data import TrainingData
from .losses import training_loss

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
    kw = {} if knobs is None else {"knobs": knobs}
    if model.supports_valid:
        y = model(x_os.unsqueeze(1), pad=False, **kw)[:, 0]
        # Zeros where the padded network would have guessed from padding: both lie in
        # the context, which `context` keeps out of the scored part.
        y = torch.nn.functional.pad(y, (x_os.shape[-1] - y.shape[-1], 0))
    else:
        y = model(x_os.unsqueeze(1), **kw)[:, 0]
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


def augment(x, y: torch.Tensor, cfg, gen: torch.Generator):
    """Segments ``(B, ...)`` with ``cfg.polarity`` flips and ``cfg.gain_jitter_db`` input gains applied.

    ``x`` is the input audio, or a knob sampler's ``(audio, knobs)`` (the knobs are left
    alone). Both off: the inputs unchanged and ``gen`` untouched, so a run without them
    draws the same segments it always did.

    Notebook: 06
    """
    if not (cfg.polarity or cfg.gain_jitter_db):
        return x, y
    audio, rest = (x[0], x[1:]) if isinstance(x, tuple) else (x, None)
    b = audio.shape[0]
    if cfg.polarity:
        sign = (torch.randint(0, 2, (b, 1), generator=gen) * 2 - 1).to(audio.device, audio.dtype)
        audio, y = audio * sign, y * sign
    if cfg.gain_jitter_db:
        db = (torch.rand((b, 1), generator=gen) * 2 - 1) * cfg.gain_jitter_db
        audio = audio * (10.0 ** (db / 20.0)).to(audio.device, audio.dtype)
    return (audio if rest is None else (audio, *rest)), y


class WeightAverage:
    """An exponential moving average of a model's weights (``decay`` per step), swapped in to validate.

    Early on the average uses ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates, so it
    does not remember the random initial weights for thousands of steps.

    Notebook: 06
    """

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay, self.updates = decay, 0
        self.avg = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        self.updates += 1
        for k, v in model.state_dict().items():
            if v.dtype.is_floating_point:
                self.avg[k].mul_(d).add_(v.detach(), alpha=1.0 - d)
            else:
                self.avg[k].copy_(v)

    def swap_in(self, model: torch.nn.Module) -> dict:
        """Load the average into ``model``; returns the live weights, for :meth:`swap_out`."""
        live = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(self.avg)
        return live

    @staticmethod
    def swap_out(model: torch.nn.Module, live: dict) -> None:
        model.load_state_dict(live)


def train_step(model: AmpModel, opt: torch.optim.Optimizer, sampler: SegmentSampler, batch_size: int,
               gen: torch.Generator, cfg, lr: float) -> float:
    """One optimizer step on a fresh batch; returns the batch's loss.

    Notebook: 06
    """
    for g in opt.param_groups:
        g["lr"] = lr
    x, y = augment(*sampler.draw(batch_size, gen), cfg, gen)
    pred = sampler.forward(model, x)
    loss = training_loss(pred, y, cfg)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if cfg.grad_clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    opt.step()
    return loss.item()
