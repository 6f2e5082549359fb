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
Or a separate take through the same gear is the validation set
(:func:`with_validation_take`, ``guneamp train --val-clean --val-amp``) and all of the
recording trains: on the real pedals the tail of a capture scores 1.5 to 2.6 times better
than another take does (issue 22), so a separate take is the honest judge of the best
epoch, and it says how far the model carries beyond the notes it was trained on.
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
# A validation take shorter than this says little about a model: a second holds a note or two.
MIN_VAL_TAKE_S = 1.0
# Silence between the training recording and the validation take: longer than any model's
# memory here (the WaveNet hears 93 ms), so no segment sees both; as study.datasets joins takes.
VAL_TAKE_GAP_S = 0.2
# Samples a validation take's latency may differ from the training pair's: the lag estimate
# is exact to the sample on clear material, and a few samples allow for rounding on dull takes.
MAX_LATENCY_MISMATCH = 4


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
    # What the held-out part is: the recording's "tail", or a separate validation "take".
    validation: str = "tail"

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
    val_clean: str | os.PathLike | None = None,
    val_target: str | os.PathLike | None = None,
) -> TrainingData:
    """Read, check, (optionally) align, trim and peak-normalize a training pair.

    With ``val_clean`` and ``val_target`` (a second take through the same gear), all of the
    pair trains and that take validates (:func:`with_validation_take`).

    Notebook: 06
    """
    if (val_clean is None) != (val_target is None):
        raise GuneampError("a validation take needs both its clean DI and its target recording")
    clean, target, sr_c, ir, lag = read_pair(clean_path, target_path, ir_path, target_kind=target_kind, align=align)
    data = make_training_data(clean, target, sr_c, ir, target_kind=target_kind, val_fraction=val_fraction, lag=lag)
    if not align and lag.reliable:
        data.latency = int(lag.lag)
    if val_clean is not None:
        vc, sr_vc, _ = read_audio(val_clean, what="validation clean")
        vt, sr_vt, _ = read_audio(val_target, what="validation target")
        data = with_validation_take(data, vc, vt, sr_vc, sr_vt, align=align)
    return data


def with_validation_take(data: TrainingData, clean, target, sr_clean: int, sr_target: int, *,
                         align: bool = False) -> TrainingData:
    """``data``, all of it to train, then silence and a separate take (raw DI and target) to validate.

    The take is checked as the training pair is (rates, silence, lag), then brought to the
    training pair's level (its ``input_gain`` / ``output_gain``): the model must meet it at
    the level it trained at. Without ``align``, the model learns the pair's latency as part
    of the gear, so the take must show the same latency; with it, both are aligned.

    Notebook: 06
    """
    from ..capture.checks import validate_pair

    sr = data.sample_rate
    for rate in (sr_clean, sr_target):
        if int(rate) != sr:
            raise GuneampError(f"the validation take is at {int(rate)} Hz but the training pair is at {sr} Hz: "
                               f"record the validation take at {sr} Hz, or resample it.")
    c, t, lag = validate_pair(clean, target, sr, sr, align=align, what=("validation clean", "validation target"))
    if c.size < MIN_VAL_TAKE_S * sr:
        raise GuneampError(f"the validation take holds {c.size / sr:.2f} s; it needs at least {MIN_VAL_TAKE_S:g} s "
                           "(a few phrases through the same gear are better).")
    if not align and lag.reliable and abs(int(lag.lag) - data.latency) > MAX_LATENCY_MISMATCH:
        raise GuneampError(
            f"the validation take is misaligned: its target is {int(lag.lag)} samples late, the training pair's "
            f"{data.latency}; the model learns the training pair's latency, so the take must match it. "
            "Re-record or trim the take, or pass --align to line up both.")
    gap = torch.zeros(int(round(VAL_TAKE_GAP_S * sr)))
    vc = torch.as_tensor(c, dtype=torch.float32) * data.input_gain
    vt = torch.as_tensor(t, dtype=torch.float32) * data.output_gain
    return TrainingData(torch.cat([data.clean, gap, vc]), torch.cat([data.target, gap, vt]), sr, data.ir,
                        data.target_kind, data.clean.numel() + gap.numel(), data.lag, input_gain=data.input_gain,
                        output_gain=data.output_gain, latency=data.latency, validation="take")


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
