"""Widgets driven headlessly: move a control, check numbers and figure data follow."""

import numpy as np
import pytest

from guneamp_lib.course.widgets import (
    ArchitectureExplorer, LossExplorer, describe_architecture, parse_dilations, pre_emphasis_response,
)


def test_describe_architecture_matches_the_model():
    d = describe_architecture()
    assert d["receptive_field"] == 17 and d["parameters"] == 6433
    assert d["per_layer"] == [128, 3104, 3104, 97]
    assert d["rf_ms_1x"] == pytest.approx(17 / 44.1)


def test_architecture_explorer_follows_its_sliders():
    ex = ArchitectureExplorer()
    assert ex.state["receptive_field"] == 17
    ex.dilations.value = "1, 2, 4, 8"
    assert ex.state["receptive_field"] == 1 + 2 * 15
    ex.channels.value = 16
    assert ex.state["parameters"] == 16 * 3 + 16 + 2 * (16 * 16 * 3 + 16) + 16 * 3 + 1
    heights = [p.get_height() for p in ex.ax.patches]
    assert heights == ex.state["per_layer"]
    ex.kernel_size.value = 5
    assert ex.state["receptive_field"] == 1 + 4 * 15


def test_architecture_explorer_reports_bad_dilations():
    ex = ArchitectureExplorer()
    before = dict(ex.state)
    ex.dilations.value = "1, two"
    assert "whole numbers" in ex.summary.value and ex.state == before
    with pytest.raises(ValueError):
        parse_dilations("0, 1")


def test_loss_explorer_follows_its_sliders():
    ex = LossExplorer()
    y0 = ex.line.get_ydata().copy()
    r0 = ex.state["ratio"]
    assert r0 > 1.2  # the 5 kHz mistake costs about a quarter more than the 100 Hz one
    ex.coeff.value = 0.5
    assert not np.allclose(ex.line.get_ydata(), y0)
    assert np.allclose(ex.line.get_ydata(), pre_emphasis_response(0.5, ex.FREQS))
    ex.weight.value = 0.0
    assert ex.state["ratio"] == pytest.approx(1.0, rel=1e-3)  # plain MSE: equal cost
