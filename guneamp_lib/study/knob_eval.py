"""The knob data set of ``guneamp evaluate --datasets knobs`` (notebooks 11 and 13).

``guneamp synth --knobs`` written once into ``data/knobs`` (a quick run writes a
shorter set beside it), read through its knob manifest: each model of the evaluation
trains as a knob model on the training rows, for the same budget (or steps) as on every
other data set, and is scored on the held-out settings, as ``guneamp score --manifest``
scores it (:mod:`guneamp_lib.study.knob_score`). Beside it, the same architecture without
knobs trained for the same budget on the training rows pooled (baseline a), and the
recording of the nearest training setting (baseline b, the same for every model).

The table's ESR column is over the held-out rows joined, so a loud setting weighs more;
the knob table beside it gives each row's median and the worst, the figures the issue
judges a knob model by.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from .. import paths
from ..capture.knob_synth import generate_knob_data
from ..training.defaults import ModelSpec
from ..vocabulary import KNOB_DATASET
from ..training.knob_data import KnobTrainingData, load_knob_training_data
from .datasets import CLIP_GAP_S, join_clips
from .knob_score import knob_model_output, nearest_baseline, pooled_training_data, read_take
from .manifest import KnobManifest, read_knob_manifest
from .metrics import Report, esr
from .score import predict_at_level



@dataclass
class KnobEvalData:
    """A knob capture ready to evaluate on: the training captures, the held-out takes, baseline (b).

    Notebook: 13
    """

    name: str
    manifest: KnobManifest
    train: KnobTrainingData
    held_out: list  # (row, clean, target) at the recorded level
    nearest: list  # baseline (b): (ESR or None, what it is) per held-out row
    description: str

    @property
    def sample_rate(self) -> int:
        return self.train.sample_rate

    def summary(self) -> str:
        return self.description


def load_knob_dataset(seconds: float | None = None, seed: int = 0) -> KnobEvalData:
    """The reference amp's knob capture (written on first use), its training rows loaded.

    Notebook: 13
    """
    folder = paths.data_dir() / (KNOB_DATASET if seconds is None else f"{KNOB_DATASET}_{seconds:g}s")
    path = generate_knob_data(folder, seed=seed, seconds=40.0 if seconds is None else seconds, progress=False)
    manifest = read_knob_manifest(path)
    kinds = {r.target_kind or "amp_direct" for r in manifest.train}
    train = load_knob_training_data([(r.clean, r.target, r.settings) for r in manifest.train],
                                    space=manifest.space, target_kind=kinds.pop())
    held = []
    for row in manifest.test:
        clean, target, sr = read_take(row.clean, row.target)
        held.append((row, clean, target))
    nearest = [nearest_baseline(manifest, row, clean, target, train.sample_rate) for row, clean, target in held]
    what = (f"the reference amp at {len(manifest.train)} settings of {manifest.space.describe()} ({path}); "
            f"scored on {len(held)} held-out settings, a DI take no training row plays")
    return KnobEvalData(KNOB_DATASET, manifest, train, held, nearest, what)


def held_out_esr(dataset: KnobEvalData, ckpt) -> tuple[list[float], list]:
    """The ESR of every held-out row under ``ckpt``, and its ``(output, target)`` pairs.

    A knob model plays each row at the row's settings; a snapshot (the pooled baseline)
    plays every row the same.

    Notebook: 13
    """
    scores, pairs = [], []
    for row, clean, target in dataset.held_out:
        if ckpt.knobs is None:
            pred = predict_at_level(ckpt, clean, ckpt.ir).numpy()
        else:
            pred = knob_model_output(ckpt, clean, row.settings).numpy()
        scores.append(float(esr(torch.from_numpy(target).double(), torch.from_numpy(pred).double())))
        pairs.append((pred, target))
    return scores, pairs


def median_worst(values) -> tuple[float | None, float | None]:
    """The median and the largest of ``values`` (``None`` entries left out; ``(None, None)`` if none remain).

    Notebook: 13
    """
    values = [v for v in values if v is not None]
    return (statistics.median(values), max(values)) if values else (None, None)


def train_and_test_knobs(dataset: KnobEvalData, spec, *, time_budget_s=None, epochs=None, steps_per_epoch=None,
                         device="auto", seed=0, progress=True, out_dir=None):
    """Train ``spec`` as a knob model and, for baseline (a), without knobs on the rows pooled; score both.

    Returns the knob model's report, the model, its held-out output and its history; the report's
    ESR is over the held-out rows joined, its ``extra`` holds each row's ESR, the medians and worsts.

    Notebook: 13
    """
    from ..training.train import segment_length, train, train_config

    spec = ModelSpec.parse(spec)
    cfg = train_config(spec, time_budget_s=time_budget_s, epochs=epochs, steps_per_epoch=steps_per_epoch,
                       device=device, seed=seed, knob_recipe=True)
    shortest = min(c.n_train for c in dataset.train.captures)
    cfg = replace(cfg, segment=min(segment_length(cfg, dataset.train.ir is not None), shortest))
    where = (lambda sub: None) if out_dir is None else (lambda sub: Path(out_dir) / sub)
    result = train(dataset.train, cfg, out_dir=where("knobs"), progress=progress)
    pooled_data = pooled_training_data(dataset.manifest)
    pooled = train(pooled_data, replace(cfg, segment=min(cfg.segment, pooled_data.n_train)),
                   out_dir=where("pooled"), progress=progress).checkpoint
    mine, preds = held_out_esr(dataset, result.checkpoint)
    base, _ = held_out_esr(dataset, pooled)
    pred_all, target_all, _ = join_clips(preds, dataset.sample_rate, CLIP_GAP_S)
    med, worst = median_worst(mine)
    p_med, p_worst = median_worst(base)
    n_med, n_worst = median_worst(e for e, _ in dataset.nearest)
    last = result.history[-1]
    extra = {"dataset": dataset.name, "oversample": spec.oversample, "steps": last["step"], "epochs": last["epoch"],
             "validation_esr": result.best_val_esr, "held_out": [r.name for r, _, _ in dataset.held_out],
             "held_out_esr": mine, "held_out_median": med, "held_out_worst": worst,
             "pooled_esr": base, "pooled_median": p_med, "pooled_worst": p_worst,
             "nearest_esr": [e for e, _ in dataset.nearest], "nearest_median": n_med, "nearest_worst": n_worst,
             "beats_pooled": int(sum(m < b for m, b in zip(mine, base)))}
    report = Report.compute(torch.from_numpy(target_all), torch.from_numpy(pred_all), f"{spec.label} (knobs)",
                            model=result.model, train_seconds=last["seconds"], device=result.device, extra=extra)
    if progress:
        print(f"[{dataset.name}] {spec.label}: held-out median ESR {med:.4g}, worst {worst:.4g}; pooled snapshot "
              f"median {p_med:.4g}", flush=True)
    return report, result.model, torch.from_numpy(np.asarray(pred_all)), result.history


def knob_markdown(reports) -> str:
    """Held-out median and worst of each knob model beside both baselines (Markdown).

    Notebook: 13
    """
    def cell(v):
        return "n/a" if v is None else f"{v:.4g}"

    rows = ["| model | held-out median | worst | (a) pooled median | (a) pooled worst | (b) nearest median | "
            "(b) nearest worst | beats (a) on |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in reports:
        x = r.extra
        rows.append(f"| {r.name} | {cell(x['held_out_median'])} | {cell(x['held_out_worst'])} | "
                    f"{cell(x['pooled_median'])} | {cell(x['pooled_worst'])} | {cell(x['nearest_median'])} | "
                    f"{cell(x['nearest_worst'])} | {x['beats_pooled']} of {len(x['held_out_esr'])} |")
    return "\n".join(rows)


__all__ = ["KNOB_DATASET", "KnobEvalData", "held_out_esr", "knob_markdown", "load_knob_dataset", "median_worst",
           "train_and_test_knobs"]
