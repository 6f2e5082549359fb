"""Interactive explorers for the notebooks (04, 05 and 10).

Each explorer is a small class: its controls are ordinary ipywidgets, every change
recomputes a ``state`` dict of numbers and redraws one matplotlib figure, and
``widget()`` returns the box to display. Keeping the numbers in ``state`` (and the curves
in the figure's line objects) lets the tests move a slider headlessly and check what
changed. Following the FMP notebooks, each notebook first calls the plain function with
its defaults, so the static figure is there without a kernel, then offers the sliders;
sliders use ``continuous_update=False`` so work happens when the slider is released.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np

from ..training.losses import design_loss
from ..models import SeedCNN

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
