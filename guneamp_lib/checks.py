"""Capture checks: does a clean DI and its recorded target make a usable training pair?

Taught in notebooks 01 (``01_loading_and_normalization``: the estimated lag) and 12
(``12_your_own_gear``: the capture checks on your own recordings).

**The lag.** A causal model predicts the target at time *n* from the DI up to *n*, so
the target must not be late. We write the lag so that a positive value means the
target is late: ``target[n] ~ f(clean[n - lag])``.

Plain cross-correlation (:func:`xcorr_lag`) is the textbook answer and is kept for
teaching, because it fails in an instructive way: a sustained note repeats every
period, so its cross-correlation has a peak every period and the tallest one is
nearly a coin toss. :func:`estimate_lag` instead fits the best linear approximation
(BLA) of the gear, ``H1 = Sxy / Sxx`` from Welch-averaged spectra, and weights each
frequency band by ``sqrt(Sxx / Syy)``. That weighting turns H1 into the complex
coherence: the same phase (so the same delay), but every band counts by how
*linearly* the target follows the DI there, not by how loud it is. On a sustained
note the loud harmonics would otherwise dominate and make the impulse response
repeat every period; the quiet bands between them (pick and string noise, which the
gear passes too) carry what breaks the tie. The lag is where the impulse response
has its largest magnitude (magnitude, because pedals may invert polarity). Signal
processing knows this weighting as the SCOT generalized cross-correlation (Knapp and
Carter, 1976). A cabinet's response rises over a few samples and peaks a little after
its onset; the reported lag is that peak, which is what the model has to cover.

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

import numpy as np
from scipy import signal

from .audio import SILENCE_PEAK, AudioInfo, read_audio
from .errors import GuneampError, GuneampWarning
from .losses import esr

DEFAULT_MAX_LAG_S = 0.25
# Where a guitar DI has its energy: the low E string is at 82 Hz, and above about
# 5 kHz a DI holds mostly noise, so bands outside only add noise to the estimate.
BLA_BAND_HZ = (80.0, 5000.0)
# Light regularization of the coherence, relative to the loudest band of each signal:
# keeps silent bands at zero instead of 0/0, and is far below any band that matters.
COHERENCE_FLOOR = 1e-12
# Welch segments must be long against the lag (a shifted segment only shares
# 1 - lag/nfft of itself with its partner) yet numerous enough to average: the
# coherence of two unrelated signals is only near zero after many segments.
NFFT_PER_LAG = 4
# Fewest Welch segments we accept: with K segments unrelated bands still show a
# coherence of about 1/sqrt(K), which must stay well below a real one.
MIN_SEGMENTS = 8
# Shortest segment: 46 ms at 44.1 kHz, still a few periods of the low E string.
MIN_NFFT = 2048
# The winning peak's own neighbourhood (its main lobe, and a cabinet's rise to its
# peak); the runner-up is the tallest peak outside it.
PEAK_NEIGHBOURHOOD_S = 1.5e-3
# A lag is reliable only if the runner-up peak is at most this fraction of the winner.
RELIABLE_PEAK_RATIO = 0.8
# The two halves of the recording must agree this closely: one sample is a cabinet
# peak shared between two taps, more is a different answer.
HALVES_TOLERANCE = 2
# Each half needs this much audio for its own estimate to mean anything.
MIN_HALF_S = 0.5
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
# Coverage: a third of an octave is about what separates two notes' fundamentals a
# major third apart, so a band holds one note's fundamental or harmonic, not several.
COVERAGE_BANDS_PER_OCTAVE = 3
COVERAGE_FMIN_HZ = 40.0
# A band is "not covered" when the training input puts this much less of its energy
# there than the test input does: 20 dB, a hundredth of the share.
COVERAGE_MARGIN_DB = 20.0


@dataclass(frozen=True)
class LagEstimate:
    """How late the target is relative to the clean DI, and how sure we are."""

    lag: int
    seconds: float
    confidence: float
    reliable: bool
    method: str
    note: str = ""

    def where(self, what: tuple[str, str] = ("clean", "target")) -> str:
        """'<target> is N samples (x ms) late relative to <clean>' (or early, or lines up)."""
        a, b = what
        if self.lag == 0:
            return f"{b} lines up with {a}"
        when = "late" if self.lag > 0 else "early"
        return f"{b} is {abs(self.lag)} samples ({1000 * abs(self.seconds):.1f} ms) {when} relative to {a}"

    def describe(self, what: tuple[str, str] = ("clean", "target")) -> str:
        """:meth:`where`, plus how it was measured and how sure it is."""
        sure = "reliable" if self.reliable else "NOT reliable"
        text = f"{self.where(what)} ({self.method}, confidence {self.confidence:.2f}, {sure})"
        return f"{text}: {self.note}" if self.note else text


# --------------------------------------------------------------------------- helpers


def _as_mono(x, what: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        x = np.squeeze(x)
    if x.ndim != 1:
        raise GuneampError(f"{what} must be one channel of audio (a 1-D array), got shape {np.shape(x)}")
    if not np.all(np.isfinite(x)):
        raise GuneampError(f"{what} contains NaN or infinite samples")
    return x


def _silent(x: np.ndarray) -> bool:
    return x.size == 0 or float(np.max(np.abs(x))) < SILENCE_PEAK


def _pick_peak(values_at_lag, lags: np.ndarray, neighbourhood: int) -> tuple[int, float]:
    """Winner lag and runner-up ratio (tallest other local maximum / winner), on |values|."""
    a = np.abs(values_at_lag)
    i = int(np.argmax(a))
    top = float(a[i])
    if top <= 0.0:
        return 0, 1.0
    peaks, _ = signal.find_peaks(a)
    others = peaks[np.abs(lags[peaks] - lags[i]) > neighbourhood]
    second = float(a[others].max()) if others.size else 0.0
    return int(lags[i]), second / top


def _circular_lags(limit: int) -> np.ndarray:
    return np.arange(-limit, limit + 1)


def _choose_nfft(n: int, max_lag: int) -> int:
    nfft = 1 << max(int(math.ceil(math.log2(max(NFFT_PER_LAG * max_lag, 1)))), 0)
    # Welch with 75 % overlap gives about 4 n / nfft - 3 segments.
    while nfft > MIN_NFFT and 4 * n / nfft - 3 < MIN_SEGMENTS:
        nfft //= 2
    return max(nfft, MIN_NFFT)


def _coherence_ir(clean: np.ndarray, target: np.ndarray, sr: int, nfft: int) -> np.ndarray:
    """Impulse response of the coherence-weighted BLA; index k is lag k (circular)."""
    n = min(clean.size, target.size)
    nfft = min(nfft, 1 << int(math.floor(math.log2(n))))
    kw = dict(fs=sr, window="hann", nperseg=nfft, noverlap=3 * nfft // 4, detrend=False)
    f, sxy = signal.csd(clean[:n], target[:n], **kw)  # scipy: conj(X) * Y, so H1 = Y / X
    _, sxx = signal.welch(clean[:n], **kw)
    _, syy = signal.welch(target[:n], **kw)
    band = (f >= BLA_BAND_HZ[0]) & (f <= min(BLA_BAND_HZ[1], 0.45 * sr))
    if not band.any() or sxx[band].max() <= 0.0 or syy[band].max() <= 0.0:
        return np.zeros(nfft)
    floor = COHERENCE_FLOOR * sxx[band].max() * syy[band].max()
    # H1 * sqrt(Sxx / Syy) == Sxy / sqrt(Sxx Syy): the complex coherence.
    gamma = np.where(band, sxy / np.sqrt(sxx * syy + floor), 0.0)
    return np.fft.irfft(gamma, nfft)


def _shift(clean: np.ndarray, target: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Pair clean[m] with target[m + lag] and trim both to the overlap."""
    if lag >= 0:
        c, t = clean, target[lag:]
    else:
        c, t = clean[-lag:], target
    n = max(min(c.size, t.size), 0)
    return c[:n], t[:n]


def _bla_lag(clean: np.ndarray, target: np.ndarray, sr: int, max_lag: int) -> tuple[int, float]:
    """Two passes: find the peak, then re-fit with the target pre-shifted by it.

    The second pass matters for long lags: once shifted, every Welch segment of the
    target shares all of itself with its clean partner instead of only part of it.
    """
    nbhd = max(int(round(PEAK_NEIGHBOURHOOD_S * sr)), 2)
    n = min(clean.size, target.size)
    nfft = _choose_nfft(n, max_lag)
    limit = min(max_lag, nfft // 2 - 1)
    lags = _circular_lags(limit)
    h = _coherence_ir(clean, target, sr, nfft)
    first, _ = _pick_peak(h[lags], lags, nbhd)
    c, t = _shift(clean, target, first)
    if min(c.size, t.size) < MIN_NFFT:
        return first, 1.0
    nfft2 = _choose_nfft(c.size, max_lag)
    limit2 = min(max_lag, nfft2 // 2 - 1)
    lags2 = _circular_lags(limit2)
    h2 = _coherence_ir(c, t, sr, nfft2)
    extra, ratio = _pick_peak(h2[lags2], lags2, nbhd)
    return first + extra, ratio


def _confidence(ratio: float) -> float:
    return float(min(max(1.0 - ratio, 0.0), 1.0))


# --------------------------------------------------------------------------- lag


def xcorr_lag(clean, target, sr: int, max_lag_s: float = DEFAULT_MAX_LAG_S) -> LagEstimate:
    """Plain FFT cross-correlation: the textbook estimate, ambiguous on sustained notes.

    Shown in the notebooks next to :func:`estimate_lag`; use that one for real work.
    """
    clean = _as_mono(clean, "clean")
    target = _as_mono(target, "target")
    if _silent(clean) or _silent(target):
        return LagEstimate(0, 0.0, 0.0, False, "xcorr", "one of the signals is silent")
    max_lag = max(int(round(max_lag_s * sr)), 1)
    size = 1 << int(math.ceil(math.log2(clean.size + target.size)))
    r = np.fft.irfft(np.fft.rfft(target, size) * np.conj(np.fft.rfft(clean, size)), size)
    limit = min(max_lag, clean.size - 1, target.size - 1)
    lags = _circular_lags(limit)
    lag, ratio = _pick_peak(r[lags], lags, max(int(round(PEAK_NEIGHBOURHOOD_S * sr)), 2))
    reliable = ratio <= RELIABLE_PEAK_RATIO
    note = "" if reliable else (
        f"the runner-up peak is {100 * ratio:.0f}% of the winner: on sustained notes the "
        "cross-correlation repeats every period of the note"
    )
    return LagEstimate(lag, lag / sr, _confidence(ratio), reliable, "xcorr", note)


def estimate_lag(clean, target, sr: int, max_lag_s: float = DEFAULT_MAX_LAG_S) -> LagEstimate:
    """Lag of ``target`` behind ``clean`` from the coherence-weighted BLA (see module doc).

    Positive means the target is late. ``reliable`` is False, with the reason in
    ``note``, when the impulse response's peak does not stand out from the next one
    or when the first and second halves of the recording disagree.
    """
    clean = _as_mono(clean, "clean")
    target = _as_mono(target, "target")
    if _silent(clean) or _silent(target):
        which = "clean" if _silent(clean) else "target"
        return LagEstimate(0, 0.0, 0.0, False, "bla", f"the {which} signal is silent; there is nothing to align")
    n = min(clean.size, target.size)
    if n < 2 * MIN_NFFT:
        return LagEstimate(0, 0.0, 0.0, False, "bla", f"only {n} samples in common; too short to estimate a lag")
    max_lag = max(int(round(max_lag_s * sr)), 1)
    lag, ratio = _bla_lag(clean, target, sr, max_lag)
    notes = []
    reliable = True
    if ratio > RELIABLE_PEAK_RATIO:
        reliable = False
        notes.append(
            f"the impulse response's runner-up peak is {100 * ratio:.0f}% of the winner "
            "(the target hardly follows the clean signal, or the material is too periodic)"
        )
    # Cross-check on the two halves. A half that is sure of the same answer confirms it
    # (two unrelated signals almost never give the same peak twice by chance); a half
    # that is sure of a different answer (clock drift, an edit, a dropout) vetoes; a
    # half that is unsure of itself (a decayed note, hum) has no vote.
    half = n // 2
    if half < MIN_HALF_S * sr or half < 2 * MIN_NFFT:
        reliable = False
        notes.append(f"too short to cross-check on its two halves (needs {2 * MIN_HALF_S:.1f} s)")
    else:
        confirmed = False
        for name, part in (("first", slice(0, half)), ("second", slice(half, n))):
            h_lag, h_ratio = _bla_lag(clean[part], target[part], sr, max_lag)
            if h_ratio > RELIABLE_PEAK_RATIO:
                continue
            if abs(h_lag - lag) <= HALVES_TOLERANCE:
                confirmed = True
            else:
                reliable = False
                notes.append(f"the {name} half alone clearly gives {h_lag} samples instead of {lag}")
        if not confirmed:
            reliable = False
            notes.append("neither half of the recording confirms it on its own")
    return LagEstimate(lag, lag / sr, _confidence(ratio), reliable, "bla", "; ".join(notes))


def align_pair(
    clean, target, sr: int, lag: int | None = None, max_lag_s: float = DEFAULT_MAX_LAG_S
) -> tuple[np.ndarray, np.ndarray, LagEstimate]:
    """Shift by the estimated (or given) lag and trim both to their overlap: equal lengths out.

    Warns :class:`GuneampWarning` when the estimate is unreliable: listen to the result.
    """
    clean_arr = np.asarray(clean)
    target_arr = np.asarray(target)
    if lag is None:
        est = estimate_lag(clean_arr, target_arr, sr, max_lag_s)
        if not est.reliable:
            warnings.warn(
                f"aligning by an unreliable lag estimate: {est.describe()}. Check the result by ear.",
                GuneampWarning,
                stacklevel=2,
            )
    else:
        lag = int(lag)
        est = LagEstimate(lag, lag / sr, 1.0, True, "given", "lag given by the caller")
    c, t = _shift(clean_arr.reshape(-1), target_arr.reshape(-1), est.lag)
    if c.size == 0:
        raise GuneampError(
            f"after shifting by {est.lag} samples the two signals no longer overlap "
            f"({clean_arr.size} and {target_arr.size} samples)"
        )
    return c, t, est


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
    """
    x = _as_mono(clean, "clean")
    n = x.size
    min_len = max(int(round(min_seconds * sr)), 1)
    if n < 2 * min_len or _silent(x):
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


def band_shares(x, sr: int, bands_per_octave: int = COVERAGE_BANDS_PER_OCTAVE,
                fmin: float = COVERAGE_FMIN_HZ) -> tuple[np.ndarray, np.ndarray]:
    """``(centres_hz, shares)``: the fraction of ``x``'s energy in each fractional-octave band."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(x.size, 1.0 / sr)
    n_bands = int(math.floor(bands_per_octave * math.log2((sr / 2) / fmin)))
    edges = fmin * 2.0 ** (np.arange(n_bands + 1) / bands_per_octave)
    idx = np.searchsorted(edges, freqs, side="right") - 1
    inside = (idx >= 0) & (idx < n_bands)
    energy = np.bincount(idx[inside], weights=power[inside], minlength=n_bands)
    total = energy.sum()
    shares = energy / total if total > 0 else energy
    return np.sqrt(edges[:-1] * edges[1:]), shares


@dataclass(frozen=True)
class Coverage:
    """How much of a test input lies where the training input has (almost) nothing."""

    uncovered_share: float  # fraction of the test input's energy in uncovered bands
    uncovered_bands_hz: tuple  # centre frequencies of those bands
    margin_db: float

    def describe(self) -> str:
        if not self.uncovered_bands_hz:
            return "the training input covers every frequency band the test input uses"
        lo, hi = min(self.uncovered_bands_hz), max(self.uncovered_bands_hz)
        where = f"{lo:.0f} Hz" if lo == hi else f"{lo:.0f} to {hi:.0f} Hz"
        return (f"{100 * self.uncovered_share:.0f}% of the test input's energy lies in bands ({where}) "
                f"where the training input has at least {self.margin_db:.0f} dB less of its own: "
                "a model has no examples of the gear there")


def coverage(train_clean, test_clean, sr: int, margin_db: float = COVERAGE_MARGIN_DB) -> Coverage:
    """Does the training DI contain the frequencies the test DI (or your playing) uses?

    A model learns the gear only where its training input has energy. Each band's share
    of the total energy is compared: a band where the training input's share is more
    than ``margin_db`` below the test input's is not covered. The result is the test
    input's energy in such bands, from 0 (all covered) to 1.
    """
    centres, train = band_shares(train_clean, sr)
    _, test = band_shares(test_clean, sr)
    if test.sum() <= 0:
        raise GuneampError("the test input is silent: there is nothing to compare coverage with")
    ratio = 10 ** (-margin_db / 10)
    bad = test * ratio > train
    return Coverage(float(test[bad].sum()), tuple(float(f) for f in centres[bad]), margin_db)


@dataclass(frozen=True)
class RepeatReport:
    """How much two recorded takes of the same passage differ."""

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
    """
    clean = _as_mono(clean, "clean")
    target = _as_mono(target, "target")
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
    """Everything ``guneamp check`` says about a clean/target pair of files."""

    clean: AudioInfo
    target: AudioInfo
    rates_match: bool
    length_difference: int  # target frames minus clean frames (only meaningful when rates match)
    lag: LagEstimate | None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    what: tuple[str, str] = ("clean", "target")

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
        lines += [f"PROBLEM: {p}" for p in self.problems]
        lines += [f"warning: {w}" for w in self.warnings]
        n = len(self.problems)
        lines.append("OK: usable as a training pair" if self.ok else f"{n} problem(s) to fix before training")
        return "\n".join(lines)


def _read_collecting(path, what: str, notes: list[str]):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y, sr, info = read_audio(path, what=what)
    for w in caught:
        if issubclass(w.category, GuneampWarning):
            notes.append(str(w.message))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return y, sr, info


def check_pair(
    clean_path: str | os.PathLike,
    target_path: str | os.PathLike,
    max_lag_s: float = DEFAULT_MAX_LAG_S,
    *,
    max_lag_samples_ok: int = MAX_LAG_SAMPLES_OK,
    what: tuple[str, str] = ("clean", "target"),
) -> PairReport:
    """Read two files and report everything wrong with them as a pair.

    The pair's own issues are collected, never raised; an unreadable file still raises
    :class:`GuneampError` (there is nothing to report on).
    """
    a, b = what
    notes: list[str] = []
    clean, sr_c, info_c = _read_collecting(clean_path, a, notes)
    target, sr_t, info_t = _read_collecting(target_path, b, notes)
    problems: list[str] = []
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
        lag = estimate_lag(clean, target, sr_c, max_lag_s)
        if not lag.reliable:
            notes.append(f"could not measure the lag reliably: {lag.note}")
        elif abs(lag.lag) > max_lag_samples_ok:
            problems.append(_lag_message(lag, what))
    return PairReport(info_c, info_t, rates_match, diff, lag, problems, notes, what)


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
    """
    a, b = what
    clean = np.asarray(clean)
    target = np.asarray(target)
    if int(sr_clean) != int(sr_target):
        raise GuneampError(_rate_message(int(sr_clean), int(sr_target), what))
    for name, x in ((a, clean), (b, target)):
        if _silent(np.asarray(x, dtype=np.float64).reshape(-1)):
            raise GuneampError(_silent_message(name, float(np.max(np.abs(x))) if x.size else 0.0))
    sr = int(sr_clean)
    if clean.size != target.size:
        warnings.warn(_length_message(clean.size, target.size, sr, what), GuneampWarning, stacklevel=2)
    if align:
        c, t, est = align_pair(clean, target, sr, max_lag_s=max_lag_s)
        return c, t, est
    est = estimate_lag(clean, target, sr, max_lag_s)
    if est.reliable and abs(est.lag) > max_lag_samples_ok:
        raise GuneampError(_lag_message(est, what))
    if not est.reliable:
        warnings.warn(
            f"could not measure the lag between {a} and {b} reliably ({est.note}); assuming they line up",
            GuneampWarning,
            stacklevel=2,
        )
    n = min(clean.size, target.size)
    return clean[:n], target[:n], est
