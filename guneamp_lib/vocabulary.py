"""The names and limits that options take, shared by the library and the ``guneamp`` command.

Every name here is defined once and imported by the library module it belongs to
(``runtime.DEVICE_CHOICES``, ``dsp.oversampling.MAX_FACTOR``, ``models.nam.GEAR_TYPES``
...), so the command line and the library can never disagree on what is allowed.

Why a module of its own: the command line checks every option before it loads any data,
and it can only do that quickly if what it checks against can be read without torch,
SciPy or numba. Importing torch alone takes seconds (7 to 9 s on the course's busy
2-core machine); this module imports nothing heavier than the standard library, so
``guneamp train --lr nan`` is refused in 0.3 s (``benchmarks/startup.py`` measures it,
and ``tests/test_startup.py`` keeps the command line's imports this light).
"""

from __future__ import annotations

from pathlib import PurePath

from .errors import GuneampError

# --------------------------------------------------------------------------- running

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
# Largest oversampling factor accepted: 64x is 2.8 MHz at 44.1 kHz, far past any audible
# benefit (notebook 11 finds 8x enough), and a network run at it costs 64 times the 1x time.
MAX_FACTOR = 64
# last.pt is saved at least this often, in steps (and at least every minute): a fast GPU
# makes thousands of steps a minute.
DEFAULT_SAVE_EVERY_STEPS = 500
# What the target recording is: the amp through its cabinet (the IR then goes inside the
# loss) or the amp before it.
TARGET_KINDS = ("amp_with_cab", "amp_direct")

# --------------------------------------------------------------------------- audio files

# Audio is written as 32-bit float WAV, the one format that keeps every sample the model
# computed. An output named x.flac would hold WAV data under a FLAC name, which players
# then refuse or misread: such a name is refused instead.
WAV_SUFFIXES = (".wav", ".wave")


def check_wav_name(path) -> None:
    """Refuse an output file whose name says another format than the WAV written into it.

    Notebook: 07
    """
    suffix = PurePath(path).suffix.lower()
    if suffix not in WAV_SUFFIXES:
        what = f"{suffix} is not WAV" if suffix else "it has no .wav ending"
        raise GuneampError(f"{path}: audio is written as 32-bit float WAV and {what}; name the output *.wav "
                           "(convert it afterwards, e.g. `sox out.wav out.flac`).")


# The sample rates audio interfaces and editors use, from telephone to 8x-oversampled
# studio rates. Anything else (a 1 Hz header, 44100.5) is a damaged or hand-made file:
# reading it would give a traceback in the lag search, or a model no command can use.
AUDIO_RATES = (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000, 176400, 192000,
               352800, 384000)


# The longest cabinet IR accepted, in seconds: a cabinet rings for 20 to 500 ms and a room
# for a few seconds; longer is no IR, and every render would convolve with all of it.
IR_MAX_SECONDS = 10.0


def check_audio_rate(sr, what: str) -> int:
    """``sr`` as an int if it is one of :data:`AUDIO_RATES`; else :class:`GuneampError` naming ``what``.

    Notebook: 01
    """
    if isinstance(sr, bool) or not isinstance(sr, (int, float)) or sr not in AUDIO_RATES:
        shown = ", ".join(f"{r / 1000:g}" for r in AUDIO_RATES)
        raise GuneampError(f"{what} is at {sr!r} Hz, a rate no audio interface uses; resample it to one of "
                           f"{shown} kHz (44.1 or 48 kHz for a guitar capture)")
    return int(sr)


# --------------------------------------------------------------------------- the capture signal

CAPTURE_RATES = (44100, 48000)
CAPTURE_DEFAULT_SECONDS = 180.0
# Below this the notes section cannot give each of the 49 notes a playable length.
CAPTURE_MIN_SECONDS = 60.0
# An hour of reamping is more than any capture needs; the cap keeps memory bounded.
CAPTURE_MAX_SECONDS = 3600.0

# --------------------------------------------------------------------------- .nam files

# What neural-amp-modeler 0.13 writes (its MODEL_VERSION); NAM core 0.5.5 reads 0.5.0 to 0.7.x.
NAM_FORMAT_VERSION = "0.7.0"
# NAM's metadata vocabulary (nam.models.metadata).
GEAR_TYPES = ("amp", "pedal", "pedal_amp", "amp_cab", "amp_pedal_cab", "preamp", "studio")
TONE_TYPES = ("clean", "overdrive", "crunch", "hi_gain", "fuzz")
# dBu that 0 dBFS corresponds to: audio interfaces sit between about +2 and +24 dBu.
LEVEL_DBU_RANGE = (-40.0, 60.0)

# --------------------------------------------------------------------------- comparisons

PEDALS = ("TubeScreamer", "RAT", "BluesDriver")
# ``knobs``: the reference amp at many settings (``guneamp synth --knobs``), each model
# trained as a knob model and scored on held-out settings (notebook 13); only when asked.
KNOB_DATASET = "knobs"
DATASETS = ("default", "default_direct") + PEDALS + (KNOB_DATASET,)
DEFAULT_DATASETS = ("default",) + PEDALS
# The EGFxSet clip a pedal is tested on unless its name says otherwise (``RAT@1``).
TEST_CLIP = 3
# ``guneamp evaluate``: the designed CNN as designed (8x) and at the file rate, then the
# two larger families (WaveNet lite and LSTM 16 did best of their families in a 60 s
# budget on 2 CPU cores, on the default data and on the RAT: docs/evaluation.md).
DEFAULT_MODELS = ("seed_cnn@8x", "seed_cnn@1x", "wavenet:lite", "lstm:16")
DEFAULT_TIME_BUDGET_S = 600.0
# ``guneamp train-many``: training steps per capture unless its row says otherwise.
DEFAULT_STEPS = 500


def parse_dataset(name: str) -> tuple[str, int | None]:
    """``"RAT"`` -> ``("RAT", 3)``, ``"RAT@1"`` -> ``("RAT", 1)``, ``"default"`` -> ``("default", None)``.

    Notebook: 11, 12
    """
    base, at, clip = str(name).partition("@")
    if base not in DATASETS:
        raise GuneampError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)} "
                           "(a pedal may take @N to test on clip N)")
    if not at:
        return base, (TEST_CLIP if base in PEDALS else None)
    if base not in PEDALS or not clip.isdigit():
        raise GuneampError(f"{name!r}: only a pedal takes @N, with N a clip number (for example RAT@1)")
    return base, int(clip)
