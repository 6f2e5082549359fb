"""Interactive explorers for the notebooks (04, 05, 10 and 13).

Each explorer is a small class: its controls are ordinary ipywidgets, every change
recomputes a ``state`` dict of numbers and redraws one matplotlib figure, and
``widget()`` returns the box to display. Keeping the numbers in ``state`` (and the curves
in the figure's line objects) lets the tests move a slider headlessly and check what
changed. Following the FMP notebooks, each notebook first calls the plain function with
its defaults, so the static figure is there without a kernel, then offers the sliders;
sliders use ``continuous_update=False`` so work happens when the slider is released.

:class:`KnobExplorer` (notebook 13) puts the reference amp's knobs and a knob model's on the
same sliders: every change sets *both* to the sliders' values and plays one DI through each,
so the comparison is always at one setting.
"""

from __future__ import annotations

import math
from typing import Mapping

import matplotlib.pyplot as plt
import numpy as np

from ..dsp.error import esr
from ..training.losses import design_loss
from ..models import SeedCNN
from ..study.knob_map import model_settings, reference_output
from ..study.knob_score import knob_model_output
from .players import MAX_SECONDS, players

SR = 44100


def _output_figure(out, fig):
    from IPython.display import display

    with out:
        out.clear_output(wait=True)
        display(fig)


def parse_dilations(text: str) -> list[int]:
    try:
        values = [int(v) for v in str(text).replace(",", " ").split()]
    except ValueError:
        raise ValueError(f"dilations must be whole numbers separated by commas, got {text!r}") from None
    if not values or min(values) < 1:
        raise ValueError("give at least one dilation, each 1 or more")
    return values


def describe_architecture(channels: int = 32, kernel_size: int = 3, dilations=(1, 2, 4, 1),
                          sample_rate: int = SR, oversample: int = 8) -> dict:
    """Receptive field and parameter count of a SeedCNN-shaped network.

    Notebook: 04, 05
    """
    model = SeedCNN(channels=channels, kernel_size=kernel_size, dilations=tuple(dilations))
    rf = model.receptive_field
    per_layer = [sum(p.numel() for p in layer.parameters()) for layer in model.layers]
    return {
        "receptive_field": rf,
        "rf_ms_1x": 1000.0 * rf / sample_rate,
        "rf_ms_os": 1000.0 * rf / (sample_rate * oversample),
        "parameters": sum(per_layer),
        "per_layer": per_layer,
    }


class ArchitectureExplorer:
    """Channels, kernel size and dilations in; receptive field and parameters out.

    Notebook: 04, 05
    """

    def __init__(self, channels: int = 32, kernel_size: int = 3, dilations=(1, 2, 4, 1), oversample: int = 8):
        import ipywidgets as W

        self.oversample = oversample
        self.channels = W.IntSlider(value=channels, min=1, max=64, description="channels", continuous_update=False)
        self.kernel_size = W.IntSlider(value=kernel_size, min=1, max=9, description="kernel", continuous_update=False)
        self.dilations = W.Text(value=", ".join(map(str, dilations)), description="dilations", continuous_update=False)
        self.summary = W.HTML()
        self.out = W.Output()
        self.fig, self.ax = plt.subplots(figsize=(7, 2.8))
        plt.close(self.fig)  # shown through the Output widget only
        self.state: dict = {}
        for w in (self.channels, self.kernel_size, self.dilations):
            w.observe(self.update, names="value")
        self.update()

    def update(self, *_):
        try:
            dil = parse_dilations(self.dilations.value)
        except ValueError as exc:
            self.summary.value = f"<b style='color:#b00'>{exc}</b>"
            return
        self.state = describe_architecture(self.channels.value, self.kernel_size.value, dil, oversample=self.oversample)
        s = self.state
        self.summary.value = (
            f"receptive field <b>{s['receptive_field']}</b> samples = {s['rf_ms_1x']:.3f} ms at 1x, "
            f"{s['rf_ms_os']:.4f} ms at {self.oversample}x &nbsp;|&nbsp; parameters <b>{s['parameters']:,}</b>"
        )
        self.ax.clear()
        self.ax.bar(range(1, len(s["per_layer"]) + 1), s["per_layer"], color="C0")
        self.ax.set_xlabel("layer")
        self.ax.set_ylabel("parameters")
        self.ax.set_title(f"{s['parameters']:,} parameters, receptive field {s['receptive_field']} samples")
        self.ax.grid(alpha=0.3, axis="y")
        self.fig.tight_layout()
        _output_figure(self.out, self.fig)

    def widget(self):
        import ipywidgets as W

        return W.VBox([W.HBox([self.channels, self.kernel_size, self.dilations]), self.summary, self.out])


def pre_emphasis_response(coeff: float, freqs: np.ndarray, sample_rate: int = SR) -> np.ndarray:
    """Magnitude (dB) of ``1 - coeff z^-1`` at ``freqs``.

    Notebook: 04, 05
    """
    w = 2 * np.pi * np.asarray(freqs) / sample_rate
    return 20 * np.log10(np.abs(1 - coeff * np.exp(-1j * w)) + 1e-12)


def loss_of_errors(coeff: float, weight: float, sample_rate: int = SR, seconds: float = 0.1) -> dict:
    """The designed loss for two equally loud mistakes: one at 100 Hz, one at 5 kHz.

    Notebook: 04, 05
    """
    import torch

    t = torch.arange(int(seconds * sample_rate)) / sample_rate
    target = torch.zeros_like(t)
    out = {}
    for f in (100, 5000):
        err = 0.1 * torch.sin(2 * math.pi * f * t)
        out[f] = design_loss(err, target, coeff, weight).item()
    return out


class LossExplorer:
    """Pre-emphasis coefficient and weight in; filter response and loss values out.

    Notebook: 04, 05
    """

    FREQS = np.geomspace(20, 20000, 400)

    def __init__(self, coeff: float = 0.95, weight: float = 0.5):
        import ipywidgets as W

        self.coeff = W.FloatSlider(value=coeff, min=0.0, max=0.99, step=0.01, description="coeff", continuous_update=False)
        self.weight = W.FloatSlider(value=weight, min=0.0, max=2.0, step=0.05, description="weight", continuous_update=False)
        self.summary = W.HTML()
        self.out = W.Output()
        self.fig, self.ax = plt.subplots(figsize=(7, 2.8))
        plt.close(self.fig)
        (self.line,) = self.ax.semilogx(self.FREQS, pre_emphasis_response(coeff, self.FREQS))
        self.ax.set_xlabel("frequency (Hz, log scale)")
        self.ax.set_ylabel("gain (dB)")
        self.ax.set_ylim(-45, 10)
        self.ax.grid(alpha=0.3, which="both")
        self.state: dict = {}
        for w in (self.coeff, self.weight):
            w.observe(self.update, names="value")
        self.update()

    def update(self, *_):
        c, w = self.coeff.value, self.weight.value
        self.line.set_ydata(pre_emphasis_response(c, self.FREQS))
        losses = loss_of_errors(c, w)
        self.state = {"coeff": c, "weight": w, "loss_100hz": losses[100], "loss_5khz": losses[5000],
                      "ratio": losses[5000] / losses[100]}
        self.ax.set_title(f"pre-emphasis 1 - {c:.2f} z^-1")
        self.summary.value = (
            f"designed loss for a 100 Hz error: <b>{losses[100]:.5f}</b>, for the same error at 5 kHz: "
            f"<b>{losses[5000]:.5f}</b> ({self.state['ratio']:.2f}x)"
        )
        _output_figure(self.out, self.fig)

    def widget(self):
        import ipywidgets as W

        return W.VBox([W.HBox([self.coeff, self.weight]), self.summary, self.out])


# Slider resolution in dial units: half a number on a 0-10 dial, as fine as a player sets one.
SLIDER_STEP = 0.5


class KnobExplorer:
    """One slider per knob of the model, setting the reference amp and the model together.

    ``fixed`` holds the amp's other knobs (the model has none for them). Sliders span the
    model's trained range; ``extrapolate`` widens them to ``span`` (the amp's whole dial).

    Notebook: 13
    """

    def __init__(self, ckpt, di, sr: int, *, fixed: Mapping[str, float] | None = None,
                 seconds: float = MAX_SECONDS, extrapolate: bool = False, span: tuple[float, float] = (0.0, 10.0)):
        import ipywidgets as W

        self.ckpt, self.sr, self.extrapolate = ckpt, int(sr), extrapolate
        self.di = np.asarray(di, dtype=np.float32)[: int(seconds * sr)]
        self.fixed = dict(fixed or {})
        centre = ckpt.knobs.center() if ckpt.knobs is not None else {}
        model_settings(ckpt, centre)  # a snapshot model is refused here, before any slider
        self.sliders = {}
        for k in ckpt.knobs.knobs:
            low, high = span if extrapolate else (k.low, k.high)
            self.sliders[k.name] = W.FloatSlider(value=centre[k.name], min=low, max=high, step=SLIDER_STEP,
                                                 description=k.name, continuous_update=False)
        self.summary = W.HTML()
        self.heard = W.HTML()  # plain HTML, not an Output widget: headless runs never wait on it
        self.references: dict = {}
        self.state: dict = {}
        for s in self.sliders.values():
            s.observe(self.update, names="value")
        self.update()

    def setting(self) -> dict:
        """The sliders' values, with the amp's fixed knobs: what both the amp and the model play at."""
        return {**self.fixed, **{n: float(s.value) for n, s in self.sliders.items()}}

    def update(self, *_):
        setting = self.setting()
        amp = reference_output(setting, self.di, self.sr, self.references)
        model = knob_model_output(self.ckpt, self.di, model_settings(self.ckpt, setting),
                                  extrapolate=self.extrapolate).numpy()
        self.state = {"setting": setting, "amp": amp, "model": model, "esr": esr(amp, model)}
        shown = ", ".join(f"{n} {v:g}" for n, v in setting.items())
        self.summary.value = f"{shown}: ESR of the model against the amp <b>{self.state['esr']:.3f}</b>"
        self.heard.value = players(self.signals(), self.sr).data

    def signals(self) -> dict:
        return {"clean DI": self.di, "reference amp": self.state["amp"], "knob model": self.state["model"]}

    def widget(self):
        import ipywidgets as W

        return W.VBox([W.HBox(list(self.sliders.values())), self.summary, self.heard])
