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
from ..vocabulary import check_wav_name

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


def _flat_top_fraction(x: np.ndarray) -> float:
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak < SILENCE_PEAK:
        return 0.0
    at_peak = np.abs(x) >= peak * (1.0 - 1e-4)
    # Length of the run each sample belongs to, via run-length encoding of at_peak.
    edges = np.flatnonzero(np.diff(np.concatenate(([0], at_peak.view(np.int8), [0]))))
    starts, ends = edges[::2], edges[1::2]
    lengths = ends - starts
    return float(lengths[lengths >= CLIP_RUN].sum()) / x.size


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
        warnings.warn(
            f"{path} has {y.shape[0]} channels; mixing them to mono (the model takes one channel).",
            GuneampWarning,
            stacklevel=2,
        )
        y = y.mean(axis=0)
    bad = ~np.isfinite(y)
    if bad.any():
        raise GuneampError(_nonfinite_message(path, bad, int(sr)))
    peak = float(np.max(np.abs(y)))
    rms = float(np.sqrt(np.mean(np.square(y, dtype=np.float64))))
    clipped = _flat_top_fraction(y)
    meta = AudioInfo(path, int(sr), int(y.size), int(info.channels), peak, rms, clipped)
    if meta.silent:
        warnings.warn(f"{path} is silent (peak {meta.peak_dbfs:.0f} dBFS).", GuneampWarning, stacklevel=2)
    elif clipped >= CLIP_WARN_FRACTION:
        warnings.warn(
            f"{path} looks clipped: {100 * clipped:.2f}% of samples sit flat at the peak. "
            "If the recorder clipped, record again with less input gain; the model would learn the clipping.",
            GuneampWarning,
            stacklevel=2,
        )
    return y, int(sr), meta


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
