"""The playground: hear and see a trained model next to the amp it imitates (notebook 10).

One dashboard in the explorer pattern of :mod:`guneamp_lib.course.widgets`: ordinary ipywidgets
controls, a ``state`` dict of numbers recomputed on every change, and one matplotlib
figure whose lines are updated in place and shown through an ``ipywidgets.Output``.

* **gain (dB)** scales the DI before it reaches the model, like the guitar's volume
  knob: 0 dB is the level the model was trained at.
* **model** picks any checkpoint found under ``runs/`` (:func:`find_checkpoints`).
* **cabinet IR** switches the cabinet convolution after the network on or off.

Three players (clean DI, real amp, model) and a long-term spectrum follow the controls.
With the course's data the "real amp" is the reference amp itself, rendered again at
the chosen gain, so the comparison stays fair away from 0 dB; with your own recordings
it is the recording, which exists at one gain only.
"""

from __future__ import annotations

import html
import math
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy.signal import welch

from .. import paths

from . import plotting
from ..models.checkpoint import Checkpoint
from ..models.nam import load_model_file
from ..errors import GuneampError
from ..render.inference import predict
from ..training.losses import esr

# The course model comes first in the list when present.
COURSE_LABEL = "course/seed_cnn"
# The band a cabinet removes: a guitar speaker gives almost nothing above 5 kHz. Its
# share of the signal's power is reported, not its absolute level: a cabinet IR also has
# gain in the guitar's main range, so switching it off changes the overall level too.
HIGH_BAND_HZ = 5000.0
# Input before the excerpt, so the amp's and the model's filters have settled when it starts.
PREROLL_S = 0.5
# Gain slider range (dB) and the spectrum's floor (dB re a full-scale sine).
GAIN_RANGE_DB = (-24.0, 12.0)
FLOOR_DB = -120.0


def find_checkpoints(root: str | os.PathLike | None = None) -> dict[str, Path]:
    """Checkpoints under ``root`` (default ``runs/``), labelled by their folder.

    ``runs/course/seed_cnn/best.pt`` is labelled ``course/seed_cnn``; ``last.pt`` files
    are left out (the best one of each run is the one to listen to).

    Notebook: 10
    """
    root = Path(root) if root else paths.runs_dir()
    found: dict[str, Path] = {}
    if not root.is_dir():
        return found
    for p in sorted(root.rglob("*.pt")):
        if p.name == "last.pt":
            continue
        rel = p.relative_to(root)
        label = rel.parent.as_posix() if p.name == "best.pt" else rel.with_suffix("").as_posix()
        found[label or p.stem] = p
    if COURSE_LABEL in found:
        found = {COURSE_LABEL: found.pop(COURSE_LABEL), **found}
    return found


def level_spectrum(x, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """Long-term spectrum in dB re a full-scale sine (absolute, so louder reads higher).

    Notebook: 10
    """
    x = np.asarray(x.detach().cpu() if hasattr(x, "detach") else x, dtype=np.float64).reshape(-1)
    nper = min(plotting.WELCH_NPERSEG, x.size)
    f, p = welch(x, fs=sr, nperseg=nper, noverlap=nper // 2, window="hann", scaling="spectrum")
    return f, 10.0 * np.log10(np.maximum(2.0 * p, 1e-15))


def band_db(x, sr: int, lo: float, hi: float = math.inf) -> float:
    """Power of ``x`` between ``lo`` and ``hi`` Hz, dB re a full-scale sine.

    Notebook: 10
    """
    f, p = welch(np.asarray(x, dtype=np.float64), fs=sr, nperseg=min(plotting.WELCH_NPERSEG, len(x)),
                 window="hann", scaling="density")
    power = p[(f >= lo) & (f < hi)].sum() * (f[1] - f[0])  # density times bin width: power in the band
    return float(10.0 * np.log10(max(2.0 * power, 1e-15)))


def rms_db(x) -> float:
    x = np.asarray(x, dtype=np.float64)
    return float(20.0 * np.log10(max(np.sqrt(np.mean(x**2)), 1e-12)))


class Playground:
    """Gain, model and cabinet in; players, a live spectrum and numbers out.

    Notebook: 10
    """

    def __init__(self, clean, target, sr: int, checkpoints: dict, *, ir=None, reference=None,
                 seconds: float = 3.0, start: float = 1.0, gain_db: float = 0.0, use_ir: bool = True,
                 model: str | None = None):
        import ipywidgets as W

        if not checkpoints:
            raise GuneampError(f"no trained models found under {paths.runs_dir()}: run notebook 06 (or `guneamp train`) first")
        self.sr = int(sr)
        self.ir = None if ir is None else torch.as_tensor(ir, dtype=torch.float32)
        self.reference = reference
        clean = torch.as_tensor(clean, dtype=torch.float32)
        target = torch.as_tensor(target, dtype=torch.float32)
        a = int(start * sr)
        b = min(a + int(seconds * sr), clean.numel())
        self.pre = min(int(PREROLL_S * sr), a)
        if b - a < sr // 10:
            raise GuneampError(f"the excerpt from {start} s for {seconds} s holds too little audio")
        self.clean_in = clean[a - self.pre : b]  # with pre-roll
        self.clean = clean[a:b]
        self.target = target[a:b]
        self.checkpoints = dict(checkpoints)
        self._models: dict[str, Checkpoint] = {}
        self._model_out: dict[tuple, torch.Tensor] = {}
        self._ref_out: dict[float, torch.Tensor] = {}
        self.ref_scale = self._reference_scale() if reference is not None else None

        labels = list(self.checkpoints)
        self.gain = W.FloatSlider(value=gain_db, min=GAIN_RANGE_DB[0], max=GAIN_RANGE_DB[1], step=1.0,
                                  description="gain (dB)", continuous_update=False)
        self.model = W.Dropdown(options=labels, value=model or labels[0], description="model")
        self.cabinet = W.Checkbox(value=use_ir and self.ir is not None, description="cabinet IR",
                                  disabled=self.ir is None)
        self.summary = W.HTML()
        self.players_out = W.Output()
        self.out = W.Output()

        self.fig, self.ax = plt.subplots(figsize=(8, 3.6), dpi=plotting.DPI)
        plt.close(self.fig)  # shown through the Output widget (and once, statically, by the notebook)
        f, _ = level_spectrum(self.clean, self.sr)
        self.freqs = f
        keep = (f >= plotting.F_MIN) & (f <= min(plotting.F_MAX, sr / 2))
        self._keep = keep
        nan = np.full(keep.sum(), np.nan)
        (self.clean_line,) = self.ax.semilogx(f[keep], nan, color="0.6", linewidth=0.8, label="clean DI")
        (self.amp_line,) = self.ax.semilogx(f[keep], nan, color="C1", linewidth=1.0, label="real amp")
        (self.model_line,) = self.ax.semilogx(f[keep], nan, color="C0", linewidth=1.0, label="model")
        plotting._freq_axis(self.ax, self.sr, FLOOR_DB)
        self.ax.set_ylabel("level (dB re full scale)")
        self.ax.legend(loc="lower left")
        self.state: dict = {}
        self._signals: dict | None = None
        self._shown = False  # the Output widgets are filled once the dashboard is displayed
        for w in (self.gain, self.model, self.cabinet):
            w.observe(self.update, names="value")
        self.update()

    @classmethod
    def for_course(cls, seed: int = 0, **kwargs) -> "Playground":
        """The course's data, its cabinet, the reference amp, and every model under ``runs/``."""
        from .runner import course_data
        from ..capture.synth import ReferenceAmp

        data = course_data(seed)
        return cls(data.clean, data.target, data.sample_rate, find_checkpoints(), ir=data.ir,
                   reference=ReferenceAmp(), **kwargs)

    # -- the signals -------------------------------------------------------------------
    def _reference_raw(self, gain_db: float) -> torch.Tensor:
        """The reference amp (no cabinet) on the excerpt at ``gain_db``, with pre-roll."""
        if gain_db not in self._ref_out:
            x = self.clean_in.numpy().astype(np.float64) * 10.0 ** (gain_db / 20.0)
            self._ref_out[gain_db] = torch.as_tensor(self.reference(x, self.sr), dtype=torch.float32)
        return self._ref_out[gain_db]

    def _cab(self, y: torch.Tensor, ir) -> torch.Tensor:
        from ..dsp.cabinet import convolve_ir

        return convolve_ir(y, ir) if ir is not None else y

    def _reference_scale(self) -> float:
        """One gain that brings the reference amp (through the cabinet) to the recording's units."""
        r = self._cab(self._reference_raw(0.0), self.ir)[self.pre :].double()
        t = self.target.double()
        return float((r @ t) / (r @ r))

    def checkpoint(self, label: str) -> Checkpoint:
        if label not in self._models:
            src = self.checkpoints[label]
            ck = src if isinstance(src, Checkpoint) else load_model_file(src)
            if ck.sample_rate != self.sr:
                raise GuneampError(f"{label} was trained at {ck.sample_rate} Hz, the audio here is at {self.sr} Hz")
            ck.model.eval()
            self._models[label] = ck
        return self._models[label]

    def _model_raw(self, label: str, gain_db: float) -> torch.Tensor:
        key = (label, gain_db)
        if key not in self._model_out:
            ck = self.checkpoint(label)
            x = self.clean_in * 10.0 ** (gain_db / 20.0)
            self._model_out[key] = predict(ck.model, x, ck.oversample)
        return self._model_out[key]

    def signals(self) -> dict[str, torch.Tensor]:
        """The three excerpts the players and the spectrum show, for the current controls."""
        g, label, use_ir = float(self.gain.value), self.model.value, bool(self.cabinet.value)
        ir = (self.ir if self.ir is not None else self.checkpoint(label).ir) if use_ir else None
        model = self._cab(self._model_raw(label, g), ir)[self.pre :]
        if self.reference is not None:
            amp = self.ref_scale * self._cab(self._reference_raw(g), ir)[self.pre :]
        else:
            amp = self.target  # a recording exists at one gain, with its cabinet
        return {"clean DI": self.clean * 10.0 ** (g / 20.0), "real amp": amp, "model": model}

    # -- the dashboard -----------------------------------------------------------------
    def update(self, *_):
        try:
            sig = self.signals()
        except GuneampError as exc:
            self.summary.value = f"<b style='color:#b00'>{html.escape(str(exc))}</b>"
            return
        k = self._keep
        for line, x in ((self.clean_line, sig["clean DI"]), (self.amp_line, sig["real amp"]), (self.model_line, sig["model"])):
            line.set_ydata(level_spectrum(x, self.sr)[1][k])
        m, a = sig["model"].numpy(), sig["real amp"].numpy()
        self.state = {
            "gain_db": float(self.gain.value),
            "model": self.model.value,
            "use_ir": bool(self.cabinet.value),
            "model_rms_db": rms_db(m),
            "amp_rms_db": rms_db(a),
            "model_high_db": band_db(m, self.sr, HIGH_BAND_HZ) - band_db(m, self.sr, 0.0),
            "amp_high_db": band_db(a, self.sr, HIGH_BAND_HZ) - band_db(a, self.sr, 0.0),
            "esr": esr(a, m),
        }
        s = self.state
        cab = "with the cabinet" if s["use_ir"] else "without the cabinet"
        self.ax.set_title(f"{s['model']}, gain {s['gain_db']:+.0f} dB, {cab}")
        self.summary.value = (
            f"model RMS <b>{s['model_rms_db']:.1f} dB</b> (real amp {s['amp_rms_db']:.1f} dB) &nbsp;|&nbsp; "
            f"share above {HIGH_BAND_HZ / 1000:.0f} kHz: model {s['model_high_db']:.1f} dB, real amp {s['amp_high_db']:.1f} dB "
            f"&nbsp;|&nbsp; ESR model vs real amp <b>{s['esr']:.3f}</b>"
        )
        self._signals = sig
        if self._shown:
            self._show(sig)

    def _show(self, sig):
        # Only ever called once the dashboard is on screen: writing into Output widgets
        # that nobody displays would only add traffic between kernel and front end (and
        # headless runners such as papermill emulate every such widget).
        from IPython.display import display

        from .players import players

        with self.players_out:
            self.players_out.clear_output(wait=True)
            display(players(sig, self.sr, seconds=len(self.clean) / self.sr))
        with self.out:
            self.out.clear_output(wait=True)
            display(self.fig)

    def widget(self):
        """The dashboard: controls, numbers, players and the live spectrum."""
        import ipywidgets as W

        self._shown = True
        if self._signals is not None:
            self._show(self._signals)
        return W.VBox([W.HBox([self.gain, self.model, self.cabinet]), self.summary, self.players_out, self.out])
