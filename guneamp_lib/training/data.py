"""A training pair: clean DI, target recording and (optionally) the cabinet IR (notebooks 01, 08).

Two kinds of target are supported:

* ``amp_with_cab`` (default, ``data/amp.wav``): the amp recorded through its cabinet,
  which is what a microphone in front of a real rig gives you. The cabinet IR is then
  placed *inside the loss* (network -> downsample -> IR -> compare), so the network
  learns the amp alone and the IR is applied once at render time. Training on this
  target without the IR in the loss, then adding the IR, colours the sound twice.
* ``amp_direct`` (``data/amp_direct.wav``): the amp recorded before any cabinet (a
  load box or the amp's line out). The network learns the amp; any IR you like can go
  after it. Use this when you have such a recording; it is the easier problem.

The last ``val_fraction`` of the recording is held out: its targets are never trained on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from ..dsp.audio import NORMALIZE_EPS, read_audio
from ..dsp.cabinet import load_ir
from ..errors import GuneampError
from ..vocabulary import TARGET_KINDS

if TYPE_CHECKING:
    from ..capture.lag import LagEstimate

DEFAULT_VAL_FRACTION = 0.2


@dataclass
class TrainingData:
    clean: torch.Tensor
    target: torch.Tensor
    sample_rate: int
    ir: torch.Tensor | None
    target_kind: str
    val_start: int
    lag: "LagEstimate | None" = None
    # What peak normalization multiplied the raw recordings by (see Checkpoint.input_gain).
    input_gain: float = 1.0
    output_gain: float = 1.0
    # Samples the target trails the DI by inside this data, left in (not aligned away):
    # the model learns them as part of the gear, so scoring a new take must leave them in too.
    latency: int = 0

    @property
    def n_train(self) -> int:
        return self.val_start

    @property
    def n_val(self) -> int:
        return self.clean.numel() - self.val_start


def split_point(n: int, val_fraction: float) -> int:
    if not 0.0 < val_fraction < 1.0:
        raise GuneampError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    return int(round(n * (1.0 - val_fraction)))


def read_pair(clean_path, target_path, ir_path=None, *, target_kind: str = "amp_with_cab", align: bool = False):
    """Read and check a training pair (optionally aligned) and its IR: ``(clean, target, rate, ir, lag)``, raw levels.

    Notebook: 06
    """
    from ..capture.checks import validate_pair

    if target_kind not in TARGET_KINDS:
        raise GuneampError(f"unknown target kind {target_kind!r}; use one of {', '.join(TARGET_KINDS)}")
    clean, sr_c, info_c = read_audio(clean_path, what="clean")
    target, sr_t, info_t = read_audio(target_path, what="amp")
    clean, target, lag = validate_pair(clean, target, sr_c, sr_t, align=align)
    ir = None
    if target_kind == "amp_with_cab":
        if ir_path is None:
            raise GuneampError(
                "the target contains a cabinet, so training needs the cabinet IR for the loss: pass --ir, "
                "or use --target-kind amp_direct with a recording made before the cabinet."
            )
        ir = load_ir(ir_path, sr_c)
        if ir.numel() >= clean.size:
            raise GuneampError(
                f"the cabinet IR ({ir.numel()} samples) is longer than the recording ({clean.size} samples). "
                "Trim the IR or record more audio."
            )
    return clean, target, sr_c, ir, lag


def load_training_data(
    clean_path: str | os.PathLike,
    target_path: str | os.PathLike,
    ir_path: str | os.PathLike | None = None,
    *,
    target_kind: str = "amp_with_cab",
    align: bool = False,
    val_fraction: float = DEFAULT_VAL_FRACTION,
) -> TrainingData:
    """Read, check, (optionally) align, trim and peak-normalize a training pair.

    Notebook: 06
    """
    clean, target, sr_c, ir, lag = read_pair(clean_path, target_path, ir_path, target_kind=target_kind, align=align)
    data = make_training_data(clean, target, sr_c, ir, target_kind=target_kind, val_fraction=val_fraction, lag=lag)
    if not align and lag.reliable:
        data.latency = int(lag.lag)
    return data


def make_training_data(clean, target, sample_rate: int, ir=None, *, target_kind: str = "amp_with_cab",
                       val_fraction: float = DEFAULT_VAL_FRACTION, lag: "LagEstimate | None" = None,
                       gains: tuple[float, float] | None = None) -> TrainingData:
    """Build a :class:`TrainingData` from arrays already in memory (equal lengths).

    Each signal is peak-normalized, and the factor it was multiplied by is kept as
    ``input_gain`` / ``output_gain``: the checkpoint stores them, so that new DI can
    later be brought to the level this model trained at. ``gains``: the (input, output)
    factors to use instead, shared by every capture of a knob model (notebook 13).

    Notebook: 06
    """
    clean = torch.as_tensor(clean, dtype=torch.float32)
    target = torch.as_tensor(target, dtype=torch.float32)
    if clean.shape != target.shape:
        raise GuneampError(f"clean and target differ in length ({clean.numel()} vs {target.numel()} samples)")
    g_in, g_out = (peak_gain(clean), peak_gain(target)) if gains is None else gains
    return TrainingData(clean * g_in, target * g_out, int(sample_rate), ir, target_kind,
                        split_point(clean.numel(), val_fraction), lag, input_gain=g_in, output_gain=g_out)


def peak_gain(x) -> float:
    """The factor :func:`~guneamp_lib.dsp.audio.peak_normalize` multiplies ``x`` by.

    Notebook: 06
    """
    x = torch.as_tensor(x)
    return float(1.0 / (float(x.abs().max()) + NORMALIZE_EPS))
