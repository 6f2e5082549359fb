"""How much does a trained model alias? High sine tones in, inharmonic energy out (notebook 11).

Notebook 02 showed aliasing on a fixed clipper: harmonics above Nyquist fold back to
frequencies that are not multiples of the note. A trained network is a nonlinearity
too, so it aliases like one, unless it runs at a rate high enough for its harmonics
to fade before Nyquist. The measure: a steady sine of frequency ``f0`` through the
system, and :func:`~guneamp_lib.dsp.oversampling.alias_to_harmonic_db` of the output,
the energy between the harmonics of ``f0`` relative to the energy on them, in dB.
High tones (2 to 8 kHz) alias most, because their harmonics leave the band soonest.

**What is a fair comparison?** A network's weights do not know the sample rate. The
same weights run at 8x the rate see every dilation span an eighth of the time, so
every filter they learned moves up by a factor of 8: it is a different effect, not
the same effect with less aliasing. So the comparison that answers "does oversampling
help a learned model?" is the same architecture *trained* at each rate on the same
data, each *run* at the rate it was trained at (``seed_cnn @1x`` against
``seed_cnn @8x``). Running a model at the other rate is also measured, but labelled
as what it is; :func:`rate_change_esr` shows how far its sound moves.

The reference amp oversamples 8x internally with elliptic anti-aliasing filters; it is
the floor a model would have to match.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import torch

from ..dsp.oversampling import alias_to_harmonic_db, downsample, oversample, sine, static_clipper

DEFAULT_FREQS_HZ = (2000.0, 4000.0, 8000.0)
# Peak levels relative to the peak-normalized DI the models trained on: a soft note
# and a hard one (the model's drive, and so its harmonics, grow with level).
DEFAULT_LEVELS = (0.1, 0.5)
# The onset of a tone is a click with energy everywhere; skip it (and let filters and
# an LSTM's state settle) before analysing the steady part.
SETTLE_S = 0.1
ANALYSIS_S = 0.5
QUICK_FREQS_HZ = (4000.0,)
QUICK_LEVELS = (0.5,)
QUICK_ANALYSIS_S = 0.1
# The other rate tried for each model: a model trained at 1x is also run at this factor.
OTHER_RATE = 8
REFERENCE_NAME = "reference amp (8x inside)"

System = Callable[[np.ndarray, int], np.ndarray]


# --------------------------------------------------------------------------- systems


def model_system(model: torch.nn.Module, oversample_factor: int = 1) -> System:
    """The model run at ``oversample_factor`` times the file rate (file rate in and out).

    Notebook: 11
    """
    from ..render.inference import predict

    def run(x: np.ndarray, sr: int) -> np.ndarray:
        return predict(model, torch.as_tensor(x, dtype=torch.float32), oversample_factor).numpy()

    return run


def clipper_system(drive: float = 10.0, oversample_factor: int = 1) -> System:
    """Notebook 02's static clipper, run at ``oversample_factor`` times the file rate.

    Notebook: 11
    """

    def run(x: np.ndarray, sr: int) -> np.ndarray:
        u = oversample(torch.as_tensor(x, dtype=torch.float32), oversample_factor)
        return downsample(static_clipper(u, drive), oversample_factor)[: len(x)].numpy()

    return run


def reference_amp_system(amp=None) -> System:
    """The course's reference amp (oversampled 8x inside, with anti-aliasing filters).

    Notebook: 11
    """
    from ..capture.synth import ReferenceAmp

    amp = amp or ReferenceAmp()
    return lambda x, sr: amp(np.asarray(x, dtype=np.float64), sr)


# --------------------------------------------------------------------------- measuring


@dataclass(frozen=True)
class AliasResult:
    """Alias-to-harmonic energy of one system for one tone, in dB (lower is cleaner).

    Notebook: 11
    """

    system: str
    freq_hz: float
    level: float
    alias_db: float

    def to_dict(self) -> dict:
        return asdict(self)


def tone_alias_db(system: System, freq_hz: float, level: float, sr: int, *, settle_s: float = SETTLE_S,
                  seconds: float = ANALYSIS_S) -> float:
    """Alias-to-harmonic dB of ``system``'s steady response to a sine of ``freq_hz`` at peak ``level``.

    Notebook: 11
    """
    x = sine(freq_hz, settle_s + seconds, sr, level)
    y = np.asarray(system(x, sr), dtype=np.float64).reshape(-1)
    return alias_to_harmonic_db(y[int(round(settle_s * sr)) :], sr, freq_hz)


def measure(systems: dict, sr: int, freqs=DEFAULT_FREQS_HZ, levels=DEFAULT_LEVELS, *,
            seconds: float = ANALYSIS_S) -> list[AliasResult]:
    """Every system against every tone: ``systems`` maps a name to a ``f(x, sr) -> y``.

    Notebook: 11
    """
    return [AliasResult(name, float(f), float(a), tone_alias_db(fn, f, a, sr, seconds=seconds))
            for name, fn in systems.items() for f in freqs for a in levels]


def other_rate(oversample_factor: int) -> int:
    return 1 if oversample_factor > 1 else OTHER_RATE


def rate_label(label: str, run_at: int) -> str:
    """Name of a model run at a rate it was not trained at (it is a different effect there).

    Notebook: 11
    """
    return f"{label} run at {run_at}x (not its trained sound)"


def measure_model_aliasing(models: dict, sr: int, *, quick: bool = False, reference: bool = True,
                           other_rates: bool = True, freqs=None, levels=None,
                           seconds: float | None = None) -> list[AliasResult]:
    """``models`` maps a label to ``(model, trained_oversample)``; each runs at its own rate,
    and (``other_rates``) at the other one too; the reference amp is added for scale.

    Notebook: 11
    """
    freqs = freqs or (QUICK_FREQS_HZ if quick else DEFAULT_FREQS_HZ)
    levels = levels or (QUICK_LEVELS if quick else DEFAULT_LEVELS)
    seconds = seconds or (QUICK_ANALYSIS_S if quick else ANALYSIS_S)
    systems: dict[str, System] = {}
    if reference:
        systems[REFERENCE_NAME] = reference_amp_system()
    for label, (model, factor) in models.items():
        systems[label] = model_system(model, factor)
    if other_rates:
        for label, (model, factor) in models.items():
            systems[rate_label(label, other_rate(factor))] = model_system(model, other_rate(factor))
    return measure(systems, sr, freqs, levels, seconds=seconds)


def rate_change_esr(model: torch.nn.Module, x, trained_at: int, run_at: int) -> float:
    """ESR between the model's output at its trained rate and at another rate, on audio ``x``.

    Near 0 would mean the same sound; near or above 1, a different effect altogether.

    Notebook: 11
    """
    from ..render.inference import predict
    from ..training.losses import esr

    x = torch.as_tensor(x, dtype=torch.float32)
    return esr(predict(model, x, trained_at), predict(model, x, run_at))


# --------------------------------------------------------------------------- reporting


def by_system(results) -> dict[str, list[AliasResult]]:
    out: dict[str, list[AliasResult]] = {}
    for r in results:
        out.setdefault(r.system, []).append(r)
    return out


def mean_db(results) -> float:
    """Mean of the dB values (the geometric mean of the energy ratios).

    Notebook: 11
    """
    vals = [r.alias_db for r in results]
    return float(np.mean(vals)) if vals else math.nan


def aliasing_markdown(results) -> str:
    """Systems down, tones across, dB in the cells (rounded to whole dB).

    Notebook: 11
    """
    tones = sorted({(r.freq_hz, r.level) for r in results})
    head = "| system | " + " | ".join(f"{f / 1000:g} kHz @ {a:g}" for f, a in tones) + " | mean |"
    rows = [head, "|---|" + "---:|" * (len(tones) + 1)]
    for name, rs in by_system(results).items():
        cell = {(r.freq_hz, r.level): r.alias_db for r in rs}
        vals = [f"{cell[t]:.0f}" if t in cell else "" for t in tones]
        rows.append(f"| {name.replace('|', '/')} | " + " | ".join(vals) + f" | {mean_db(rs):.0f} |")
    return "\n".join(rows)


def plot_aliasing(results, ax=None, title: str = "Aliasing: energy between the harmonics of a sine"):
    """Alias-to-harmonic dB against tone frequency; one colour per system, one line style per level.

    Notebook: 11
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(8.0, 4.2))
    else:
        fig = ax.figure
    levels = sorted({r.level for r in results})
    styles = ["--", "-", ":", "-."]
    for i, (name, rs) in enumerate(by_system(results).items()):
        color = "k" if name == REFERENCE_NAME else f"C{i % 10}"
        for j, a in enumerate(levels):
            pts = sorted((r.freq_hz, r.alias_db) for r in rs if r.level == a)
            if pts:
                f, d = zip(*pts)
                ax.plot(f, d, styles[j % len(styles)], marker="o", color=color,
                        label=name if j == len(levels) - 1 else None, alpha=0.9 if j == len(levels) - 1 else 0.5)
    ax.set_xscale("log")
    ax.set_xlabel("tone frequency (Hz)")
    ax.set_ylabel("alias-to-harmonic energy (dB)")
    level_text = ", ".join(f"{styles[j % len(styles)]} peak {a:g}" for j, a in enumerate(levels))
    ax.set_title(f"{title}\n(line styles: {level_text}; lower is cleaner)", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def _compare(d: float) -> str:
    """'N dB less' / 'N dB more' / 'about as much', for a difference of means (positive: less)."""
    if abs(d) < 1.0:
        return "about as much as"
    return f"{abs(d):.0f} dB {'less' if d > 0 else 'more'} than"


def conclusion(results) -> str:
    """What the numbers say, in sentences built from them (means over the tones measured, in dB).

    Read it next to each model's ESR: a model that has not learned to distort creates few
    harmonics, so it aliases little for the wrong reason.

    Notebook: 11
    """
    groups = by_system(results)
    means = {name: mean_db(rs) for name, rs in groups.items()}
    worst = {name: max(r.alias_db for r in rs) for name, rs in groups.items()}
    own = {n: m for n, m in means.items() if "not its trained sound" not in n and n != REFERENCE_NAME}
    lines = []
    if REFERENCE_NAME in means:
        lines.append(f"The reference amp aliases at {means[REFERENCE_NAME]:.0f} dB on average "
                     f"({worst[REFERENCE_NAME]:.0f} dB at its worst tone).")
    if own:
        best, most = min(own, key=own.get), max(own, key=own.get)
        lines.append(f"Of the trained models, each at its own rate, {best} aliases least ({own[best]:.0f} dB on average) "
                     f"and {most} most ({own[most]:.0f} dB on average, {worst[most]:.0f} dB at its worst tone).")
        if REFERENCE_NAME in means:
            gap = min(own.values()) - means[REFERENCE_NAME]
            lines.append(f"Even the cleanest model is {gap:.0f} dB above the reference amp." if gap >= 1 else
                         "At least one model is as clean as the reference amp.")
    for n1 in own:
        n8 = n1.replace("@1x", "@8x")
        if n1.endswith("@1x") and n8 in own:
            lines.append(f"Trained and run at 8x, {n8.split(' @')[0]} aliases {_compare(own[n1] - own[n8])} "
                         "trained and run at 1x.")
    for base in own:
        for n in means:
            if n.startswith(base + " run at"):
                lines.append(f"{n.split(' (')[0]}: aliases {_compare(own[base] - means[n])} at its own rate, "
                             "but it is then a different effect.")
    return "\n".join(lines)


__all__ = [
    "AliasResult", "DEFAULT_FREQS_HZ", "DEFAULT_LEVELS", "REFERENCE_NAME", "aliasing_markdown", "clipper_system",
    "conclusion", "mean_db", "measure", "measure_model_aliasing", "model_system", "plot_aliasing",
    "rate_change_esr", "reference_amp_system", "tone_alias_db",
]
