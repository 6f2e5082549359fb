"""Audio files read block by block, so that what reads them stays flat in the file's length.

Taught in notebook 12 (``guneamp check`` and ``guneamp score`` on long recordings).
:func:`~guneamp_lib.dsp.audio.read_audio` holds a whole file as float32, and the
measurements on it hold float64 copies and spectra on top: a 10-minute pair took 4 GB in
``guneamp check``, an hour more than 19 GB. :func:`scan_audio` measures a file's levels
in blocks with the same accumulators as :func:`read_audio` (so the same
:class:`~guneamp_lib.dsp.audio.AudioInfo`), and :class:`AudioReader` hands out any range
of samples, mixed to mono exactly as ``read_audio`` mixes them, for the measurements that
walk a file in blocks of their own (the lag, the ESR).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf

from ..errors import GuneampError
from .audio import AudioInfo, audio_info, audio_levels

# Samples per block read: 4 MB of float32 mono, large enough that reading costs nothing
# next to the measurements, small enough to be nothing next to a file of minutes.
READ_BLOCK = 1 << 20


class AudioReader:
    """An open audio file: its rate, length, channels, and its samples ``lo`` to ``hi`` as float64 mono.

    Channels are mixed to mono in float32 before widening, as ``read_audio`` does, so
    both give the same samples. Use it as a context manager (it holds the file open).

    Notebook: 12
    """

    def __init__(self, path: str | os.PathLike, *, what: str = "audio") -> None:
        self.path = Path(path)
        info = audio_info(self.path, what=what)
        self.sample_rate, self.channels = int(info.samplerate), int(info.channels)
        self._file = sf.SoundFile(str(self.path))
        self.frames = int(self._file.frames)

    def read(self, lo: int, hi: int) -> np.ndarray:
        lo, hi = max(int(lo), 0), min(int(hi), self.frames)
        if hi <= lo:
            return np.zeros(0)
        self._file.seek(lo)
        block = self._file.read(hi - lo, dtype="float32", always_2d=True)
        mono = block[:, 0] if self.channels == 1 else block.mean(axis=1)
        return mono.astype(np.float64)

    def blocks(self, block: int = READ_BLOCK):
        """Consecutive mono blocks from the start, float32 (as the file's samples are)."""
        self._file.seek(0)
        for b in self._file.blocks(blocksize=block, dtype="float32", always_2d=True):
            yield b[:, 0] if self.channels == 1 else b.mean(axis=1)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "AudioReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def scan_audio(reader: AudioReader, block: int = READ_BLOCK) -> AudioInfo:
    """The file's :class:`AudioInfo`, as :func:`read_audio` gives it, in two passes of ``block`` samples.

    Non-finite samples raise :class:`GuneampError` (with the time of the first);
    samples far beyond full scale are counted, not refused: the caller says what to do.

    Notebook: 12
    """
    sr, seen = reader.sample_rate, [0]

    def blocks():
        seen[0] = 0
        for x in reader.blocks(block):
            bad = ~np.isfinite(x)
            if bad.any():
                first = seen[0] + int(np.flatnonzero(bad)[0])
                raise GuneampError(f"{reader.path} contains {int(bad.sum())} or more NaN or infinite samples (first "
                                   f"at {first / sr:.3f} s). Export the file again from your recorder or editor.")
            seen[0] += x.size
            yield x

    return audio_levels(reader.path, sr, reader.channels, blocks)
