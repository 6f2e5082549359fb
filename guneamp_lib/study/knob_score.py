"""Scoring a knob model on settings it never trained on, beside two baselines (notebook 13).

``guneamp score --manifest M --model knob.pt`` runs the knob model on every held-out row
(``split=test``) of the knob manifest, at that row's setting, and gives each row's ESR,
their median and the worst. A knob model is only worth its training if it beats what a
player has without one, so the same rows are scored, in the same table, under:

* **(a) one snapshot trained on every training row pooled**, without knobs: the same
  architecture as the knob model (its configuration, no knob inputs), trained on all the
  training captures joined (each capture's last fifth as validation, one input and one
  output gain for all, as the knob model trains). ``--pooled pooled.pt`` gives one trained
  earlier; without it, it is trained here for ``--pooled-steps`` fixed steps (by default as
  many as the knob model's checkpoint says it trained, so the two had the same effort;
  validated every 100, seed ``--seed``, so the number is the same on any machine), and kept
  with ``--pooled-out``. A snapshot of every setting pooled learns their average,
  which is as far from any one setting as the settings are from each other.
* **(b) the nearest setting**: the recording, at the training setting nearest the held-out
  one (each knob scaled over its range, :func:`~guneamp_lib.capture.plan.nearest_setting`),
  of the same DI take: a row's own take or its ``test_clean``/``test_target`` take. Where no
  training setting recorded that take, the nearest setting's snapshot model plays the DI
  instead, if that row's ``out`` folder holds one (``best.pt``, as ``train-many`` writes it).
  This is what a player with one snapshot per setting would reach for.

**Levels and timing.** Every model is driven as it trained (the DI times its stored input
gain, its output divided by its output gain) and compared with the recording as recorded.
The pairs are compared as recorded, not aligned row by row: a knob capture goes through one
interface, so its latency is the same in every take and a model trained without ``--align``
has learned it, whereas the lag estimated from the music moves with the tone settings by a
few samples (treble up reads as earlier), which would flatter or punish rows at random.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from ..capture.checks import validate_pair
from ..capture.plan import nearest_setting, setting_name
from ..dsp.audio import read_audio
from ..dsp.cabinet import load_ir
from ..errors import GuneampError
from ..models import build_model, model_config
from ..models.checkpoint import Checkpoint
from ..models.nam import load_model_file
from ..training.budget import fixed_steps
from ..training.data import DEFAULT_VAL_FRACTION, TrainingData, peak_gain
from ..vocabulary import DEFAULT_STEPS
from .datasets import heads_then_tails, join_clips
from .manifest import KnobManifest, KnobRow, read_knob_manifest
from .metrics import esr
from .score import predict_at_level

SNAPSHOT_FILE = "best.pt"
COLUMNS = ("knob model", "(a) pooled snapshot", "(b) nearest setting")


@dataclass(frozen=True)
class RowScore:
    """One held-out row under the knob model and the two baselines (``None``: not available).

    Notebook: 13
    """

    row: int
    name: str
    settings: dict
    knob_model: float | None
    pooled: float | None
    nearest: float | None
    nearest_is: str


@dataclass
class KnobScores:
    """Every held-out row's scores, and the table ``guneamp score --manifest`` prints.

    Notebook: 13
    """

    manifest: str
    model: str
    pooled_from: str
    rows: list[RowScore] = field(default_factory=list)

    def column(self, name: str) -> list[float]:
        key = {"knob model": "knob_model", "(a) pooled snapshot": "pooled", "(b) nearest setting": "nearest"}[name]
        return [getattr(r, key) for r in self.rows if getattr(r, key) is not None]

    def summary(self) -> dict:
        """Median and worst of each column, over the rows it could score."""
        out = {}
        for name in COLUMNS:
            values = self.column(name)
            out[name] = {"median": statistics.median(values) if values else None,
                         "worst": max(values) if values else None, "rows": len(values)}
        return out

    def beats(self, key: str) -> tuple[int, int]:
        """(rows where the knob model's ESR is below the baseline's, rows both scored)."""
        pairs = [(r.knob_model, getattr(r, key)) for r in self.rows
                 if r.knob_model is not None and getattr(r, key) is not None]
        return sum(m < b for m, b in pairs), len(pairs)

    def to_dict(self) -> dict:
        return {"manifest": self.manifest, "model": self.model, "pooled_from": self.pooled_from,
                "rows": [asdict(r) for r in self.rows], "summary": self.summary()}

    def json(self) -> str:
        return json.dumps(self.to_dict())

    def table(self) -> str:
        def cell(v):
            return "" if v is None else f"{v:.4g}"

        head = ("row", "held-out setting") + COLUMNS + ("(b) is",)
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in self.rows:
            lines.append("| " + " | ".join([str(r.row), setting_name(r.settings), cell(r.knob_model), cell(r.pooled),
                                            cell(r.nearest), r.nearest_is]) + " |")
        s = self.summary()
        for what in ("median", "worst"):
            lines.append("| " + " | ".join([what, ""] + [cell(s[c][what]) for c in COLUMNS] + [""]) + " |")
        text = [f"ESR of the held-out rows of {self.manifest} (lower is better)", "",
                *lines, "", f"knob model: {self.model}", f"(a) pooled snapshot: {self.pooled_from}"]
        for key, label in (("pooled", "the pooled snapshot"), ("nearest", "the nearest setting")):
            won, n = self.beats(key)
            if n:
                text.append(f"the knob model beats {label} on {won} of {n} held-out settings")
        return "\n".join(text)


# --------------------------------------------------------------------------- audio


def read_take(clean_path, target_path) -> tuple[np.ndarray, np.ndarray, int]:
    """A DI take and its recording, as recorded (trimmed to the shorter, not aligned), at their rate."""
    clean, sr, _ = read_audio(clean_path, what="clean")
    target, sr_t, _ = read_audio(target_path, what="amp")
    clean, target, _ = validate_pair(clean, target, sr, sr_t, align=False, what=("clean", "amp"))
    return clean.astype(np.float32), target.astype(np.float32), int(sr)


def _esr(target: np.ndarray, pred) -> float:
    pred = torch.as_tensor(pred).double().reshape(-1)
    if not torch.isfinite(pred).all():
        raise GuneampError("a model produced NaN or infinite samples; it is broken")
    n = min(pred.numel(), target.size)
    return float(esr(torch.from_numpy(target[:n]).double(), pred[:n]))


def _row_ir(row: KnobRow, sr: int):
    kind = row.target_kind or ("amp_with_cab" if row.ir is not None else "amp_direct")
    return load_ir(row.ir, sr) if kind == "amp_with_cab" and row.ir is not None else None


# --------------------------------------------------------------------------- the baselines


def nearest_recording(manifest: KnobManifest, row: KnobRow) -> tuple[KnobRow, Path] | None:
    """The training row nearest ``row``'s setting that recorded the same DI take, and that recording.

    Notebook: 13
    """
    same = []
    for t in manifest.train:
        for clean, target in t.takes():
            if clean.resolve() == row.clean.resolve():
                same.append((t, target))
                break
    if not same:
        return None
    i = nearest_setting(manifest.space, row.settings, [t.settings for t, _ in same])
    return same[i]


def nearest_baseline(manifest: KnobManifest, row: KnobRow, clean: np.ndarray, target: np.ndarray, sr: int):
    """Baseline (b) for one held-out row: (ESR, what it was) or (None, why not)."""
    found = nearest_recording(manifest, row)
    if found is not None:
        near, path = found
        recorded, rate, _ = read_audio(path, what="nearest recording")
        if rate != sr:
            raise GuneampError(f"{path} is at {rate} Hz but {row.target} at {sr} Hz")
        return _esr(target, recorded), f"recording at {setting_name(near.settings)}"
    near = manifest.train[nearest_setting(manifest.space, row.settings, [t.settings for t in manifest.train])]
    snapshot = near.out / SNAPSHOT_FILE if near.out is not None else None
    if snapshot is None or not snapshot.is_file():
        return None, f"none: no training row recorded {row.clean.name}, no snapshot at {setting_name(near.settings)}"
    ckpt = load_model_file(snapshot)
    return _esr(target, predict_at_level(ckpt, clean, ckpt.ir)), f"snapshot at {setting_name(near.settings)}"


def pooled_training_data(manifest: KnobManifest, val_fraction: float = DEFAULT_VAL_FRACTION) -> TrainingData:
    """Every training row joined into one recording, for the pooled snapshot (baseline a).

    Each row's first part is training material and its last ``val_fraction`` validation: the
    training parts come first, then the validation parts, with ``join_clips``'s silence between
    every two. One input and one output gain for all (from the loudest), as the knob model's.

    Notebook: 13
    """
    takes, rate, ir = [], None, None
    for row in manifest.train:
        clean, target, sr = read_take(row.clean, row.target)
        if rate is not None and sr != rate:
            raise GuneampError(f"{row.target} is at {sr} Hz but the first training row at {rate} Hz")
        rate, ir = sr, ir if ir is not None else _row_ir(row, sr)
        takes.append((clean, target))
    clean, target, starts = join_clips(heads_then_tails(takes, val_fraction), rate)
    g_in, g_out = peak_gain(clean), peak_gain(target)
    return TrainingData(torch.from_numpy(clean * g_in), torch.from_numpy(target * g_out), rate, ir,
                        "amp_direct" if ir is None else "amp_with_cab", starts[len(takes)],
                        input_gain=g_in, output_gain=g_out)


def snapshot_config(config: dict) -> dict:
    """A knob model's configuration without its knobs: no ``num_knobs`` (nor FiLM), and every layer whose
    condition held the knobs beside the input (a WaveNet's ``condition_size``) back to the input alone.

    Notebook: 13
    """
    def strip(value):
        if isinstance(value, dict):
            return {k: (1 if k == "condition_size" else strip(v)) for k, v in value.items()
                    if k not in ("num_knobs", "film")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(config)


def train_pooled(manifest: KnobManifest, like: Checkpoint, *, steps: int = DEFAULT_STEPS, seed: int = 0,
                 device: str = "auto", out_dir=None) -> Checkpoint:
    """Baseline (a): ``like``'s architecture without knobs, trained ``steps`` fixed steps on every training row.

    Notebook: 13
    """
    from ..training.train import TrainConfig, segment_length, train

    config = snapshot_config(model_config(like.model))
    data = pooled_training_data(manifest)
    # The knob model's recipe: the same training, less the knobs.
    cfg = TrainConfig(model=like.model_name, model_kwargs=config, oversample=like.oversample, seed=seed,
                      device=device, knob_recipe=True, **fixed_steps(steps))
    cfg = replace(cfg, segment=min(segment_length(cfg, data.ir is not None), data.n_train))
    result = train(data, cfg, out_dir=out_dir, progress=False, model=build_model(like.model_name, **config))
    return result.checkpoint


# --------------------------------------------------------------------------- the table


def knob_model_output(ckpt: Checkpoint, clean: np.ndarray, settings: dict, *, extrapolate: bool = False):
    """A knob model's output for raw DI ``clean`` at ``settings`` (dial units), at its training level.

    Notebook: 13
    """
    if ckpt.knobs is None:
        raise GuneampError("this is a snapshot model: it has no knobs to set. Score a knob model with --manifest, "
                           "or a snapshot on one pair with --clean and --amp")
    vec = ckpt.knobs.normalize(settings, extrapolate=extrapolate)
    return predict_at_level(ckpt, clean, ckpt.ir, knobs=vec)


def held_out_esrs(manifest: KnobManifest, ckpt: Checkpoint, *, extrapolate: bool = False) -> list[float]:
    """The knob model's ESR on each held-out row of ``manifest``, at the row's setting (column one of the table).

    Notebook: 13
    """
    out = []
    for row in manifest.test:
        clean, target, sr = read_take(row.clean, row.target)
        if ckpt.sample_rate != sr:
            raise GuneampError(f"{row.target} is at {sr} Hz but the knob model was trained at {ckpt.sample_rate} Hz")
        out.append(_esr(target, knob_model_output(ckpt, clean, row.settings, extrapolate=extrapolate)))
    return out


def trained_steps(ckpt: Checkpoint) -> int:
    """How many steps a checkpoint's model trained for (:data:`DEFAULT_STEPS` when it does not say)."""
    steps = [h.get("step") for h in ckpt.history if isinstance(h, dict) and isinstance(h.get("step"), int)]
    return max(steps) if steps else DEFAULT_STEPS


def score_knob_manifest(manifest_path, model_path=None, *, pooled_path=None, pooled_steps: int | None = None,
                        pooled_out=None, extrapolate: bool = False, seed: int = 0, device: str = "auto") -> KnobScores:
    """Every held-out row of a knob manifest under the knob model and baselines (a) and (b).

    Without ``model_path`` the knob model's column is empty, and baseline (a) needs ``pooled_path``
    (it copies the knob model's architecture otherwise). ``pooled_steps`` defaults to as many
    steps as the knob model trained (its checkpoint's history says).

    Notebook: 13
    """
    manifest = read_knob_manifest(manifest_path)
    if not manifest.test:
        raise GuneampError(f"{manifest_path} holds no held-out rows: mark the settings to score split=test")
    model = load_model_file(model_path) if model_path is not None else None
    if model is not None:
        if model.knobs is None:
            knob_model_output(model, np.zeros(1, dtype=np.float32), {})  # refuses a snapshot model
        for row in manifest.test:  # every refusal before any audio is read or model trained
            try:
                model.knobs.normalize(row.settings, extrapolate=extrapolate)
            except GuneampError as exc:
                raise GuneampError(f"{manifest_path}, row {row.index}: {exc}") from None
    if pooled_path is not None:
        pooled, pooled_from = load_model_file(pooled_path), str(pooled_path)
        if pooled.knobs is not None:
            raise GuneampError(f"--pooled {pooled_path} is a knob model; baseline (a) is a snapshot without knobs")
    elif model is not None:
        pooled_steps = trained_steps(model) if pooled_steps is None else pooled_steps
        pooled = train_pooled(manifest, model, steps=pooled_steps, seed=seed, device=device, out_dir=pooled_out)
        pooled_from = (f"{model.model_name} without knobs, trained here for {pooled_steps} steps"
                       + (f" (kept in {pooled_out})" if pooled_out is not None else ""))
    else:
        pooled, pooled_from = None, "not scored (give --pooled, or --model to train one like it)"
    scores = KnobScores(str(manifest_path), str(model_path) if model_path is not None else "not given", pooled_from)
    mine_all = [None] * len(manifest.test) if model is None else held_out_esrs(manifest, model,
                                                                                extrapolate=extrapolate)
    for row, mine in zip(manifest.test, mine_all):
        clean, target, sr = read_take(row.clean, row.target)
        if pooled is not None and pooled.sample_rate != sr:
            raise GuneampError(f"{row.target} is at {sr} Hz but the pooled snapshot was trained at "
                               f"{pooled.sample_rate} Hz")
        base_a = None if pooled is None else _esr(target, predict_at_level(pooled, clean, pooled.ir))
        base_b, near = nearest_baseline(manifest, row, clean, target, sr)
        scores.rows.append(RowScore(row.index, row.name, dict(row.settings), mine, base_a, base_b, near))
    return scores


__all__ = ["KnobScores", "RowScore", "held_out_esrs", "knob_model_output", "nearest_baseline", "nearest_recording",
           "pooled_training_data", "read_take", "score_knob_manifest", "snapshot_config", "train_pooled",
           "trained_steps"]
