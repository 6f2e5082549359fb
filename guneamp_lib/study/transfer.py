"""Measuring a transfer curve: output level against input level (notebook 09).

For a memoryless waveshaper ``y = f(x)`` the transfer curve is simply ``f``. An amp and
a network that imitates it have memory (filters, sag), so their curve has to be
*measured* by driving them with test signals, and the method decides what you see:

* **Held levels** (:func:`held_level_curve`): hold each input level long enough to fill
  the system's memory and read the settled output. For a causal CNN this is its exact
  static curve once the level has been held for its receptive field. A real amp blocks
  DC with its coupling capacitors, so every held level settles back to zero there: the
  method is not fair to an amp.
* **Sine peaks** (:func:`sine_peak_curve`): drive the system with a low-frequency sine
  of amplitude ``a``, let it settle, and read the largest and smallest output over the
  last period. For a monotonic memoryless ``f`` these are exactly ``f(a)`` and ``f(-a)``
  (the sine's peak samples are ``+a`` and ``-a``), so both methods agree on a
  waveshaper. A linear filter gives a straight line whose slope is its gain at the test
  frequency, and an amp is measured in the band it passes. This is the method that is
  fair to both the amp and the model.

A system here is any callable that takes a 1-D float array at the file rate and returns
an array of the same length; :func:`model_system` and :func:`reference_system` wrap a
trained model and the reference amp that way. :func:`slope_at_zero` and
:func:`compression_db` reduce a curve to two numbers: the small-signal gain, and how far
below the straight line of that gain the output falls at full level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import GuneampError

System = Callable[[np.ndarray], np.ndarray]

# Levels within this distance of 0 define the small-signal slope: small enough that a
# tanh-like curve is still straight there (tanh bends by 0.1% at 0.05).
SLOPE_SPAN = 0.05
# Sine test: 100 Hz sits below the guitar's busy range yet above the amp's coupling
# high-passes (20 to 40 Hz), which it passes with little loss.
SINE_HZ = 100.0
# Seconds of sine before the measured period: several time constants of the slowest
# filter or sag in the reference amp (20 ms), so the output has settled.
SINE_SETTLE_S = 0.1


@dataclass
class TransferCurve:
    """Input levels (increasing) and the output level measured at each.

    Notebook: 09
    """

    levels: np.ndarray
    output: np.ndarray
    method: str = ""

    def __post_init__(self):
        self.levels = np.asarray(self.levels, dtype=np.float64)
        self.output = np.asarray(self.output, dtype=np.float64)
        if self.levels.shape != self.output.shape or self.levels.ndim != 1:
            raise GuneampError("a transfer curve needs one output value per input level")
        if np.any(np.diff(self.levels) <= 0):
            raise GuneampError("transfer-curve levels must be strictly increasing")

    def __iter__(self):  # so ``levels, output = curve`` and plot_transfer_curve work
        yield self.levels
        yield self.output

    def at(self, level: float) -> float:
        """Output at ``level``, interpolated linearly between measured levels."""
        return float(np.interp(level, self.levels, self.output))

    def slope_at_zero(self, span: float = SLOPE_SPAN) -> float:
        return slope_at_zero(self, span)

    def compression_db(self, level: float = 1.0, span: float = SLOPE_SPAN) -> float:
        return compression_db(self, level, span)


def slope_at_zero(curve: TransferCurve, span: float = SLOPE_SPAN) -> float:
    """Small-signal gain: the slope of a straight line fitted to the levels within ``span`` of 0.

    Notebook: 09
    """
    keep = np.abs(curve.levels) <= span + 1e-12
    if keep.sum() < 2:
        raise GuneampError(f"need at least two measured levels within {span} of zero to find the slope there")
    return float(np.polyfit(curve.levels[keep], curve.output[keep], 1)[0])


def compression_db(curve: TransferCurve, level: float = 1.0, span: float = SLOPE_SPAN) -> float:
    """How far (dB) the output at ``level`` falls below the small-signal straight line.

    0 dB for any linear system; -2.4 dB for ``tanh`` at level 1. The output at level 0
    is subtracted first, so a constant offset does not count as compression.

    Notebook: 09
    """
    slope = slope_at_zero(curve, span)
    swing = curve.at(level) - curve.at(0.0)
    straight = slope * level
    if abs(slope) < 1e-9 or swing / straight <= 0:
        raise GuneampError(f"the curve does not rise with the input at level {level}: no compression to report")
    return float(20.0 * np.log10(swing / straight))


def held_level_curve(system: System, levels, hold: int) -> TransferCurve:
    """Hold each level for ``hold`` samples (a staircase) and read the settled output.

    The output is averaged over the third quarter of each step: late enough for a system
    whose memory is shorter than ``hold / 2`` to have settled, early enough that a
    resampler's look-ahead to the next step does not reach it.

    Notebook: 09
    """
    levels = np.sort(np.asarray(levels, dtype=np.float64))
    if hold < 8:
        raise GuneampError("hold each level for at least 8 samples")
    x = np.repeat(levels, hold)
    y = np.asarray(system(x.astype(np.float32)), dtype=np.float64).reshape(-1)
    if y.size != x.size:
        raise GuneampError(f"the system returned {y.size} samples for {x.size}")
    steps = y.reshape(levels.size, hold)
    return TransferCurve(levels, steps[:, hold // 2 : 3 * hold // 4].mean(axis=1), "held levels")


def sine_period(sr: int, freq: float = SINE_HZ) -> int:
    """Samples per period of the test sine: a whole, even number, so peaks fall on samples.

    Notebook: 09
    """
    period = int(round(sr / freq))
    return period + (period % 2)


def sine_peak_curve(system: System, amplitudes, sr: int, freq: float = SINE_HZ,
                    settle_s: float = SINE_SETTLE_S) -> TransferCurve:
    """Drive with ``a cos(2 pi f t)`` for each amplitude; read the output's max and min.

    Each amplitude is a separate run from silence: ``settle_s`` seconds to settle, then
    one period is read. The largest output is the curve at ``+a``, the smallest at
    ``-a``; the output of silence gives the point at 0.

    Notebook: 09
    """
    amplitudes = np.asarray(amplitudes, dtype=np.float64)
    if amplitudes.ndim != 1 or amplitudes.size == 0 or np.any(amplitudes <= 0):
        raise GuneampError("give one or more positive sine amplitudes")
    amplitudes = np.unique(amplitudes)
    period = sine_period(sr, freq)
    n_settle = int(np.ceil(settle_s * sr / period)) * period
    n = np.arange(n_settle + period)
    unit = np.cos(2.0 * np.pi * n / period)

    def last_period(x):
        y = np.asarray(system(x.astype(np.float32)), dtype=np.float64).reshape(-1)
        if y.size != x.size:
            raise GuneampError(f"the system returned {y.size} samples for {x.size}")
        return y[n_settle:]

    highs, lows = [], []
    for a in amplitudes:
        y = last_period(a * unit)
        highs.append(y.max())
        lows.append(y.min())
    zero = last_period(np.zeros_like(unit)).mean()
    levels = np.concatenate([-amplitudes[::-1], [0.0], amplitudes])
    output = np.concatenate([np.array(lows)[::-1], [zero], highs])
    return TransferCurve(levels, output, f"sine peaks at {sr / period:.0f} Hz")


def model_system(model, oversample_factor: int) -> System:
    """A trained model as a system: oversample, network, downsample (no cabinet).

    Notebook: 09
    """
    import torch

    from ..render.inference import predict

    def run(x):
        return predict(model, torch.as_tensor(np.asarray(x, dtype=np.float32)), oversample_factor).numpy()

    return run


def reference_system(amp=None, sr: int = 44100, scale: float = 1.0) -> System:
    """The reference amp (``synth.ReferenceAmp``) as a system, its output times ``scale``.

    Notebook: 09
    """
    from ..capture.synth import ReferenceAmp

    amp = amp or ReferenceAmp()
    return lambda x: scale * amp(np.asarray(x, dtype=np.float64), sr)
