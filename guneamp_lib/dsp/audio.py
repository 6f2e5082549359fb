"""Reading, checking, normalizing and writing audio (taught in notebook 01).

Reading goes through librosa at the file's native sample rate, as the design says; a
file is first checked so that a missing, corrupt, truncated, silent or NaN-filled file
fails with a message a guitarist can act on instead of a traceback from deep inside a
decoder. Writing goes through soundfile, atomically: the audio lands in a temporary
file in the same folder and is renamed over the destination only when complete, so an
interrupted run never leaves half a WAV behind, and an input is never overwritten.
"""

from __future__ import annotations

import os
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
import soundfile as sf
import torch

from ..errors import GuneampError, GuneampWarning
from ..paths import atomic_output, check_input_file, disk_errors, refuse_output_on_inputs
from ..vocabulary import check_audio_rate, check_wav_name

# Peak normalization divides by the peak plus this, so silence stays silence (0/eps)
# instead of becoming NaN (0/0).
NORMALIZE_EPS = 1e-8
# A run of this many consecutive samples sitting at the file's peak is a flat top:
# real waveforms pass through their maximum, clipped ones stay there.
CLIP_RUN = 4
# Warn about clipping when at least this fraction of samples sits in flat tops.
CLIP_WARN_FRACTION = 1e-4
# Anything quieter than this peak (about -120 dBFS) counts as silence.
SILENCE_PEAK = 1e-6
# A float file may go past full scale (a hot bounce, a plugin's headroom), but not this
# far: +24 dBFS is beyond any converter or sane mix bus, so such samples are damage or
# a wrong scale (one 1e30 sample in a target made training save a model at ESR 3e8).
FAR_BEYOND_FULL_SCALE = 10.0 ** (24.0 / 20.0)


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, before any normalization.

    Notebook: 01
    """

    path: Path
    sample_rate: int
    frames: int
    channels: int
    peak: float
    rms: float
    clipped_fraction: float
    far_beyond: int = 0  # samples beyond FAR_BEYOND_FULL_SCALE
    first_far_beyond: int = -1  # the first one's index, -1 if none

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate

    @property
    def peak_dbfs(self) -> float:
        return 20.0 * float(np.log10(max(self.peak, 1e-12)))

    @property
    def rms_dbfs(self) -> float:
        return 20.0 * float(np.log10(max(self.rms, 1e-12)))

    @property
    def silent(self) -> bool:
        return self.peak < SILENCE_PEAK


def check_wav_header(path: Path) -> None:
    """Catch truncated WAV files, which decoders often read silently as shorter audio.

    Notebook: 01
    """
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
            return  # not a RIFF/WAVE file: let the decoder judge it
        if head[:4] == b"RF64":
            return  # 64-bit sizes live in a ds64 chunk; trust the decoder
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            chunk = f.read(8)
            if len(chunk) < 8:
                break
            cid, csize = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if cid == b"data":
                if csize in (0, 0xFFFFFFFF):
                    return  # streaming writers leave the size open; nothing to compare
                have = size - (pos + 8)
                if have < csize:
                    raise GuneampError(
                        f"{path} is truncated: its header promises {csize} bytes of audio "
                        f"but only {have} are in the file. Export or copy it again."
                    )
                return
            pos += 8 + csize + (csize & 1)
        raise GuneampError(f"{path} is a WAV file without an audio ('data') chunk. Export it again.")


class Levels:
    """Peak, energy, length and far-beyond-full-scale samples of mono audio fed block by block.

    One pass of :func:`read_audio` (one block: the whole file) and of
    :func:`~guneamp_lib.dsp.blocks.scan_audio` (many): the same numbers either way.

    Notebook: 01
    """

    def __init__(self) -> None:
        self.peak, self.energy, self.n, self.far_beyond, self.first_far_beyond = 0.0, 0.0, 0, 0, -1

    def add(self, x: np.ndarray) -> None:
        a = np.abs(x)
        if a.size:
            self.peak = max(self.peak, float(np.max(a)))
        self.energy += float(np.sum(np.square(x, dtype=np.float64)))
        far = np.flatnonzero(a > FAR_BEYOND_FULL_SCALE)
        if far.size and self.first_far_beyond < 0:
            self.first_far_beyond = self.n + int(far[0])
        self.far_beyond += int(far.size)
        self.n += int(x.size)


class FlatTops:
    """Samples in runs of :data:`CLIP_RUN` or more at the peak (found by :class:`Levels`), fed
    block by block: a run that crosses a block's end is carried into the next.

    Notebook: 01
    """

    def __init__(self, peak: float) -> None:
        self.peak, self.count, self.run = peak, 0, 0

    def add(self, x: np.ndarray) -> None:
        if self.peak < SILENCE_PEAK or not x.size:
            return
        at_peak = np.abs(x) >= self.peak * (1.0 - 1e-4)
        edges = np.flatnonzero(np.diff(np.concatenate(([0], at_peak.view(np.int8), [0]))))
        starts, ends = edges[::2], edges[1::2]
        lengths = ends - starts
        if self.run and not (starts.size and starts[0] == 0):
            self._close(self.run)  # the carried run ended with the last block
            self.run = 0
        if starts.size and starts[0] == 0:
            lengths[0] += self.run
            self.run = 0
        if ends.size and ends[-1] == x.size:
            self.run, lengths = int(lengths[-1]), lengths[:-1]
        self.count += int(lengths[lengths >= CLIP_RUN].sum())

    def _close(self, length: int) -> None:
        if length >= CLIP_RUN:
            self.count += length

    def finish(self) -> int:
        self._close(self.run)
        self.run = 0
        return self.count


def far_beyond_message(info: AudioInfo) -> str:
    """What to say about a file with samples far beyond full scale (see :data:`FAR_BEYOND_FULL_SCALE`).

    Notebook: 01
    """
    return far_beyond_text(info.path, info.far_beyond, info.peak, info.first_far_beyond / info.sample_rate)


def far_beyond_text(path, count: int, peak: float, first_s: float) -> str:
    """:func:`far_beyond_message` from the numbers: how many samples, the peak, the first one's time.

    Notebook: 01
    """
    return (f"{path} has {count} sample(s) far beyond full scale (peak {20 * np.log10(peak):+.0f} dBFS, "
            f"first at {first_s:.3f} s): the file is damaged or was written with the wrong scale. Fix or cut "
            "that part, or export the file again (as 24-bit, which cannot go past full scale)")


def audio_info(path: str | os.PathLike, *, what: str = "audio"):
    """The file's header (``soundfile.info``), after checking it exists and holds audio.

    Every reader goes through here, so a bad file gets the same message whichever
    command opened it.

    Notebook: 01
    """
    path = Path(path)
    if not path.exists():
        raise GuneampError(f"{what} file not found: {path}. Check the path, or run `guneamp synth` to create the default data.")
    check_input_file(path, what)
    check_wav_header(path)
    try:
        info = sf.info(str(path))
    except Exception as exc:  # libsndfile's message is cryptic; ours says what to do
        raise GuneampError(
            f"{path} is not a readable audio file ({exc.__class__.__name__}). Give a WAV, FLAC or OGG file."
        ) from None
    if info.frames == 0:
        raise GuneampError(f"{path} holds no audio samples. Export it again.")
    check_audio_rate(info.samplerate, f"{what} file {path}")
    return info


def read_audio(path: str | os.PathLike, *, what: str = "audio") -> tuple[np.ndarray, int, AudioInfo]:
    """Read a file as float32 mono at its native rate, checked, *not* normalized.

    Stereo is mixed to mono with a notice. Missing, corrupt, truncated, empty or
    non-finite files raise :class:`GuneampError`; clipping and silence warn.

    Notebook: 01
    """
    import librosa  # deferred: librosa's import is slow and only reading needs it

    path = Path(path)
    info = audio_info(path, what=what)
    try:
        y, sr = librosa.load(str(path), sr=None, mono=False)
    except Exception as exc:
        raise GuneampError(f"could not decode {path} ({exc}). Export it again as 16/24-bit or float WAV.") from None
    y = np.asarray(y, dtype=np.float32)
    if y.ndim > 1:
        bad = ~np.isfinite(y)
        if bad.any():
            raise GuneampError(_nonfinite_message(path, bad.any(axis=0), int(sr)))
        y = y.mean(axis=0)
    bad = ~np.isfinite(y)
    if bad.any():
        raise GuneampError(_nonfinite_message(path, bad, int(sr)))
    meta = audio_levels(path, int(sr), int(info.channels), lambda: (y,))
    if meta.far_beyond:
        raise GuneampError(far_beyond_message(meta) + ".")
    for note in level_notes(meta):
        warnings.warn(note, GuneampWarning, stacklevel=2)
    return y, int(sr), meta


def level_notes(info: AudioInfo) -> list[str]:
    """What :func:`read_audio` warns about a file it read: channels mixed, silence, clipping.

    Notebook: 01
    """
    path, notes = info.path, []
    if info.channels > 1:
        notes.append(f"{path} has {info.channels} channels; mixing them to mono (the model takes one channel).")
    if info.silent:
        notes.append(f"{path} is silent (peak {info.peak_dbfs:.0f} dBFS).")
    elif info.clipped_fraction >= CLIP_WARN_FRACTION:
        notes.append(f"{path} looks clipped: {100 * info.clipped_fraction:.2f}% of samples sit flat at the peak. "
                     "If the recorder clipped, record again with less input gain; the model would learn the clipping.")
    return notes


def audio_levels(path: Path, sr: int, channels: int, blocks) -> AudioInfo:
    """:class:`AudioInfo` from two passes over ``blocks()`` (consecutive mono blocks): the
    levels, then the flat tops at the peak the first pass found.

    Notebook: 01
    """
    levels = Levels()
    for x in blocks():
        levels.add(x)
    tops = FlatTops(levels.peak)
    for x in blocks():
        tops.add(x)
    n = levels.n
    rms = float(np.sqrt(levels.energy / n)) if n else 0.0
    return AudioInfo(path, sr, n, channels, levels.peak, rms, tops.finish() / n if n else 0.0,
                     levels.far_beyond, levels.first_far_beyond)


def _nonfinite_message(path: Path, bad: np.ndarray, sr: int) -> str:
    first = int(np.flatnonzero(bad)[0])
    return (
        f"{path} contains {int(bad.sum())} NaN or infinite samples (first at {first / sr:.3f} s). "
        "Export the file again from your recorder or editor."
    )


def peak_normalize(x: torch.Tensor | np.ndarray, eps: float = NORMALIZE_EPS):
    """Scale so the largest magnitude is 1; silence stays exactly zero.

    Notebook: 01
    """
    if isinstance(x, torch.Tensor):
        return x / (x.abs().max() + eps)
    return (x / (np.max(np.abs(x)) + eps)).astype(np.float32)


def load_wav(path: str | os.PathLike) -> tuple[torch.Tensor, int]:
    """The design's loader: native rate, mono, float32 tensor, peak-normalized to [-1, 1].

    Notebook: 01
    """
    y, sr, _ = read_audio(path)
    return peak_normalize(torch.from_numpy(y).float()), sr


def zero_peak_timestamp(path: Path) -> None:
    """libsndfile stamps float WAVs with the time of writing (PEAK chunk); zero it so
    the same audio always gives the same bytes.

    Notebook: 01
    """
    with path.open("r+b") as f:
        head = f.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return
        pos, size = 12, path.stat().st_size
        while pos + 8 <= size:
            f.seek(pos)
            cid, csize = f.read(4), struct.unpack("<I", f.read(4))[0]
            if cid == b"PEAK":
                f.seek(pos + 8 + 4)  # after the chunk's version field
                f.write(b"\0\0\0\0")
                return
            if cid == b"data":
                return
            pos += 8 + csize + (csize & 1)


def save_wav(
    path: str | os.PathLike,
    audio: torch.Tensor | np.ndarray,
    sr: int,
    *,
    subtype: str = "FLOAT",
    protect: Iterable[str | os.PathLike] = (),
) -> Path:
    """Write mono audio atomically; refuse to overwrite any path in ``protect`` (the inputs).

    Notebook: 01
    """
    path = Path(path)
    check_wav_name(path)
    refuse_output_on_inputs(path, protect)
    if isinstance(audio, torch.Tensor):
        audio = audio.detach().cpu().numpy()
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    if not np.all(np.isfinite(audio)):
        raise GuneampError(f"refusing to write {path}: the audio contains NaN or infinite samples.")
    with atomic_output(path) as tmp, disk_errors(path):
        sf.write(str(tmp), audio, int(sr), subtype=subtype, format="WAV")
        zero_peak_timestamp(tmp)
    return path
