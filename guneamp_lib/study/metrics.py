"""How good is a model? The numbers, and one report that prints them (notebook 11_beyond_the_seed).

* ESR, ``sum((y - y_hat)^2) / sum(y^2)``: the headline score (from :mod:`.losses`).
* ESR after pre-emphasis, ``y[n] - 0.95 y[n-1]`` on both signals: the same score with
  the treble weighted up, where fizz and pick attack live.
* Multi-resolution STFT distance: compares magnitude spectra only, so it ignores small
  phase or timing differences that ESR punishes but ears barely notice. For each FFT
  size ``N`` (Hann window, hop ``N/4``), with ``|Y|`` and ``|Y_hat|`` the magnitude
  spectrograms,

      SC(N)  = ||  |Y| - |Y_hat|  ||_F / || |Y| ||_F             (spectral convergence)
      LM(N)  = mean | log(|Y| + eps) - log(|Y_hat| + eps) |      (log-magnitude L1)

  and the distance is the mean over the sizes of ``SC(N) + LM(N)``. 0 means identical
  spectrograms; SC is relative (level-free), LM is in natural-log units.
* DC error, ``(mean(y) - mean(y_hat))^2 / mean(y^2)``: the offset part of the error,
  relative to the signal's power (the DC loss of Wright, Damskägg and Välimäki,
  "Real-time guitar amplifier emulation with deep learning", 2020).

:class:`Report` gathers them with the model's size, receptive field and training time,
and prints the same block in the CLI and the notebooks; :func:`reports_to_markdown`
puts several side by side.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from ..training.losses import DEFAULT_PRE_EMPHASIS, ESR_EPS, esr, pre_emphasis

__all__ = [
    "QUALITY_BANDS", "Report", "dc_error", "esr", "esr_pre_emphasis", "multi_resolution_stft_distance",
    "quality", "reports_to_markdown",
]

# (upper ESR bound, word): the verdicts NAM's trainer prints, at the same thresholds.
QUALITY_BANDS: tuple[tuple[float, str], ...] = ((0.01, "great"), (0.035, "good"), (0.1, "usable"))
POOR = "poor"

DEFAULT_FFT_SIZES = (512, 1024, 2048)
# Floor for the log magnitude: about -140 dB, below any real signal's spectrum but high
# enough that silent bins in both signals compare as equal instead of as log(0).
STFT_EPS = 1e-7


def _signal(x) -> torch.Tensor:
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    return t.detach().cpu().double().reshape(-1)


def _pair(target, pred) -> tuple[torch.Tensor, torch.Tensor]:
    t, p = _signal(target), _signal(pred)
    if t.shape != p.shape:
        raise ValueError(f"target and prediction differ in length ({t.numel()} vs {p.numel()} samples)")
    return t, p


def esr_pre_emphasis(target, pred, coeff: float = DEFAULT_PRE_EMPHASIS) -> float:
    """ESR of the pre-emphasized signals (``y[n] - coeff * y[n-1]``).

    Notebook: 11
    """
    t, p = _pair(target, pred)
    return esr(pre_emphasis(t, coeff), pre_emphasis(p, coeff))


def multi_resolution_stft_distance(target, pred, fft_sizes=DEFAULT_FFT_SIZES, hop_fraction: float = 0.25,
                                   eps: float = STFT_EPS) -> float:
    """Spectral convergence plus log-magnitude L1, averaged over FFT sizes (formula above).

    Notebook: 11
    """
    t, p = _pair(target, pred)
    if not fft_sizes:
        raise ValueError("give at least one FFT size")
    total = 0.0
    for n in fft_sizes:
        n = int(n)
        if t.numel() < n:
            raise ValueError(f"the signals ({t.numel()} samples) are shorter than the FFT size {n}")
        hop = max(1, int(n * hop_fraction))
        window = torch.hann_window(n, dtype=torch.float64)
        # center=False: frames never reach past the ends, so no padding invents content.
        mt, mp = (torch.stft(s, n, hop, window=window, center=False, return_complex=True).abs() for s in (t, p))
        sc = torch.linalg.norm(mt - mp) / (torch.linalg.norm(mt) + ESR_EPS)
        lm = torch.mean(torch.abs(torch.log(mt + eps) - torch.log(mp + eps)))
        total += float(sc + lm)
    return total / len(fft_sizes)


def dc_error(target, pred) -> float:
    """``(mean(target) - mean(pred))^2 / mean(target^2)``: the error's offset, relative to the signal's power.

    Notebook: 11
    """
    t, p = _pair(target, pred)
    return float((t.mean() - p.mean()) ** 2 / (torch.mean(t**2) + ESR_EPS))


def quality(esr_value: float) -> str:
    """The word for an ESR: great, good, usable or poor (see :data:`QUALITY_BANDS`).

    Notebook: 11
    """
    for bound, word in QUALITY_BANDS:
        if esr_value < bound:  # NaN compares False everywhere, so it lands on "poor"
            return word
    return POOR


def _jsonable(x):
    """Plain JSON values; JSON has no inf or NaN, so those become the strings "inf", "nan"."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if hasattr(x, "item") and getattr(x, "ndim", 0) == 0:  # NumPy and torch scalars
        x = x.item()
    if isinstance(x, float):
        return x if math.isfinite(x) else str(x)
    if x is None or isinstance(x, (bool, int, str)):
        return x
    return str(x)


def _fmt(x, spec: str, missing: str = "n/a") -> str:
    if x is None:
        return missing
    if isinstance(x, float) and math.isinf(x):
        return "infinite"
    return format(x, spec)


@dataclass
class Report:
    """One model's scores on one recording, printed the same way everywhere.

    Notebook: 11
    """

    name: str
    esr: float
    esr_pre_emphasis: float
    mrstft: float
    dc_error: float
    quality: str
    parameters: int | None = None
    receptive_field: float | None = None  # samples; math.inf for recurrent models
    train_seconds: float | None = None
    device: str | None = None
    extra: dict = field(default_factory=dict)

    @classmethod
    def compute(cls, target, pred, name: str = "model", *, model: torch.nn.Module | None = None,
                parameters: int | None = None, receptive_field: float | None = None,
                train_seconds: float | None = None, device: str | None = None, extra: dict | None = None) -> "Report":
        """Score ``pred`` against ``target``; ``model`` fills in parameters and receptive field."""
        if model is not None:
            from ..models import count_parameters, receptive_field as model_rf

            parameters = count_parameters(model) if parameters is None else parameters
            receptive_field = model_rf(model) if receptive_field is None else receptive_field
        e = esr(*_pair(target, pred))
        return cls(
            name=str(name), esr=e, esr_pre_emphasis=esr_pre_emphasis(target, pred),
            mrstft=multi_resolution_stft_distance(target, pred), dc_error=dc_error(target, pred),
            quality=quality(e), parameters=None if parameters is None else int(parameters),
            receptive_field=receptive_field, train_seconds=train_seconds, device=device, extra=dict(extra or {}),
        )

    def to_dict(self) -> dict:
        return _jsonable(asdict(self))

    def text(self, run_info: bool = True) -> str:
        """The printed block; ``run_info=False`` leaves out training time and device,
        which change from run to run (for notebooks checked by nbval)."""
        rf = self.receptive_field
        rf_text = _fmt(rf, ",.0f") + ("" if rf is None or math.isinf(rf) else " samples")
        lines = [
            f"model             {self.name}",
            f"ESR               {self.esr:.4g}  ({self.quality})",
            f"ESR pre-emphasis  {self.esr_pre_emphasis:.4g}",
            f"MR-STFT distance  {self.mrstft:.4g}",
            f"DC error          {self.dc_error:.3g}",
            f"parameters        {_fmt(self.parameters, ',d')}",
            f"receptive field   {rf_text}",
        ]
        if run_info:
            lines += [
                f"training time     {_fmt(self.train_seconds, '.1f')}" + ("" if self.train_seconds is None else " s"),
                f"device            {self.device or 'n/a'}",
            ]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()


_COLUMNS = ("model", "ESR", "quality", "ESR pre-emph.", "MR-STFT", "DC error", "parameters", "receptive field",
            "train time (s)", "device")


def reports_to_markdown(reports, run_info: bool = True) -> str:
    """A Markdown table with one row per report (same rounding as ``str(report)``).

    Notebook: 11
    """
    cols = _COLUMNS if run_info else _COLUMNS[:-2]
    align = ["---" if c in ("model", "quality") else "---:" for c in cols]  # words left, numbers right
    rows = ["| " + " | ".join(cols) + " |", "|" + "|".join(align) + "|"]
    for r in reports:
        cells = [
            r.name.replace("|", "\\|"), f"{r.esr:.4g}", r.quality, f"{r.esr_pre_emphasis:.4g}", f"{r.mrstft:.4g}",
            f"{r.dc_error:.3g}", _fmt(r.parameters, ",d"), _fmt(r.receptive_field, ",.0f"),
            _fmt(r.train_seconds, ".1f"), (r.device or "n/a").replace("|", "\\|"),
        ]
        rows.append("| " + " | ".join(cells[: len(cols)]) + " |")
    return "\n".join(rows)
