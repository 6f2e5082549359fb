"""The designed graphs, drawn one way everywhere (notebooks 01, 07, 08, 09, and 13's knob map).

Waveforms show time in seconds against amplitude relative to full scale. Spectra are
long-term average spectra (Welch's method: the mean power of many overlapping
windows), in dB against a logarithmic frequency axis, because pitch and tone are heard
in octaves. Figures are saved atomically under ``graphs/`` with the exact names the
README shows.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.ticker import FormatStrFormatter, LogLocator
from scipy.signal import welch

from .. import paths

GRAPH_NAMES = (
    "waveform_clean_di.png",
    "waveform_amp_output.png",
    "waveform_modeled_output.png",
    "spectrum_clean_spectrum.png",
    "spectrum_amp_spectrum.png",
    "ir_cabinet_ir.png",
    "spectrum_cabinet_ir_spectrum.png",
    "spectrum_modeled_output_spectrum.png",
    "transfer_curve.png",
)
# The guitar's range and the ear's: below 20 Hz is rumble, above 20 kHz inaudible.
F_MIN, F_MAX = 20.0, 20000.0
# Welch segment length: ~93 ms at 44.1 kHz resolves 10.8 Hz, enough for low E (82 Hz).
WELCH_NPERSEG = 4096
FIGSIZE = (8.0, 3.6)
DPI = 110


def _np(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64).reshape(-1)


def db(x, floor: float = 1e-12) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(x, floor))


def average_spectrum(x, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies (Hz) and long-term power spectrum (dB, relative to its maximum).

    Notebook: 01, 06, 08, 09
    """
    x = _np(x)
    nper = min(WELCH_NPERSEG, x.size)
    f, p = welch(x, fs=sr, nperseg=nper, noverlap=nper // 2, window="hann")
    # Relative before the log, so the floor sits 120 dB below the peak, not at a fixed
    # absolute power that quiet recordings would hit.
    return f, db(p / max(float(p.max()), 1e-30))


def ir_response(ir, sr: int, n_fft: int = 1 << 15) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies (Hz) and magnitude response (dB, relative to its maximum) of an IR.

    Notebook: 01, 06, 08, 09
    """
    h = np.abs(np.fft.rfft(_np(ir), n_fft))
    f = np.fft.rfftfreq(n_fft, 1.0 / sr)
    m = 20.0 * np.log10(np.maximum(h, 1e-12))
    return f, m - m.max()


def _new(ax=None):
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
    return fig, ax


def plot_waveform(x, sr: int, title: str, ax=None, color: str = "C0", label: str | None = None):
    fig, ax = _new(ax)
    y = _np(x)
    t = np.arange(y.size) / sr
    ax.plot(t, y, color=color, linewidth=0.5, label=label)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("amplitude (full scale)")
    ax.set_xlim(0, t[-1] if t.size else 1)
    ax.set_ylim(-1.05, 1.05)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if label:
        ax.legend(loc="upper right")
    fig.tight_layout()
    return fig


def plot_spectrum(signals: dict, sr: int, title: str, ax=None, floor_db: float = -100.0):
    """One or more long-term spectra, each normalized to its own peak.

    Notebook: 01, 06, 08, 09
    """
    fig, ax = _new(ax)
    for i, (label, x) in enumerate(signals.items()):
        f, p = average_spectrum(x, sr)
        keep = (f >= F_MIN) & (f <= min(F_MAX, sr / 2))
        ax.semilogx(f[keep], p[keep], color=f"C{i}", linewidth=1.0, label=label)
    _freq_axis(ax, sr, floor_db)
    ax.set_ylabel("power (dB re peak)")
    ax.set_title(title)
    ax.legend(loc="lower left")
    fig.tight_layout()
    return fig


def _freq_axis(ax, sr, floor_db):
    ax.set_xlim(F_MIN, min(F_MAX, sr / 2))
    ax.set_ylim(floor_db, 5)
    ax.set_xlabel("frequency (Hz, log scale)")
    ticks = [20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000]
    ax.set_xticks([t for t in ticks if t <= sr / 2])
    ax.set_xticklabels([f"{t // 1000}k" if t >= 1000 else str(t) for t in ticks if t <= sr / 2])
    ax.grid(alpha=0.3, which="both")


def plot_ir(ir, sr: int, title: str = "Cabinet impulse response", ax=None, ms: float | None = None):
    fig, ax = _new(ax)
    y = _np(ir)
    t = np.arange(y.size) / sr * 1000.0
    ax.plot(t, y, linewidth=0.8)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("amplitude (re peak)")
    ax.set_xlim(0, ms if ms else t[-1])
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_ir_spectrum(irs: dict, sr: int, title: str = "Cabinet frequency response", ax=None, floor_db: float = -60.0):
    fig, ax = _new(ax)
    for i, (label, ir) in enumerate(irs.items()):
        f, m = ir_response(ir, sr)
        keep = (f >= F_MIN) & (f <= sr / 2)
        ax.semilogx(f[keep], m[keep], color=f"C{i}", linewidth=1.0, label=label)
    _freq_axis(ax, sr, floor_db)
    ax.set_ylabel("magnitude (dB re peak)")
    ax.set_title(title)
    ax.legend(loc="lower left")
    fig.tight_layout()
    return fig


def plot_transfer_curve(curves: dict, title: str = "Transfer curve", ax=None, zoom_outputs: bool = False):
    """Input level against output level for each named curve (model, reference...).

    ``zoom_outputs``: fit the output axis to the curves (with a margin) rather than to
    the straight wire, for systems whose output is far below their input.

    Notebook: 01, 06, 08, 09
    """
    fig, ax = _new(ax)
    for i, (label, (xin, yout)) in enumerate(curves.items()):
        ax.plot(_np(xin), _np(yout), color=f"C{i}", linewidth=1.5, label=label)
    lim = max(1.0, max(float(np.max(np.abs(_np(x)))) for x, _ in curves.values()))
    ax.plot([-lim, lim], [-lim, lim], color="0.6", linestyle=":", linewidth=1, label="straight wire")
    if zoom_outputs:
        top = 1.15 * max(float(np.max(np.abs(_np(y)))) for _, y in curves.values())
        ax.set_ylim(-top, top)
    ax.set_xlabel("input level (full scale)")
    ax.set_ylabel("output level (full scale)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def plot_knob_map(kmap, trained: Sequence[Mapping[str, float]] = (), *,
                  added: Sequence[Mapping[str, float]] = (), title: str = "", vmin: float | None = None,
                  vmax: float | None = None, ax=None):
    """A :class:`~guneamp_lib.study.knob_map.KnobMap` as a heat map, the trained settings as circles.

    The colour scale is logarithmic: an ESR of 0.01 and one of 0.1 differ as much as 0.1 and 1.
    The dashed box is the trained settings' range; ``added`` settings (trained too) are stars.
    Give two maps the same ``vmin`` and ``vmax`` to compare them colour for colour.

    Notebook: 13
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.0, 4.2), dpi=DPI)
    else:
        fig = ax.figure
    dx = (kmap.x[1] - kmap.x[0]) / 2 if kmap.x.size > 1 else 0.5
    dy = (kmap.y[1] - kmap.y[0]) / 2 if kmap.y.size > 1 else 0.5
    extent = (kmap.x[0] - dx, kmap.x[-1] + dx, kmap.y[0] - dy, kmap.y[-1] + dy)
    norm = LogNorm(vmin=vmin or float(kmap.esr.min()), vmax=vmax or float(kmap.esr.max()))
    im = ax.imshow(kmap.esr, origin="lower", extent=extent, aspect="auto", cmap="magma_r", norm=norm)
    for i in range(kmap.y.size):
        for j in range(kmap.x.size):
            shade = norm(kmap.esr[i, j])
            ax.text(kmap.x[j], kmap.y[i], f"{kmap.esr[i, j]:.2g}", ha="center", va="center", fontsize=7, zorder=4,
                    color="white" if shade > 0.6 else "black")

    def point(s):
        return (float(s[kmap.x_knob]), float(s[kmap.y_knob]))

    stars = {point(s) for s in added}
    own = [s for s in trained if point(s) not in stars]
    if own:
        ax.scatter([s[kmap.x_knob] for s in own], [s[kmap.y_knob] for s in own], s=320, facecolors="none",
                   edgecolors="C0", linewidths=2, label="trained on", zorder=3)
    if trained:  # the trained range, which the model leaves only by extrapolating
        xs, ys = [s[kmap.x_knob] for s in trained], [s[kmap.y_knob] for s in trained]
        ax.add_patch(plt.Rectangle((min(xs), min(ys)), max(xs) - min(xs), max(ys) - min(ys), fill=False,
                                   ls="--", lw=1, ec="C0"))
    if added:
        ax.scatter([s[kmap.x_knob] for s in added], [s[kmap.y_knob] for s in added], s=380, marker="*", alpha=0.8,
                   c="C2", edgecolors="black", label="one more capture", zorder=3)
    ax.set_xlabel(kmap.x_knob)
    ax.set_ylabel(kmap.y_knob)
    ax.set_title(title or f"ESR over {kmap.x_knob} and {kmap.y_knob}")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2, fontsize=8, frameon=False)
    # Plain tick labels (0.1, 0.2, 0.5): the default 10^x labels need TeX fonts the course does not install.
    bar = fig.colorbar(im, ax=ax, label="ESR (log scale)", ticks=LogLocator(subs=(1.0, 2.0, 5.0)),
                       format=FormatStrFormatter("%g"))
    bar.ax.minorticks_off()
    fig.tight_layout()
    return fig


def save_figure(fig, name: str, folder: str | os.PathLike | None = None) -> Path:
    """Save ``fig`` as ``graphs/<name>`` (or ``folder/<name>``), atomically.

    Notebook: 01, 06, 08, 09
    """
    folder = Path(folder) if folder else paths.graphs_dir()
    path = folder / name
    with paths.atomic_output(path, suffix=".png") as tmp:
        # No timestamps in the file, so an unchanged graph gives an unchanged file.
        fig.savefig(tmp, dpi=DPI, metadata={"Software": None})
    return path
