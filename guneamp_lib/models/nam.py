"""Writing a trained WaveNet as a Neural Amp Modeler ``.nam`` file, and reading it back (notebook 11_beyond_the_seed).

A ``.nam`` file is JSON:

* ``version``: the file format (``"0.5.2"``, which NAM's plugin reads),
* ``architecture``: ``"WaveNet"``,
* ``config``: ``{"layers": [one dict per layer array], "head": null, "head_scale": s}``,
* ``weights``: every number of the network in one flat list,
* ``sample_rate`` and free-form ``metadata``.

The flat list is the model's ``parameters()`` flattened one after the other, followed
by ``head_scale``; :mod:`guneamp_lib.models.wavenet` keeps its modules in NAM's order so that
no reshuffling is needed. For each layer array: rechannel weight, then per layer the
dilated conv's weight and bias, the input mixer's weight, the 1x1's weight and bias,
then the head rechannel's weight (and bias). A convolution weight is flattened as
``(out, in, kernel)``, row-major, the order NAM's C++ ``Conv1D::set_weights_`` reads.
Like NAM's plugin, :func:`load_nam` takes ``head_scale`` from the last weight.

``sample_rate`` is the rate the *network* runs at: for a model trained on 8x
oversampled audio that is 8 times the recording's rate.
"""

from __future__ import annotations

import json
import math
import numbers
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import torch

from .. import paths
from ..errors import GuneampError
from .wavenet import WaveNet, preset_of

# The .nam format version whose WaveNet config this module writes (NAM's _MODEL_VERSION).
NAM_FORMAT_VERSION = "0.5.2"
ARCHITECTURE = "WaveNet"


def nam_weights(model: WaveNet) -> list[float]:
    """The flat weight list in NAM's order (see the module docstring), ``head_scale`` last."""
    flat = [float(v) for p in model.parameters() for v in p.detach().cpu().float().reshape(-1).tolist()]
    return flat + [float(model.head_scale)]


def nam_config(model: WaveNet) -> dict:
    return {"layers": [dict(lc) for lc in model.config["layers"]], "head": None, "head_scale": float(model.head_scale)}


def export_nam(model: WaveNet, path: str | os.PathLike, sample_rate: float, metadata: dict | None = None) -> Path:
    """Write ``model`` as a ``.nam`` file (atomically: a crash never leaves half a file)."""
    if not isinstance(model, WaveNet):
        raise GuneampError(f"only WaveNet models can be written as .nam files, not {type(model).__name__}")
    if not (isinstance(sample_rate, numbers.Real) and math.isfinite(sample_rate) and sample_rate > 0):
        raise GuneampError(f"sample_rate must be a positive number of Hz, got {sample_rate!r}")
    weights = nam_weights(model)
    if not all(math.isfinite(w) for w in weights):
        raise GuneampError("the model holds NaN or infinite weights; it cannot be exported (was training unstable?)")
    t = datetime.now()
    meta = {"date": {"year": t.year, "month": t.month, "day": t.day, "hour": t.hour, "minute": t.minute,
                     "second": t.second}}
    meta.update(metadata or {})
    payload = {
        "version": NAM_FORMAT_VERSION,
        "metadata": meta,
        "architecture": ARCHITECTURE,
        "config": nam_config(model),
        "weights": weights,
        "sample_rate": float(sample_rate),
    }
    try:
        text = json.dumps(payload, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise GuneampError(f"the metadata cannot be written as JSON: {exc}") from None
    return paths.write_text_atomic(path, text)


@dataclass
class NamFile:
    model: WaveNet
    sample_rate: float | None
    version: str
    metadata: dict = field(default_factory=dict)


def load_nam(path: str | os.PathLike) -> NamFile:
    """Rebuild a :class:`~guneamp_lib.models.wavenet.WaveNet` from a ``.nam`` file (the inverse of :func:`export_nam`)."""
    path = Path(path)
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GuneampError(f".nam file not found: {path}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GuneampError(f"{path} is not a .nam file (not JSON: {exc})") from None
    if not isinstance(payload, dict) or payload.get("architecture") != ARCHITECTURE:
        got = payload.get("architecture") if isinstance(payload, dict) else None
        raise GuneampError(f"{path} holds a {got!r} model; only WaveNet .nam files can be read")
    version = str(payload.get("version", ""))
    if version.split(".")[:2] != NAM_FORMAT_VERSION.split(".")[:2]:
        raise GuneampError(f"{path} is in .nam format {version!r}; this reader knows {NAM_FORMAT_VERSION[:3]}.x")
    config = payload.get("config", {})
    if config.get("head") is not None:
        raise GuneampError(f"{path} has a head network after the layer arrays; this reader supports only "
                           "head-less WaveNets, as NAM's presets are")
    weights = payload.get("weights", [])
    try:
        # Files written after NAM 0.5.2 may leave out "gated"; its default there is False.
        layers = [{"gated": False, **lc} for lc in config["layers"]]
        head_scale = weights[-1] if weights else config.get("head_scale")
        model = WaveNet(preset=preset_of(layers), layers=layers, head_scale=head_scale)
    except (KeyError, TypeError, ValueError) as exc:
        raise GuneampError(f"{path} has a WaveNet config this library cannot build: {exc}") from None
    want = model.num_parameters + 1
    if len(weights) != want:
        raise GuneampError(f"{path} holds {len(weights)} weights but its config needs {want}")
    flat = torch.tensor(weights[:-1], dtype=torch.float32)
    i = 0
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(flat[i : i + p.numel()].view_as(p))
            i += p.numel()
    model.eval()
    sr = payload.get("sample_rate")
    return NamFile(model, None if sr is None else float(sr), version, payload.get("metadata") or {})
