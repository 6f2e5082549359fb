"""Training data for a knob model: many captures, each at its own setting (notebook 13).

A knob model learns one amp at every setting from captures at many settings. Each
capture is a :class:`~guneamp_lib.training.data.TrainingData` of its own (its last
``val_fraction`` held out, as for a snapshot), and carries its knob vector, normalized
once from the training settings' ranges (:class:`~guneamp_lib.knobs.KnobSpace`).

**One level for all captures.** A snapshot peak-normalizes its DI and its target. Here
that would erase what the knobs do to the level (master, drive): every capture gets the
same input gain (from the loudest DI) and the same output gain (from the loudest target).

**Every batch mixes settings.** :class:`KnobSampler` draws each segment of a batch from
a capture picked in proportion to its length, with that capture's knob vector, through
the same :func:`~guneamp_lib.training.step.train_step` as every model. Validation scores
each capture's held-out part at its own knobs; the run's ``val_esr`` is their mean, so a
quiet setting counts as much as a loud one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable, Mapping

import torch

from ..errors import GuneampError
from ..knobs import KnobSpace
from .data import DEFAULT_VAL_FRACTION, TrainingData, make_training_data, peak_gain, read_pair
from .step import RESAMPLER_MARGIN, SegmentSampler, forward_segments


@dataclass
class KnobTrainingData:
    """Captures at many settings: what :func:`~guneamp_lib.training.train.train` takes for a knob model.

    ``knobs`` holds one normalized vector per capture, ``(captures, K)``. Held-out samples
    are numbered across the captures, one after another, from ``val_start = 0``.

    Notebook: 13
    """

    captures: list[TrainingData]
    knobs: torch.Tensor
    space: KnobSpace
    val_start: int = 0
    validation: str = "tail"  # as TrainingData's: each capture's tail validates, never a separate take

    @property
    def sample_rate(self) -> int:
        return self.captures[0].sample_rate

    @property
    def ir(self) -> torch.Tensor | None:
        return self.captures[0].ir

    @property
    def target_kind(self) -> str:
        return self.captures[0].target_kind

    @property
    def input_gain(self) -> float:
        return self.captures[0].input_gain

    @property
    def output_gain(self) -> float:
        return self.captures[0].output_gain

    @property
    def latency(self) -> int:
        return self.captures[0].latency

    @property
    def n_train(self) -> int:
        return sum(c.n_train for c in self.captures)

    @property
    def n_val(self) -> int:
        return sum(c.n_val for c in self.captures)

    def held_out(self, start: int, end: int):
        """``(capture, knobs, a, b)`` for each capture's share of held-out samples ``[start, end)``."""
        offset = 0
        for cap, k in zip(self.captures, self.knobs):
            a, b = max(start - offset, 0), min(end - offset, cap.n_val)
            if b > a:
                yield cap, k, cap.val_start + a, cap.val_start + b
            offset += cap.n_val

    def tensors(self) -> list[torch.Tensor]:
        """Everything that identifies the data (for a resumed run's check)."""
        out = [self.knobs]
        for c in self.captures:
            out += [c.clean, c.target]
        return out + ([self.ir] if self.ir is not None else [])


def make_knob_training_data(captures: Iterable[tuple[object, object, Mapping[str, float]]], sample_rate: int,
                            ir=None, *, space: KnobSpace | None = None, target_kind: str = "amp_with_cab",
                            val_fraction: float = DEFAULT_VAL_FRACTION) -> KnobTrainingData:
    """Knob training data from ``(clean, target, settings)`` arrays at their recorded levels.

    ``settings`` are in dial units; ``space`` (default: the range the settings span, in the
    first capture's knob order) fixes the scaling to 0..1.

    Notebook: 13
    """
    captures = [(torch.as_tensor(c, dtype=torch.float32), torch.as_tensor(t, dtype=torch.float32), dict(s))
                for c, t, s in captures]
    if not captures:
        raise GuneampError("a knob model needs captures at two settings or more; none were given")
    if space is None:
        space = KnobSpace.from_settings([s for _, _, s in captures], names=list(captures[0][2]))
    if not len(space):
        raise GuneampError("the captures name no knobs; a knob model needs at least one")
    gains = (peak_gain(torch.cat([c for c, _, _ in captures])), peak_gain(torch.cat([t for _, t, _ in captures])))
    parts = [make_training_data(c, t, sample_rate, ir, target_kind=target_kind, val_fraction=val_fraction, gains=gains)
             for c, t, _ in captures]
    knobs = torch.stack([torch.from_numpy(space.normalize(s, extrapolate=False)) for _, _, s in captures])
    return KnobTrainingData(parts, knobs, space)


def load_knob_training_data(rows: Iterable[tuple[str | os.PathLike, str | os.PathLike, Mapping[str, float]]],
                            ir_path=None, *, space: KnobSpace | None = None, target_kind: str = "amp_with_cab",
                            align: bool = False, val_fraction: float = DEFAULT_VAL_FRACTION) -> KnobTrainingData:
    """Read every ``(clean path, target path, settings)`` capture, checked as a snapshot's pair is.

    Notebook: 13
    """
    read, rate, latency = [], None, 0
    for clean_path, target_path, settings in rows:
        clean, target, sr, ir, lag = read_pair(clean_path, target_path, ir_path, target_kind=target_kind, align=align)
        if rate is not None and sr != rate:
            raise GuneampError(f"{target_path} is at {sr} Hz but the first capture at {rate} Hz; record every "
                               "capture of a knob model at one rate")
        rate = sr
        if not read and not align and lag.reliable:
            latency = int(lag.lag)
        read.append((clean, target, settings))
    data = make_knob_training_data(read, rate, ir, space=space, target_kind=target_kind, val_fraction=val_fraction)
    for c in data.captures:
        c.latency = latency
    return data


@dataclass
class KnobSampler:
    """Random segments from every capture, each with its capture's knob vector (``draw`` -> ``((x, knobs), y)``).

    Notebook: 13
    """

    samplers: list[SegmentSampler]
    knobs: torch.Tensor  # (captures, K), on the device
    ends: torch.Tensor  # cumulative segment starts per capture
    scale: torch.Tensor | None = None  # (captures,): each capture's error scale (balance_settings)

    @classmethod
    def build(cls, model, data: KnobTrainingData, cfg, length: int, device) -> "KnobSampler":
        # One segment length for every capture, so a batch stacks.
        length = min([length] + [c.n_train for c in data.captures])
        samplers = [SegmentSampler.build(model, c, cfg, length, device) for c in data.captures]
        ends = torch.cumsum(torch.tensor([s.n_starts for s in samplers]), 0)
        scale = setting_scales(data).to(device) if getattr(cfg, "balance_settings", False) else None
        return cls(samplers, data.knobs.to(device), ends, scale)

    @property
    def length(self) -> int:
        return self.samplers[0].length

    def draw(self, batch_size: int, gen: torch.Generator):
        first = self.samplers[0]
        flat = torch.randint(0, int(self.ends[-1]), (batch_size,), generator=gen)
        which = torch.searchsorted(self.ends, flat, right=True)
        starts = flat - torch.cat([torch.zeros(1, dtype=self.ends.dtype), self.ends])[which]
        span, F = first.context + first.length + RESAMPLER_MARGIN, first.oversample
        xs, ys = [], []
        for c, s in zip(which.tolist(), starts.tolist()):
            smp = self.samplers[c]
            xs.append(smp.padded[s * F : (s + span) * F])
            ys.append(smp.target[s : s + smp.length])
        which = which.to(self.knobs.device)
        y = torch.stack(ys)
        if self.scale is None:
            return (torch.stack(xs), self.knobs[which]), y
        scale = self.scale[which][:, None]
        return (torch.stack(xs), self.knobs[which], scale), y * scale

    def forward(self, model, inputs) -> torch.Tensor:
        x, knobs, *scale = inputs
        s = self.samplers[0]
        pred = forward_segments(model, x, s.oversample, s.ir, s.context, s.length, knobs=knobs)
        return pred * scale[0] if scale else pred


def setting_scales(data: KnobTrainingData) -> torch.Tensor:
    """Per capture, ``sqrt(P / P_c)``: ``P_c`` its training target's mean power, ``P`` their mean.

    The captures keep one level (a quiet setting stays quiet), so a plain squared error
    weighs a loud setting's mistakes up to 77 times a quiet one's on the reference amp's
    knob capture, while every setting is judged by its ESR: its error over its own power.
    Scaling a segment's prediction and target by this factor (``balance_settings``) makes
    its squared error count as its ESR does, the level of the output untouched.

    Notebook: 13
    """
    power = torch.stack([torch.mean(c.target[: c.n_train].double() ** 2) for c in data.captures])
    if not bool(torch.all(power > 0)):
        raise GuneampError("a capture's target is silent; every setting of a knob model needs sound to learn from")
    return torch.sqrt(power.mean() / power).float()

