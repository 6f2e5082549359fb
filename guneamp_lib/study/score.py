"""Scoring a trained model on your own held-out recording (notebook 12).

``guneamp train`` reports the ESR on the tail of the training recording, which the
model chose its best epoch by. The number that says how the model will sound on what
you play next comes from a recording it never saw: a second take, through the same gear,
at the same settings. :func:`score_files` takes that pair (DI and target), and

* lines it up the way training did (:func:`~guneamp_lib.capture.lag.align_pair`):
  interfaces add latency, and a target a few samples late costs more ESR than most
  modeling errors. A model trained without ``--align`` learned its pair's lag as part
  of the gear (the checkpoint keeps it as ``meta["latency_samples"]``), so that much
  lag is left in;
* drives the model at the level it trained at: the DI times the checkpoint's
  ``input_gain``, the output divided by its ``output_gain``, and compares that with the
  target as recorded. Peak-normalizing the take instead would drive the model as hard
  as the take's loudest note says, not as hard as the guitar was played;
* applies the model's cabinet IR, as ``guneamp render`` does (``ir`` to use another,
  ``use_ir=False`` for none);
* reports the ESR, the ESR after pre-emphasis (the treble weighted up) and the quality
  band NAM's trainer uses (great below 0.01, good below 0.035, usable below 0.1).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..capture.checks import validate_pair
from ..capture.lag import align_pair
from ..dsp.audio import read_audio
from ..dsp.cabinet import load_ir
from ..errors import GuneampError
from ..models.checkpoint import Checkpoint
from ..models.nam import load_model_file
from ..render.inference import predict
from .metrics import esr, esr_pre_emphasis, quality


@dataclass(frozen=True)
class Score:
    """A model scored on one held-out pair, at its trained level.

    Notebook: 12
    """

    model: str
    clean: str
    amp: str
    sample_rate: int
    seconds: float
    lag_samples: int
    lag_reliable: bool
    esr: float
    esr_pre_emphasis: float
    quality: str
    input_gain: float
    output_gain: float
    cabinet: str

    def to_dict(self) -> dict:
        return asdict(self)

    def json(self) -> str:
        return json.dumps(self.to_dict())

    def text(self) -> str:
        late = "late" if self.lag_samples >= 0 else "early"
        return "\n".join([
            f"model             {self.model}",
            f"test pair         {self.clean} -> {self.amp} ({self.seconds:.1f} s at {self.sample_rate} Hz)",
            f"alignment         target {abs(self.lag_samples)} samples {late} (taken out)"
            + ("" if self.lag_reliable else " (NOT reliable: listen to the pair)"),
            f"level             DI x {self.input_gain:.4g}, output / {self.output_gain:.4g} (as trained)",
            f"cabinet           {self.cabinet}",
            f"ESR               {self.esr:.4g}  ({self.quality})",
            f"ESR pre-emphasis  {self.esr_pre_emphasis:.4g}",
        ])


def predict_at_level(ckpt: Checkpoint, clean, ir: torch.Tensor | None, knobs=None) -> torch.Tensor:
    """The model's output for raw DI ``clean``, at the training level in and out
    (``knobs``: a knob model's normalized setting, notebook 13).

    Notebook: 12
    """
    x = torch.as_tensor(np.asarray(clean, dtype=np.float32)) * ckpt.input_gain
    with torch.no_grad():
        return predict(ckpt.model.eval(), x, ckpt.oversample, ir, knobs=knobs) / ckpt.output_gain


def score_files(model_path, clean_path, amp_path, *, ir_path=None, use_ir: bool = True) -> Score:
    """Score the model in ``model_path`` on a held-out DI / target pair of files.

    Notebook: 12
    """
    ckpt = load_model_file(model_path)
    clean, sr, _ = read_audio(clean_path, what="clean")
    target, sr_t, _ = read_audio(amp_path, what="amp")
    if sr != ckpt.sample_rate:
        raise GuneampError(f"{clean_path} is at {sr} Hz but the model was trained at {ckpt.sample_rate} Hz: "
                           f"score it on a recording made at {ckpt.sample_rate} Hz.")
    c, t, lag = validate_pair(clean, target, sr, sr_t, align=True, what=("clean", "amp"))
    # A model trained on an unaligned pair learned that pair's lag as part of the gear;
    # put the same lag back, so only the interface's extra latency is removed.
    kept = int(ckpt.meta.get("latency_samples", 0))
    if kept:
        c, t, _ = align_pair(c, t, sr, lag=-kept)
    if c.size < ckpt.min_input_samples:
        raise GuneampError(f"the aligned pair holds {c.size} samples; the model needs at least "
                           f"{ckpt.min_input_samples}. Record a longer take.")
    ir, cabinet = None, "none"
    if use_ir and ir_path is not None:
        ir, cabinet = load_ir(ir_path, sr), str(ir_path)
    elif use_ir and ckpt.ir is not None:
        ir, cabinet = ckpt.ir, "the model's own IR"
    pred = predict_at_level(ckpt, c, ir)
    if not torch.isfinite(pred).all():
        raise GuneampError(f"{model_path} produced NaN or infinite samples on {clean_path}; the model is broken.")
    e = esr(torch.from_numpy(t).double(), pred.double())
    return Score(
        model=str(model_path), clean=str(clean_path), amp=str(amp_path), sample_rate=int(sr),
        seconds=c.size / sr, lag_samples=int(lag.lag) - kept, lag_reliable=bool(lag.reliable), esr=float(e),
        esr_pre_emphasis=float(esr_pre_emphasis(t, pred)), quality=quality(e),
        input_gain=float(ckpt.input_gain), output_gain=float(ckpt.output_gain), cabinet=cabinet,
    )

