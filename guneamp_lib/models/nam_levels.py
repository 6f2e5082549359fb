"""How loud a model is and how much it compresses: the ``loudness`` and ``gain`` of a ``.nam`` file (notebook 11_beyond_the_seed).

NAM's plugin reads two numbers from a model's metadata. ``loudness`` (dB) is the RMS of
the model's output for a standard guitar-level input; with "normalize output" on, the
plugin turns the model up or down so every model sits at the same level. ``gain`` (0 to
1) says how much the model compresses: the input is played at 11 levels from silence to
full, and the output RMS at each level is summed. A model whose output follows its input
(a clean amp: output RMS rising as a straight line) sums to half of ``11 x`` the loudest
level, and scores 0; a model whose output is as loud at every level (full compression)
sums to ``11 x``, and scores 1. :func:`loudness_and_gain` computes both the way NAM's
trainer does (``nam.models.base``), on whatever input it is given.

The input NAM uses is a one-second recording of pink noise shipped inside its package. It
is not ours to copy, so :func:`loudness_probe` makes a stand-in from scratch with the same
level, band and spectrum, but other samples: on the same model the two give loudness
figures a fraction of a dB apart (measured in ``tests/test_nam.py``, which also feeds NAM's
own recording to :func:`loudness_and_gain` and to NAM's code and gets the same figures).
"""

from __future__ import annotations

import math

import torch

from ..errors import GuneampError

# NAM's probe: one second of pink noise at -15 dBFS RMS. Its recording measures -14.97 dBFS
# and holds about the same energy in every octave from 1 Hz to the Nyquist rate (a third of
# it below 20 Hz), so ours spans the same band.
PROBE_SECONDS = 1.0
PROBE_RMS_DBFS = -15.0
PROBE_LOWEST_HZ = 1.0
# Phases 2 pi frac(k^2 g) (g the golden ratio): equidistributed like random phases, so
# the sum peaks like noise (crest factor about 4, as NAM's), but the same on every machine.
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0
# NAM plays the probe at 0, 0.1, ..., 1 times its level to measure the gain.
GAIN_LEVELS = 11


def loudness_probe(sample_rate: float) -> torch.Tensor:
    """One second of pink noise, 1 Hz to the Nyquist rate at -15 dBFS RMS: our stand-in for NAM's probe.

    Notebook: 11
    """
    n = int(round(PROBE_SECONDS * sample_rate))
    k = torch.arange(n // 2 + 1, dtype=torch.float64)
    f = k * sample_rate / n
    # Pink: power falls as 1/f, the same energy in every octave.
    inside = (f >= PROBE_LOWEST_HZ) & (f < 0.5 * sample_rate)
    amplitude = torch.where(inside, f.clamp(min=PROBE_LOWEST_HZ).rsqrt(), torch.zeros_like(f))
    phase = 2 * math.pi * torch.frac(k.square() * _GOLDEN)
    x = torch.fft.irfft(torch.polar(amplitude, phase), n=n)
    return (x * (10 ** (PROBE_RMS_DBFS / 20) / x.square().mean().sqrt())).float()


@torch.no_grad()
def loudness_and_gain(run, probe: torch.Tensor) -> tuple[float, float]:
    """NAM's ``loudness`` (dB RMS of ``run(probe)``) and ``gain`` (0..1) of a model.

    ``run`` maps a batch of signals ``(B, T)`` to the model's outputs ``(B, T)``, each
    from the model's start state (silence before the input, as NAM pads it).

    Notebook: 11
    """
    levels = torch.linspace(0.0, 1.0, GAIN_LEVELS, dtype=torch.float64)
    outputs = run((levels[:, None] * probe.double()[None]).float()).double()
    rms = outputs.square().mean(dim=1).sqrt()
    if not bool(torch.isfinite(rms).all()) or float(rms[-1]) == 0.0:
        raise GuneampError("the model gives no finite, non-silent output for a guitar-level input; "
                           "it cannot be given a loudness (was training unstable?)")
    loudness = 20.0 * math.log10(float(rms[-1]))
    most = float(rms[-1]) * GAIN_LEVELS  # every level as loud as the loudest: full compression
    least = 0.5 * most  # output rising in a straight line from zero: no compression
    gain = (float(rms.sum()) - least) / (most - least)
    return loudness, min(max(gain, 0.0), 1.0)
