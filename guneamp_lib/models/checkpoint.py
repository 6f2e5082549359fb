"""Saving and loading trained models without executing code from the file (notebook 06).

A checkpoint holds only tensors and plain values (strings, numbers, lists, dicts): the
weights, the model's name and constructor arguments, the rates it was trained at, the
cabinet IR it was trained with and the loss history. It is read with
``torch.load(..., weights_only=True)``, which refuses pickled code, so opening a model
file someone sent you cannot run anything. Files are written atomically.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import GuneampError, GuneampWarning
from ..paths import atomic_output
from . import build_model, model_config, receptive_field

FORMAT = "guneamp-checkpoint"
VERSION = 1


@dataclass
class Checkpoint:
    model: torch.nn.Module
    model_name: str
    sample_rate: int
    oversample: int
    window: int
    ir: torch.Tensor | None = None
    target_kind: str = "amp_with_cab"
    history: list[dict] = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    # The levels the model was trained at: it learned ``target_raw * output_gain`` from
    # ``di_raw * input_gain``, so ``model(di * input_gain) / output_gain`` is the amp at
    # the recording's own level. 1.0 for checkpoints written before they were stored.
    input_gain: float = 1.0
    output_gain: float = 1.0

    @property
    def min_input_samples(self) -> int:
        """The shortest input (at the file rate) this model can make sense of."""
        rf = receptive_field(self.model)
        rf = self.window if not math.isfinite(rf) else max(rf, 1)
        return math.ceil(rf / self.oversample)


def _plain(value):
    """Recursively keep only what ``weights_only`` loading accepts."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None or isinstance(value, torch.Tensor):
        return value
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def save_checkpoint(path: str | os.PathLike, ckpt: Checkpoint) -> Path:
    path = Path(path)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "model_name": ckpt.model_name,
        "model_config": _plain(model_config(ckpt.model)),
        "state_dict": {k: v.detach().cpu().clone() for k, v in ckpt.model.state_dict().items()},
        "sample_rate": int(ckpt.sample_rate),
        "oversample": int(ckpt.oversample),
        "window": int(ckpt.window),
        "ir": None if ckpt.ir is None else ckpt.ir.detach().cpu().float().clone(),
        "target_kind": ckpt.target_kind,
        "history": _plain(ckpt.history),
        "meta": _plain(ckpt.meta),
        "input_gain": float(ckpt.input_gain),
        "output_gain": float(ckpt.output_gain),
    }
    with atomic_output(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Checkpoint:
    path = Path(path)
    if not path.is_file():
        raise GuneampError(f"checkpoint not found: {path}. Train one with `guneamp train`.")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise GuneampError(
            f"{path} is not a loadable guneamp checkpoint ({exc.__class__.__name__}). "
            "It may be corrupt, or hold pickled code, which is never executed."
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise GuneampError(f"{path} is not a guneamp checkpoint (no '{FORMAT}' marker).")
    if payload.get("version", 0) > VERSION:
        raise GuneampError(f"{path} was written by a newer guneamp (format {payload['version']}); upgrade guneamp_lib.")
    try:
        model = build_model(payload["model_name"], **payload["model_config"])
        model.load_state_dict(payload["state_dict"])
    except (KeyError, RuntimeError, ValueError, TypeError) as exc:
        raise GuneampError(f"{path} does not match its model definition: {exc}") from None
    if "input_gain" not in payload:
        warnings.warn(
            f"{path} predates stored training levels, so its input and output gains are taken as 1.0. It was "
            "trained on peak-normalized audio: render it with --normalize-input to drive it as it was trained.",
            GuneampWarning, stacklevel=2)
    return Checkpoint(
        model=model,
        model_name=payload["model_name"],
        sample_rate=payload["sample_rate"],
        oversample=payload["oversample"],
        window=payload["window"],
        ir=payload.get("ir"),
        target_kind=payload.get("target_kind", "amp_with_cab"),
        history=payload.get("history", []),
        meta=payload.get("meta", {}),
        input_gain=float(payload.get("input_gain", 1.0)),
        output_gain=float(payload.get("output_gain", 1.0)),
    )
