"""The built-in default data: a synthetic guitar, a reference amp and a cabinet.

Taught in notebook ``00_start_here`` (the default data a learner trains on before
recording anything) and ``09_transfer_curve`` (the reference amp, whose static curve
is plotted next to a trained model's).

Everything here is deterministic from one integer seed: on one installation the same
seed gives the same samples, bit for bit, so the course's numbers are reproducible
without shipping audio. (Another CPU or numpy build may round a last bit differently.)

* :func:`~guneamp_lib.capture.guitar.synth_di` (in ``guitar``) plays the DI performance.
* :class:`ReferenceAmp` is the "virtual tube amp" whose sound the models learn: three
  triode-like stages with filters between them, a tone stack, and a push-pull power
  stage that sags. It runs oversampled, and it is strictly causal, like a real amp
  and like the models that imitate it.
* :func:`synth_cab_ir` is a 4x12-like speaker cabinet impulse response.
* :func:`generate_default_data` writes ``clean.wav``, ``amp_direct.wav``, ``cab_ir.wav``
  and ``amp.wav``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import signal

from ..dsp.audio import save_wav
from ..dsp.filters import biquad, first_order
from ..errors import GuneampError
from .guitar import SAMPLE_RATE, synth_di

DEFAULT_FILES = ("clean.wav", "amp_direct.wav", "cab_ir.wav", "amp.wav")


# ---------------------------------------------------------------------------
# The reference amp
# ---------------------------------------------------------------------------

# Small-signal gain of each preamp triode stage (after the interstage dividers), and its
# grid bias: the bias makes the clipping asymmetric, hence the even harmonics of a tube.
# Alternating signs stand in for each stage inverting the signal. These gains make the
# default a crunch: a 200 Hz sine gets ~3 % THD at 0.1, ~14 % at 0.3, ~32 % at full level.
STAGE_GAINS = (1.8, 2.2, 1.5)
STAGE_BIASES = (0.45, -0.35, 0.3)
# The drive knob (0..10) moves the input gain by this many dB per step around 5.
DRIVE_DB_PER_STEP = 2.4
# Tone and master knobs: dB per step around 5 (so 0..10 spans +-12 dB for the tone).
TONE_DB_PER_STEP = 2.4
MASTER_DB_PER_STEP = 1.5
# Into the power tubes at master 5.
POWER_GAIN = 1.2
# A passive tone stack scoops the mids even with every knob at noon.
MID_SCOOP_DB = -4.0
# Interstage coupling capacitors (highpasses) and Miller/plate capacitance (lowpasses), Hz.
INPUT_HIGHPASS_HZ = 20.0
COUPLING_HZ = (30.0, 40.0, 25.0)
PLATE_LOWPASS_HZ = (14000.0, 9000.0, 11000.0)
# A partly bypassed cathode on the first stage gives less gain below this (tightens lows).
CATHODE_SHELF_HZ, CATHODE_SHELF_DB = 250.0, -6.0
# The bright cap across the gain pot lets highs past it: a shelf above this.
BRIGHT_HZ, BRIGHT_DB = 2000.0, 5.0
# Tone stack corner frequencies.
BASS_HZ, MID_HZ, MID_Q, TREBLE_HZ = 100.0, 650.0, 0.7, 3000.0
# Output transformer: no deep lows, no extreme highs.
TRANSFORMER_HP_HZ, TRANSFORMER_LP_HZ = 40.0, 11000.0
# Supply sag follows the power stage's level with this time constant (a few tens of ms,
# short enough for a model with a short memory to follow).
SAG_TIME_S = 0.02
# Anti-imaging/anti-aliasing: elliptic lowpass, passband to 0.45 sr, stopband from sr/2,
# so nothing folds back below the base Nyquist; causal IIR, not a zero-phase resampler.
AA_PASS_FRACTION = 0.45
AA_RIPPLE_DB, AA_STOP_DB = 0.1, 100.0
# Base-rate samples per processing block: bounded memory, same result as one block.
BLOCK = 1 << 15


def _triode(u: np.ndarray, bias: float) -> np.ndarray:
    """Asymmetric soft clipper with unit slope at rest: tanh shifted along its bias."""
    tb = np.tanh(bias)
    return (np.tanh(u + bias) - tb) / (1.0 - tb * tb)


def _knob(name: str, value: float, lo: float = 0.0, hi: float = 10.0) -> None:
    if not (lo <= value <= hi):
        raise GuneampError(f"ReferenceAmp: {name} must be between {lo} and {hi}, not {value!r}.")


@dataclass
class ReferenceAmp:
    """The "virtual tube amp": a crunch tone that is clearly distorted yet learnable.

    Knobs run 0..10 with 5 at noon, except ``sag`` (0..1) and ``bright`` (on/off).
    Calling it processes a whole signal from silence; the result is float32 and as long
    as the input. Sample t of the output depends only on input samples up to t; the two
    anti-aliasing filters add about 5 samples (0.12 ms) of delay, which a
    causal model learns as easily as the tone.

    Notebook: 00, 09
    """

    drive: float = 5.0
    bass: float = 5.0
    mid: float = 5.0
    treble: float = 5.0
    master: float = 5.0
    sag: float = 0.3
    bright: bool = True
    oversample: int = 8
    output_level: float = 0.5

    def __post_init__(self):
        for name in ("drive", "bass", "mid", "treble", "master"):
            _knob(name, getattr(self, name))
        _knob("sag", self.sag, 0.0, 1.0)
        if int(self.oversample) != self.oversample or self.oversample < 1:
            raise GuneampError(
                f"ReferenceAmp: oversample must be a whole number >= 1, not {self.oversample!r}."
            )
        self.oversample = int(self.oversample)

    # -- gains shared by the audio path and the static curve, so the two cannot drift --
    def _gains(self) -> tuple[float, float, float, float]:
        g_in = 10.0 ** ((self.drive - 5.0) * DRIVE_DB_PER_STEP / 20.0)
        g_pow = POWER_GAIN * 10.0 ** ((self.master - 5.0) * MASTER_DB_PER_STEP / 20.0)
        return STAGE_GAINS[0] * g_in, STAGE_GAINS[1], STAGE_GAINS[2], g_pow

    def static_curve(self, levels: np.ndarray) -> np.ndarray:
        """The memoryless chain only: stage gains and shapers, every filter taken as flat."""
        u = np.asarray(levels, dtype=np.float64)
        g1, g2, g3, g_pow = self._gains()
        for g, b in zip((g1, g2, g3), STAGE_BIASES):
            u = _triode(g * u, b)
        return self.output_level * np.tanh(g_pow * u)

    def _filters(self, sr: int) -> dict[str, np.ndarray]:
        fs = float(sr * self.oversample)
        f1, f2 = first_order, biquad
        tone = lambda knob: (knob - 5.0) * TONE_DB_PER_STEP  # noqa: E731
        groups = {
            "in": [f1("highpass", INPUT_HIGHPASS_HZ, fs),
                   f2("lowshelf", CATHODE_SHELF_HZ, fs, gain_db=CATHODE_SHELF_DB)],
            "s1": [f1("lowpass", PLATE_LOWPASS_HZ[0], fs), f1("highpass", COUPLING_HZ[0], fs)],
            "s2": [f1("lowpass", PLATE_LOWPASS_HZ[1], fs), f1("highpass", COUPLING_HZ[1], fs)],
            "s3": [f1("lowpass", PLATE_LOWPASS_HZ[2], fs),
                   f2("lowshelf", BASS_HZ, fs, gain_db=tone(self.bass)),
                   f2("peak", MID_HZ, fs, q=MID_Q, gain_db=MID_SCOOP_DB + tone(self.mid)),
                   f2("highshelf", TREBLE_HZ, fs, gain_db=tone(self.treble)),
                   f1("highpass", COUPLING_HZ[2], fs)],
            "out": [f1("highpass", TRANSFORMER_HP_HZ, fs), f2("lowpass", TRANSFORMER_LP_HZ, fs)],
            "sag": [signal.butter(1, 1.0 / (2 * np.pi * SAG_TIME_S), fs=fs, output="sos")],
        }
        if self.bright:
            groups["s1"].append(f2("highshelf", BRIGHT_HZ, fs, gain_db=BRIGHT_DB))
        if self.oversample > 1:
            order, wn = signal.ellipord(AA_PASS_FRACTION * sr, 0.5 * sr, AA_RIPPLE_DB, AA_STOP_DB, fs=fs)
            aa = signal.ellip(order, AA_RIPPLE_DB, AA_STOP_DB, wn, fs=fs, output="sos")
            groups["in"].insert(0, aa)
            groups["out"].append(aa)
        return {k: np.vstack(v) for k, v in groups.items()}

    def __call__(self, x: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 1:
            raise GuneampError(f"ReferenceAmp takes mono audio (one dimension), not shape {x.shape}.")
        if not np.all(np.isfinite(x)):
            raise GuneampError("ReferenceAmp: the input contains NaN or infinite samples.")
        sos = self._filters(int(sr))
        state = {k: np.zeros((v.shape[0], 2)) for k, v in sos.items()}

        def filt(name, u):
            u, state[name] = signal.sosfilt(sos[name], u, zi=state[name])
            return u

        g1, g2, g3, g_pow = self._gains()
        os_ = self.oversample
        out = np.empty(x.size, dtype=np.float32)
        for start in range(0, x.size, BLOCK):
            xb = x[start:start + BLOCK]
            u = np.zeros(xb.size * os_)
            u[::os_] = xb * os_  # zero-stuffing divides the level by os_
            u = filt("in", u)
            u = filt("s1", _triode(g1 * u, STAGE_BIASES[0]))
            u = filt("s2", _triode(g2 * u, STAGE_BIASES[1]))
            u = filt("s3", _triode(g3 * u, STAGE_BIASES[2]))
            u = g_pow * u
            # Sag: a loud passage pulls the supply down and the power stage clips lower.
            env = np.sqrt(np.maximum(filt("sag", u * u), 0.0))
            headroom = 1.0 / (1.0 + self.sag * env)
            u = filt("out", headroom * np.tanh(u / headroom))
            # The last fine sample of each base period has heard input sample k but not
            # k+1: causal, and os_-1 fine samples less latency than taking the first one.
            out[start:start + xb.size] = self.output_level * u[os_ - 1::os_]
        return out


# ---------------------------------------------------------------------------
# The cabinet
# ---------------------------------------------------------------------------

CAB_IR_LENGTH = 2048  # 46 ms at 44.1 kHz: a close-miked cab has died away by then
CAB_FADE = 256  # the last samples fade out so the truncation does not click
# Speaker in a closed box: a resonant highpass near the cone's resonance, plus its bump,
# and a second highpass below it so the lows fall off at 24 dB/octave, as closed cabs do.
CAB_HIGHPASS_HZ, CAB_HIGHPASS_Q = (62.0, 70.0), 0.9
CAB_SUBSONIC_HZ = 45.0
CAB_LOW_RES_HZ, CAB_LOW_RES_DB, CAB_LOW_RES_Q = (90.0, 115.0), 6.0, 1.4
# Cone break-up: (centre Hz range, gain dB, Q) bumps and dips between 1 and 5 kHz.
CAB_BREAKUP = (((1100.0, 1500.0), 2.5, 1.5), ((2200.0, 2900.0), 5.0, 3.0),
               ((3400.0, 3900.0), -6.0, 5.0), ((4300.0, 4800.0), 3.0, 4.0))
CAB_MID_DIP = ((350.0, 500.0), -3.0, 1.0)
# The steep top: a 6th-order Butterworth (36 dB/oct) plus a second-order pole pair.
CAB_LOWPASS_HZ, CAB_LOWPASS_ORDER = (4800.0, 5400.0), 6
CAB_TOP_HZ = 8000.0


def _cab_sos(sr: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    u = lambda lohi: float(rng.uniform(*lohi))  # noqa: E731
    sections = [
        biquad("highpass", u(CAB_HIGHPASS_HZ), sr, q=CAB_HIGHPASS_Q),
        biquad("highpass", CAB_SUBSONIC_HZ, sr),
        biquad("peak", u(CAB_LOW_RES_HZ), sr, q=CAB_LOW_RES_Q, gain_db=CAB_LOW_RES_DB),
        biquad("peak", u(CAB_MID_DIP[0]), sr, q=CAB_MID_DIP[2], gain_db=CAB_MID_DIP[1]),
    ]
    for hz, db, q in CAB_BREAKUP:
        sections.append(biquad("peak", u(hz), sr, q=q * float(rng.uniform(0.8, 1.2)),
                                gain_db=db * float(rng.uniform(0.7, 1.3))))
    sections.append(signal.butter(CAB_LOWPASS_ORDER, u(CAB_LOWPASS_HZ), fs=sr, output="sos"))
    sections.append(biquad("lowpass", min(CAB_TOP_HZ, 0.45 * sr), sr))
    return np.vstack(sections)


def synth_cab_ir(sr: int = SAMPLE_RATE, seed: int = 0) -> np.ndarray:
    """A 4x12-like cabinet IR: float32, peak 1, starting at once, gone within ~46 ms.

    An impulse through a cascade of IIR sections (so it is causal and minimum phase):
    a resonant highpass and low bump near 100 Hz, cone break-up peaks and dips between
    1 and 5 kHz, and a roll-off steeper than 36 dB/octave above about 5 kHz.

    Notebook: 00, 09
    """
    length = int(round(CAB_IR_LENGTH * sr / SAMPLE_RATE))
    impulse = np.zeros(length)
    impulse[0] = 1.0
    h = signal.sosfilt(_cab_sos(sr, seed), impulse)
    fade = int(round(CAB_FADE * sr / SAMPLE_RATE))
    h[-fade:] *= 0.5 * (1 + np.cos(np.linspace(0, np.pi, fade)))
    return (h / h[np.argmax(np.abs(h))]).astype(np.float32)


# ---------------------------------------------------------------------------
# The default data set
# ---------------------------------------------------------------------------

# No written file goes above this peak: float WAV cannot clip, but players and editors do.
WRITE_PEAK_LIMIT = 0.9


def _headroom(x: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(x)))
    return x if peak <= WRITE_PEAK_LIMIT else (x * (WRITE_PEAK_LIMIT / peak)).astype(np.float32)


def generate_default_data(
    data_dir: str | os.PathLike,
    seed: int = 0,
    seconds: float = 40.0,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Path]:
    """Write the default data set into ``data_dir``; skip the work if it is already there.

    ``clean.wav`` is the DI at peak 0.5. ``amp_direct.wav`` is the reference amp driven by
    the DI normalized to peak 1 (as the training pipeline normalizes it), ``cab_ir.wav``
    the cabinet, and ``amp.wav`` the amp through the cabinet, same length as the DI. All
    are 44.1 kHz mono float32; any file peaking above 0.9 (the IR, the amp files) is
    scaled down to 0.9, which the loader's peak normalization undoes. If all
    four exist and ``overwrite`` is false nothing is written. If only some exist, nothing
    is written either and :class:`GuneampError` says which are missing: those files may be
    the user's own recordings, and are never replaced without ``overwrite``.

    Notebook: 00, 09
    """
    from tqdm.auto import tqdm  # deferred: only generation needs it

    data_dir = Path(data_dir)
    paths = {name.removesuffix(".wav"): data_dir / name for name in DEFAULT_FILES}
    present = [p.name for p in paths.values() if p.exists()]
    if not overwrite and len(present) == len(paths):
        return paths
    if not overwrite and present:
        missing = [p.name for p in paths.values() if not p.exists()]
        raise GuneampError(
            f"{data_dir} holds {', '.join(present)} but not {', '.join(missing)}. Add the missing files "
            "(your own recordings), or run `guneamp synth --overwrite` to replace all four with the default data."
        )
    sr = SAMPLE_RATE
    with tqdm(total=5, desc="default data", disable=not progress, leave=False) as bar:
        bar.set_postfix_str("guitar DI")
        clean = synth_di(seconds, sr, seed)
        bar.update()
        bar.set_postfix_str("reference amp")
        drive = clean / np.max(np.abs(clean))
        amp_direct = ReferenceAmp()(drive, sr)
        bar.update()
        bar.set_postfix_str("cabinet IR")
        ir = synth_cab_ir(sr, seed)
        bar.update()
        bar.set_postfix_str("cabinet")
        amp = signal.fftconvolve(amp_direct.astype(np.float64), ir.astype(np.float64))[: clean.size]
        bar.update()
        bar.set_postfix_str("writing")
        data = {"clean": clean, "amp_direct": _headroom(amp_direct), "cab_ir": _headroom(ir),
                "amp": _headroom(amp.astype(np.float32))}
        for key, audio in data.items():
            save_wav(paths[key], audio, sr)
        bar.update()
    return paths
