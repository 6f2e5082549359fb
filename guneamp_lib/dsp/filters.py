"""Second-order filter sections for the synthetic guitar, amp and cabinet (notebook 00).

Each helper returns second-order sections for ``scipy.signal.sosfilt``: the audio-EQ
cookbook biquads (Robert Bristow-Johnson's formulas) and first-order shelves/passes.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

# ---------------------------------------------------------------------------
# Small filter helpers (all return second-order sections for sosfilt)
# ---------------------------------------------------------------------------


def biquad(kind: str, freq: float, fs: float, q: float = 0.7071, gain_db: float = 0.0) -> np.ndarray:
    """One second-order section from the audio-EQ-cookbook formulas (shelves use slope 1).

    Notebook: 00
    """
    w0 = 2.0 * np.pi * freq / fs
    cw, sw = np.cos(w0), np.sin(w0)
    amp = 10.0 ** (gain_db / 40.0)
    if kind in ("lowshelf", "highshelf"):
        alpha = sw / np.sqrt(2.0)
    else:
        alpha = sw / (2.0 * q)
    sa = 2.0 * np.sqrt(amp) * alpha
    if kind == "lowpass":
        b = [(1 - cw) / 2, 1 - cw, (1 - cw) / 2]
        a = [1 + alpha, -2 * cw, 1 - alpha]
    elif kind == "highpass":
        b = [(1 + cw) / 2, -(1 + cw), (1 + cw) / 2]
        a = [1 + alpha, -2 * cw, 1 - alpha]
    elif kind == "peak":
        b = [1 + alpha * amp, -2 * cw, 1 - alpha * amp]
        a = [1 + alpha / amp, -2 * cw, 1 - alpha / amp]
    elif kind == "lowshelf":
        b = [amp * ((amp + 1) - (amp - 1) * cw + sa), 2 * amp * ((amp - 1) - (amp + 1) * cw),
             amp * ((amp + 1) - (amp - 1) * cw - sa)]
        a = [(amp + 1) + (amp - 1) * cw + sa, -2 * ((amp - 1) + (amp + 1) * cw),
             (amp + 1) + (amp - 1) * cw - sa]
    elif kind == "highshelf":
        b = [amp * ((amp + 1) + (amp - 1) * cw + sa), -2 * amp * ((amp - 1) + (amp + 1) * cw),
             amp * ((amp + 1) + (amp - 1) * cw - sa)]
        a = [(amp + 1) - (amp - 1) * cw + sa, 2 * ((amp - 1) - (amp + 1) * cw),
             (amp + 1) - (amp - 1) * cw - sa]
    else:  # pragma: no cover - internal misuse
        raise ValueError(kind)
    b, a = np.asarray(b, float), np.asarray(a, float)
    return np.concatenate([b / a[0], a / a[0]])[None, :]


def first_order(kind: str, freq: float, fs: float) -> np.ndarray:
    """A 6 dB/octave section: what one capacitor and one resistor do.

    Notebook: 00
    """
    return signal.butter(1, freq, btype=kind, fs=fs, output="sos")
