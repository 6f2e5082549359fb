"""The capture signal: the file you play through your own amp or pedal to model it.

Taught in notebook ``12_your_own_gear``; written by ``guneamp capture-signal``.

To model a piece of gear you *reamp* a known signal through it: play a clean DI file out
of the audio interface, through a reamp box into the amp, and record what comes back.
The course's checks and training then need two things from that signal. It must hold
what a player will later play through the model (every note of the neck, chords, palm
mutes, soft and hard), because a model learns the gear only where its training input
had energy (the coverage finding of notebook 12). And it must let the checks measure the
recording rig itself, which no guitar performance can:

* **Timing marks** (single-sample clicks on silence) at known positions, at the start
  and again near the end. The recording's first response to a click gives the latency
  of the round trip to the sample; the spacing of the responses between the start and
  the end gives the drift of the recording clock against the playback clock, in ppm.
* **Sweeps and noise at several levels**: every frequency at a quiet, a medium and a
  loud level, so the model sees the gear's small-signal tone as well as its clipping.
* **Synthetic DI playing over the whole neck**, from the plucked strings of
  :mod:`guitar`: each single note from the low E (E2) to the top fret of the high E
  string (E6), chords up the neck and palm-muted chugs, each at several dynamics, then a
  stretch of free playing.
* **A repeat**: the marks and a stretch of the playing, played again at the end. The two
  recorded takes differ only by the gear's noise and drift, which sets the noise floor
  and the best ESR any model can reach on this capture.

Where each section lies is a function of the length and the rate alone (the seed only
changes the pluck noise and the free playing), so :func:`capture_layout` can rebuild it
from a file's length and rate. The sidecar JSON written next to the WAV records the
layout anyway (sections, marks, repeats and every note, in samples), so a reader needs
nothing but the JSON. Like NAM's standard input file, this is the file to reamp: play it
from its first sample, and record until it has finished.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
from scipy import signal

from ..dsp.audio import save_wav
from ..errors import GuneampError
from ..paths import write_text_atomic
from ..vocabulary import CAPTURE_DEFAULT_SECONDS as DEFAULT_SECONDS
from ..vocabulary import CAPTURE_MAX_SECONDS as MAX_SECONDS
from ..vocabulary import CAPTURE_MIN_SECONDS as MIN_SECONDS
from ..vocabulary import CAPTURE_RATES as SAMPLE_RATES
from .guitar import DI_PEAK, FRETS, OPEN_STRINGS, Note, render_score, synth_di

FORMAT = "guneamp-capture-signal"
VERSION = 1

# Silence at the start: the noise floor of the recording is measured on it, and a
# recording that starts a little late still holds the first click.
LEAD_IN_S = 0.5
# Silence after the last sound, so the gear rings out inside the recording.
TAIL_S = 1.0
# Silence between sections: a cabinet and a spring reverb die away, so one section's
# response never leaks into the next section's measurement.
GAP_S = 0.25
# The timing marks: single-sample clicks, because a click is the shortest possible
# event, so the first sample of its response is the latency. Spaced far enough for
# an amp and cabinet to fall silent between them; eight of them, so a click lost to a
# dropout, or a noise burst, is outvoted.
MARK_COUNT = 8
MARK_SPACING_S = 0.3
MARK_LEVEL = DI_PEAK
# Sweeps: exponential, from below the low E string to 0.45 of the sample rate, at three
# peak levels relative to DI_PEAK (quiet: the gear's clean tone; loud: its clipping). The
# loud one stays 1 dB under DI_PEAK: a 30 Hz sine lingers at its crest for several
# samples, which the clipping check would take for a flat top.
SWEEP_S = 2.0
SWEEP_LOW_HZ = 30.0
SWEEP_TOP_FRACTION = 0.45
LEVELS_DB = (("quiet", -24.0), ("medium", -12.0), ("loud", -1.0))
# Noise bursts at the same three peak levels (scaled, never clipped: a flat top would
# read as clipping to the checks).
NOISE_S = 1.5
# Fade in and out of sweeps and noise, so their edges do not click.
FADE_S = 0.01
# Three dynamics for notes, chords and mutes: pick strength (velocity 0..1).
DYNAMICS = (0.25, 0.55, 0.9)
# A note shorter than this does not sound like a played note; with less time the notes
# section plays fewer dynamics rather than shorter notes.
MIN_NOTE_S = 0.3
# How the time left after the fixed sections is shared, in this order.
SHARES = (("notes", 0.36), ("chords", 0.18), ("mutes", 0.10), ("playing", 0.26), ("repeat", 0.10))
# Chords: open shapes, then barre and power shapes moved up the neck.
OPEN_CHORDS = ((0, 2, 2, 1, 0, 0), (None, 0, 2, 2, 2, 0), (3, 2, 0, 0, 0, 3), (None, 3, 2, 0, 1, 0))
BARRE_CHORDS = ((0, 2, 2, 1, 0, 0), (None, 0, 2, 2, 1, 0))
POWER_CHORD = (0, 2, 2, None, None, None)
BARRE_FRETS = (3, 7, 12)
POWER_FRETS = (0, 5, 10, 15)
# Strum: strings this far apart in time, low to high.
STRUM_SPREAD_S = 0.008
# Palm mutes: the two low strings at these frets, two chugs each.
MUTE_FRETS = (0, 3, 5, 7, 10, 12)
MUTE_HITS = 2
SEED_OFFSET_PLAYING = 1
# Every note of the neck, as MIDI numbers: the low E string open (E2) to the high E
# string's top fret (E6).
NECK = range(OPEN_STRINGS[0], OPEN_STRINGS[-1] + FRETS + 1)  # the free playing uses its own random stream (seed + this)


def _check_rate(sr) -> int:
    if sr not in SAMPLE_RATES:
        raise GuneampError(f"the capture signal's rate (--rate) must be {' or '.join(map(str, SAMPLE_RATES))} Hz, not {sr!r}.")
    return int(sr)


def check_seconds(seconds) -> float:
    """The length in seconds, validated; :class:`GuneampError` says the allowed range.

    Notebook: 12
    """
    try:
        seconds = float(seconds)
    except (TypeError, ValueError):
        raise GuneampError(f"--seconds must be a number, not {seconds!r}.") from None
    if not math.isfinite(seconds) or not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise GuneampError(f"--seconds must be between {MIN_SECONDS:.0f} and {MAX_SECONDS:.0f}, not {seconds!r}.")
    return seconds


def sidecar_path(wav_path) -> Path:
    """Where the layout of ``wav_path`` is written: the same name with ``.json``.

    Notebook: 12
    """
    return Path(wav_path).with_suffix(".json")


# --------------------------------------------------------------------------- the plan


def _string_for(midi: int) -> tuple[int, int]:
    """(string, fret) for a note: the highest string that reaches it, so notes climb the neck."""
    for s in range(len(OPEN_STRINGS) - 1, -1, -1):
        fret = midi - OPEN_STRINGS[s]
        if 0 <= fret <= FRETS:
            return s, fret
    raise GuneampError(f"MIDI note {midi} is not on the neck")  # pragma: no cover - internal misuse


def _dynamics(seconds: float, count: int) -> tuple[float, ...]:
    """All DYNAMICS if notes at least MIN_NOTE_S long fit, else the extremes, else the middle."""
    fit = int(seconds // (count * MIN_NOTE_S))
    return DYNAMICS if fit >= 3 else (DYNAMICS[0], DYNAMICS[-1]) if fit == 2 else (DYNAMICS[1],)


def notes_plan(t0: float, seconds: float) -> list[Note]:
    """Every note from E2 to E6, up the neck at each dynamic in turn, in ``seconds`` from ``t0``.

    Notebook: 12
    """
    dyn = _dynamics(seconds, len(NECK))
    slot = seconds / (len(NECK) * len(dyn))
    notes, t = [], t0
    for v in dyn:
        for m in NECK:
            s, _ = _string_for(m)
            notes.append(Note(t, 0.85 * slot, m, s, v, "single"))
            t += slot
    return notes


def _chord_shapes() -> list[tuple]:
    shapes = list(OPEN_CHORDS)
    shapes += [tuple(None if f is None else f + k for f in sh) for k in BARRE_FRETS for sh in BARRE_CHORDS]
    shapes += [tuple(None if f is None else f + k for f in POWER_CHORD) for k in POWER_FRETS]
    return shapes


def _strum(t: float, shape, vel: float, dur: float, kind: str) -> list[Note]:
    played = [(s, f) for s, f in enumerate(shape) if f is not None]
    return [Note(t + j * STRUM_SPREAD_S, dur - j * STRUM_SPREAD_S, OPEN_STRINGS[s] + f, s, vel, kind)
            for j, (s, f) in enumerate(played)]


def _chords_plan(t0: float, seconds: float) -> list[Note]:
    shapes = _chord_shapes()
    slot = seconds / (len(shapes) * len(DYNAMICS))
    notes = []
    for i, (v, shape) in enumerate((v, sh) for v in DYNAMICS for sh in shapes):
        notes += _strum(t0 + i * slot, shape, v, 0.85 * slot, "chord")
    return notes


def _mutes_plan(t0: float, seconds: float) -> list[Note]:
    hits = [(v, s, f) for v in DYNAMICS for s in (0, 1) for f in MUTE_FRETS for _ in range(MUTE_HITS)]
    slot = seconds / len(hits)
    return [Note(t0 + i * slot, 0.8 * slot, OPEN_STRINGS[s] + f, s, v, "mute") for i, (v, s, f) in enumerate(hits)]


def capture_layout(frames: int, sr: int) -> dict:
    """Where everything lies in a capture signal of ``frames`` samples at ``sr`` (the sidecar).

    A function of the length and rate alone: the checks rebuild it from a DI file that
    has lost its sidecar. Positions are sample indices; section ends are exclusive.

    Notebook: 12
    """
    sr = _check_rate(sr)
    seconds = check_seconds(frames / sr)
    sections, notes = [], []
    pos = 0

    def add(name: str, length_s: float, **extra) -> dict:
        nonlocal pos
        n = int(round(length_s * sr))
        sections.append({"name": name, "start": pos, "end": pos + n, **extra})
        pos += n
        return sections[-1]

    def gap():
        nonlocal pos
        pos += int(round(GAP_S * sr))

    add("lead_in", LEAD_IN_S, kind="silence")
    marks_s = MARK_COUNT * MARK_SPACING_S
    add("marks", marks_s, kind="marks")
    for kind, length in (("sweep", SWEEP_S), ("noise", NOISE_S)):
        for level, db in LEVELS_DB:
            add(f"{kind}_{level}", length, kind=kind, level_db=db)
            gap()
    # Everything after the noise that is not shared out: the repeated marks, the gaps, the
    # tail, and two gaps' slack so that rounding never eats into the tail.
    fixed = pos / sr + marks_s + 2 * GAP_S + TAIL_S + len(SHARES) * GAP_S
    left = seconds - fixed
    plans = {"notes": notes_plan, "chords": _chords_plan, "mutes": _mutes_plan}
    for name, share in SHARES:
        if name == "repeat":
            continue
        sec = add(name, share * left, kind="playing" if name == "playing" else "notes")
        if name in plans:
            t0 = sec["start"] / sr
            plan = plans[name](t0, (sec["end"] - sec["start"]) / sr)
            notes += [{"start": int(round(n.start * sr)), "end": int(round((n.start + n.dur) * sr)),
                       "midi": n.midi, "string": n.string, "velocity": n.velocity, "kind": n.kind} for n in plan]
        gap()
    marks = add("repeat_marks", marks_s, kind="marks", copy_of="marks")
    gap()
    playing = next(s for s in sections if s["name"] == "playing")
    rep_len = int(round(dict(SHARES)["repeat"] * left * sr))
    # The repeat copies the middle of the free playing: notes ringing into it from the
    # passage before would differ between the two takes at its start, but not in the middle.
    src = playing["start"] + max((playing["end"] - playing["start"] - rep_len) // 2, 0)
    rep = add("repeat", rep_len / sr, kind="playing", copy_of="playing", source_start=src)
    add("tail", 0.0, kind="silence")
    sections[-1]["end"] = frames
    spacing = int(round(MARK_SPACING_S * sr))
    first = sections[1]["start"] + spacing // 2
    return {
        "format": FORMAT,
        "version": VERSION,
        "sample_rate": sr,
        "frames": int(frames),
        "sections": sections,
        "marks": [first + i * spacing for i in range(MARK_COUNT)]
        + [marks["start"] + spacing // 2 + i * spacing for i in range(MARK_COUNT)],
        "mark_level": MARK_LEVEL,
        "repeats": [
            {"name": "repeat_marks", "source_start": sections[1]["start"], "start": marks["start"],
             "length": marks["end"] - marks["start"]},
            {"name": "repeat", "source_start": src, "start": rep["start"], "length": rep["end"] - rep["start"]},
        ],
        "notes": notes,
    }


# --------------------------------------------------------------------------- the audio


def _fade(x: np.ndarray, sr: int) -> np.ndarray:
    n = min(int(round(FADE_S * sr)), x.size // 2)
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n))
    x[:n] *= ramp
    x[x.size - n:] *= ramp[::-1]
    return x


def _sweep(n: int, sr: int, peak: float) -> np.ndarray:
    t = np.arange(n) / sr
    y = signal.chirp(t, SWEEP_LOW_HZ, t[-1], SWEEP_TOP_FRACTION * sr, method="logarithmic", phi=-90)
    return _fade(peak * y, sr)


def _noise(n: int, sr: int, peak: float, rng: np.random.Generator) -> np.ndarray:
    sos = signal.butter(2, [SWEEP_LOW_HZ, SWEEP_TOP_FRACTION * sr], "bandpass", fs=sr, output="sos")
    y = signal.sosfilt(sos, rng.standard_normal(n))
    return _fade(y * (peak / np.max(np.abs(y))), sr)


def _notes_audio(layout: dict, name: str, sr: int, rng: np.random.Generator) -> np.ndarray:
    sec = next(s for s in layout["sections"] if s["name"] == name)
    start = sec["start"]
    score = [Note((n["start"] - start) / sr, (n["end"] - n["start"]) / sr, n["midi"], n["string"],
                  n["velocity"], n["kind"]) for n in layout["notes"] if sec["start"] <= n["start"] < sec["end"]]
    y = render_score(score, sec["end"] - start, sr, rng)
    return y * (DI_PEAK / max(float(np.max(np.abs(y))), 1e-12))


def capture_signal(seconds: float = DEFAULT_SECONDS, sr: int = 48000, seed: int = 0) -> tuple[np.ndarray, dict]:
    """The capture signal (float32 mono, peak DI_PEAK) and its layout; same seed, same samples.

    Notebook: 12
    """
    sr = _check_rate(sr)
    frames = int(round(check_seconds(seconds) * sr))
    layout = capture_layout(frames, sr)
    layout["seed"] = int(seed)
    rng = np.random.default_rng(seed)
    x = np.zeros(frames)
    x[layout["marks"]] = MARK_LEVEL
    for sec in layout["sections"]:
        a, b, kind = sec["start"], sec["end"], sec["kind"]
        if kind == "sweep":
            x[a:b] = _sweep(b - a, sr, DI_PEAK * 10 ** (sec["level_db"] / 20))
        elif kind == "noise":
            x[a:b] = _noise(b - a, sr, DI_PEAK * 10 ** (sec["level_db"] / 20), rng)
        elif kind == "notes":
            x[a:b] = _notes_audio(layout, sec["name"], sr, rng)
        elif sec["name"] == "playing":
            x[a:b] = synth_di((b - a) / sr, sr, seed + SEED_OFFSET_PLAYING)[: b - a]
    for rep in layout["repeats"]:
        src, dst, n = rep["source_start"], rep["start"], rep["length"]
        x[dst:dst + n] = x[src:src + n]
    return x.astype(np.float32), layout


def write_capture_signal(path, seconds: float = DEFAULT_SECONDS, sr: int = 48000, seed: int = 0,
                         overwrite: bool = False) -> tuple[Path, Path]:
    """Write the capture signal WAV (32-bit float) and its sidecar JSON; returns both paths.

    Neither file is replaced unless ``overwrite``; each is written atomically.

    Notebook: 12
    """
    path = Path(path)
    side = sidecar_path(path)
    if path.suffix.lower() != ".wav":
        raise GuneampError(f"the capture signal is written as WAV: give a path ending in .wav, not {path.name}.")
    sr = _check_rate(sr)
    seconds = check_seconds(seconds)
    for p in (path, side):
        if p.exists() and not overwrite:
            raise GuneampError(f"{p} already exists; pass --overwrite to replace it, or choose another path.")
    x, layout = capture_signal(seconds, sr, seed)
    save_wav(path, x, sr)
    write_text_atomic(side, layout_json(layout))
    return path, side


def layout_json(layout: dict) -> str:
    """The sidecar's text: one line per field, and one per section, repeat and note.

    Notebook: 12
    """
    rows = []
    for key, value in layout.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            items = ",\n".join(f"  {json.dumps(v)}" for v in value)
            rows.append(f" {json.dumps(key)}: [\n{items}\n ]")
        else:
            rows.append(f" {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(rows) + "\n}\n"


def read_sidecar(path: str | os.PathLike) -> dict | None:
    """The layout in the sidecar next to a capture-signal WAV, or None if there is none.

    A JSON file of another format beside the WAV is not ours and is ignored; a sidecar
    that is ours but damaged raises :class:`GuneampError`.

    Notebook: 12
    """
    side = sidecar_path(path)
    if not side.is_file():
        return None
    try:
        layout = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(layout, dict) or layout.get("format") != FORMAT:
        return None
    if layout.get("version") != VERSION or not all(k in layout for k in ("sample_rate", "frames", "marks", "sections")):
        raise GuneampError(f"{side} is a capture-signal sidecar this version cannot read; "
                           "write the signal again with `guneamp capture-signal`.")
    return layout


# --------------------------------------------------------------------------- finding the layout


def _marks_present(read, frames: int, layout: dict) -> bool:
    """Do the clicks stand where the layout puts them, alone on silence? (reads only around them)"""
    marks = np.asarray(layout["marks"])
    if marks.max() >= frames:
        return False
    half = int(round(MARK_SPACING_S * layout["sample_rate"] / 3))
    windows = [(int(max(m - half, 0)), np.asarray(read(max(m - half, 0), m + half))) for m in marks]
    level = np.array([w[m - lo] for m, (lo, w) in zip(marks, windows)])
    top = float(np.max(np.abs(level)))
    if top <= 0 or np.any(np.abs(level - level[0]) > 0.01 * top):
        return False
    for m, (lo, w) in zip(marks, windows):
        around = np.abs(np.delete(w, m - lo))
        if around.size and around.max() > 0.01 * top:
            return False
    return True


def find_layout(clean_path: str | os.PathLike, clean: np.ndarray, sr: int) -> tuple[dict, str] | None:
    """The capture-signal layout of a clean file and where it came from, or None.

    The sidecar beside the file wins; without one, a file whose length and rate give a
    layout with clicks at its marks is recognised as the capture signal.

    Notebook: 12
    """
    return find_file_layout(clean_path, lambda lo, hi: clean[lo:hi], clean.size, sr)


def find_file_layout(clean_path: str | os.PathLike, read, frames: int, sr: int) -> tuple[dict, str] | None:
    """:func:`find_layout` for a clean signal of ``frames`` samples that ``read(lo, hi)``
    hands out: only the samples around the marks are read.

    Notebook: 12
    """
    layout = read_sidecar(clean_path)
    if layout is not None:
        if layout["sample_rate"] != sr or layout["frames"] != frames:
            raise GuneampError(
                f"{clean_path} does not match its capture-signal sidecar ({layout['frames']} samples at "
                f"{layout['sample_rate']} Hz expected, {frames} at {sr} Hz found): reamp the WAV that "
                "`guneamp capture-signal` wrote, unchanged, or remove the sidecar")
        return layout, "its layout from the sidecar"
    if sr not in SAMPLE_RATES:
        return None
    try:
        check_seconds(frames / sr)
    except GuneampError:
        return None
    layout = capture_layout(frames, sr)
    return (layout, "recognised by its timing marks (no sidecar)") if _marks_present(read, frames, layout) else None
