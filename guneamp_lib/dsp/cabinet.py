"""Speaker-cabinet impulse responses (notebook 08).

A cabinet (speaker, box, microphone) is close to linear and time-invariant, so one
recorded impulse response describes it: the output is the input convolved with the IR.

Two defects of the design's sketch are fixed here. ``torch.nn.functional.conv1d``
computes a cross-correlation, so passing the IR as its kernel applies the cabinet
*backwards in time* (every note would be preceded by the cabinet's decay). The IR is
flipped first. And direct convolution costs ``N * K`` multiplications: a 1 s IR on
40 s of audio is ~80 billion, so long signals go through the FFT instead
(``N log N``). Both forms agree to 1e-5.

**An IR at another rate than the audio** is resampled to the audio's rate, with a
warning that says so: an IR is a filter, and resampling it (band-limited, as torchaudio
does) gives the same cabinet at the new rate, where using it as is would shift every
resonance by the ratio of the rates. An IR longer than
:data:`~guneamp_lib.vocabulary.IR_MAX_SECONDS` is refused: no cabinet rings that long.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import torch
import torch.nn.functional as F
import torchaudio.functional as AF

from .audio import peak_normalize, read_audio
from ..errors import GuneampError, GuneampWarning
from ..vocabulary import IR_MAX_SECONDS

# Below this many multiply-adds direct convolution beats the FFT on a CPU.
DIRECT_MAX_MACS = 2_000_000


def _as_1d(x, name: str) -> torch.Tensor:
    t = torch.as_tensor(x, dtype=torch.float32) if not isinstance(x, torch.Tensor) else x
    if t.ndim != 1:
        raise GuneampError(f"{name} must be one channel of samples (1-D), got shape {tuple(t.shape)}")
    return t


def _check_lengths(signal: torch.Tensor, ir: torch.Tensor) -> None:
    if ir.numel() == 0:
        raise GuneampError("the impulse response is empty")
    if ir.shape[-1] > signal.shape[-1]:
        raise GuneampError(
            f"the impulse response ({ir.shape[-1]} samples) is longer than the signal ({signal.shape[-1]} samples). "
            "Trim the IR (most cabinet IRs need under 100 ms) or use a longer recording."
        )


def apply_ir(signal: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
    """The design's direct form, as a true convolution: ``[N]`` and ``[K]`` -> ``[N + K - 1]``.

    Notebook: 08
    """
    signal, ir = _as_1d(signal, "signal"), _as_1d(ir, "ir")
    _check_lengths(signal, ir)
    k = ir.shape[-1]
    out = F.conv1d(signal.view(1, 1, -1), ir.flip(-1).view(1, 1, -1).to(signal), padding=k - 1)
    return out.view(-1)


def fft_convolve(x: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
    """Full linear convolution along the last axis via the FFT (differentiable, batched).

    Notebook: 08
    """
    n = x.shape[-1] + ir.shape[-1] - 1
    size = 1 << (n - 1).bit_length()
    spec = torch.fft.rfft(x, size) * torch.fft.rfft(ir.to(x), size)
    return torch.fft.irfft(spec, size)[..., :n]


def apply_ir_fft(signal: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
    """The same convolution as :func:`apply_ir`, computed with the FFT.

    Notebook: 08
    """
    signal, ir = _as_1d(signal, "signal"), _as_1d(ir, "ir")
    _check_lengths(signal, ir)
    return fft_convolve(signal, ir)


def convolve_ir(signal: torch.Tensor, ir: torch.Tensor, same_length: bool = True) -> torch.Tensor:
    """Apply a cabinet, choosing direct or FFT by cost; by default keep the input's length.

    Notebook: 08
    """
    signal, ir = _as_1d(signal, "signal"), _as_1d(ir, "ir")
    direct = signal.numel() * ir.numel() <= DIRECT_MAX_MACS
    out = apply_ir(signal, ir) if direct else apply_ir_fft(signal, ir)
    return out[: signal.numel()] if same_length else out


def resample_ir(ir: torch.Tensor, ir_sr: int, sr: int) -> torch.Tensor:
    if ir_sr == sr:
        return ir
    return AF.resample(ir, int(ir_sr), int(sr))


def load_ir(path: str | os.PathLike, sr: int) -> torch.Tensor:
    """Read a cabinet IR, mix to mono, resample to ``sr`` if needed (saying so), peak-normalize.

    Notebook: 08
    """
    y, ir_sr, info = read_audio(path, what="cabinet IR")
    if info.silent:
        raise GuneampError(f"the cabinet IR {path} is silent; it would mute everything. Use another IR.")
    if info.seconds > IR_MAX_SECONDS:
        raise GuneampError(f"the cabinet IR {path} is {info.seconds:.1f} s long; a cabinet IR lasts well under "
                           f"{IR_MAX_SECONDS:g} s. Trim it, or check that this file is an IR.")
    if ir_sr != sr:
        warnings.warn(f"the cabinet IR {path} is at {ir_sr} Hz and the audio at {sr} Hz: resampling the IR to "
                      f"{sr} Hz (export it at {sr} Hz to skip this)", GuneampWarning, stacklevel=2)
    ir = resample_ir(torch.from_numpy(y), ir_sr, sr)
    return peak_normalize(ir)


def ir_energy_length(ir, fraction: float = 0.9999) -> int:
    """Samples holding ``fraction`` of the IR's energy: enough context for exact-enough filtering.

    Notebook: 08
    """
    e = np.cumsum(np.square(np.asarray(ir, dtype=np.float64)))
    if e[-1] <= 0:
        return 1
    return int(np.searchsorted(e, fraction * e[-1]) + 1)
