"""Checks that know the capture signal: latency, drift, noise floor and coverage of a reamp.

Taught in notebook ``12_your_own_gear``; run by ``guneamp check`` and ``guneamp train``
whenever the clean file is the capture signal of :mod:`reamp_signal`.

The general checks of :mod:`checks` must guess: they find the lag from the music itself
and a repeat by searching the DI for one. The capture signal was built to be measured,
so here nothing is guessed. Its sidecar (or, when the sidecar was lost, the length and
rate of the file, from which the layout follows) says where every timing mark, every
section and every note lies, and the recording is read at those places.

**Latency.** The gear cannot answer a click before it hears it, so the first recorded
sample that rises out of the noise after a mark is the round trip of the rig: the
interface's output and input buffers and converters, plus any pure delay of the gear.
"Rises out of the noise" means above both ``ONSET_NOISE_FACTOR`` times the loudest
sample of the recorded silence before the first mark, and ``ONSET_DB`` below the peak
of the response itself (so a converter's faint pre-ringing, far below the response,
does not count). Shifting the recording earlier by this latency leaves it causal: the
model still sees every input sample before the output it causes. Gear with filters of
its own, such as the course's reference amp with its oversampling filters, answers a
few samples after its first audible response; that delay belongs to the sound, and the
model learns it. Each mark gives an integer onset; the latency reported is their median
(referred to the signal's start), so a noise burst on one mark changes nothing.

**Drift.** If the interface plays with one clock and records with another, the
recording holds slightly more or fewer samples per second than the signal: a 20 ppm
difference moves the end of a three-minute capture by 150 samples, and a model trained
on it hears its target slide against its input. Each mark's arrival is timed to a
fraction of a sample (the peak of its upsampled cross-correlation with the first
mark's response); a straight line through the arrivals against the marks' positions,
eight at the start and eight near the end, has a slope of one plus the drift.

**Noise floor and best ESR.** The recorded lead-in silence gives the noise floor in
dBFS. The repeat gives more: the two recorded takes of the same passage differ only by
the noise and drift of the gear, and their ESR is about twice the noise-to-signal
ratio, so half of it is the best ESR any model can reach on this capture (as in
:func:`checks.repeat_check`). Drift, when found, is undone first by reading the second
take at its drifted times (windowed-sinc interpolation), so it is not counted as noise.

**Coverage.** Every note the signal plays is looked up in the recording: a note counts
as answered when the recording there rises ``NOTE_ABOVE_FLOOR_DB`` above its noise
floor. A recording that stops early, or a noise gate that swallows the soft notes,
shows up as notes missing, named. For a DI that is not the capture signal, the general
:func:`coverage.coverage` compares it with the capture signal's notes instead: it says
how much of a guitar played over the whole neck lies where that DI has nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..dsp.blocks import READ_BLOCK, AudioReader
from ..dsp.error import esr
from ..errors import GuneampError
from .checks import MAX_LAG_SAMPLES_OK, PairReport, check_readers
from .coverage import coverage
from .lag import DEFAULT_MAX_LAG_S
from .guitar import render_score
from .reamp_signal import FORMAT, MARK_COUNT, NECK, find_file_layout, notes_plan

# The silence before the first mark that is taken as pure noise: the first half of the
# lead-in, so a recording that starts up to a quarter second late still has some.
NOISE_WINDOW_S = 0.25
# A response starts where it exceeds this many times the loudest noise sample...
ONSET_NOISE_FACTOR = 2.0
# ...and comes within this many dB of its own peak.
ONSET_DB = -50.0
# Below any real noise floor: a digital loopback or a simulation is silent, not noisy.
ONSET_ABS_FLOOR = 1e-7
# Where to look for the first mark's response: up to this late (an interface at its
# largest buffer, or a wireless link, is still below it). The first response in that
# window is the first mark's however many later marks it also holds.
MAX_LATENCY_S = 1.0
# The other marks are looked for this close to where the first one says they are: room
# for drift (300 ppm over an hour-long... far more than any interface), yet less than
# half the marks' spacing, so a neighbour's response never falls inside.
MARK_SEARCH_S = 0.1
# Each response is timed on this window after its onset (long enough for an amp and
# cabinet; the marks are MARK_SPACING_S apart, so neighbours never overlap it).
RESPONSE_S = 0.04
# Upsampling of the cross-correlation that times each mark to a fraction of a sample.
TIMING_UPSAMPLE = 32
# Marks whose arrival departs from the fitted line by more than this many samples are
# not following one clock: a dropout, an edit, or a buffer underrun in between.
DRIFT_RESIDUAL_MAX = 1.0
# How far the recording may slide against the signal over its length before a model
# trained on it suffers: a sample is where the top octave starts to smear.
SLIDE_WARN = 0.5
SLIDE_PROBLEM = 2.0
# Windowed-sinc interpolation (for undoing drift): half-length in samples, and the
# Kaiser window's beta (about 80 dB of stopband, well below a recording's noise).
SINC_HALF = 16
SINC_BETA = 8.0
# The first and last parts of each recorded take are skipped (see checks.repeat_check).
SETTLE_S = 0.05
# A note is answered when the recording rises this far above the noise floor there.
NOTE_ABOVE_FLOOR_DB = 10.0
# ESR between the two takes: above these the capture is noisy, or unusable.
REPEAT_WARN_ESR = 0.02
REPEAT_PROBLEM_ESR = 0.5
# The noise floor should sit at least this far below the recording's RMS.
FLOOR_WARN_DB = 40.0
# The notes a DI that is not the capture signal is compared with: each note of the neck
# once, at the middle dynamic, this long.
REFERENCE_NOTE_S = 0.3
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
# A DI's coverage is judged up to the band of the neck's highest fundamental (E6, 1319 Hz,
# and a sixth of an octave of room): above it lie harmonics, not notes one could play.
NECK_TOP_HZ = 440.0 * 2.0 ** ((NECK[-1] - 69) / 12.0 + 1 / 6)
# A recording may run on after the capture signal; this much of it is read for the
# capture checks, so a long recording costs no more than the signal.
CAPTURE_TAIL_S = 60.0


def note_name(midi: int) -> str:
    """'E2' for MIDI 40.

    Notebook: 12
    """
    return f"{NOTE_NAMES[midi % 12]}{midi // 12 - 1}"


@dataclass
class CaptureReport:
    """What the capture-signal checks found: numbers, and one line per finding.

    Notebook: 12
    """

    sample_rate: int
    source: str  # where the layout came from: its sidecar, or recognised by its marks
    latency: int | None = None  # samples the recording is late at the signal's start
    peak_delay: int | None = None  # samples from the response's onset to its peak
    marks_found: int = 0
    drift_ppm: float | None = None
    slide: float | None = None  # samples the drift moves the recording over the signal
    noise_floor_dbfs: float | None = None
    repeat_esr: float | None = None
    notes_total: int = 0
    notes_missing: list = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def best_possible_esr(self) -> float | None:
        return None if self.repeat_esr is None else self.repeat_esr / 2.0

    def lines(self) -> list[str]:
        """Every finding, one line each: fine ones plain, then ``warning:`` and ``PROBLEM:``."""
        return (self.findings + [f"warning: {w}" for w in self.warnings]
                + [f"PROBLEM: {p}" for p in self.problems])

    def __str__(self) -> str:
        return "\n".join([f"capture signal: {self.source}"] + [f"  {line}" for line in self.lines()])


# --------------------------------------------------------------------------- timing


def response_onset(x: np.ndarray, threshold_abs: float = ONSET_ABS_FLOOR) -> int | None:
    """First index where |x| exceeds both ``threshold_abs`` and ``ONSET_DB`` below x's own peak.

    None when nothing rises above ``threshold_abs``. Notebook: 12
    """
    a = np.abs(x)
    peak = float(a.max()) if a.size else 0.0
    thr = max(threshold_abs, peak * 10 ** (ONSET_DB / 20))
    if peak <= threshold_abs:
        return None
    return int(np.argmax(a > thr))


def _subsample_shift(x: np.ndarray, ref: np.ndarray) -> float:
    """How many samples later x is than ref, to a fraction of a sample."""
    n = 1 << int(math.ceil(math.log2(2 * max(x.size, ref.size))))
    spec = np.fft.rfft(x, n) * np.conj(np.fft.rfft(ref, n))
    up = n * TIMING_UPSAMPLE
    r = np.fft.irfft(spec, up)  # zero-padding the spectrum interpolates the correlation
    i = int(np.argmax(r))
    y0, y1, y2 = r[i - 1], r[i], r[(i + 1) % up]
    den = y0 - 2 * y1 + y2
    frac = 0.5 * (y0 - y2) / den if den != 0 else 0.0
    lag = (i + frac) / TIMING_UPSAMPLE
    return lag - n if lag > n / 2 else lag


@dataclass(frozen=True)
class MarkTiming:
    """Latency and drift from the timing marks.

    Notebook: 12
    """

    latency: int
    peak_delay: int
    drift: float  # fractional: 20 ppm is 2e-5
    found: int
    residual: float  # RMS distance of the arrivals from the fitted line, samples


def mark_timing(target: np.ndarray, layout: dict) -> MarkTiming | None:
    """Latency (integer samples at the signal's start) and drift from the marks, or None.

    Notebook: 12
    """
    sr = layout["sample_rate"]
    marks = np.asarray(layout["marks"])
    noise = target[: int(round(NOISE_WINDOW_S * sr))]
    floor = max(ONSET_NOISE_FACTOR * float(np.max(np.abs(noise))) if noise.size else 0.0, ONSET_ABS_FLOOR)
    late, search = int(round(MAX_LATENCY_S * sr)), int(round(MARK_SEARCH_S * sr))
    resp = int(round(RESPONSE_S * sr))
    first = response_onset(target[noise.size:min(marks[0] + late, target.size)], floor)
    if first is None:
        return None
    coarse = first + noise.size - int(marks[0])
    found, onsets, windows = [], [], []
    for m in marks:
        a, b = max(m + coarse - search, 0), min(m + coarse + search, target.size)
        if b - a <= resp:
            continue
        on = response_onset(target[a:b], floor)
        if on is None or a + on + resp > target.size:
            continue
        on += a
        found.append(m)
        onsets.append(on)
        windows.append(target[on:on + resp])
    if len(found) < max(MARK_COUNT // 2, 2):
        return None
    found, onsets = np.asarray(found, float), np.asarray(onsets, float)
    # Arrival of each response relative to the first one, to a fraction of a sample.
    n = min(w.size for w in windows)
    arrivals = onsets + np.array([_subsample_shift(w[:n], windows[0][:n]) for w in windows])
    if np.ptp(found) > 0:
        slope, icpt = np.polyfit(found, arrivals, 1)
    else:  # pragma: no cover - marks always spread over the signal
        slope, icpt = 1.0, float(np.mean(arrivals - found))
    residual = float(np.sqrt(np.mean((arrivals - (slope * found + icpt)) ** 2)))
    drift = float(slope - 1.0)
    latency = int(round(float(np.median(onsets - slope * found))))
    peaks = [int(np.argmax(np.abs(w))) for w in windows]
    return MarkTiming(latency, int(np.median(peaks)), drift, len(found), residual)


def _sinc_read(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """x read at the (fractional) positions t: Kaiser-windowed sinc interpolation."""
    base = np.floor(t).astype(np.int64)
    frac = t - base
    out = np.zeros(t.size)
    window = np.kaiser(2 * SINC_HALF, SINC_BETA)
    for j, k in enumerate(range(-SINC_HALF + 1, SINC_HALF + 1)):
        idx = base + k
        ok = (idx >= 0) & (idx < x.size)
        w = np.sinc(k - frac) * window[j]
        out[ok] += w[ok] * x[idx[ok]]
    return out


# --------------------------------------------------------------------------- the report


def _describe_missing(missing: list[dict]) -> str:
    by_vel: dict = {}
    for n in missing:
        by_vel.setdefault(n["velocity"], []).append(n["midi"])
    parts = []
    for v, midis in sorted(by_vel.items()):
        lo, hi = min(midis), max(midis)
        span = note_name(lo) if lo == hi else f"{note_name(lo)} to {note_name(hi)}"
        parts.append(f"{len(midis)} at velocity {v:.2f} ({span})")
    return ", ".join(parts)


def _judge_latency(rep: CaptureReport, timing: MarkTiming, marks: int) -> None:
    ms = 1000 * timing.latency / rep.sample_rate
    line = (f"latency: the recording answers the timing marks {timing.latency} samples ({ms:.2f} ms) late "
            f"({timing.found} of {marks} marks; counting any delay of the gear itself; the response peaks "
            f"{timing.peak_delay} samples later)")
    if abs(timing.latency) > MAX_LAG_SAMPLES_OK:
        rep.problems.append(f"{line}: train with --align, or shift the recording {timing.latency} samples earlier")
    else:
        rep.findings.append(line)


def _judge_drift(rep: CaptureReport, timing: MarkTiming, frames: int) -> None:
    rep.drift_ppm, rep.slide = 1e6 * timing.drift, timing.drift * frames
    line = (f"drift: the recording clock runs {rep.drift_ppm:+.2f} ppm against the playback clock, "
            f"{rep.slide:+.1f} samples over the signal")
    if timing.residual > DRIFT_RESIDUAL_MAX:
        rep.problems.append(
            f"the timing marks do not follow one clock (they stray {timing.residual:.1f} samples from a straight "
            "line): the recording has a dropout or an edit; record it again in one take, with a larger buffer")
    elif abs(rep.slide) >= SLIDE_PROBLEM:
        rep.problems.append(f"{line}: play and record through one interface (one clock), or lock the "
                            "two devices to one word clock, and record again")
    elif abs(rep.slide) >= SLIDE_WARN:
        rep.warnings.append(f"{line}: small, but one clock for playback and recording avoids it")
    else:
        rep.findings.append(line)


def _judge_floor(rep: CaptureReport, target: np.ndarray, first_response: float) -> float | None:
    """The noise floor's RMS, from the recording before its first response (None if it has none)."""
    noise = target[: max(int(math.floor(first_response)) - 2, 0)]
    if noise.size < 64:
        rep.warnings.append("noise floor: the recording starts too late to hold the silent lead-in; "
                            "start recording before playback starts")
        return None
    floor = float(np.sqrt(np.mean(noise**2)))
    rep.noise_floor_dbfs = 20 * math.log10(max(floor, 1e-12))
    below = 20 * math.log10(max(float(np.sqrt(np.mean(target**2))), 1e-12) / max(floor, 1e-12))
    line = f"noise floor: {rep.noise_floor_dbfs:.1f} dBFS, {below:.0f} dB below the recording's RMS"
    if below < FLOOR_WARN_DB:
        rep.warnings.append(f"{line}: turn the gear's output or the interface's input gain up, "
                            "and look for hum (a ground loop, a cable near a power supply)")
    else:
        rep.findings.append(line)
    return floor


def _judge_repeat(rep: CaptureReport, target: np.ndarray, at, repeat: dict) -> None:
    settle = int(round(SETTLE_S * rep.sample_rate))
    k = np.arange(settle, repeat["length"] - settle, dtype=np.float64)
    ta, tb = at(repeat["source_start"] + k), at(repeat["start"] + k)
    if tb[-1] + SINC_HALF >= target.size or ta[0] < 0:
        rep.warnings.append("repeat: the recording does not hold both takes of the repeated passage; "
                            "record until the signal has finished")
        return
    rep.repeat_esr = esr(_sinc_read(target, ta), _sinc_read(target, tb))
    line = (f"repeat: the two takes of the repeated passage differ by ESR {rep.repeat_esr:.2g}: "
            f"no model can score much below ESR {rep.best_possible_esr:.2g} on this capture")
    if rep.repeat_esr > REPEAT_PROBLEM_ESR:
        rep.problems.append(f"{line}; the gear does not repeat itself (a noise gate, modulation, a "
                            "time-based effect): switch those off, and record again")
    elif rep.repeat_esr > REPEAT_WARN_ESR:
        rep.warnings.append(f"{line}; the gear is noisy or changes with time: switch off modulation and "
                            "noise gates, let tubes warm up, and keep cables away from power supplies")
    else:
        rep.findings.append(line)


def _judge_notes(rep: CaptureReport, target: np.ndarray, at, layout: dict, floor: float | None) -> None:
    notes = layout.get("notes", [])
    rep.notes_total = len(notes)
    threshold = max((floor or 0.0) * 10 ** (NOTE_ABOVE_FLOOR_DB / 20), ONSET_ABS_FLOOR)
    for nt in notes:
        a, b = int(round(at(nt["start"]))), int(round(at(nt["end"])))
        if a < 0 or b > target.size or float(np.sqrt(np.mean(target[a:b] ** 2))) <= threshold:
            rep.notes_missing.append(nt)
    last = max(s["end"] for s in layout["sections"] if s["kind"] != "silence")
    short = float(at(last)) - target.size
    if short > 0:
        rep.problems.append(f"the recording stops {short / rep.sample_rate:.1f} s before the signal's last sound: "
                            "record until the signal has finished")
    if rep.notes_missing:
        rep.problems.append(f"notes: {len(rep.notes_missing)} of {rep.notes_total} notes of the signal are not "
                            f"in the recording ({_describe_missing(rep.notes_missing)}): switch off any noise "
                            "gate, raise the reamp level, and record the whole signal")
    elif notes:
        midis = [nt["midi"] for nt in notes]
        rep.findings.append(f"notes: every note from {note_name(min(midis))} to {note_name(max(midis))} answered "
                            f"({len(notes)} notes: single, in chords and palm-muted)")


def analyze_capture(target: np.ndarray, sr: int, layout: dict, source: str = "its layout from the sidecar"
                    ) -> CaptureReport:
    """Everything the capture signal (described by ``layout``) lets us measure in its recording.

    Notebook: 12
    """
    target = np.asarray(target, dtype=np.float64).reshape(-1)
    # An interface's DC offset is no sound: take the lead-in's mean out before measuring.
    target = target - float(np.mean(target[: int(round(NOISE_WINDOW_S * sr))]))
    rep = CaptureReport(int(sr), source)
    if layout.get("format") != FORMAT:
        raise GuneampError("this layout is not a capture-signal layout")  # pragma: no cover - internal misuse
    timing = mark_timing(target, layout)
    if timing is None:
        rep.problems.append(
            "the timing marks are not in the recording: record the capture signal from its first sample "
            "(the clicks are in its first 3 s), with the gear's output reaching the interface")
        return rep
    rep.latency, rep.peak_delay, rep.marks_found = timing.latency, timing.peak_delay, timing.found
    _judge_latency(rep, timing, len(layout["marks"]))
    _judge_drift(rep, timing, layout["frames"])

    def at(pos):  # where a position of the signal lies in the recording
        return timing.latency + (1.0 + timing.drift) * np.asarray(pos, dtype=np.float64)

    floor = _judge_floor(rep, target, float(at(layout["marks"][0])))
    _judge_repeat(rep, target, at, next(r for r in layout["repeats"] if r["name"] == "repeat"))
    _judge_notes(rep, target, at, layout, floor)
    return rep


def reference_notes(sr: int, seed: int = 0) -> np.ndarray:
    """Each note of the neck once, at a middle dynamic: what a DI should cover.

    Notebook: 12
    """
    seconds = len(NECK) * REFERENCE_NOTE_S  # one dynamic at this length
    score = notes_plan(0.0, seconds)
    return render_score(score, int(round((seconds + REFERENCE_NOTE_S) * sr)), sr, np.random.default_rng(seed))


def di_coverage_line(clean, sr: int) -> str | None:
    """For a DI that is not the capture signal: one line if it misses part of the neck, else None.

    ``clean`` is an array, or a ``(read, n)`` pair (a file read in pieces). Only the
    bands of the neck's fundamentals are compared, whatever the rate: the advice is to
    play notes, and a 192 kHz file's empty ultrasound is no note.

    Notebook: 12
    """
    cv = coverage(clean, reference_notes(sr), sr, fmax=NECK_TOP_HZ)
    if not cv.uncovered_bands_hz:
        return None
    lo, hi = min(cv.uncovered_bands_hz), max(cv.uncovered_bands_hz)
    return (f"coverage: {100 * cv.uncovered_share:.0f}% of a guitar played over the whole neck lies in bands "
            f"({lo:.0f} to {hi:.0f} Hz, the notes {nearest_note(lo)} to {nearest_note(hi)}) where this DI has at "
            f"least {cv.margin_db:.0f} dB less: a model will not learn the gear there; play those notes too, or "
            "reamp the signal of `guneamp capture-signal`")


def nearest_note(hz: float) -> str:
    """The name of the note nearest ``hz`` ('A4' for 440 Hz).

    Notebook: 12
    """
    return note_name(int(round(69 + 12 * math.log2(hz / 440.0))))


def capture_check(clean_path, target_path) -> CaptureReport | None:
    """Read a clean/target pair; if the clean file is the capture signal, analyse the recording.

    Returns None for any other DI. Unreadable files raise :class:`GuneampError`.

    Notebook: 12
    """
    with AudioReader(clean_path, what="clean") as rc, AudioReader(target_path, what="target") as rt:
        sr = rc.sample_rate
        found = find_file_layout(clean_path, rc.read, rc.frames, sr)
        if found is None:
            return None
        if rt.sample_rate != sr:
            raise GuneampError(f"the capture signal is {sr} Hz but the recording {rt.sample_rate} Hz: record at the "
                               "signal's rate, or write the signal again at the recording's rate with --rate")
        return _analyze_file(rt, sr, found)


def _analyze_file(rt: AudioReader, sr: int, found: tuple[dict, str]) -> CaptureReport:
    """:func:`analyze_capture` on the recording's first :data:`CAPTURE_TAIL_S` past the signal's end."""
    return analyze_capture(rt.read(0, found[0]["frames"] + int(CAPTURE_TAIL_S * sr)), sr, *found)


def check_capture_pair(clean_path, target_path, max_lag_s: float = DEFAULT_MAX_LAG_S, *,
                       block: int = READ_BLOCK) -> tuple[PairReport, CaptureReport | None]:
    """:func:`checks.check_pair`, plus the capture-signal findings when the clean file is the signal.

    The marks' latency replaces the music-based lag in the verdict (the lag line stays, for
    comparison). For any other DI, a coverage warning says if it misses part of the neck.
    The files are read ``block`` samples at a time.

    Notebook: 12
    """
    with AudioReader(clean_path, what="clean") as rc, AudioReader(target_path, what="target") as rt:
        report = check_readers(rc, rt, max_lag_s, block=block)
        if not report.rates_match or report.clean.silent or report.target.silent:
            return report, None
        sr = report.clean.sample_rate
        found = find_file_layout(clean_path, rc.read, rc.frames, sr)
        if found is None:
            line = di_coverage_line((rc.read, rc.frames), sr)
            if line:
                report.warnings.append(line)
            return report, None
        cap = _analyze_file(rt, sr, found)
    if cap.latency is not None and report.lag is not None:
        said = report.lag.where(report.what)
        report.problems = [p for p in report.problems if not p.startswith(said)]
    report.findings += [f"capture signal: {cap.source}"] + cap.findings
    report.problems += cap.problems
    report.warnings += cap.warnings
    return report, cap
