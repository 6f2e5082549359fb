"""Saving and loading trained models without executing code from the file (notebook 06).

A checkpoint holds only tensors and plain values (strings, numbers, lists, dicts): the
weights, the model's name and constructor arguments, the rates it was trained at, the
cabinet IR it was trained with, the loss history and, for a knob model, its knobs' names
and dial ranges (:class:`~guneamp_lib.knobs.KnobSpace`, notebook 13). It is read with
``torch.load(..., weights_only=True)``, which refuses pickled code, so opening a model
file someone sent you cannot run anything. Files are written atomically.

A file that loads safely can still be malformed (a hand-edited or truncated one, or one
written by other software): every field is checked against a small schema on load, and
each problem is reported in one line that names the field.

**A size budget, before anything large is allocated.** A 1.5 KB file can declare a
300-million-sample IR (one stored sample, viewed with stride 0) or a model whose
dilations reach gigabytes of buffers. So, in this order: the archive must be stored
uncompressed, its entries within the file's size (``torch.load`` then allocates no more
than the file holds); every tensor must be contiguous and no larger than the bytes behind
it (no view that inflates on copy); the IR at most :data:`~guneamp_lib.vocabulary.IR_MAX_SECONDS`
at the model's rate; the model, built first on PyTorch's ``meta`` device (shapes, no
memory), at most :data:`MAX_PARAMETERS` weights and :data:`MAX_RECEPTIVE_FIELD` samples of
receptive field, and its weights' shapes those of the file. Only then is the model built.
"""

from __future__ import annotations

import math
import os
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import GuneampError, GuneampWarning
from ..knobs import KnobSpace
from ..paths import atomic_output, check_input_file, disk_errors
from ..vocabulary import AUDIO_RATES, IR_MAX_SECONDS, MAX_FACTOR
from . import MODELS, build_model, count_parameters, model_config, receptive_field

FORMAT = "guneamp-checkpoint"
VERSION = 1
# The size budget (see the module doc). The largest model the course trains has 14k weights
# (WaveNet standard) and a receptive field of 4,093 samples; these leave a thousand times
# that room and still keep a hostile file to a few hundred megabytes.
MAX_PARAMETERS = 1 << 24
MAX_RECEPTIVE_FIELD = 1 << 18


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
    # What an interrupted run needs to go on (optimizer, step, generators); only in
    # last.pt, see guneamp_lib.training.resume.
    training_state: dict | None = None
    # A knob model's knobs: the names and the dial ranges its 0..1 inputs stand for.
    knobs: KnobSpace | None = None

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
    if ckpt.model.num_knobs:  # only knob models: a snapshot's checkpoint stays as it always was
        payload["knobs"] = checked_knobs(path, ckpt.model, ckpt.knobs).to_json()
    if ckpt.training_state is not None:
        payload["training_state"] = ckpt.training_state
    with atomic_output(path) as tmp, disk_errors(path):
        torch.save(payload, tmp)
    return path


def checked_knobs(path, model: torch.nn.Module, knobs: KnobSpace | None) -> KnobSpace | None:
    """The knob space of ``model``, refused where it does not fit the model's knob inputs.

    Notebook: 13
    """
    want = model.num_knobs
    have = 0 if knobs is None else len(knobs)
    if want != have:
        raise GuneampError(f"{path}: the model takes {want} knob(s) but {have} are described"
                           + ("" if have else " (the checkpoint holds no knob list)"))
    return knobs


def _field_error(path: Path, name: str, value, expected: str) -> GuneampError:
    shown = repr(value) if not isinstance(value, torch.Tensor) else f"a tensor of shape {tuple(value.shape)}"
    return GuneampError(f"{path} is a malformed checkpoint: '{name}' is {shown[:60]}, expected {expected}.")


def _int_field(path: Path, payload: dict, name: str, low: int, high: int) -> int:
    value = payload.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _field_error(path, name, value, f"a whole number from {low} to {high}")
    return value


def _gain_field(path: Path, payload: dict, name: str) -> float:
    value = payload.get(name, 1.0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise _field_error(path, name, value, "a finite positive number")
    return float(value)


def _validate(path: Path, payload: dict) -> None:
    """The schema: the type and range of every field :func:`load_checkpoint` uses."""
    version = payload.get("version", 0)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _field_error(path, "version", version, "a whole number from 1")
    if version > VERSION:
        raise GuneampError(f"{path} was written by a newer guneamp (format {version}); upgrade guneamp_lib.")
    name = payload.get("model_name")
    if name not in MODELS:
        raise _field_error(path, "model_name", name, f"one of {', '.join(sorted(MODELS))}")
    for key, kind, what in (("model_config", dict, "a mapping"), ("state_dict", dict, "a mapping of tensors"),
                            ("history", list, "a list"), ("meta", dict, "a mapping")):
        if key in payload and not isinstance(payload[key], kind):
            raise _field_error(path, key, payload[key], what)
    if "state_dict" not in payload or not all(isinstance(v, torch.Tensor) for v in payload["state_dict"].values()):
        raise _field_error(path, "state_dict", payload.get("state_dict"), "a mapping of tensors")
    rate = payload.get("sample_rate")
    if isinstance(rate, bool) or not isinstance(rate, int) or rate not in AUDIO_RATES:
        raise _field_error(path, "sample_rate", rate, f"an audio rate ({', '.join(map(str, AUDIO_RATES))} Hz)")
    _int_field(path, payload, "oversample", 1, MAX_FACTOR)
    _int_field(path, payload, "window", 1, 1 << 24)
    ir = payload.get("ir")
    if ir is not None and not (isinstance(ir, torch.Tensor) and ir.ndim == 1 and ir.numel() > 0
                               and ir.is_floating_point()):
        raise _field_error(path, "ir", ir, "none, or a non-empty 1-D tensor of finite samples")
    for name, t in _tensors(payload):
        if not _owns_its_bytes(t):
            raise GuneampError(f"{path} is a malformed checkpoint: '{name}' declares {t.numel()} values over "
                               f"{t.untyped_storage().nbytes()} bytes (a view that would inflate when copied).")
    longest = int(IR_MAX_SECONDS * rate)
    if ir is not None and ir.numel() > longest:
        raise GuneampError(f"{path} is a malformed checkpoint: its cabinet IR has {ir.numel()} samples, more than "
                           f"{IR_MAX_SECONDS:g} s ({longest}) at its {rate} Hz; no cabinet rings that long.")
    if ir is not None and not bool(torch.isfinite(ir).all()):
        raise _field_error(path, "ir", ir, "none, or a non-empty 1-D tensor of finite samples")
    if not isinstance(payload.get("target_kind", "amp_with_cab"), str):
        raise _field_error(path, "target_kind", payload["target_kind"], "a name")
    for key in ("input_gain", "output_gain"):
        _gain_field(path, payload, key)
    if not isinstance(payload.get("training_state", {}), dict):
        raise _field_error(path, "training_state", payload["training_state"], "a mapping")


def _tensors(value, name: str = ""):
    """Every tensor in a loaded payload, with where it sits ('state_dict.conv.weight')."""
    if isinstance(value, torch.Tensor):
        yield name, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _tensors(v, f"{name}.{k}" if name else str(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _tensors(v, f"{name}[{i}]")


def _owns_its_bytes(t: torch.Tensor) -> bool:
    """No more values than the bytes of storage behind it hold (a stride-0 view has more)."""
    return t.numel() * t.element_size() <= t.untyped_storage().nbytes()


def _check_archive(path: Path) -> None:
    """``torch.save``'s zip archive, stored uncompressed, every entry within the file: so
    ``torch.load`` allocates no more than the file's size."""
    size = path.stat().st_size
    try:
        with zipfile.ZipFile(path) as z:
            entries = z.infolist()
    except OSError as exc:
        raise GuneampError(f"cannot read checkpoint {path}: {exc.strerror or exc}.") from None
    except (zipfile.BadZipFile, ValueError, EOFError):
        raise GuneampError(f"{path} is not a loadable guneamp checkpoint (not the archive torch.save writes). "
                           "It may be corrupt, or hold pickled code, which is never executed.") from None
    if any(e.compress_type != zipfile.ZIP_STORED for e in entries) or sum(e.file_size for e in entries) > size:
        raise GuneampError(f"{path} is a malformed checkpoint: its archive is compressed or declares more data "
                           f"than its {size} bytes (torch.save never writes either).")


def _build_in_budget(path: Path, payload: dict) -> torch.nn.Module:
    """The model the payload declares, checked on the meta device (no memory) before it is built."""
    name, config = payload["model_name"], payload.get("model_config", {})
    try:
        with torch.device("meta"):
            shape = build_model(name, **config)
        rf = receptive_field(shape)
    except (RuntimeError, ValueError, TypeError, NotImplementedError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise GuneampError(f"{path} does not match its model definition: {first}") from None
    weights = count_parameters(shape)
    if weights > MAX_PARAMETERS or (math.isfinite(rf) and rf > MAX_RECEPTIVE_FIELD):
        raise GuneampError(f"{path} declares a {name} of {weights} weights and a receptive field of {rf:g} samples; "
                           f"guneamp loads at most {MAX_PARAMETERS} and {MAX_RECEPTIVE_FIELD}. The file is damaged "
                           "or not meant for guneamp.")
    mismatch = _shape_mismatch(shape, payload["state_dict"])
    if mismatch:
        raise GuneampError(f"{path} does not match its model definition ({name}): {mismatch}.")
    return build_model(name, **config)


def _shape_mismatch(model: torch.nn.Module, state: dict) -> str | None:
    """One line on how ``state`` differs from what ``model`` expects, or None."""
    want = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    have = {k: tuple(v.shape) for k, v in state.items()}
    wrong = [k for k in want if k in have and want[k] != have[k]]
    missing = [k for k in want if k not in have]
    extra = [k for k in have if k not in want]
    parts = []
    if wrong:
        k = wrong[0]
        parts.append(f"{len(wrong)} weight(s) of the wrong shape (first: {k} is {list(have[k])} in the file, "
                     f"the model expects {list(want[k])})")
    if missing:
        parts.append(f"{len(missing)} missing (first: {missing[0]})")
    if extra:
        parts.append(f"{len(extra)} unexpected (first: {extra[0]})")
    return "; ".join(parts) or None


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Read a checkpoint without running code from it, checked field by field.

    Notebook: 06
    """
    path = Path(path)
    if not path.exists():
        raise GuneampError(f"checkpoint not found: {path}. Train one with `guneamp train`.")
    check_input_file(path, "checkpoint")
    _check_archive(path)
    try:
        # torch warns about files it then refuses (a pickle protocol it did not write): the
        # one-line refusal below says all the user needs, so its warnings stay quiet here.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location=map_location, weights_only=True)
    except OSError as exc:
        raise GuneampError(f"cannot read checkpoint {path}: {exc.strerror or exc}.") from None
    except Exception as exc:
        raise GuneampError(
            f"{path} is not a loadable guneamp checkpoint ({exc.__class__.__name__}). "
            "It may be corrupt, or hold pickled code, which is never executed."
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise GuneampError(f"{path} is not a guneamp checkpoint (no '{FORMAT}' marker).")
    _validate(path, payload)
    model = _build_in_budget(path, payload)
    model.load_state_dict(payload["state_dict"])
    knobs = None
    if "knobs" in payload:
        try:
            knobs = KnobSpace.from_json(payload["knobs"])
        except GuneampError as exc:
            raise GuneampError(f"{path} is a malformed checkpoint: {exc}") from None
    knobs = checked_knobs(path, model, knobs)
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
        training_state=payload.get("training_state"),
        knobs=knobs,
    )
