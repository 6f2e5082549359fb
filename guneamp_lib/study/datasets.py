"""The datasets models are compared on, each cut into training, validation and test (notebooks 11 and 12).

**Three parts of every recording, never mixed.**

* *training*: the only targets a model ever learns from;
* *validation*: a tail of the training material, scored after every epoch to pick the
  checkpoint (the best epoch). Choosing by it makes it slightly optimistic, so it is
  not the score we report;
* *test*: scored once, after training, with the chosen checkpoint. This is the number
  in the table.

The default data (one 40 s performance): training 0-64 %, validation 64-80 %, test
80-100 %. The target is ``amp.wav`` (amp through its cabinet) with the cabinet IR inside
the loss, as in notebook 06; ``default_direct`` uses ``amp_direct.wav`` instead.

The real pedals (EGFxSet, see ``../shared/data/README.md``): clips 0-2 are the training
material (its last 20 % is the validation tail) and clip 3 is the test. Each pair is
stored with a different length and a 0.1 s offset; :func:`guneamp_lib.capture.lag.align_pair`
finds and removes it, no offsets are set by hand. Pedal outputs have no cabinet.

**Three clips, one recording.** ``train()`` draws segments from one contiguous signal,
so the aligned clips are joined with :data:`CLIP_GAP_S` of silence between them. The gap
is longer than any model's memory here (the WaveNet's 93 ms receptive field at 1x, the
LSTM's 2,048-sample burn-in), so no training segment ever asks a model to predict one
clip from another clip's notes, and every clip starts from silence, exactly as the
test clip does when it is scored (the input before it is silence too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from .. import paths
from ..errors import GuneampError
from ..training.data import TrainingData, make_training_data, peak_gain, split_point
from ..vocabulary import DATASETS, DEFAULT_DATASETS, PEDALS, TEST_CLIP, parse_dataset

TRAIN_CLIPS = (0, 1, 2)
# Silence between joined clips: longer than the longest memory of the models compared
# (WaveNet: 4,093 samples = 93 ms at 44.1 kHz), so no segment sees two clips at once.
CLIP_GAP_S = 0.2
VAL_FRACTION = 0.2  # of the training material: the validation tail
TEST_FRACTION = 0.2  # of the default recording: the test part
# Quick mode: a few seconds of each recording and two steps per model, to check the
# plumbing (and the table's columns) in seconds, not to compare models.
QUICK_DEFAULT_SECONDS = 6.0
QUICK_CLIP_SECONDS = 1.5


# --------------------------------------------------------------------------- data


@dataclass
class EvalData:
    """A recording split for evaluation: ``[0, test_start)`` to train on, the rest to test.

    ``full`` holds everything (its ``val_start`` is ``test_start``, so scoring it like a
    validation set scores the test part); ``train`` is the training material alone, with
    its own validation tail.

    Notebook: 11, 12
    """

    name: str
    full: TrainingData
    test_start: int
    description: str
    lags: list = field(default_factory=list)
    # Where validation starts in the training material; None: its last VAL_FRACTION
    # (load_pedal(val_per_take=True) joins every take's tail there instead).
    val_start: int | None = None

    @property
    def train(self) -> TrainingData:
        d = self.full
        n = self.test_start
        # No re-normalization: the model must meet the test part at the level it trained at.
        val_start = split_point(n, VAL_FRACTION) if self.val_start is None else self.val_start
        return TrainingData(d.clean[:n], d.target[:n], d.sample_rate, d.ir, d.target_kind,
                            val_start, d.lag, input_gain=d.input_gain, output_gain=d.output_gain)

    @property
    def sample_rate(self) -> int:
        return self.full.sample_rate

    def split_seconds(self) -> dict:
        sr = self.sample_rate
        tr = self.train
        return {"training": tr.n_train / sr, "validation": tr.n_val / sr,
                "test": (self.full.clean.numel() - self.test_start) / sr}

    def coverage(self):
        """:func:`guneamp_lib.capture.coverage.coverage` of the test input by the training input."""
        from ..capture.coverage import coverage

        clean = self.full.clean.numpy()
        return coverage(clean[: self.test_start], clean[self.test_start :], self.sample_rate)

    def summary(self) -> str:
        s = self.split_seconds()
        return (f"{self.name}: {self.description}; training {s['training']:.1f} s, "
                f"validation {s['validation']:.1f} s, test {s['test']:.1f} s. "
                f"Coverage: {self.coverage().describe()}.")


def load_default(direct: bool = False, seconds: float | None = None, seed: int = 0) -> EvalData:
    """The course's default data: the first 80 % to train (validation tail inside), the last 20 % to test.

    Notebook: 11, 12
    """
    from ..training.data import load_training_data
    from ..capture.synth import generate_default_data

    files = generate_default_data(paths.data_dir(), seed=seed, progress=False)
    if direct:
        d = load_training_data(files["clean"], files["amp_direct"], target_kind="amp_direct")
        what = "default data, target amp_direct.wav (no cabinet)"
    else:
        d = load_training_data(files["clean"], files["amp"], files["cab_ir"])
        what = "default data, target amp.wav with the cabinet IR inside the loss"
    if seconds is not None:
        n = min(int(seconds * d.sample_rate), d.clean.numel())
        d = replace(d, clean=d.clean[:n], target=d.target[:n])
    test_start = split_point(d.clean.numel(), TEST_FRACTION)
    full = replace(d, val_start=test_start)
    return EvalData("default_direct" if direct else "default", full, test_start, what)


def egfxset_dir() -> Path | None:
    root = paths.shared_data_dir()
    d = None if root is None else root / "egfxset"
    return d if d is not None and (d / "input").is_dir() else None


def aligned_clip(pedal: str, index: int, root: Path | None = None):
    """One real clip pair, read and aligned automatically: ``(clean, target, sr, lag)``.

    Notebook: 11, 12
    """
    from ..dsp.audio import read_audio
    from ..capture.lag import align_pair

    root = root or egfxset_dir()
    if root is None:
        raise GuneampError("the real pedal recordings (../shared/data/egfxset) are not present")
    clean, sr, _ = read_audio(root / "input" / f"clip_{index}.wav", what="clean")
    target, sr_t, _ = read_audio(root / pedal / f"clip_{index}.wav", what=pedal)
    if sr != sr_t:
        raise GuneampError(f"{pedal} clip {index}: {sr_t} Hz but its DI is {sr} Hz")
    c, t, lag = align_pair(clean, target, sr)
    return c.astype(np.float32), t.astype(np.float32), sr, lag


def join_clips(pairs, sample_rate: int, gap_s: float = CLIP_GAP_S):
    """Join ``(clean, target)`` pairs with silence between them: ``(clean, target, starts)``.

    Notebook: 11, 12
    """
    gap = np.zeros(int(round(gap_s * sample_rate)), dtype=np.float32)
    cs, ts, starts, pos = [], [], [], 0
    for i, (c, t) in enumerate(pairs):
        if i:
            cs.append(gap)
            ts.append(gap)
            pos += gap.size
        starts.append(pos)
        cs.append(c)
        ts.append(t)
        pos += c.size
    return np.concatenate(cs), np.concatenate(ts), starts


def heads_then_tails(pairs, val_fraction: float) -> list:
    """Every take's first part, then every take's last ``val_fraction``: joined in this order
    (:func:`join_clips`), the tails are a validation part that hears every take.

    Notebook: 13
    """
    cuts = [split_point(c.size, val_fraction) for c, _ in pairs]
    return ([(c[:k], t[:k]) for (c, t), k in zip(pairs, cuts)]
            + [(c[k:], t[k:]) for (c, t), k in zip(pairs, cuts)])


def joined_takes(train_pairs, test_pair, sample_rate: int, ir=None, lag=None) -> TrainingData:
    """Training takes and the test take, joined with silence; ``val_start`` is the test's start.

    One gain for all takes, set by the training takes (and stored as the data's
    ``input_gain`` / ``output_gain``): a pedal's or an amp's sound depends on how hard it
    is driven, so the test take must reach the model at the level the training takes did.

    Notebook: 11, 12
    """
    clean, target, starts = join_clips(list(train_pairs) + [test_pair], sample_rate)
    test_start = starts[-1]
    g_in, g_out = peak_gain(clean[:test_start]), peak_gain(target[:test_start])
    return TrainingData(torch.from_numpy(clean * g_in), torch.from_numpy(target * g_out), int(sample_rate), ir,
                        "amp_direct" if ir is None else "amp_with_cab", test_start, lag,
                        input_gain=g_in, output_gain=g_out)


def load_pedal(pedal: str, seconds: float | None = None, root: Path | None = None,
               test_clip: int = TEST_CLIP, val_per_take: bool = False,
               val_fraction: float = VAL_FRACTION, val_take: int | None = None) -> EvalData:
    """A real pedal: three clips (aligned, joined) to train, ``test_clip`` (default 3) to test; no cabinet.

    The validation part is the last ``val_fraction`` (20 %) of the joined training clips, or
    with ``val_per_take`` that share of each training clip: the clips' heads are joined
    first, then their tails, so validation hears every take's notes and training keeps
    some of each. With ``val_take`` that whole clip is the validation part (a separate take,
    as ``guneamp train --val-clean/--val-amp`` takes one) and the other two train.

    Notebook: 11, 12
    """
    if pedal not in PEDALS:
        raise GuneampError(f"unknown pedal {pedal!r}; choose one of {', '.join(PEDALS)}")
    all_clips = TRAIN_CLIPS + (TEST_CLIP,)
    if test_clip not in all_clips:
        raise GuneampError(f"there is no clip {test_clip}: the EGFxSet excerpts are clips 0 to {max(all_clips)}")
    if val_take is not None and (val_take not in all_clips or val_take == test_clip or val_per_take):
        raise GuneampError(f"the validation take must be one of the clips other than the test's ({test_clip}), "
                           f"and it replaces the validation tails: got clip {val_take}")
    order = [i for i in all_clips if i not in (test_clip, val_take)] + (
        [] if val_take is None else [val_take]) + [test_clip]
    clips, lags, sr = [], [], None
    for i in order:
        c, t, sr, lag = aligned_clip(pedal, i, root)
        if seconds is not None:
            n = int(seconds * sr)
            c, t = c[:n], t[:n]
        clips.append((c, t))
        lags.append(lag)
    def start_of(k):  # where clip k begins once join_clips has joined them
        return sum(c.size for c, _ in clips[:k]) + k * int(round(CLIP_GAP_S * sr))

    val_start = None
    if val_per_take:
        n = len(clips) - 1
        clips = heads_then_tails(clips[:-1], val_fraction) + clips[-1:]
        val_start = start_of(n)
    if val_take is not None:
        val_start = start_of(len(clips) - 2)
    full = joined_takes(clips[:-1], clips[-1], sr, lag=lags[0])
    test_start = full.val_start
    if val_start is None and val_fraction != VAL_FRACTION:
        val_start = split_point(test_start, val_fraction)
    trained_on = ", ".join(str(i) for i in order[:-1] if i != val_take)
    validated = "" if val_take is None else f"clip {val_take} to validate, "
    what = (f"EGFxSet {pedal} (CC-BY-4.0), clips {trained_on} to train, {validated}clip {test_clip} to test, "
            "aligned automatically, no cabinet")
    name = pedal if test_clip == TEST_CLIP else f"{pedal}@{test_clip}"
    if val_take is None and (val_per_take or val_fraction != VAL_FRACTION):
        whose = "each training clip's" if val_per_take else "the training clips'"
        what += f", {whose} last {val_fraction:.0%} to validate"
    return EvalData(name, full, test_start, what, lags, val_start)


@dataclass(frozen=True)
class PairDataset:
    """Your own dataset: a training pair, a test pair (another take through the same gear),
    and the cabinet IR the targets were recorded through, if any.

    Written as text ``NAME=TRAIN_CLEAN,TRAIN_AMP,TEST_CLEAN,TEST_AMP[,IR]``
    (``guneamp evaluate --dataset-pair``).

    Notebook: 11, 12
    """

    name: str
    train_clean: Path
    train_amp: Path
    test_clean: Path
    test_amp: Path
    ir: Path | None = None

    @classmethod
    def parse(cls, text: str) -> "PairDataset":
        name, eq, files = str(text).partition("=")
        parts = files.split(",")
        if not eq or not re.fullmatch(r"\w[\w.-]*", name) or len(parts) not in (4, 5) or not all(parts):
            raise GuneampError(f"cannot read the dataset {text!r}: write NAME=TRAIN_CLEAN,TRAIN_AMP,TEST_CLEAN,"
                               "TEST_AMP[,IR], with a NAME of letters, digits, '_', '.' or '-'")
        if name.partition("@")[0] in DATASETS:
            raise GuneampError(f"{name!r} is a built-in dataset's name; call your dataset something else")
        files = [Path(p) for p in parts]
        for f in files:
            if not f.is_file():
                raise GuneampError(f"dataset {name}: {f} is not a file. Check the path.")
        return cls(name, *files[:4], files[4] if len(files) == 5 else None)

    def load(self, seconds: float | None = None) -> EvalData:
        """Each pair read and aligned on its own, then joined as the pedals are (:func:`joined_takes`),
        at one level set by the training pair; ``seconds`` trims each take (quick mode)."""
        from ..capture.checks import validate_pair
        from ..dsp.audio import read_audio
        from ..dsp.cabinet import load_ir

        takes, lags, rate = [], [], None
        for clean_path, amp_path in ((self.train_clean, self.train_amp), (self.test_clean, self.test_amp)):
            clean, sr, _ = read_audio(clean_path, what="clean")
            target, sr_t, _ = read_audio(amp_path, what="amp")
            c, t, lag = validate_pair(clean, target, sr, sr_t, align=True)
            if rate is not None and sr != rate:
                raise GuneampError(f"dataset {self.name}: the test pair is at {sr} Hz, the training pair at {rate} Hz")
            rate = sr
            if seconds is not None:
                c, t = c[: int(seconds * sr)], t[: int(seconds * sr)]
            takes.append((c.astype(np.float32), t.astype(np.float32)))
            lags.append(lag)
        ir = None if self.ir is None else load_ir(self.ir, rate)
        full = joined_takes(takes[:1], takes[1], rate, ir=ir, lag=lags[0])
        what = (f"your training pair {self.train_clean.name} -> {self.train_amp.name} and test pair "
                f"{self.test_clean.name} -> {self.test_amp.name}, each aligned automatically "
                f"({lags[0].where()}; {lags[1].where()})"
                + ("" if ir is None else f", cabinet {self.ir.name} inside the loss"))
        return EvalData(self.name, full, full.val_start, what, lags)


def load_dataset(name: "str | PairDataset", seconds: float | None = None, seed: int = 0,
                 val_per_take: bool = False, val_fraction: float = VAL_FRACTION,
                 val_take: int | None = None) -> EvalData | None:
    """A dataset by name; ``None`` (with a printed reason) for a pedal when the shared data is absent.

    A pedal's name may end in ``@N``: test on clip N, train on the other three. A
    :class:`PairDataset` (your own recordings) is loaded from its files.

    Notebook: 11, 12
    """
    if isinstance(name, PairDataset):
        return name.load(seconds)
    base, test_clip = parse_dataset(name)
    if base in ("default", "default_direct"):
        return load_default(direct=base == "default_direct", seconds=seconds, seed=seed)
    if egfxset_dir() is None:
        print(f"skipping {name}: the real recordings are not present (expected ../shared/data/egfxset "
              "next to the checkout, or set GUNEAMP_SHARED_DATA)")
        return None
    return load_pedal(base, seconds, test_clip=test_clip, val_per_take=val_per_take, val_fraction=val_fraction,
                      val_take=val_take)


def load_pair(clean_path, target_path, name: str = "your gear", ir_path=None, seconds: float | None = None) -> EvalData:
    """Your own capture: aligned automatically, the first 80 % to train (validation tail
    inside), the last 20 % to test. ``ir_path``: the target was recorded through that cabinet.

    Notebook: 11, 12
    """
    from ..dsp.audio import read_audio
    from ..dsp.cabinet import load_ir
    from ..capture.lag import align_pair

    clean, sr, _ = read_audio(clean_path, what="clean")
    target, sr_t, _ = read_audio(target_path, what="target")
    if sr != sr_t:
        raise GuneampError(f"the clean file is {sr} Hz but the target is {sr_t} Hz: resample one to the other's rate")
    c, t, lag = align_pair(clean, target, sr)
    if seconds is not None:
        c, t = c[: int(seconds * sr)], t[: int(seconds * sr)]
    ir = None if ir_path is None else load_ir(ir_path, sr)
    d = make_training_data(c, t, sr, ir, target_kind="amp_with_cab" if ir is not None else "amp_direct", lag=lag)
    test_start = split_point(d.clean.numel(), TEST_FRACTION)
    what = f"{Path(target_path).name} against {Path(clean_path).name}, aligned automatically ({lag.where()})"
    return EvalData(name, replace(d, val_start=test_start), test_start, what, [lag])


# The default data made to look like a real capture: the target starts this much later
# than the DI and so ends up shorter, as the EGFxSet clips are stored.
DEMO_CAPTURE_OFFSET_S = 0.1


def default_capture(folder, seconds: float = 20.0, seed: int = 0) -> tuple[Path, Path]:
    """Write ``clean.wav`` and ``target.wav`` (amp_direct, misaligned) from the default data.

    A stand-in for a real capture when the shared recordings are not there, so the checks
    always have an offset and a length difference to find.

    Notebook: 11, 12
    """
    from ..dsp.audio import read_audio, save_wav
    from ..capture.synth import generate_default_data

    files = generate_default_data(paths.data_dir(), seed=seed, progress=False)
    clean, sr, _ = read_audio(files["clean"], what="clean")
    amp, _, _ = read_audio(files["amp_direct"], what="amp_direct")
    n, off = int(seconds * sr), int(round(DEMO_CAPTURE_OFFSET_S * sr))
    folder = Path(folder)
    return (save_wav(folder / "clean.wav", clean[:n], sr), save_wav(folder / "target.wav", amp[off:n], sr))


def linear_fit_correlation(clean, target, taps: int = 32) -> float:
    """How well a short causal linear filter of the DI predicts the target (multiple correlation, 0 to 1).

    Plain correlation at one lag is a poor judge of alignment: a pedal shifts phase, and
    on a sustained note the signal 100 ms earlier looks much like the signal now, so a
    misaligned pair can correlate better than an aligned one. A filter of ``taps`` past
    samples absorbs the phase; what it cannot absorb is the target being early or late.

    Notebook: 11, 12
    """
    c = np.asarray(clean, dtype=np.float64).reshape(-1)
    t = np.asarray(target, dtype=np.float64).reshape(-1)
    n = min(c.size, t.size)
    if n <= 2 * taps:
        raise GuneampError(f"{n} samples are too few for a {taps}-tap fit")
    rows = np.stack([c[taps - 1 - k : n - k] for k in range(taps)], axis=1)
    y = t[taps - 1 : n]
    coef, *_ = np.linalg.lstsq(rows, y, rcond=None)
    fit = rows @ coef
    den = np.linalg.norm(fit - fit.mean()) * np.linalg.norm(y - y.mean())
    return float(np.dot(fit - fit.mean(), y - y.mean()) / den) if den > 0 else 0.0
