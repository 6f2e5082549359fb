"""The lag between a clean DI and its recording, and how to undo it (notebooks 01 and 12).

Taught in notebooks 01 (``01_loading_and_normalization``: the estimated lag) and 12
(``12_your_own_gear``: the lag from the music next to the latency from the capture
signal's timing marks, and alignment by a given lag).

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

**Long files.** Welch's spectra are averages over segments, so they are summed here a
batch of segments at a time from a :class:`PairSignal`, which reads its samples on
demand: from two arrays, or from two files (``guneamp check`` and ``guneamp score``), in
memory that does not grow with the recording, and with the same numbers as
``scipy.signal.csd`` over the whole of it.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import signal

from ..dsp.audio import SILENCE_PEAK
from ..errors import GuneampError, GuneampWarning

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
# Welch segments transformed at once: samples of all of them together (16 MB of float64),
# so a long file costs the same memory as a short one.
WELCH_BATCH_SAMPLES = 1 << 21
# How each method is named to the user: "bla" is the code's short name, not a word.
METHOD_NAMES = {"bla": "impulse response", "xcorr": "cross-correlation", "given": "the lag given"}


@dataclass(frozen=True)
class LagEstimate:
    """How late the target is relative to the clean DI, and how sure we are.

    Notebook: 01, 12
    """

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
        how = METHOD_NAMES.get(self.method, self.method)
        text = f"{self.where(what)} (by {how}, confidence {self.confidence:.2f}, {sure})"
        return f"{text}: {self.note}" if self.note else text


@dataclass(frozen=True)
class PairSignal:
    """A clean/target pair read on demand: ``clean[c0 + i]`` with ``target[t0 + i]``, ``0 <= i < n``.

    ``read_clean(lo, hi)`` and ``read_target(lo, hi)`` give float64 samples of the whole
    signals (arrays, or :class:`~guneamp_lib.dsp.blocks.AudioReader` files); ``c_end`` and
    ``t_end`` are where each stops. :meth:`part` and :meth:`shifted` give views, never copies.

    Notebook: 12
    """

    read_clean: Callable[[int, int], np.ndarray]
    read_target: Callable[[int, int], np.ndarray]
    c_end: int
    t_end: int
    c0: int = 0
    t0: int = 0

    @classmethod
    def of_arrays(cls, clean: np.ndarray, target: np.ndarray) -> "PairSignal":
        return cls(lambda lo, hi: clean[lo:hi], lambda lo, hi: target[lo:hi], clean.size, target.size)

    @property
    def n(self) -> int:
        return max(min(self.c_end - self.c0, self.t_end - self.t0), 0)

    def read(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """Both signals' samples ``lo`` to ``hi`` of the pair (``0 <= lo <= hi <= n``), float64."""
        c = np.asarray(self.read_clean(self.c0 + lo, self.c0 + hi), dtype=np.float64)
        t = np.asarray(self.read_target(self.t0 + lo, self.t0 + hi), dtype=np.float64)
        return c, t

    def part(self, lo: int, hi: int) -> "PairSignal":
        """The pair's samples ``lo`` to ``hi`` only."""
        return replace(self, c0=self.c0 + lo, t0=self.t0 + lo, c_end=min(self.c0 + hi, self.c_end),
                       t_end=min(self.t0 + hi, self.t_end))

    def shifted(self, lag: int) -> "PairSignal":
        """clean[m] paired with target[m + lag], trimmed to the overlap (as :func:`_shift`)."""
        return replace(self, t0=self.t0 + lag) if lag >= 0 else replace(self, c0=self.c0 - lag)

    def peaks(self, block: int = WELCH_BATCH_SAMPLES) -> tuple[float, float]:
        """The largest magnitude of each signal over the pair."""
        pc = pt = 0.0
        for lo in range(0, self.n, block):
            c, t = self.read(lo, min(lo + block, self.n))
            pc, pt = max(pc, float(np.max(np.abs(c)))), max(pt, float(np.max(np.abs(t))))
        return pc, pt


# --------------------------------------------------------------------------- helpers


def as_mono(x, what: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        x = np.squeeze(x)
    if x.ndim != 1:
        raise GuneampError(f"{what} must be one channel of audio (a 1-D array), got shape {np.shape(x)}")
    if not np.all(np.isfinite(x)):
        raise GuneampError(f"{what} contains NaN or infinite samples")
    return x


def is_silent(x: np.ndarray) -> bool:
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


def welch_spectra(pair: PairSignal, sr: int, nfft: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(f, Sxx, Syy, Sxy)`` of the pair: ``scipy.signal.welch`` and ``csd`` (Hann, 75 % overlap,
    no detrending, density scaling), summed a batch of segments at a time.

    Notebook: 12
    """
    step = nfft - 3 * nfft // 4
    count = (pair.n - nfft) // step + 1
    win = signal.get_window("hann", nfft)
    sxx = np.zeros(nfft // 2 + 1)
    syy = np.zeros(nfft // 2 + 1)
    sxy = np.zeros(nfft // 2 + 1, dtype=complex)
    per = max(WELCH_BATCH_SAMPLES // nfft, 1)
    for k0 in range(0, count, per):
        k1 = min(k0 + per, count)
        c, t = pair.read(k0 * step, (k1 - 1) * step + nfft)
        x = np.fft.rfft(sliding_window_view(c, nfft)[::step] * win, axis=-1)
        y = np.fft.rfft(sliding_window_view(t, nfft)[::step] * win, axis=-1)
        sxx += np.sum(x.real**2 + x.imag**2, axis=0)
        syy += np.sum(y.real**2 + y.imag**2, axis=0)
        sxy += np.sum(np.conj(x) * y, axis=0)
    scale = np.full(nfft // 2 + 1, 1.0 / (sr * float(np.sum(win * win)) * count))
    scale[1 : nfft // 2 if nfft % 2 == 0 else None] *= 2.0  # one-sided: DC and Nyquist once
    return np.fft.rfftfreq(nfft, 1.0 / sr), sxx * scale, syy * scale, sxy * scale


def _coherence_ir(pair: PairSignal, sr: int, nfft: int) -> np.ndarray:
    """Impulse response of the coherence-weighted BLA; index k is lag k (circular)."""
    nfft = min(nfft, 1 << int(math.floor(math.log2(pair.n))))
    f, sxx, syy, sxy = welch_spectra(pair, sr, nfft)  # Sxy is conj(X) * Y, so H1 = Y / X
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


def _bla_lag(pair: PairSignal, sr: int, max_lag: int) -> tuple[int, float]:
    """Two passes: find the peak, then re-fit with the target pre-shifted by it.

    The second pass matters for long lags: once shifted, every Welch segment of the
    target shares all of itself with its clean partner instead of only part of it.
    """
    nbhd = max(int(round(PEAK_NEIGHBOURHOOD_S * sr)), 2)
    nfft = _choose_nfft(pair.n, max_lag)
    limit = min(max_lag, nfft // 2 - 1)
    lags = _circular_lags(limit)
    h = _coherence_ir(pair, sr, nfft)
    first, _ = _pick_peak(h[lags], lags, nbhd)
    moved = pair.shifted(first)
    if moved.n < MIN_NFFT:
        return first, 1.0
    nfft2 = _choose_nfft(moved.n, max_lag)
    limit2 = min(max_lag, nfft2 // 2 - 1)
    lags2 = _circular_lags(limit2)
    h2 = _coherence_ir(moved, sr, nfft2)
    extra, ratio = _pick_peak(h2[lags2], lags2, nbhd)
    return first + extra, ratio


def polarity(clean, target, sr: int, lag: int) -> int:
    """+1 if ``target`` follows ``clean`` (shifted by ``lag``) with its polarity, -1 if inverted,
    0 if the pair is too short to tell: the sign of the coherence-weighted impulse
    response's largest tap near the lag.

    Notebook: 01, 12
    """
    c = np.asarray(clean, dtype=np.float64).reshape(-1)
    t = np.asarray(target, dtype=np.float64).reshape(-1)
    return pair_polarity(PairSignal.of_arrays(c, t), sr, lag)


def pair_polarity(pair: PairSignal, sr: int, lag: int) -> int:
    """:func:`polarity` of a :class:`PairSignal` (read in blocks).

    Notebook: 12
    """
    moved = pair.shifted(lag)
    if moved.n < MIN_NFFT or min(moved.peaks()) < SILENCE_PEAK:
        return 0
    h = _coherence_ir(moved, sr, _choose_nfft(moved.n, MIN_NFFT // NFFT_PER_LAG))
    nbhd = max(int(round(PEAK_NEIGHBOURHOOD_S * sr)), 2)
    near = h[np.arange(-nbhd, nbhd + 1)]
    return int(np.sign(near[np.argmax(np.abs(near))]))


def _confidence(ratio: float) -> float:
    return float(min(max(1.0 - ratio, 0.0), 1.0))


# --------------------------------------------------------------------------- lag


def xcorr_lag(clean, target, sr: int, max_lag_s: float = DEFAULT_MAX_LAG_S) -> LagEstimate:
    """Plain FFT cross-correlation: the textbook estimate, ambiguous on sustained notes.

    Shown in the notebooks next to :func:`estimate_lag`; use that one for real work.

    Notebook: 01, 12
    """
    clean = as_mono(clean, "clean")
    target = as_mono(target, "target")
    if is_silent(clean) or is_silent(target):
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

    Notebook: 01, 12
    """
    clean = as_mono(clean, "clean")
    target = as_mono(target, "target")
    if is_silent(clean) or is_silent(target):
        which = "clean" if is_silent(clean) else "target"
        return LagEstimate(0, 0.0, 0.0, False, "bla", f"the {which} signal is silent; there is nothing to align")
    return estimate_pair_lag(PairSignal.of_arrays(clean, target), sr, max_lag_s)


def estimate_pair_lag(pair: PairSignal, sr: int, max_lag_s: float = DEFAULT_MAX_LAG_S) -> LagEstimate:
    """:func:`estimate_lag` of a :class:`PairSignal` whose signals are not silent (read in blocks).

    Notebook: 12
    """
    n = pair.n
    if n < 2 * MIN_NFFT:
        return LagEstimate(0, 0.0, 0.0, False, "bla", f"only {n} samples in common; too short to estimate a lag")
    max_lag = max(int(round(max_lag_s * sr)), 1)
    lag, ratio = _bla_lag(pair, sr, max_lag)
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
        for name, (lo, hi) in (("first", (0, half)), ("second", (half, n))):
            h_lag, h_ratio = _bla_lag(pair.part(lo, hi), sr, max_lag)
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
    if max_lag_s < DEFAULT_MAX_LAG_S:
        # A narrow search can be sure of a wrong answer when the real peak lies outside it
        # (and the halves then agree on the same wrong one): a default search that is sure
        # of a lag beyond it says so.
        wide = estimate_pair_lag(pair, sr, DEFAULT_MAX_LAG_S)
        if wide.reliable and abs(wide.lag) > max_lag:
            reliable = False
            notes.append(f"a search of ±{DEFAULT_MAX_LAG_S:g} s finds {wide.lag} samples, outside the ±{max_lag} "
                         "searched; search wider (--max-lag)")
    return LagEstimate(lag, lag / sr, _confidence(ratio), reliable, "bla", "; ".join(notes))


def align_pair(
    clean, target, sr: int, lag: int | None = None, max_lag_s: float = DEFAULT_MAX_LAG_S
) -> tuple[np.ndarray, np.ndarray, LagEstimate]:
    """Shift by the estimated (or given) lag and trim both to their overlap: equal lengths out.

    Warns :class:`GuneampWarning` when the estimate is unreliable: listen to the result.

    Notebook: 01, 12
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
