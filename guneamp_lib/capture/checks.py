"""Capture checks: does a clean DI and its recorded target make a usable training pair?

Taught in notebooks 01 and 12. The lag itself is found in :mod:`guneamp_lib.capture.lag`.

``guneamp check`` reads its two files block by block (:mod:`guneamp_lib.dsp.blocks`):
levels, clipping and silence accumulate per block, the lag's spectra per batch of
segments, so an hour-long pair takes the memory of a short one and gives the numbers the
whole files in memory give.

**The repeat.** A capture signal that plays the same passage twice lets us measure
how repeatable the gear is: the two recorded takes of the passage should be
identical, and the error-to-signal ratio (ESR) between them is about twice the
noise-to-signal ratio. No model can score better than about half of it.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
from scipy import signal

from ..dsp.audio import SILENCE_PEAK, AudioInfo, far_beyond_message, level_notes
from ..dsp.blocks import READ_BLOCK, AudioReader, scan_audio
from ..errors import GuneampError, GuneampWarning
from ..dsp.error import esr
from .lag import (
    DEFAULT_MAX_LAG_S, LagEstimate, PairSignal, as_mono, is_silent, estimate_lag, estimate_pair_lag, pair_polarity,
)

# Repeat detection: two passages count as the same when their ESR is below this
# (-30 dB: a re-export or dither changes a digital copy by far less).
REPEAT_MAX_ESR = 1e-3
# Repeat matching is judged window by window: short enough to place a passage's ends
# closely, long enough to hold a few periods of the lowest note.
REPEAT_WINDOW_S = 0.01
# How many candidate offsets find_repeat examines in detail.
REPEAT_CANDIDATES = 8
# Autocorrelation context against which a candidate offset must stand out.
REPEAT_CONTEXT_S = 0.05
# Gear keeps ringing for a while after its input changes (a cabinet for ~10 ms, a
# spring reverb far longer): skip this much of each recorded take before comparing.
REPEAT_SETTLE_S = 0.05
# ...and this much before each take's end: the lag is the response's peak, which can
# come a millisecond or two after its onset (a cabinet), so the last samples of a take
# may already answer to what follows the passage.
REPEAT_END_MARGIN_S = 0.01
# validate_pair's default: a cabinet's onset plus an interface's few samples of skew.
MAX_LAG_SAMPLES_OK = 64
# Verdicts of `guneamp check` beyond rates, silence and lag (each one a PROBLEM line):
# a recording clipped on this fraction of its samples has lost its peaks for good
# (the warning starts at 0.01 %);
CLIP_PROBLEM_FRACTION = 0.01
# a DI silent (every 50 ms window 60 dB under its peak) for this share of its length
# mostly teaches the model silence (the default data's DI is silent for 17 %, egfxset's
# clips for 3 to 15 %);
SILENT_SHARE_PROBLEM = 0.4
SILENCE_WINDOW_S = 0.05
SILENCE_BELOW_PEAK_DB = 60.0
# a pair shorter than this cannot hold a model's receptive field and a held-out part;
MIN_PAIR_S = 1.0
# a target whose lag nobody can find, with the runner-up peak this close to the winner,
# does not follow the DI (unrelated noise scores 0.09; egfxset's pedals 0.35 to 0.63).
UNRELATED_CONFIDENCE = 0.2


# --------------------------------------------------------------------------- repeats


def _local_mismatch(a: np.ndarray, b: np.ndarray, win: int) -> tuple[np.ndarray, np.ndarray]:
    """Per window: error energy and signal energy."""
    m = (a.size // win) * win
    err = ((a[:m] - b[:m]) ** 2).reshape(-1, win).sum(axis=1)
    sig = (a[:m] ** 2).reshape(-1, win).sum(axis=1) + (b[:m] ** 2).reshape(-1, win).sum(axis=1)
    return err, 0.5 * sig


def find_repeat(clean, sr: int, min_seconds: float = 1.0) -> tuple[int, int, int] | None:
    """A passage the DI plays twice: ``(start_a, start_b, length)`` in samples, or None.

    The two passages must match closely (ESR below ``REPEAT_MAX_ESR``: an exact or
    near-exact copy, as in a capture signal that repeats a section on purpose) and
    must not overlap. The longest such passage wins. Its ends are found to within
    ``REPEAT_WINDOW_S``, always inside the true passage.

    Notebook: 12
    """
    x = as_mono(clean, "clean")
    n = x.size
    min_len = max(int(round(min_seconds * sr)), 1)
    if n < 2 * min_len or is_silent(x):
        return None
    size = 1 << int(math.ceil(math.log2(2 * n)))
    spec = np.fft.rfft(x, size)
    offsets = np.arange(min_len, n - min_len + 1)
    r = np.fft.irfft(spec * np.conj(spec), size)[offsets]
    # A copied passage adds its whole energy to the autocorrelation at exactly its
    # offset: a needle. Music that merely resembles itself (a riff, a held note) gives
    # broad hills. So rank offsets by how far they stand above their surroundings.
    span = max(int(round(REPEAT_CONTEXT_S * sr)), 3)
    power = np.concatenate(([0.0], np.cumsum(r**2)))
    lo = np.clip(np.arange(r.size) - span // 2, 0, r.size)
    hi = np.clip(np.arange(r.size) + span // 2 + 1, 0, r.size)
    around = np.sqrt((power[hi] - power[lo]) / (hi - lo)) + 1e-30
    score = r / around
    peaks, _ = signal.find_peaks(score)
    if not peaks.size:
        return None
    best = peaks[np.argsort(score[peaks])[::-1][:REPEAT_CANDIDATES]]
    win = max(int(round(REPEAT_WINDOW_S * sr)), 1)
    found = None
    for d in offsets[best]:
        d = int(d)
        err, sig = _local_mismatch(x[: n - d], x[d:], win)
        quiet = sig < (SILENCE_PEAK**2) * win
        ok = (err <= REPEAT_MAX_ESR * sig) | quiet
        # Longest run of matching windows that holds some signal.
        edges = np.flatnonzero(np.diff(np.concatenate(([0], ok.view(np.int8), [0]))))
        for s, e_ in zip(edges[::2], edges[1::2]):
            loud = np.flatnonzero(~quiet[s:e_])
            if not loud.size:
                continue
            s, e_ = s + loud[0], s + loud[-1] + 1  # trim silence at both ends
            start, length = int(s * win), int(min((e_ - s) * win, d))
            if length < min_len:
                continue
            a, b = x[start : start + length], x[start + d : start + d + length]
            if esr(a, b) > REPEAT_MAX_ESR:
                continue
            if found is None or length > found[2]:
                found = (start, start + d, length)
    return found


@dataclass(frozen=True)
class RepeatReport:
    """How much two recorded takes of the same passage differ.

    Notebook: 12
    """

    start_a: int
    start_b: int
    length: int
    sample_rate: int
    lag: LagEstimate
    esr: float

    @property
    def noise_db(self) -> float:
        """Noise (and drift) per take relative to the signal, in dB."""
        return 10.0 * math.log10(max(self.esr / 2.0, 1e-30))

    @property
    def best_possible_esr(self) -> float:
        """About the ESR a perfect model would score: each take carries its own noise."""
        return self.esr / 2.0

    def __str__(self) -> str:
        sr = self.sample_rate
        lines = [
            f"repeated passage: {self.length / sr:.2f} s, recorded at {self.start_a / sr:.2f} s "
            f"and again at {self.start_b / sr:.2f} s",
            f"ESR between the two recorded takes: {self.esr:.3g}",
        ]
        if self.esr < 1e-6:
            lines.append("the gear repeats itself exactly: it is deterministic and noise-free at this level")
        else:
            lines.append(
                f"that is noise or drift at about {self.noise_db:.1f} dB relative to the signal in each take; "
                f"no model can score much below ESR {self.best_possible_esr:.3g} on this capture"
            )
            if self.esr > 0.05:
                lines.append(
                    "that is a lot: the gear is noisy or time-varying (a noise gate, a modulation effect, "
                    "a tube still warming up), or the two takes were not played identically"
                )
        if not self.lag.reliable:
            lines.append(f"(the lag used to locate the takes is uncertain: {self.lag.note})")
        return "\n".join(lines)


def repeat_check(clean, target, sr: int, min_seconds: float = 1.0,
                 max_lag_s: float = DEFAULT_MAX_LAG_S) -> RepeatReport | None:
    """ESR between the two recorded takes of a passage the DI plays twice, or None.

    The passage is found in the clean DI (:func:`find_repeat`); the recorded takes are
    at the same places in the target, moved by its lag. Each take's first
    ``REPEAT_SETTLE_S`` is skipped (it still carries the tail of what came before), and
    so is its last ``REPEAT_END_MARGIN_S``.

    Notebook: 12
    """
    clean = as_mono(clean, "clean")
    target = as_mono(target, "target")
    rep = find_repeat(clean, sr, min_seconds)
    if rep is None:
        return None
    a, b, length = rep
    est = estimate_lag(clean, target, sr, max_lag_s)
    lag = est.lag if est.reliable else 0
    settle = int(round(REPEAT_SETTLE_S * sr))
    start_a, start_b = a + lag + settle, b + lag + settle
    length -= settle + int(round(REPEAT_END_MARGIN_S * sr))
    # Keep both takes inside the recording.
    if start_a < 0:
        length += start_a
        start_b -= start_a
        start_a = 0
    length = min(length, target.size - start_b)
    if length <= 0:
        return None
    take_a, take_b = target[start_a : start_a + length], target[start_b : start_b + length]
    return RepeatReport(start_a, start_b, length, int(sr), est, esr(take_a, take_b))


# --------------------------------------------------------------------------- pairs


@dataclass
class PairReport:
    """Everything ``guneamp check`` says about a clean/target pair of files.

    Notebook: 12
    """

    clean: AudioInfo
    target: AudioInfo
    rates_match: bool
    length_difference: int  # target frames minus clean frames (only meaningful when rates match)
    lag: LagEstimate | None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    what: tuple[str, str] = ("clean", "target")
    findings: list[str] = field(default_factory=list)  # what other checks measured (the capture signal's)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def length_difference_s(self) -> float:
        return self.length_difference / self.clean.sample_rate

    def __str__(self) -> str:
        def row(name: str, i: AudioInfo) -> str:
            return (
                f"  {name:<7} {i.sample_rate:>6} Hz  {i.frames:>9} frames  {i.seconds:8.3f} s  "
                f"ch {i.channels}  peak {i.peak_dbfs:6.1f} dBFS  RMS {i.rms_dbfs:6.1f} dBFS  "
                f"clipped {100 * i.clipped_fraction:.3f}%{'  SILENT' if i.silent else ''}"
            )

        a, b = self.what
        lines = [f"{a}: {self.clean.path}", f"{b}: {self.target.path}", row(a, self.clean), row(b, self.target)]
        lines.append(f"  sample rates {'match' if self.rates_match else 'DIFFER'}")
        if self.rates_match:
            lines.append(
                f"  length difference ({b} - {a}): {self.length_difference:+d} frames "
                f"({1000 * self.length_difference_s:+.1f} ms)"
            )
        lines.append(f"  lag: {self.lag.describe(self.what) if self.lag else 'not estimated'}")
        lines += [f"  {f}" for f in self.findings]
        lines += [f"PROBLEM: {p}" for p in self.problems]
        lines += [f"warning: {w}" for w in self.warnings]
        n = len(self.problems)
        lines.append("OK: usable as a training pair" if self.ok else f"{n} problem(s) to fix before training")
        return "\n".join(lines)


def check_pair(
    clean_path: str | os.PathLike,
    target_path: str | os.PathLike,
    max_lag_s: float = DEFAULT_MAX_LAG_S,
    *,
    max_lag_samples_ok: int = MAX_LAG_SAMPLES_OK,
    what: tuple[str, str] = ("clean", "target"),
    block: int = READ_BLOCK,
) -> PairReport:
    """Read two files, ``block`` samples at a time, and report everything wrong with them as a pair.

    The pair's own issues are collected, never raised; an unreadable file still raises
    :class:`GuneampError` (there is nothing to report on).

    Notebook: 12
    """
    with AudioReader(clean_path, what=what[0]) as rc, AudioReader(target_path, what=what[1]) as rt:
        return check_readers(rc, rt, max_lag_s, max_lag_samples_ok=max_lag_samples_ok, what=what, block=block)


def check_readers(rc: AudioReader, rt: AudioReader, max_lag_s: float = DEFAULT_MAX_LAG_S, *,
                  max_lag_samples_ok: int = MAX_LAG_SAMPLES_OK, what: tuple[str, str] = ("clean", "target"),
                  block: int = READ_BLOCK) -> PairReport:
    """:func:`check_pair` of two open files.

    Notebook: 12
    """
    a, b = what
    info_c, info_t = scan_audio(rc, block), scan_audio(rt, block)
    sr_c, sr_t = info_c.sample_rate, info_t.sample_rate
    notes = level_notes(info_c) + level_notes(info_t)
    problems = [far_beyond_message(i) for i in (info_c, info_t) if i.far_beyond]
    rates_match = sr_c == sr_t
    if not rates_match:
        problems.append(_rate_message(sr_c, sr_t, what))
    for name, info in ((a, info_c), (b, info_t)):
        if info.silent:
            problems.append(_silent_message(name, info.peak))
    diff = info_t.frames - info_c.frames
    if rates_match and diff:
        notes.append(_length_message(info_c.frames, info_t.frames, sr_c, what, action="training trims"))
    lag = None
    if rates_match and not info_c.silent and not info_t.silent:
        pair = PairSignal(rc.read, rt.read, info_c.frames, info_t.frames)
        lag = estimate_pair_lag(pair, sr_c, max_lag_s)
        if not lag.reliable:
            notes.append(f"could not measure the lag reliably: {lag.note}")
        elif abs(lag.lag) > max_lag_samples_ok:
            problems.append(_lag_message(lag, what))
        problems += _pair_verdicts(pair, rc.blocks(block), sr_c, info_c, info_t, lag, what)
    return PairReport(info_c, info_t, rates_match, diff, lag, problems, notes, what)


def silent_share(x, sr: int) -> float:
    """Share of ``x`` in windows of :data:`SILENCE_WINDOW_S` whose RMS is
    :data:`SILENCE_BELOW_PEAK_DB` or more under the peak.

    Notebook: 12
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    return blocks_silent_share((x,), sr, float(np.max(np.abs(x))) if x.size else 0.0)


def blocks_silent_share(blocks: Iterable[np.ndarray], sr: int, peak: float) -> float:
    """:func:`silent_share` of a signal given as consecutive blocks, whose peak is ``peak``.

    Notebook: 12
    """
    w = max(int(SILENCE_WINDOW_S * sr), 1)
    threshold = peak * 10.0 ** (-SILENCE_BELOW_PEAK_DB / 20.0)
    rest, silent, windows = np.zeros(0), 0, 0
    for x in blocks:
        x = np.concatenate([rest, np.asarray(x, dtype=np.float64).reshape(-1)])
        m = x.size // w
        if m:
            rms = np.sqrt(np.mean(np.square(x[: m * w]).reshape(m, w), axis=1))
            silent, windows = silent + int(np.sum(rms < threshold)), windows + m
        rest = x[m * w :]
    return silent / windows if windows else 0.0


def _pair_verdicts(pair: PairSignal, clean_blocks, sr: int, info_c: AudioInfo, info_t: AudioInfo,
                   lag: LagEstimate, what: tuple[str, str]) -> list[str]:
    """The problems that make a pair of sounding files of one rate unfit for training."""
    a, b = what
    n = min(info_c.frames, info_t.frames)
    if n < MIN_PAIR_S * sr:
        return [f"the pair is only {n} samples ({n / sr:.3f} s) long; training needs at least {MIN_PAIR_S:g} s "
                "of both (a few minutes of playing is better)"]
    problems = []
    if not lag.reliable and lag.confidence < UNRELATED_CONFIDENCE:
        problems.append(f"{b} does not follow {a}: no lag stands out (confidence {lag.confidence:.2f}); check "
                        "that the two files are the DI and the recording of the same take")
    for name, info in ((a, info_c), (b, info_t)):
        if info.clipped_fraction >= CLIP_PROBLEM_FRACTION:
            problems.append(f"{name} is clipped: {100 * info.clipped_fraction:.1f}% of its samples sit flat at the "
                            "peak; record it again with less input gain (a model would learn the clipping)")
    share = blocks_silent_share(clean_blocks, sr, info_c.peak)
    if share >= SILENT_SHARE_PROBLEM:
        problems.append(f"{a} is silent for {100 * share:.0f}% of its length; trim the silence or record more "
                        "playing (silence teaches the model nothing)")
    if lag.reliable and pair_polarity(pair, sr, lag.lag) < 0:
        problems.append(f"{b} is polarity-inverted relative to {a}. If your gear inverts, that is right and a model "
                        f"learns it; if the recording chain flipped it, invert {b}. --align shifts {b} by the lag "
                        "but keeps its polarity")
    return problems


# --------------------------------------------------------------------------- before training


def _rate_message(sr_a: int, sr_b: int, what) -> str:
    return (
        f"{what[0]} is {sr_a} Hz but {what[1]} is {sr_b} Hz: resample one to the other's rate "
        "(or export both again at one rate); the model needs both at the same rate"
    )


def _silent_message(name: str, peak: float) -> str:
    db = 20.0 * math.log10(max(peak, 1e-12))
    return f"{name} is silent (peak {db:.0f} dBFS): check the export, the recording input and its level"


def _length_message(n_a: int, n_b: int, sr: int, what, action: str = "trimming") -> str:
    shorter, longer = (what[1], what[0]) if n_b < n_a else (what[0], what[1])
    d = abs(n_b - n_a)
    return (
        f"{what[0]} has {n_a} samples and {what[1]} {n_b}: {shorter} is {d} samples ({1000 * d / sr:.1f} ms) "
        f"shorter than {longer}; {action} both to the shorter"
    )


def _lag_message(lag: LagEstimate, what) -> str:
    return (
        f"{lag.where(what)}; pass --align (align=True) to shift automatically, "
        "or fix the export"
    )


def validate_pair(
    clean,
    target,
    sr_clean: int,
    sr_target: int,
    *,
    align: bool = False,
    max_lag_samples_ok: int = MAX_LAG_SAMPLES_OK,
    what: tuple[str, str] = ("clean", "amp"),
    max_lag_s: float = DEFAULT_MAX_LAG_S,
) -> tuple[np.ndarray, np.ndarray, LagEstimate]:
    """Check a pair in memory before training; equal-length arrays out (aligned if asked).

    Raises :class:`GuneampError` for different rates, a silent signal, or (without
    ``align``) a reliably measured lag beyond ``max_lag_samples_ok``. Different lengths
    are trimmed with a warning.

    Notebook: 12
    """
    clean = np.asarray(clean).reshape(-1)
    target = np.asarray(target).reshape(-1)
    c64, t64 = as_mono(clean, what[0]), as_mono(target, what[1])
    peaks = tuple(float(np.max(np.abs(x))) if x.size else 0.0 for x in (c64, t64))
    pair, est = validate_pair_signal(PairSignal.of_arrays(c64, t64), sr_clean, sr_target, peaks, align=align,
                                     max_lag_samples_ok=max_lag_samples_ok, what=what, max_lag_s=max_lag_s)
    return clean[pair.c0 : pair.c0 + pair.n], target[pair.t0 : pair.t0 + pair.n], est


def validate_pair_signal(
    pair: PairSignal,
    sr_clean: int,
    sr_target: int,
    peaks: tuple[float, float],
    *,
    align: bool = False,
    max_lag_samples_ok: int = MAX_LAG_SAMPLES_OK,
    what: tuple[str, str] = ("clean", "amp"),
    max_lag_s: float = DEFAULT_MAX_LAG_S,
) -> tuple[PairSignal, LagEstimate]:
    """:func:`validate_pair` of a :class:`PairSignal` (files read in blocks) whose signals peak at
    ``peaks``: the pair out, trimmed to equal lengths and shifted by the lag if ``align``.

    Notebook: 12
    """
    a, b = what
    if int(sr_clean) != int(sr_target):
        raise GuneampError(_rate_message(int(sr_clean), int(sr_target), what))
    for name, peak in zip(what, peaks):
        if peak < SILENCE_PEAK:
            raise GuneampError(_silent_message(name, peak))
    sr = int(sr_clean)
    n_c, n_t = pair.c_end - pair.c0, pair.t_end - pair.t0
    if n_c != n_t:
        warnings.warn(_length_message(n_c, n_t, sr, what), GuneampWarning, stacklevel=3)
    est = estimate_pair_lag(pair, sr, max_lag_s)
    if align:
        if not est.reliable:
            warnings.warn(f"aligning by an unreliable lag estimate: {est.describe()}. Check the result by ear.",
                          GuneampWarning, stacklevel=3)
        moved = pair.shifted(est.lag)
        if moved.n == 0:
            raise GuneampError(f"after shifting by {est.lag} samples the two signals no longer overlap "
                               f"({n_c} and {n_t} samples)")
        return moved.part(0, moved.n), est
    if est.reliable and abs(est.lag) > max_lag_samples_ok:
        raise GuneampError(_lag_message(est, what))
    if not est.reliable:
        warnings.warn(
            f"could not measure the lag between {a} and {b} reliably ({est.note}); assuming they line up",
            GuneampWarning,
            stacklevel=3,
        )
    return pair.part(0, pair.n), est
