"""The plotting module: labelled axes, log frequency, dB, and files that do not change by themselves."""

import numpy as np
import pytest

from guneamp_lib.course import plotting

SR = 44100


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plotting.plt.close("all")


def test_spectrum_has_a_log_frequency_axis_in_db_below_the_peak():
    t = np.arange(SR) / SR
    fig = plotting.plot_spectrum({"tone": np.sin(2 * np.pi * 1000 * t)}, SR, "a tone")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and "Hz" in ax.get_xlabel() and "dB" in ax.get_ylabel()
    f, p = ax.lines[0].get_data()
    assert abs(f[np.argmax(p)] - 1000) < 30 and np.max(p) == pytest.approx(0.0, abs=1e-6)


def test_transfer_curve_zoom_fits_the_outputs_and_keeps_the_wire():
    x = np.linspace(-1, 1, 41)
    curves = {"soft": (x, 0.34 * np.tanh(2 * x)), "hard": (x, 0.1 * np.sign(x))}
    full = plotting.plot_transfer_curve(curves).axes[0]
    zoom = plotting.plot_transfer_curve(curves, zoom_outputs=True).axes[0]
    assert full.get_ylim()[1] > 0.9  # the straight wire sets the scale
    top = zoom.get_ylim()[1]
    assert top == pytest.approx(1.15 * 0.34 * np.tanh(2), rel=1e-6) and zoom.get_ylim()[0] == -top
    assert [ln.get_label() for ln in zoom.lines] == ["soft", "hard", "straight wire"]


def test_saved_graph_is_byte_stable(tmp_path):
    x = np.sin(np.linspace(0, 20, SR // 10))
    a = plotting.save_figure(plotting.plot_waveform(x, SR, "w"), "w.png", tmp_path).read_bytes()
    b = plotting.save_figure(plotting.plot_waveform(x, SR, "w"), "w.png", tmp_path).read_bytes()
    assert a == b and a[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.png"]
