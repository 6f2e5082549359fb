"""Does the training DI cover the notes a model will be asked to play? (notebooks 11 and 12)

A model learns the gear only where its training input had energy. :func:`coverage`
compares, third of an octave by third of an octave, the share of the energy the
training DI puts in each band with the share a test (or any new) DI puts there, and
names the bands where the training DI holds far less: there the model extrapolates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import GuneampError

# Coverage: a third of an octave is about what separates two notes' fundamentals a
# major third apart, so a band holds one note's fundamental or harmonic, not several.
COVERAGE_BANDS_PER_OCTAVE = 3
COVERAGE_FMIN_HZ = 40.0
# A band is "not covered" when the training input puts this much less of its energy
# there than the test input does: 20 dB, a hundredth of the share.
COVERAGE_MARGIN_DB = 20.0
# Band energies are summed over pieces of at most this many samples (95 s at 44.1 kHz: even
# the 40 Hz band is then thousands of bins wide), so a long file costs one piece of memory.
COVERAGE_PIECE = 1 << 22


def band_shares(x, sr: int, bands_per_octave: int = COVERAGE_BANDS_PER_OCTAVE,
                fmin: float = COVERAGE_FMIN_HZ, fmax: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(centres_hz, shares)``: the fraction of ``x``'s energy in each fractional-octave band
    from ``fmin`` up to ``fmax`` (default: the Nyquist frequency).

    Notebook: 12
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    return read_band_shares(lambda lo, hi: x[lo:hi], x.size, sr, bands_per_octave, fmin, fmax)


def read_band_shares(read, n: int, sr: int, bands_per_octave: int = COVERAGE_BANDS_PER_OCTAVE,
                     fmin: float = COVERAGE_FMIN_HZ, fmax: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`band_shares` of a signal of ``n`` samples that ``read(lo, hi)`` hands out (a file
    read in :data:`COVERAGE_PIECE` pieces).

    Notebook: 12
    """
    top = sr / 2 if fmax is None else min(fmax, sr / 2)
    n_bands = int(math.floor(bands_per_octave * math.log2(top / fmin)))
    edges = fmin * 2.0 ** (np.arange(n_bands + 1) / bands_per_octave)
    energy = np.zeros(n_bands)
    # A long file's pieces are all transformed at the piece length, the last one zero-padded:
    # its remainder is of an awkward length (often near-prime) that sends pocketfft down its
    # Bluestein path, whose buffers cost 0.4 GB more for an hour's file than for ten minutes'.
    # One length also weighs every piece's energy alike (Parseval: the bins sum to length x
    # energy). A signal of one piece keeps its own length: no padding, no leakage.
    size = min(COVERAGE_PIECE, max(n, 1))
    idx = np.searchsorted(edges, np.fft.rfftfreq(size, 1.0 / sr), side="right") - 1
    inside = (idx >= 0) & (idx < n_bands)
    idx = idx[inside]
    for lo in range(0, n, size):
        piece = np.asarray(read(lo, min(lo + size, n)), dtype=np.float64)
        power = np.abs(np.fft.rfft(piece, n=size)) ** 2
        energy += np.bincount(idx, weights=power[inside], minlength=n_bands)
    total = energy.sum()
    shares = energy / total if total > 0 else energy
    return np.sqrt(edges[:-1] * edges[1:]), shares


@dataclass(frozen=True)
class Coverage:
    """How much of a test input lies where the training input has (almost) nothing.

    Notebook: 12
    """

    uncovered_share: float  # fraction of the test input's energy in uncovered bands
    uncovered_bands_hz: tuple  # centre frequencies of those bands
    margin_db: float

    def describe(self) -> str:
        if not self.uncovered_bands_hz:
            return "the training input covers every frequency band the test input uses"
        lo, hi = min(self.uncovered_bands_hz), max(self.uncovered_bands_hz)
        where = f"{lo:.0f} Hz" if lo == hi else f"{lo:.0f} to {hi:.0f} Hz"
        return (f"{100 * self.uncovered_share:.0f}% of the test input's energy lies in bands ({where}) "
                f"where the training input has at least {self.margin_db:.0f} dB less of its own: "
                "a model has no examples of the gear there")


def coverage(train_clean, test_clean, sr: int, margin_db: float = COVERAGE_MARGIN_DB,
             fmax: float | None = None) -> Coverage:
    """Does the training DI contain the frequencies the test DI (or your playing) uses?

    A model learns the gear only where its training input has energy. Each band's share
    of the total energy is compared: a band where the training input's share is more
    than ``margin_db`` below the test input's is not covered. The result is the test
    input's energy in such bands, from 0 (all covered) to 1. ``train_clean`` may be a
    ``(read, n)`` pair instead of an array: a file read in pieces. ``fmax`` limits the
    bands compared (default: up to the Nyquist frequency).

    Notebook: 12
    """
    if isinstance(train_clean, tuple):
        centres, train = read_band_shares(*train_clean, sr, fmax=fmax)
    else:
        centres, train = band_shares(train_clean, sr, fmax=fmax)
    _, test = band_shares(test_clean, sr, fmax=fmax)
    if test.sum() <= 0:
        raise GuneampError("the test input is silent: there is nothing to compare coverage with")
    ratio = 10 ** (-margin_db / 10)
    bad = test * ratio > train
    return Coverage(float(test[bad].sum()), tuple(float(f) for f in centres[bad]), margin_db)
