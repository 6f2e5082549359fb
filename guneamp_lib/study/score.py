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
  band NAM's trainer uses (great below 0.01, good below 0.035, usable below 0.1);
* says how far that is from the validation ESR training chose the model by, and, when
  the training DI is still where the checkpoint says, whether the take (its first
  :data:`COVERAGE_TAKE_S` seconds) holds notes the training DI lacks (:func:`gap_lines`).

The files are never held whole: the lag comes from spectra summed a batch at a time
(:func:`~guneamp_lib.capture.checks.validate_pair_signal`), the model runs piece by piece
as in ``guneamp render`` (:func:`~guneamp_lib.render.inference.render_chunks`), and the
error sums accumulate per piece (:class:`~guneamp_lib.dsp.error.ErrorSums`), so an hour
costs the memory of a minute and gives what the whole recordings in memory give.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..capture.checks import validate_pair_signal
from ..capture.coverage import Coverage, coverage
from ..capture.lag import PairSignal
from ..dsp.audio import far_beyond_message, level_notes, read_audio
from ..dsp.blocks import READ_BLOCK, AudioReader, scan_audio
from ..dsp.cabinet import load_ir
from ..dsp.error import ErrorSums
from ..errors import GuneampError, GuneampWarning
from ..models.checkpoint import Checkpoint
from ..models.nam import load_model_file
from ..render.inference import predict, render_chunks
from .metrics import quality


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
    validation_esr: float | None = None  # the best epoch's, as training measured it
    uncovered_share: float | None = None  # of this take's DI energy, where the training DI had none
    notes: tuple = ()

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
            *self.notes,
        ])


# The share of a take's energy outside the training DI's bands worth a warning: a
# twentieth is already a note or two that the model never heard the gear play.
UNCOVERED_NOTE_SHARE = 0.05
# A take scoring this many times the validation ESR is more than the usual optimism of a
# tail that training chose its epoch by (1.5 to 2.6x on the real pedals, issue 22).
GAP_NOTE_RATIO = 2.0
COVERAGE_TAKE_S = 60.0
# A take whose DI peaks this far above the training DI's drives the gear harder than the
# model ever heard it (EGFxSet's clip 1 peaks 2.5 dB above its training clips).
LEVEL_NOTE_DB = 1.0


def gap_lines(validation_name: str, validation_esr: float | None, take_name: str, take_esr: float,
              cov: Coverage | None, check_hint: str, level_db: float | None = None) -> list[str]:
    """What the gap between a validation ESR and a separate take's ESR says, as printed lines.

    ``cov``: the take's DI against the training DI (None: the training DI is not known).
    ``check_hint``: the ``guneamp check`` command that prints the training DI's coverage.
    ``level_db``: the take's DI peak over the training DI's, at the trained level.

    Notebook: 12
    """
    lines = []
    if validation_esr is not None and validation_esr > 0:
        ratio = take_esr / validation_esr
        lines.append(f"gap               {take_name} ESR {take_esr:.4g} is {ratio:.2f}x the {validation_name} "
                     f"ESR {validation_esr:.4g}")
    else:
        ratio = None
    uncovered = cov is not None and cov.uncovered_share >= UNCOVERED_NOTE_SHARE
    louder = level_db is not None and level_db >= LEVEL_NOTE_DB
    if uncovered:
        lines.append(f"coverage          {cov.describe()}; record takes that hold those notes "
                     f"(`{check_hint}` reports what the training DI covers)")
    if louder:
        lines.append(f"level             the take's DI peaks {level_db:.1f} dB above the training DI's: the model "
                     "never heard the gear driven this hard; record takes played as hard")
    if ratio is not None and ratio >= GAP_NOTE_RATIO and not (uncovered or louder):
        known = "the training DI covers this take's bands and levels; " if cov is not None else ""
        lines.append(f"coverage          {known}a gap this large says more takes of the same playing would help "
                     f"(`{check_hint}` reports the training DI's coverage)")
    return lines


def predict_at_level(ckpt: Checkpoint, clean, ir: torch.Tensor | None, knobs=None) -> torch.Tensor:
    """The model's output for raw DI ``clean``, at the training level in and out
    (``knobs``: a knob model's normalized setting, notebook 13).

    Notebook: 12
    """
    x = torch.as_tensor(np.asarray(clean, dtype=np.float32)) * ckpt.input_gain
    with torch.no_grad():
        return predict(ckpt.model.eval(), x, ckpt.oversample, ir, knobs=knobs) / ckpt.output_gain


def score_files(model_path, clean_path, amp_path, *, ir_path=None, use_ir: bool = True,
                chunk: int | None = None) -> Score:
    """Score the model in ``model_path`` on a held-out DI / target pair of files.

    ``chunk``: file-rate samples per piece of model output (default: render's).

    Notebook: 12
    """
    ckpt = load_model_file(model_path)
    with AudioReader(clean_path, what="clean") as rc, AudioReader(amp_path, what="amp") as rt:
        infos = scan_audio(rc), scan_audio(rt)
        for info in infos:
            if info.far_beyond:
                raise GuneampError(far_beyond_message(info) + ".")
            for note in level_notes(info):
                warnings.warn(note, GuneampWarning, stacklevel=2)
        sr = rc.sample_rate
        if sr != ckpt.sample_rate:
            raise GuneampError(f"{clean_path} is at {sr} Hz but the model was trained at {ckpt.sample_rate} Hz: "
                               f"score it on a recording made at {ckpt.sample_rate} Hz.")
        pair, lag = validate_pair_signal(PairSignal(rc.read, rt.read, rc.frames, rt.frames), sr, rt.sample_rate,
                                         (infos[0].peak, infos[1].peak), align=True, what=("clean", "amp"))
        # A model trained on an unaligned pair learned that pair's lag as part of the gear;
        # put the same lag back, so only the interface's extra latency is removed.
        kept = int(ckpt.meta.get("latency_samples", 0))
        if kept:
            pair = pair.shifted(-kept)
            pair = pair.part(0, pair.n)
        n = pair.n
        if n < ckpt.min_input_samples:
            raise GuneampError(f"the aligned pair holds {n} samples; the model needs at least "
                               f"{ckpt.min_input_samples}. Record a longer take.")
        ir, cabinet = None, "none"
        if use_ir and ir_path is not None:
            ir, cabinet = load_ir(ir_path, sr), str(ir_path)
        elif use_ir and ckpt.ir is not None:
            ir, cabinet = ckpt.ir, "the model's own IR"
        sums = _score_pieces(ckpt, pair, ir, chunk, f"{model_path} produced NaN or infinite samples on {clean_path}; "
                             "the model is broken.")
        # the take's first minute at most: coverage needs its spectrum, and a minute holds the playing
        head = pair.read_clean(pair.c0, pair.c0 + min(n, int(COVERAGE_TAKE_S * sr)))
    e = sums.esr
    val_esr = min((h["val_esr"] for h in ckpt.history if "val_esr" in h), default=None)
    source = ckpt.meta.get("source") if isinstance(ckpt.meta.get("source"), dict) else {}
    cov = training_coverage(source.get("clean"), head, sr)
    hint = f"guneamp check {source.get('clean', 'TRAIN_CLEAN')} {source.get('amp', 'TRAIN_AMP')}"
    # the training DI's peak at the trained level is 1 (input_gain normalized it)
    level_db = 20 * float(np.log10(max(float(infos[0].peak) * ckpt.input_gain, 1e-12)))
    notes = tuple(gap_lines("validation", val_esr, "this take's", float(e), cov, hint, level_db))
    return Score(
        model=str(model_path), clean=str(clean_path), amp=str(amp_path), sample_rate=int(sr),
        seconds=n / sr, lag_samples=int(lag.lag) - kept, lag_reliable=bool(lag.reliable), esr=float(e),
        esr_pre_emphasis=float(sums.esr_pre_emphasis), quality=quality(e),
        input_gain=float(ckpt.input_gain), output_gain=float(ckpt.output_gain), cabinet=cabinet,
        validation_esr=val_esr, uncovered_share=None if cov is None else cov.uncovered_share, notes=notes,
    )


def _score_pieces(ckpt: Checkpoint, pair: PairSignal, ir: torch.Tensor | None, chunk: int | None,
                  broken: str) -> ErrorSums:
    """Run the model over the pair's DI piece by piece (as :func:`predict_at_level`) and sum the errors."""
    def read(lo: int, hi: int) -> torch.Tensor:
        return torch.from_numpy(pair.read_clean(pair.c0 + lo, pair.c0 + hi).astype(np.float32)) * ckpt.input_gain

    sums, at = ErrorSums(), 0
    model = ckpt.model.eval()
    with torch.no_grad():
        for y in render_chunks(model, read, pair.n, ckpt.oversample, ir, chunk=chunk):
            pred = (y / ckpt.output_gain).double().numpy()
            if not np.all(np.isfinite(pred)):
                raise GuneampError(broken)
            sums.add(pair.read_target(pair.t0 + at, pair.t0 + at + pred.size), pred)
            at += pred.size
    return sums


def training_coverage(train_clean_path, take_clean, sr: int) -> Coverage | None:
    """:func:`~guneamp_lib.capture.coverage.coverage` of ``take_clean`` by the training DI
    file, or None where that file is gone or not at ``sr``.

    Notebook: 12
    """
    if not train_clean_path:
        return None
    try:
        train_clean, sr_train, _ = read_audio(train_clean_path, what="training clean")
    except (GuneampError, OSError):
        return None
    return coverage(train_clean, take_clean, sr) if int(sr_train) == int(sr) else None

