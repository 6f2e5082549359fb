"""Oversampling by an integer factor and back, and measuring aliasing (notebook 02).

A nonlinearity creates harmonics. At 44.1 kHz the harmonics above 22.05 kHz do not
vanish: they fold back below Nyquist at frequencies that are not multiples of the note
(aliasing), which sounds harsh and inharmonic. Running the nonlinearity at 8x the rate
(352.8 kHz) gives the harmonics room to decay before they fold; the band-limited
downsampler then removes everything above the original Nyquist. Resampling uses
torchaudio's windowed-sinc resampler, which is differentiable, so the same code serves
training.
"""

from __future__ import annotations

import numpy as np
import torch
import torchaudio.functional as AF

from ..vocabulary import MAX_FACTOR

DEFAULT_FACTOR = 8
# torchaudio's default filter (6 zero crossings, roll-off 0.99, Hann) passes 24 kHz at
# only -13 dB and 30 kHz at -47 dB, so harmonics just above the original Nyquist fold
# back almost untouched. This Kaiser-windowed sinc is flat to 19 kHz (-1.5 dB at 20 kHz)
# and at least -80 dB from 23 kHz up, for 32 input samples of reach on each side.
LOWPASS_WIDTH = 32
ROLLOFF = 0.94
KAISER_BETA = 12.0
RESAMPLE_KW = dict(lowpass_filter_width=LOWPASS_WIDTH, rolloff=ROLLOFF,
                   resampling_method="sinc_interp_kaiser", beta=KAISER_BETA)
# How far, in samples at the lower rate, the resampler's filter reaches either side.
RESAMPLER_REACH = LOWPASS_WIDTH + 2


def _check_factor(factor: int) -> int:
    if int(factor) != factor or factor < 1:
        raise ValueError(f"the oversampling factor must be a positive integer, got {factor!r}")
    return int(factor)


def oversample(x: torch.Tensor, factor: int = DEFAULT_FACTOR) -> torch.Tensor:
    """Resample ``x`` (time on the last axis) up by ``factor``; length times ``factor``.

    Notebook: 02
    """
    factor = _check_factor(factor)
    if factor == 1:
        return x
    return AF.resample(x, 1, factor, **RESAMPLE_KW)


def downsample(x: torch.Tensor, factor: int = DEFAULT_FACTOR) -> torch.Tensor:
    """Resample ``x`` down by ``factor`` after removing content above the new Nyquist.

    Notebook: 02
    """
    factor = _check_factor(factor)
    if factor == 1:
        return x
    return AF.resample(x, factor, 1, **RESAMPLE_KW)


def static_clipper(x, drive: float = 10.0):
    """A memoryless hard-ish clipper (tanh of a large gain): the simplest distortion.

    Notebook: 02
    """
    if isinstance(x, torch.Tensor):
        return torch.tanh(drive * x)
    return np.tanh(drive * np.asarray(x))


def harmonic_mask(freqs: np.ndarray, f0: float, half_width_hz: float) -> np.ndarray:
    """True for FFT bins within ``half_width_hz`` of a multiple of ``f0`` (DC included).

    Notebook: 02
    """
    k = np.round(freqs / f0)
    return np.abs(freqs - k * f0) <= half_width_hz


def alias_to_harmonic_db(y: np.ndarray, sr: float, f0: float, *, min_hz: float = 20.0) -> float:
    """Energy at non-harmonic frequencies relative to energy at harmonics, in dB.

    ``y`` should hold a steady tone of fundamental ``f0``. A Blackman-Harris window keeps
    each harmonic's leakage within a few bins, so what is left between the harmonics is
    aliasing (and noise). Lower is cleaner.

    Notebook: 02
    """
    y = np.asarray(y, dtype=np.float64)
    n = y.size
    win = _blackman_harris(n)
    spec = np.abs(np.fft.rfft(y * win)) ** 2
    freqs = np.fft.rfftfreq(n, 1.0 / sr)
    # Blackman-Harris main lobe is 4 bins either side; 6 leaves margin for slight detuning.
    half = 6 * sr / n
    harm = harmonic_mask(freqs, f0, half)
    band = freqs >= min_hz
    e_h = spec[harm & band].sum()
    e_a = spec[~harm & band].sum()
    return float(10 * np.log10((e_a + 1e-30) / (e_h + 1e-30)))


def _blackman_harris(n: int) -> np.ndarray:
    t = 2 * np.pi * np.arange(n) / n
    return 0.35875 - 0.48829 * np.cos(t) + 0.14128 * np.cos(2 * t) - 0.01168 * np.cos(3 * t)


def sine(freq: float, seconds: float, sr: int, amplitude: float = 1.0) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def log_sweep(f_start: float, f_end: float, seconds: float, sr: int, amplitude: float = 1.0) -> np.ndarray:
    """An exponential sine sweep (equal time per octave).

    Notebook: 02
    """
    t = np.arange(int(round(seconds * sr))) / sr
    k = np.log(f_end / f_start)
    phase = 2 * np.pi * f_start * seconds / k * (np.exp(t * k / seconds) - 1.0)
    return (amplitude * np.sin(phase)).astype(np.float32)


def sweep_alias_db(y: np.ndarray, sr: float, f_start: float, f_end: float, seconds: float, n_fft: int = 4096) -> float:
    """Alias-to-harmonic energy (dB) of a log sweep's response, frame by frame.

    In each STFT frame the sweep's instantaneous frequency is known, so its harmonics'
    bins can be marked; everything else in the frame counts as aliasing.

    Notebook: 02
    """
    y = np.asarray(y, dtype=np.float64)
    hop = n_fft // 4
    win = _blackman_harris(n_fft)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    k = np.log(f_end / f_start)
    # The sweep moves during a frame, so a harmonic h smears over h * (f1 - f0) Hz.
    e_h = e_a = 0.0
    for start in range(0, y.size - n_fft, hop):
        t0, t1 = start / sr, (start + n_fft) / sr
        fa = f_start * np.exp(t0 * k / seconds)
        fb = f_start * np.exp(t1 * k / seconds)
        f0 = 0.5 * (fa + fb)
        spec = np.abs(np.fft.rfft(y[start : start + n_fft] * win)) ** 2
        kk = np.round(freqs / f0)
        spread = 0.5 * kk * (fb - fa) + 6 * sr / n_fft
        harm = np.abs(freqs - kk * f0) <= spread
        band = freqs >= 20.0
        e_h += spec[harm & band].sum()
        e_a += spec[~harm & band].sum()
    return float(10 * np.log10((e_a + 1e-30) / (e_h + 1e-30)))
