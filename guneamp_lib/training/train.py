"""Training on long causal segments, with the cabinet inside the loss (notebook 06).

Each step draws a batch of random segments from the training part of the recording.
A segment is run through the network at the oversampled rate, brought back to the file
rate and, when the target was recorded through a cabinet, convolved with the cabinet
IR; the designed loss then compares it with the recording. Every segment starts with
enough extra input (context) to fill the network's receptive field, the downsampler's
filter and the IR, and the loss ignores those first samples, so segment borders never
teach the network anything false. Validation runs the same path over the held-out part
of the recording.

A run can be stopped and resumed (:mod:`guneamp_lib.training.resume`). A time budget
counts from the call (the set-up included: oversampling the recording, building the
model) and covers the last validation; a step starts only if it and that validation
still fit (:mod:`guneamp_lib.training.budget`). The validation's cost is measured on a
second of held-out audio before training, then on every validation, and set aside, so a
long recording's held-out part does not push the run past its budget. Where scoring all
of it would take more than :data:`VAL_BUDGET_SHARE` of the time left, a run with a
budget and no fixed number of steps scores the held-out part's first seconds only, as
many as fit (``history`` says how many).

Memory: the oversampled training part (4 bytes x factor per sample: 1.4 MB per second
of audio at 8x and 44.1 kHz) and one step's activations; validation runs in pieces
(:func:`~guneamp_lib.render.inference.render_chunks`), so it adds a bounded amount.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import torch
from tqdm.auto import tqdm

from ..models.checkpoint import Checkpoint, save_checkpoint
from .budget import CLOCKS, Clock
from .data import TrainingData
from .knob_data import KnobSampler, KnobTrainingData
from .defaults import KNOB_MODELS, ModelSpec, training_defaults
from ..errors import GuneampError, GuneampWarning
from ..render.inference import predict
from .losses import esr, training_loss
from .resume import (BEST, DEFAULT_SAVE_EVERY_STEPS, LAST, SAVE_EVERY_S, RunState, capture_state, data_fingerprint,
                     read_last, restore_run)
from .step import SegmentSampler, WeightAverage, context_samples, cosine_lr, train_step
from ..models import build_model, count_parameters, receptive_field
from ..models.wavenet_a2 import A2_PRESETS
from ..dsp.oversampling import MAX_FACTOR
from ..runtime import describe_device, pick_device, set_seed
from ..vocabulary import DEFAULT_TIME_BUDGET_S



@dataclass
class TrainConfig:
    model: str = "seed_cnn"
    model_kwargs: dict = field(default_factory=dict)
    # None: the model's row of training.defaults.TRAINING (the one table of defaults; KNOB_TRAINING
    # with knob_recipe).
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
    clock: str = "wall"  # what the time budget counts: "wall" or "cpu" (training.budget.CLOCKS)
    # Recipe options, all off by default (training.step, training.losses; docs/evaluation.md).
    mrstft_weight: float = 0.0  # multi-resolution STFT term in the loss
    dc_weight: float = 0.0  # DC term in the loss
    polarity: bool = False  # flip whole segments' polarity at random (symmetric gear only)
    gain_jitter_db: float = 0.0  # each segment's input gain drawn within +/- this many dB
    ema: float = 0.0  # decay of a moving average of the weights that validation scores; 0: none
    # Knob models: each setting's squared error over its own power, so a quiet setting's
    # mistakes count as its ESR does (training.knob_data.setting_scales); snapshots ignore it.
    # None: the model's row of KNOB_TRAINING (with knob_recipe), else off.
    balance_settings: bool | None = None
    # Options left None from training.defaults.KNOB_TRAINING, a knob model's recipe (notebook 13).
    knob_recipe: bool = False

    def __post_init__(self):
        if None in (self.oversample, self.batch_size, self.learning_rate):
            row = training_defaults(self.model, self.knob_recipe)
            self.oversample = row.oversample if self.oversample is None else self.oversample
            self.batch_size = row.batch_size if self.batch_size is None else self.batch_size
            self.learning_rate = row.learning_rate if self.learning_rate is None else self.learning_rate
        if self.balance_settings is None:
            self.balance_settings = self.knob_recipe and training_defaults(self.model, True).balance_settings
        if self.epochs is None and self.time_budget_s is None:
            raise GuneampError("give a number of epochs, a time budget, or both")
        if self.clock not in CLOCKS:
            raise GuneampError(f"unknown clock {self.clock!r}; use one of {', '.join(CLOCKS)}")
        for name in ("mrstft_weight", "dc_weight", "gain_jitter_db"):
            if not (getattr(self, name) >= 0 and math.isfinite(getattr(self, name))):
                raise GuneampError(f"{name} must be a finite number of 0 or more, got {getattr(self, name)}")
        if not 0.0 <= self.ema < 1.0:
            raise GuneampError(f"ema is a decay per step, from 0 (off) to below 1, got {self.ema}")
        if self.epochs is not None and self.epochs < 1:
            raise GuneampError("epochs must be at least 1")
        # `not x > 0` rather than `x <= 0`: NaN fails every comparison, and a NaN budget never ends.
        if self.time_budget_s is not None and not (self.time_budget_s > 0 and math.isfinite(self.time_budget_s)):
            raise GuneampError(f"the time budget must be a finite number of seconds above 0, got {self.time_budget_s}")
        if self.segment is not None and self.segment < 1:
            raise GuneampError("the segment length must be at least 1 sample")
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise GuneampError(f"the learning rate must be a finite number above 0, got {self.learning_rate}")
        if not 1 <= self.oversample <= MAX_FACTOR:
            raise GuneampError(f"the oversampling factor must be from 1 to {MAX_FACTOR}, got {self.oversample}")
        if self.batch_size < 1:
            raise GuneampError(f"the batch size must be at least 1, got {self.batch_size}")


@dataclass
class TrainResult:
    model: torch.nn.Module
    history: list[dict]
    best_val_esr: float
    checkpoint: Checkpoint
    best_path: Path | None
    last_path: Path | None
    device: str
    timing: dict = field(default_factory=dict)  # the budget and what the run measured (training.budget.Clock)
    # The weights training ended with (``model`` holds the best validation's), on the CPU.
    last_state: dict = field(default_factory=dict)


def train_config(spec: ModelSpec, *, time_budget_s=DEFAULT_TIME_BUDGET_S, epochs=None, steps_per_epoch=None,
                 device="auto", seed=0, knob_recipe: bool = False) -> TrainConfig:
    """The set-up of a model written ``name[:size][@rate]``, with its row of the defaults table
    (of :data:`~guneamp_lib.training.defaults.KNOB_TRAINING` with ``knob_recipe``).

    What ``guneamp evaluate`` and ``train-many`` train with (and ``guneamp train``, which must
    agree: ``tests/test_levels.py``).

    Notebook: 11
    """
    return TrainConfig(model=spec.model, model_kwargs=spec.kwargs(), oversample=spec.oversample,
                       time_budget_s=time_budget_s, epochs=epochs, steps_per_epoch=steps_per_epoch,
                       device=device, seed=seed, knob_recipe=knob_recipe)


def segment_length(cfg: TrainConfig, has_ir: bool) -> int:
    """``cfg.segment``, or the model's default with or without a cabinet IR in the loss
    (:data:`~guneamp_lib.training.defaults.TRAINING`).

    Notebook: 06
    """
    if cfg.segment is not None:
        return int(cfg.segment)
    return training_defaults(cfg.model, cfg.knob_recipe).segment(has_ir)


def check_fit(model: torch.nn.Module, data: TrainingData, cfg: TrainConfig) -> None:
    """Refuse, with a clear message, a recording too short for this model and set-up.

    Notebook: 06
    """
    if isinstance(data, KnobTrainingData):
        for capture in data.captures:
            check_fit(model, capture, cfg)
        return
    rf = receptive_field(model)
    rf_file = math.ceil(rf / cfg.oversample) if math.isfinite(rf) else cfg.burn_in
    need = max(rf_file, math.ceil(cfg.window / cfg.oversample)) + 1
    if data.validation == "take" and data.n_val < need:
        raise GuneampError(f"the validation take holds {data.n_val} samples; this model needs at least {need} "
                           "(its receptive field and window). Record a longer validation take.")
    if data.n_val < need or data.n_train < need:
        raise GuneampError(
            f"the recording is too short for this model: {data.clean.numel()} samples, split into "
            f"{data.n_train} for training and {data.n_val} held out, but each part needs at least {need} "
            f"(the model's receptive field and window). Record at least a few seconds."
        )


def evaluate(model, data: TrainingData | KnobTrainingData, cfg: TrainConfig, start: int | None = None,
             end: int | None = None, knobs: torch.Tensor | None = None) -> dict:
    """Loss and ESR of the model on ``[start, end)`` (default: the held-out part), exactly.

    Knob data: each capture's share of the held-out range at its own knobs, and the mean
    loss and ESR over those captures (:mod:`guneamp_lib.training.knob_data`).

    Notebook: 06
    """
    start = data.val_start if start is None else start
    end = data.val_start + data.n_val if end is None else end
    if isinstance(data, KnobTrainingData):
        parts = [evaluate(model, cap, cfg, a, b, k) for cap, k, a, b in data.held_out(start, end)]
        return {"loss": sum(p["loss"] for p in parts) / len(parts), "esr": sum(p["esr"] for p in parts) / len(parts),
                "prediction": None}
    ctx = context_samples(model, cfg, 0 if data.ir is None else data.ir.numel())
    a = max(start - ctx, 0)
    pred = predict(model, data.clean[a:end], cfg.oversample, data.ir, knobs=knobs)[start - a :]
    target = data.target[start:end]
    loss = training_loss(pred, target, cfg).item()
    return {"loss": loss, "esr": esr(target, pred), "prediction": pred}


# The most of a time budget that validation may take; beyond it, validation scores only
# the first seconds of the held-out part.
VAL_BUDGET_SHARE = 0.5


def validation_plan(model, data: TrainingData, cfg: TrainConfig, seconds_left: float | None = None) -> tuple[int, float]:
    """Where validation ends, and its estimated wall time (timed on a second of held-out audio).

    Without a time budget: all of the held-out part, not timed. With a fixed number of
    epochs (where the budget is only a safety cap): all of it too, so the numbers do not
    depend on the machine's speed. With a budget alone: as much of it as
    :data:`VAL_BUDGET_SHARE` of the ``seconds_left`` (default: the whole budget) allows,
    and at least a second.

    Notebook: 06
    """
    end = data.val_start + data.n_val
    if not cfg.time_budget_s:
        return end, 0.0
    piece = min(data.n_val, data.sample_rate)
    now = CLOCKS[cfg.clock]
    t = now()
    with torch.no_grad():
        evaluate(model, data, cfg, data.val_start, data.val_start + piece)
    per_sample = (now() - t) / piece
    share = VAL_BUDGET_SHARE * (cfg.time_budget_s if seconds_left is None else max(seconds_left, 0.0))
    if not cfg.epochs and per_sample * data.n_val > share:
        end = data.val_start + max(int(share / per_sample), piece)
    return end, per_sample * (end - data.val_start)


# The share of the free memory a step may plan to use; the rest is for everything else.
MEMORY_HEADROOM = 0.8


def free_memory_bytes(device: torch.device) -> int | None:
    """Memory free for a new allocation on ``device`` (None where the system does not say).

    Notebook: 06
    """
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def step_memory_bytes(model, sampler: SegmentSampler) -> int:
    """Bytes one segment's training step needs: what autograd saves for the backward pass on
    one segment, measured on a forward pass, for any model. Most of a step's memory: the
    gradients the backward pass makes are freed as it goes (SeedCNN at 8x, a batch of 64:
    1.03 GB estimated, 0.99 GB measured as peak RSS growth).

    Notebook: 06
    """
    saved = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal saved
        saved += t.numel() * t.element_size()
        return t

    x, _ = sampler.draw(1, torch.Generator().manual_seed(0))  # its own generator: the run's is untouched
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        sampler.forward(model, x)
    return saved


def check_step_memory(model, sampler: SegmentSampler, batch_size: int, device: torch.device) -> None:
    """Refuse, before training, a batch whose step cannot fit in the free memory.

    Notebook: 06
    """
    free = free_memory_bytes(device)
    if free is None:
        return
    per_segment = step_memory_bytes(model, sampler)
    if per_segment * batch_size > MEMORY_HEADROOM * free:
        fits = int(MEMORY_HEADROOM * free // per_segment)
        raise GuneampError(
            f"one training step with a batch of {batch_size} needs about {per_segment * batch_size / 1e9:.1f} GB, "
            f"but {free / 1e9:.1f} GB is free; use --batch-size {max(fits, 1)} or less, or a shorter --segment."
        )


def _warn_cut(cfg: TrainConfig, step: int, total_steps: int | None) -> None:
    if total_steps and step < total_steps:
        # The step count decides what is trained; the budget is only a safety cap.
        warnings.warn(
            f"the time budget ({cfg.time_budget_s:g} s) cut training at step {step} of {total_steps}; "
            "this model differs from one trained for all its steps. Raise the budget (or set it "
            "to None) to train them all.", GuneampWarning, stacklevel=3)


def _step_or_advice(step_fn):
    """Run one training step, turning running out of memory into advice."""
    try:
        return step_fn()
    except (torch.OutOfMemoryError, MemoryError, RuntimeError) as exc:
        if not isinstance(exc, (torch.OutOfMemoryError, MemoryError)) and "alloc" not in str(exc).lower():
            raise
        raise GuneampError("one training step does not fit in memory; use a smaller --batch-size or --segment.") from None


def knob_config(cfg: TrainConfig, data: TrainingData | KnobTrainingData) -> TrainConfig:
    """``cfg`` with the model's knob count set from the data (unchanged for a snapshot).

    Notebook: 13
    """
    if not isinstance(data, KnobTrainingData):
        return cfg
    if cfg.model not in KNOB_MODELS:
        raise GuneampError(f"a {cfg.model} model takes no knobs; train a knob model as one of {', '.join(KNOB_MODELS)}")
    kwargs = {**cfg.model_kwargs, "num_knobs": len(data.space)}
    if cfg.model == "wavenet" and kwargs.get("preset", "standard") not in A2_PRESETS:
        # The knobs scale every layer too (FiLM, models.wavenet): held-out median ESR 0.0072 to
        # 0.0078 against 0.0090 to 0.0129 with the input mixer alone (docs/evaluation.md, "Knob models").
        kwargs.setdefault("film", True)
    return replace(cfg, model_kwargs=kwargs)


def train(
    data: TrainingData | KnobTrainingData,
    cfg: TrainConfig,
    out_dir: str | Path | None = None,
    progress: bool = True,
    callback: Callable[[list[dict]], None] | None = None,
    model: torch.nn.Module | None = None,
    *,
    resume: bool = False,
    save_every: int = DEFAULT_SAVE_EVERY_STEPS,
    source: dict | None = None,
) -> TrainResult:
    """Train ``cfg.model`` on ``data``; save ``best.pt`` and ``last.pt`` in ``out_dir``.

    ``data`` may be :class:`~guneamp_lib.training.knob_data.KnobTrainingData`: a knob model
    is then trained on every capture at once (notebook 13).

    ``resume=True`` carries on the interrupted run in ``out_dir`` from its ``last.pt``
    (same data, same configuration). ``save_every``: steps between saves of ``last.pt``
    within an epoch (it is also saved at least every minute). ``source`` (plain values,
    e.g. the file paths) is stored with the checkpoints.

    Notebook: 06
    """
    now = CLOCKS[cfg.clock]
    started = now()  # the budget counts the set-up too
    if resume and not out_dir:
        raise GuneampError("resuming needs the folder of the interrupted run")
    if resume and cfg.model == "wavenet" and isinstance(data, KnobTrainingData) and "film" not in cfg.model_kwargs:
        # A knob run started before the recipe took FiLM carries on as it started.
        first = read_last(Path(out_dir)).model.config
        cfg = replace(cfg, model_kwargs={**cfg.model_kwargs, "film": bool(first.get("film", False))})
    cfg = knob_config(cfg, data)
    set_seed(cfg.seed)
    device = pick_device(cfg.device)
    model = (model or build_model(cfg.model, **cfg.model_kwargs)).to(device)
    check_fit(model, data, cfg)
    gen = torch.Generator().manual_seed(cfg.seed)

    F = cfg.oversample
    sampler = (KnobSampler if isinstance(data, KnobTrainingData) else SegmentSampler).build(
        model, data, cfg, segment_length(cfg, data.ir is not None), device)
    check_step_memory(model, sampler, cfg.batch_size, device)
    steps_per_epoch = cfg.steps_per_epoch or max(1, data.n_train // (sampler.length * cfg.batch_size))
    total_steps = cfg.epochs * steps_per_epoch if cfg.epochs else None

    opt = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    out_dir = Path(out_dir) if out_dir else None
    meta = {"config": asdict(cfg), "parameters": count_parameters(model), "device": describe_device(device),
            "fingerprint": data_fingerprint(data), "held_out_seconds": data.n_val / data.sample_rate,
            "latency_samples": int(data.latency),
            **({"source": source} if source else {})}
    run, history = RunState(), []
    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    best_path = last_path = None
    if resume:
        run, history, best_state, best_path = restore_run(out_dir, model, opt, gen, data, meta)

    def make_ckpt(state: dict | None = None) -> Checkpoint:
        # model.name, not cfg.model: wavenet:a2-* trains NAM's own WaveNet class (models/wavenet_a2.py)
        return Checkpoint(model, model.name, data.sample_rate, F, max(cfg.window, 1),
                          None if data.ir is None else data.ir.cpu(), data.target_kind, history, meta,
                          training_state=state, input_gain=data.input_gain, output_gain=data.output_gain,
                          knobs=data.space if isinstance(data, KnobTrainingData) else None)

    def save_last() -> Path:
        run.elapsed_s = clock.elapsed()
        return save_checkpoint(out_dir / LAST, make_ckpt(capture_state(run, opt, gen)))

    clock = Clock(cfg.time_budget_s, started - run.elapsed_s, now=now)
    # Set aside the last validation's cost, so the run ends within its budget.
    val_end, reserve = validation_plan(model, data, cfg, None if cfg.time_budget_s is None
                                       else cfg.time_budget_s - clock.elapsed())
    clock.plan_validation(val_end - data.val_start, reserve)
    saved_step, saved_t = run.step, time.perf_counter()
    # A resumed run starts its average again from the weights it resumes with.
    average = WeightAverage(model, cfg.ema) if cfg.ema else None
    bar = tqdm(total=total_steps, initial=run.step, desc=f"training {cfg.model}", unit="step", disable=not progress)
    done = False
    while not done:
        epoch = run.epochs_done + 1
        model.train()
        for _ in range(steps_per_epoch - len(run.epoch_losses)):
            # Cosine decay over the run: in steps when they are fixed (so the result does not
            # depend on the machine's speed), else over the time budget.
            if total_steps:
                frac = run.step / total_steps
            else:
                frac = clock.elapsed() / cfg.time_budget_s
            t_step = now()
            loss = _step_or_advice(lambda: train_step(model, opt, sampler, cfg.batch_size, gen, cfg,
                                                  cosine_lr(cfg.learning_rate, frac)))
            clock.note_step(now() - t_step)
            if average:
                average.update(model)
            run.epoch_losses.append(loss)
            run.step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4g}")
            if total_steps and run.step >= total_steps:
                done = True
                break
            if not clock.next_step_fits():  # stop before a step that would overrun, not after it
                _warn_cut(cfg, run.step, total_steps)
                done = True
                break
            if out_dir and (run.step - saved_step >= save_every or time.perf_counter() - saved_t >= SAVE_EVERY_S):
                last_path = save_last()
                saved_step, saved_t = run.step, time.perf_counter()
        model.eval()
        live = average.swap_in(model) if average else None
        t_val = now()
        with torch.no_grad():
            val = evaluate(model, data, cfg, end=val_end)
        clock.note_validation(now() - t_val)
        losses = run.epoch_losses
        history.append({
            "epoch": epoch, "step": run.step, "train_loss": sum(losses) / len(losses) if losses else math.nan,
            "val_loss": val["loss"], "val_esr": val["esr"], "seconds": clock.elapsed(),
            "val_seconds": (val_end - data.val_start) / data.sample_rate,
        })
        if not done and not clock.next_step_fits():  # this validation was the last one
            _warn_cut(cfg, run.step, total_steps)
            done = True
        run.epochs_done, run.epoch_losses = epoch, []
        bar.set_postfix(loss=f"{history[-1]['train_loss']:.4g}", val_esr=f"{val['esr']:.4f}")
        if val["esr"] < run.best_val_esr:
            run.best_val_esr = val["esr"]
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            if out_dir:
                best_path = save_checkpoint(out_dir / BEST, make_ckpt())
        if average:
            average.swap_out(model, live)  # training (and last.pt) carry on with the live weights
        if out_dir:
            run.finished = done
            last_path = save_last()
            saved_step, saved_t = run.step, time.perf_counter()
        if callback:
            callback(history)
    bar.close()
    last_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    model.eval()
    return TrainResult(model.cpu(), history, run.best_val_esr, make_ckpt(), best_path, last_path,
                       describe_device(device), clock.report(), last_state)
