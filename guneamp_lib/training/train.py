"""Training on long causal segments, with the cabinet inside the loss (notebook 06).

Each step draws a batch of random segments from the training part of the recording.
A segment is run through the network at the oversampled rate, brought back to the file
rate and, when the target was recorded through a cabinet, convolved with the cabinet
IR; the designed loss then compares it with the recording. Every segment starts with
enough extra input (context) to fill the network's receptive field, the downsampler's
filter and the IR, and the loss ignores those first samples, so segment borders never
teach the network anything false. Validation runs the same path over the held-out part
of the recording.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
from tqdm.auto import tqdm

from ..models.checkpoint import Checkpoint, save_checkpoint
from .data import TrainingData
from .defaults import training_defaults
from ..errors import GuneampError
from ..render.inference import predict
from .losses import design_loss, esr
from .step import SegmentSampler, context_samples, cosine_lr, train_step
from ..models import build_model, count_parameters, receptive_field
from ..runtime import describe_device, pick_device, set_seed



@dataclass
class TrainConfig:
    model: str = "seed_cnn"
    model_kwargs: dict = field(default_factory=dict)
    # None: the model's row of training.defaults.TRAINING (the one table of defaults).
    oversample: int | None = None
    window: int = 256
    segment: int | None = None  # scored file-rate samples per segment; None: see segment_length()
    batch_size: int | None = None
    learning_rate: float | None = None
    epochs: int | None = None
    time_budget_s: float | None = 120.0
    steps_per_epoch: int | None = None
    burn_in: int = 2048
    seed: int = 0
    device: str = "auto"
    pre_emphasis: float = 0.95
    pre_emphasis_weight: float = 0.5
    grad_clip: float = 1.0

    def __post_init__(self):
        if None in (self.oversample, self.batch_size, self.learning_rate):
            row = training_defaults(self.model)
            self.oversample = row.oversample if self.oversample is None else self.oversample
            self.batch_size = row.batch_size if self.batch_size is None else self.batch_size
            self.learning_rate = row.learning_rate if self.learning_rate is None else self.learning_rate
        if self.epochs is None and self.time_budget_s is None:
            raise GuneampError("give a number of epochs, a time budget, or both")
        if self.epochs is not None and self.epochs < 1:
            raise GuneampError("epochs must be at least 1")
        if self.time_budget_s is not None and self.time_budget_s <= 0:
            raise GuneampError("the time budget must be positive")
        if self.segment is not None and self.segment < 1:
            raise GuneampError("the segment length must be at least 1 sample")
        if self.batch_size < 1:
            raise GuneampError(f"the batch size must be at least 1 segment, got {self.batch_size}")
        if self.oversample < 1:
            raise GuneampError(f"the oversampling factor must be at least 1, got {self.oversample}")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise GuneampError(f"the learning rate must be a positive number, got {self.learning_rate}")


@dataclass
class TrainResult:
    model: torch.nn.Module
    history: list[dict]
    best_val_esr: float
    checkpoint: Checkpoint
    best_path: Path | None
    last_path: Path | None
    device: str


def segment_length(cfg: TrainConfig, has_ir: bool) -> int:
    """``cfg.segment``, or the model's default with or without a cabinet IR in the loss
    (:data:`~guneamp_lib.training.defaults.TRAINING`)."""
    if cfg.segment is not None:
        return int(cfg.segment)
    return training_defaults(cfg.model).segment(has_ir)


def check_fit(model: torch.nn.Module, data: TrainingData, cfg: TrainConfig) -> None:
    """Refuse, with a clear message, a recording too short for this model and set-up."""
    rf = receptive_field(model)
    rf_file = math.ceil(rf / cfg.oversample) if math.isfinite(rf) else cfg.burn_in
    need = max(rf_file, math.ceil(cfg.window / cfg.oversample)) + 1
    if data.n_val < need or data.n_train < need:
        raise GuneampError(
            f"the recording is too short for this model: {data.clean.numel()} samples, split into "
            f"{data.n_train} for training and {data.n_val} held out, but each part needs at least {need} "
            f"(the model's receptive field and window). Record at least a few seconds."
        )


def evaluate(model, data: TrainingData, cfg: TrainConfig, start: int | None = None, end: int | None = None) -> dict:
    """Loss and ESR of the model on ``[start, end)`` (default: the held-out part), exactly."""
    start = data.val_start if start is None else start
    end = data.clean.numel() if end is None else end
    ctx = context_samples(model, cfg, 0 if data.ir is None else data.ir.numel())
    a = max(start - ctx, 0)
    pred = predict(model, data.clean[a:end], cfg.oversample, data.ir)[start - a :]
    target = data.target[start:end]
    loss = design_loss(pred, target, cfg.pre_emphasis, cfg.pre_emphasis_weight).item()
    return {"loss": loss, "esr": esr(target, pred), "prediction": pred}


def train(
    data: TrainingData,
    cfg: TrainConfig,
    out_dir: str | Path | None = None,
    progress: bool = True,
    callback: Callable[[list[dict]], None] | None = None,
    model: torch.nn.Module | None = None,
) -> TrainResult:
    """Train ``cfg.model`` on ``data``; save ``best.pt`` and ``last.pt`` in ``out_dir``."""
    set_seed(cfg.seed)
    device = pick_device(cfg.device)
    model = (model or build_model(cfg.model, **cfg.model_kwargs)).to(device)
    check_fit(model, data, cfg)
    gen = torch.Generator().manual_seed(cfg.seed)

    F = cfg.oversample
    sampler = SegmentSampler.build(model, data, cfg, segment_length(cfg, data.ir is not None), device)
    steps_per_epoch = cfg.steps_per_epoch or max(1, data.n_train // (sampler.length * cfg.batch_size))
    total_steps = cfg.epochs * steps_per_epoch if cfg.epochs else None

    opt = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    out_dir = Path(out_dir) if out_dir else None
    history: list[dict] = []
    best = math.inf
    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    best_path = last_path = None
    meta = {"config": asdict(cfg), "parameters": count_parameters(model), "device": describe_device(device),
            "latency_samples": int(data.latency)}

    def make_ckpt() -> Checkpoint:
        return Checkpoint(model, cfg.model, data.sample_rate, F, max(cfg.window, 1),
                          None if data.ir is None else data.ir.cpu(), data.target_kind, history, meta,
                          input_gain=data.input_gain, output_gain=data.output_gain)

    t0 = time.perf_counter()
    step = 0
    bar = tqdm(total=total_steps, desc=f"training {cfg.model}", unit="step", disable=not progress)
    done = False
    epoch = 0
    while not done:
        epoch += 1
        model.train()
        losses = []
        for _ in range(steps_per_epoch):
            # Cosine decay over the run: in steps when they are fixed (so the result does not
            # depend on the machine's speed), else over the time budget.
            if total_steps:
                frac = step / total_steps
            else:
                frac = (time.perf_counter() - t0) / cfg.time_budget_s
            loss = train_step(model, opt, sampler, cfg.batch_size, gen, cfg, cosine_lr(cfg.learning_rate, frac))
            losses.append(loss)
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4g}")
            out_of_time = cfg.time_budget_s is not None and time.perf_counter() - t0 >= cfg.time_budget_s
            if out_of_time or (total_steps and step >= total_steps):
                done = True
                break
        model.eval()
        with torch.no_grad():
            val = evaluate(model, data, cfg)
        history.append({
            "epoch": epoch, "step": step, "train_loss": sum(losses) / len(losses),
            "val_loss": val["loss"], "val_esr": val["esr"], "seconds": time.perf_counter() - t0,
        })
        bar.set_postfix(loss=f"{history[-1]['train_loss']:.4g}", val_esr=f"{val['esr']:.4f}")
        if val["esr"] < best:
            best = val["esr"]
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            if out_dir:
                best_path = save_checkpoint(out_dir / "best.pt", make_ckpt())
        if out_dir:
            last_path = save_checkpoint(out_dir / "last.pt", make_ckpt())
        if callback:
            callback(history)
    bar.close()
    model.load_state_dict(best_state)
    model.eval()
    return TrainResult(model.cpu(), history, best, make_ckpt(), best_path, last_path, describe_device(device))
