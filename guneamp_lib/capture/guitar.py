"""A synthetic guitar DI performance: a score, then one plucked string per note (notebook 00).

:func:`synth_di` plays a guitar performance by plucked-string synthesis (an extended
Karplus-Strong string, one recursive filter per note, run by ``scipy.signal.lfilter``).
Phrases of riffs, strums, leads, arpeggios and ringing chords cover the whole neck, soft
to hard plucks, palm mutes and rests. Everything is deterministic from one integer seed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy import signal

from ..dsp.filters import biquad
from ..errors import GuneampError

SAMPLE_RATE = 44100

# ---------------------------------------------------------------------------
# The guitar: a score, then one plucked string per note
# ---------------------------------------------------------------------------

# Standard tuning E2 A2 D3 G3 B3 E4, as MIDI note numbers; string 0 is the low E.
OPEN_STRINGS = (40, 45, 50, 55, 59, 64)
# A 24-fret neck: the high E string reaches E6 (MIDI 88, 1319 Hz).
FRETS = 24
# Peak level of the DI. A power of two, so scaling by it is exact in floating point and
# the training pipeline's peak normalization recovers exactly what drove the amp.
DI_PEAK = 0.5
# Silence before the first note, as in a real take.
LEAD_IN_S = 0.25

# String decay: T60 of the fundamental of an open low E; higher notes ring shorter,
# roughly as (E2 / f0) ** 0.5 on real guitars.
E2_HZ = 82.41
OPEN_T60_E2_S = 5.0
# Upper partials die faster than the fundamental: T60 at the reference frequency below,
# as a fraction of the fundamental's T60. This is what makes a note darken as it rings.
HF_T60_RATIO = 0.12
HF_REF_HZ = 3000.0
# Palm mutes: the heel of the hand damps the string, so it dies in a fraction of a second
# and loses its highs almost at once.
MUTE_T60_S = (0.12, 0.30)
MUTE_HF_T60_RATIO = 0.15
# When a finger lifts (note-off), the string is damped with this time constant.
RELEASE_S = 0.03
# A new note on the same string stops the old vibration almost at once.
CUT_RELEASE_S = 0.006
# How many release time constants a note is rendered for after note-off (~-52 dB).
RELEASE_TAUS = 6.0
# Pick brightness: pole of the one-pole lowpass on the excitation, for the softest and
# hardest plucks. A harder pluck is brighter as well as louder.
EXC_POLE_SOFT = 0.85
EXC_POLE_HARD = 0.15
# Pluck position as a fraction of the string length (0.5 is the 12th fret): a pick near
# the bridge, which notches out every 1/beta-th harmonic.
PLUCK_POSITION = (0.08, 0.25)
# Pickup plus cable: a resonant lowpass peak, a few dB high, in this range.
PICKUP_HZ = (3500.0, 4800.0)
PICKUP_Q = (1.4, 2.2)
# Below the low E string there is nothing to keep; this also removes any offset.
DI_HIGHPASS_HZ = 30.0


@dataclass(frozen=True)
class Note:
    """One note of the performance (times in seconds).

    Notebook: 00
    """

    start: float
    dur: float  # until the fretting hand damps it
    midi: int
    string: int  # 0 = low E ... 5 = high E
    velocity: float  # pick strength, 0..1
    kind: str  # "single", "chord" (part of a strum) or "mute" (palm-muted)
    legato: bool = False  # hammer-on or pull-off: no pick attack
    release: float = RELEASE_S

    @property
    def f0(self) -> float:
        return 440.0 * 2.0 ** ((self.midi - 69) / 12.0)


# Chord shapes as frets per string (None = not played); movable ones are shifted up the neck.
_OPEN_SHAPES = (
    (0, 2, 2, 1, 0, 0), (0, 2, 2, 0, 0, 0), (None, 0, 2, 2, 2, 0), (None, 0, 2, 2, 1, 0),
    (None, None, 0, 2, 3, 2), (3, 2, 0, 0, 0, 3), (None, 3, 2, 0, 1, 0),
)
_BARRE_SHAPES = ((0, 2, 2, 1, 0, 0), (0, 2, 2, 0, 0, 0), (None, 0, 2, 2, 2, 0), (None, 0, 2, 2, 1, 0))
_POWER_SHAPES = ((0, 2, 2, None, None, None), (None, 0, 2, 2, None, None))
# Pentatonic minor and major, as semitones above the tonic.
_SCALES = ((0, 3, 5, 7, 10), (0, 2, 4, 7, 9))


class _Player:
    """Writes notes for the phrase generators; knows the neck and the dynamics."""

    def __init__(self, rng: np.random.Generator, key: int):
        self.rng = rng
        self.key = key
        self.scale = _SCALES[rng.integers(len(_SCALES))]  # one mode for the whole take
        self.notes: list[Note] = []

    def vel(self, level: float, spread: float = 0.15) -> float:
        return float(np.clip(level * self.rng.uniform(1 - spread, 1 + spread), 0.08, 1.0))

    def add(self, t, dur, string, fret, vel, kind, legato=False):
        self.notes.append(Note(float(t), float(max(dur, 0.02)), OPEN_STRINGS[string] + int(fret),
                               int(string), float(vel), kind, bool(legato)))

    def strum(self, t, shape, vel, dur, kind, down=True, spread=None):
        """Strings a few ms apart, low to high on a downstroke; upstrokes catch the top strings."""
        strings = [s for s, f in enumerate(shape) if f is not None]
        if not down:
            strings = strings[::-1][: self.rng.integers(3, len(strings) + 1)]
        spread = self.rng.uniform(0.004, 0.012) if spread is None else spread
        for j, s in enumerate(strings):
            accent = 1.0 - 0.03 * j  # the pick loses a little energy string by string
            self.add(t + j * spread, dur - j * spread, s, shape[s], self.vel(vel * accent, 0.08), kind)

    def chord(self, power: bool = False) -> tuple:
        rng = self.rng
        if power:
            shape = _POWER_SHAPES[rng.integers(len(_POWER_SHAPES))]
            fret = int(rng.integers(0, 10))
        elif rng.random() < 0.45:
            return _OPEN_SHAPES[rng.integers(len(_OPEN_SHAPES))]
        else:
            shape = _BARRE_SHAPES[rng.integers(len(_BARRE_SHAPES))]
            fret = int(rng.integers(1, 11))
        return tuple(None if f is None else f + fret for f in shape)

    def scale_positions(self, lo_fret: int, hi_fret: int, strings) -> list[tuple[int, int, int]]:
        """(midi, string, fret) of the key's pentatonic notes in a hand position, low to high."""
        pcs = {(self.key + i) % 12 for i in self.scale}
        pos = {}
        for s in strings:
            for f in range(max(lo_fret, 0), min(hi_fret, FRETS) + 1):
                m = OPEN_STRINGS[s] + f
                if m % 12 in pcs and m not in pos:
                    pos[m] = (m, s, f)
        return [pos[m] for m in sorted(pos)]

    def root_fret(self, string: int) -> int:
        """The lowest fret on this string that plays the key's tonic."""
        return (self.key - OPEN_STRINGS[string]) % 12


# Each phrase holds single notes, chords and palm mutes, and lasts a few seconds, so any
# stretch of the take (the validation split is its last 20 %) hears all three.


def _riff(p: _Player, t: float, six: float, level: float) -> float:
    """Palm-muted chugs on a low string, power-chord stabs, a single-note fill."""
    rng = p.rng
    s = int(rng.integers(0, 2))
    root = p.root_fret(s)
    steps = 16
    stab_at = int(rng.integers(4, 9))
    fill_at = steps - int(rng.integers(3, 5))
    fill = p.scale_positions(root + 2, root + 7, (2, 3, 4))
    i = 0
    while i < steps:
        ts = t + i * six
        if i == stab_at or (0 < i < fill_at - 3 and rng.random() < 0.08):
            move = root + int(rng.choice([0, 3, 5, 7]))  # the stab moves up the neck: I, bIII, IV, V
            shape = tuple(None if f is None else f + move for f in _POWER_SHAPES[s])
            n = int(rng.integers(2, 4))
            p.strum(ts, shape, min(level * 1.15, 1.0), n * six, "chord")
            i += n
            continue
        if i >= fill_at and fill:
            _, fs_, ff = fill[int(rng.integers(len(fill)))]
            p.add(ts, six * 0.95, fs_, ff, p.vel(level), "single")
        elif rng.random() < 0.12 and i > 0:
            pass  # a rest inside the riff
        elif rng.random() < 0.3:
            p.strum(ts, tuple(None if f is None else f + root for f in _POWER_SHAPES[s]),
                    level * 0.85, six * 0.8, "mute", spread=0.003)
        else:
            accent = 1.0 if i % 4 == 0 else 0.75
            p.add(ts, six * 0.8, s, root, p.vel(level * accent), "mute")
        i += 1
    return t + steps * six


def _strumming(p: _Player, t: float, six: float, level: float) -> float:
    """Two or three strummed chords (one of them palm-muted), then a short melodic tag."""
    rng = p.rng
    n_chords = int(rng.integers(2, 4))
    muted = int(rng.integers(n_chords))
    for c in range(n_chords):
        if c:  # a single-note bass walk into the next chord, country style
            bass = p.scale_positions(0, 4, (0, 1))
            for _ in range(int(rng.integers(1, 3))):
                _, s, f = bass[int(rng.integers(len(bass)))]
                p.add(t, six, s, f, p.vel(level * 0.9), "single")
                t += six
        shape = p.chord()
        length = int(rng.choice([4, 6, 8]))
        for step in range(0, length, 2):
            down = step % 4 == 0
            if step and not down and rng.random() < 0.4:
                continue
            last = step + 2 >= length
            if c == muted:
                p.strum(t + step * six, shape, level * 0.8, six * 1.4, "mute", down=down, spread=0.004)
            else:
                dur = (length - step) * six if last else 2 * six
                p.strum(t + step * six, shape, level * (1.0 if down else 0.75), dur, "chord", down=down)
        t += length * six
    tag = p.scale_positions(3, 10, (2, 3, 4, 5))
    for _ in range(int(rng.integers(2, 5))):
        _, s, f = tag[int(rng.integers(len(tag)))]
        p.add(t, 2 * six, s, f, p.vel(level), "single")
        t += 2 * six
    return t


def _lead(p: _Player, t: float, six: float, level: float) -> float:
    """A muted pickup, a pentatonic line with legato runs, a held note, a chord stab."""
    rng = p.rng
    p.strum(t, p.chord(power=True), level, 2 * six, "chord")  # a hit to launch the line from
    t += 2 * six
    s = int(rng.integers(0, 2))
    for _ in range(int(rng.integers(1, 3))):
        p.add(t, six * 0.8, s, p.root_fret(s), p.vel(level * 0.8), "mute")
        t += six
    lo = int(rng.integers(0, FRETS - 3))  # up to frets 20-24: E6 on the high E string
    line = p.scale_positions(lo, lo + 4, (2, 3, 4, 5))
    i = int(rng.integers(len(line)))
    for _ in range(int(rng.integers(4, 7))):
        if rng.random() < 0.35:  # a legato run: one pick, then hammer-ons or pull-offs
            step = 1 if rng.random() < 0.5 else -1
            quick = six * float(rng.choice([0.5, 0.75]))
            for k in range(int(rng.integers(3, 5))):
                i = int(np.clip(i + (step if k else 0), 0, len(line) - 1))
                _, ls, lf = line[i]
                p.add(t, quick, ls, lf, p.vel(level * (1.0 if k == 0 else 0.7)), "single", legato=k > 0)
                t += quick
        else:
            i = int(np.clip(i + int(rng.choice([-2, -1, 1, 2])), 0, len(line) - 1))
            _, ls, lf = line[i]
            n = int(rng.choice([1, 2, 2, 3]))
            p.add(t, n * six, ls, lf, p.vel(level), "single")
            t += n * six
    for _ in range(2):  # muted low notes answer the line
        p.add(t, six * 0.8, s, p.root_fret(s), p.vel(level * 0.8), "mute")
        t += six
    _, ls, lf = line[int(rng.integers(len(line)))]
    hold = float(rng.uniform(0.4, 0.9))
    p.add(t, hold, ls, lf, p.vel(level), "single")
    t += hold
    p.strum(t, p.chord(power=rng.random() < 0.5), level, 3 * six, "chord")
    return t + 3 * six


def _arpeggio(p: _Player, t: float, six: float, level: float) -> float:
    """A strummed chord, the same shape picked string by string and let ring, then chugs."""
    rng = p.rng
    shape = p.chord()
    p.strum(t, shape, level, 4 * six, "chord")
    t += 4 * six
    strings = [s for s, f in enumerate(shape) if f is not None]
    order = strings + strings[-2:0:-1]
    n = int(rng.integers(6, 11))
    for k in range(n):
        s = order[k % len(order)]
        p.add(t, (n - k) * six, s, shape[s], p.vel(level * 0.85), "single")
        t += six
    for _ in range(int(rng.integers(2, 5))):
        p.add(t, six * 0.8, strings[0], shape[strings[0]], p.vel(level), "mute")
        t += six
    return t


def _ringing(p: _Player, t: float, six: float, level: float) -> float:
    """A slow soft strum left to ring, soft muted pulses, a long held note up the neck."""
    rng = p.rng
    level = level * 0.6
    ring = float(rng.uniform(0.8, 1.3))
    p.strum(t, p.chord(), level, ring, "chord", spread=float(rng.uniform(0.015, 0.03)))
    t += ring
    s = int(rng.integers(0, 2))
    for _ in range(int(rng.integers(2, 5))):
        p.add(t, six * 0.8, s, p.root_fret(s), p.vel(level), "mute")
        t += six
    lo = int(rng.integers(7, FRETS - 2))
    line = p.scale_positions(lo, lo + 3, (3, 4, 5))
    for _ in range(int(rng.integers(0, 3))):
        _, s, f = line[int(rng.integers(len(line)))]
        p.add(t, six * 2, s, f, p.vel(level), "single")
        t += six * 2
    _, s, f = line[-1]
    hold = float(rng.uniform(0.6, 1.2))
    p.add(t, hold, s, f, p.vel(level * 1.2), "single")
    return t + hold


_PHRASES = (_riff, _strumming, _lead, _arpeggio, _ringing)
# Tempo range of the phrases (beats per minute); a sixteenth note is 15/bpm seconds.
TEMPO_BPM = (90.0, 150.0)
# Rests between phrases: mostly short breaths, sometimes a real silence.
SHORT_REST_S = (0.08, 0.3)
LONG_REST_S = (0.6, 1.0)
LONG_REST_PROB = 0.3


def _damp_overlaps(notes: list[Note]) -> list[Note]:
    """One string sounds one note at a time: a new note on a string stops the previous one."""
    out = []
    for s in range(len(OPEN_STRINGS)):
        on = sorted((n for n in notes if n.string == s), key=lambda n: n.start)
        for a, b in zip(on, on[1:] + [None]):
            if b is not None and a.start + a.dur > b.start - CUT_RELEASE_S:
                a = dataclasses.replace(a, dur=max(b.start - a.start, 0.01), release=CUT_RELEASE_S)
            out.append(a)
    return sorted(out, key=lambda n: (n.start, n.string))


def _compose(seconds: float, rng: np.random.Generator) -> list[Note]:
    p = _Player(rng, key=int(rng.integers(12)))
    t = LEAD_IN_S
    order: list = []
    prev = None
    while t < seconds:
        if not order:  # a fresh shuffled round of all phrase types, never repeating back to back
            order = list(rng.permutation(len(_PHRASES)))
            if order[0] == prev:
                order.append(order.pop(0))
        prev = order.pop(0)
        six = 15.0 / rng.uniform(*TEMPO_BPM)
        level = float(rng.uniform(0.3, 1.0))
        t = _PHRASES[prev](p, t, six, level)
        rest = LONG_REST_S if rng.random() < LONG_REST_PROB else SHORT_REST_S
        t += float(rng.uniform(*rest))
    notes = [n for n in p.notes if n.start < seconds]
    return _damp_overlaps(notes)


def guitar_score(seconds: float = 40.0, seed: int = 0) -> list[Note]:
    """The notes :func:`synth_di` plays for this seed (for piano rolls and tests).

    Notebook: 00
    """
    _check_seconds(seconds)
    return _compose(seconds, np.random.default_rng(seed))


def _check_seconds(seconds: float) -> None:
    if not np.isfinite(seconds) or seconds <= 0:
        raise GuneampError(f"seconds must be a positive number, not {seconds!r}.")


def _loop_pole(f0: float, t60: float, t60_hi: float, sr: int) -> float:
    """Pole ``a`` of the loop lowpass (1-a)/(1-a z^-1) that gives partials at HF_REF_HZ a T60 of t60_hi.

    Per period a partial at f is scaled by g|H(f)|; asking for T60 at f0 and at HF_REF_HZ
    fixes the ratio |H(HF_REF)|/|H(f0)|, which is a quadratic in ``a`` with roots a and 1/a.
    """
    f_hi = min(HF_REF_HZ, 0.45 * sr)
    if t60_hi >= t60 or f_hi <= f0 * 1.05:
        return 0.0
    r = 10.0 ** (-3.0 / (f0 * t60_hi)) / 10.0 ** (-3.0 / (f0 * t60))
    big_r = r * r
    c0, c1 = np.cos(2 * np.pi * f0 / sr), np.cos(2 * np.pi * f_hi / sr)
    b = (c0 - big_r * c1) / (big_r - 1.0)
    disc = b * b - 1.0
    if disc <= 0:
        return 0.0
    return float(np.clip(-b - np.sqrt(disc), 0.0, 0.95))


def _pluck(note: Note, sr: int, rng: np.random.Generator) -> np.ndarray:
    """One note of an extended Karplus-Strong string, damped at note-off.

    The string is a delay line of one period closed by a loop lowpass (decay and
    darkening), a first-order allpass (the fractional part of the period, so the note is
    in tune) and a gain (the fundamental's decay). As one rational transfer function this
    is an ordinary IIR filter, so lfilter runs the whole note in C.
    """
    f0 = note.f0
    period = sr / f0
    vel = note.velocity
    if note.kind == "mute":
        t60 = float(rng.uniform(*MUTE_T60_S))
        t60_hi = t60 * MUTE_HF_T60_RATIO
        exc_pole = 0.9 - 0.2 * vel
    else:
        t60 = OPEN_T60_E2_S * (E2_HZ / f0) ** 0.5 * float(rng.uniform(0.8, 1.2))
        t60_hi = t60 * HF_T60_RATIO
        exc_pole = EXC_POLE_SOFT - (EXC_POLE_SOFT - EXC_POLE_HARD) * vel
    amp = vel ** 1.5
    if note.legato:  # the fretting finger, not the pick, sets the string going: softer and darker
        exc_pole = max(exc_pole, 0.8)
        amp *= 0.7

    a = _loop_pole(f0, t60, t60_hi, sr)
    w0 = 2 * np.pi * f0 / sr
    lp_delay = np.arctan2(a * np.sin(w0), 1 - a * np.cos(w0)) / w0
    rest = period - lp_delay
    n_int = int(rest - 0.5)  # leaves an allpass delay in [0.5, 1.5), where it is well behaved
    frac = rest - n_int
    c = (1 - frac) / (1 + frac)
    lp_gain = (1 - a) / abs(1 - a * np.exp(-1j * w0))
    g = min(10.0 ** (-3.0 / (f0 * t60)) / lp_gain, 0.99999)
    # Y/X = D / (D - g z^-N (1-a)(c + z^-1)), with D = (1 - a z^-1)(1 + c z^-1).
    den_loop = np.array([1.0, c - a, -a * c])
    den = np.zeros(n_int + 2)
    den[:3] = den_loop
    den[n_int] -= g * (1 - a) * c
    den[n_int + 1] -= g * (1 - a)

    # Excitation: one period of noise, lowpassed by pick strength, combed by pick position.
    n_exc = max(int(round(period)), 2)
    e = rng.uniform(-1.0, 1.0, n_exc)
    e = signal.lfilter([1 - exc_pole], [1, -exc_pole], e)
    e -= e.mean()
    m = max(1, int(round(rng.uniform(*PLUCK_POSITION) * period)))
    exc = np.zeros(n_exc + m)
    exc[:n_exc] += e
    exc[m:] -= e
    exc *= amp / (np.sqrt(np.mean(exc ** 2)) + 1e-12)

    n_on = int(round(note.dur * sr))
    n_rel = max(note.release * sr, 1.0)
    n_total = n_on + int(RELEASE_TAUS * n_rel)
    x = np.zeros(max(n_total, exc.size))
    x[: exc.size] = exc
    y = signal.lfilter(den_loop, den, x)[:n_total]
    k = np.arange(n_total - n_on)
    # Exponential damping after note-off, bent to reach exactly zero at the end.
    y[n_on:] *= np.exp(-k / n_rel) * (1.0 - k / max(k.size, 1))
    return y


def render_score(score: list[Note], frames: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Play ``score`` into ``frames`` samples: plucked strings, a pickup, the DI's highpass.

    Not normalized. The pluck noise and then the pickup's resonance are drawn from ``rng``,
    so :func:`synth_di` and the capture signal (notebook 12) share one guitar.

    Notebook: 00
    """
    out = np.zeros(frames)
    for note in score:
        start = int(round(note.start * sr))
        y = _pluck(note, sr, rng)
        end = min(frames, start + y.size)
        out[start:end] += y[: end - start]
    pickup = biquad("lowpass", float(rng.uniform(*PICKUP_HZ)), sr, q=float(rng.uniform(*PICKUP_Q)))
    sos = np.vstack([pickup, signal.butter(2, DI_HIGHPASS_HZ, "highpass", fs=sr, output="sos")])
    return signal.sosfilt(sos, out)


def synth_di(seconds: float = 40.0, sr: int = SAMPLE_RATE, seed: int = 0) -> np.ndarray:
    """A DI electric-guitar take, float32 mono at peak DI_PEAK (0.5); same seed, same samples.

    Phrases of riffs, strums, leads, arpeggios and ringing chords cover E2 to E6, soft to
    hard plucks, palm mutes and rests; each phrase holds single notes, chords and palm
    mutes, so any fifth of the take hears all three.

    Notebook: 00
    """
    _check_seconds(seconds)
    if sr < 16000:
        raise GuneampError(f"sample rate {sr} Hz is too low for a guitar; use 44100 or 48000.")
    rng = np.random.default_rng(seed)
    score = _compose(seconds, rng)
    out = render_score(score, int(round(seconds * sr)), sr, rng)
    peak = np.max(np.abs(out))
    if peak == 0:  # pragma: no cover - a take always has notes
        return out.astype(np.float32)
    return (out / peak).astype(np.float32) * np.float32(DI_PEAK)
