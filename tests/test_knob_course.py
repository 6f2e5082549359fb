"""Notebook 13's library code: in-memory captures of the reference amp, the ESR map, the shared sliders."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from guneamp_lib.capture.guitar import DI_PEAK, synth_di
from guneamp_lib.capture.knob_synth import reference_captures, reference_take
from guneamp_lib.capture.synth import ReferenceAmp
from guneamp_lib.course.plotting import plot_knob_map
from guneamp_lib.course.widgets import KnobExplorer
from guneamp_lib.dsp.error import esr
from guneamp_lib.errors import GuneampError
from guneamp_lib.study.knob_map import esr_map, model_settings
from guneamp_lib.study.knob_score import knob_model_output
from guneamp_lib.training.knob_data import make_knob_training_data
from guneamp_lib.training.train import TrainConfig, train

SR = 16000  # the lowest rate synth_di takes: the reference amp and the LSTM run at any, and a low one is quick
SETTINGS = [{"drive": 0.0, "treble": 2.0}, {"drive": 6.0, "treble": 8.0}, {"drive": 3.0, "treble": 5.0}]


@pytest.fixture(scope="module")
def knob_ckpt():
    """A tiny knob LSTM, a few steps on three captures: untrained, but a knob model with real ranges."""
    caps = reference_captures(SETTINGS, 1.0, SR, seed=0, fixed={"bass": 4.0})
    data = make_knob_training_data(caps, SR, target_kind="amp_direct")
    cfg = TrainConfig(model="lstm", model_kwargs={"hidden_size": 8}, epochs=1, steps_per_epoch=2, time_budget_s=None,
                      segment=1024, device="cpu")
    return train(data, cfg, progress=False).checkpoint


def test_reference_captures_are_the_amp_at_each_setting_with_a_take_each():
    caps = reference_captures(SETTINGS, 0.5, SR, seed=3, fixed={"bass": 4.0})
    again = reference_captures(SETTINGS, 0.5, SR, seed=3, fixed={"bass": 4.0})
    assert [s for _, _, s in caps] == SETTINGS
    for (di, y, s), (di2, y2, _) in zip(caps, again):
        assert np.array_equal(di, di2) and np.array_equal(y, y2)  # deterministic from the seed
        assert np.array_equal(y, ReferenceAmp(bass=4.0, **s)(di / DI_PEAK, SR))
    assert not np.array_equal(caps[0][0], caps[1][0])  # each setting plays its own take
    with pytest.raises(GuneampError, match="seconds"):
        reference_captures(SETTINGS, 0.0, SR)


def test_the_map_is_the_esr_of_model_against_amp_at_every_point(knob_ckpt):
    di = synth_di(0.25, SR, seed=9)
    refs = {}
    m = esr_map(knob_ckpt, di, SR, "drive", [0.0, 5.0, 10.0], "treble", [2.0, 8.0], fixed={"bass": 4.0},
                references=refs)
    assert m.esr.shape == (2, 3) and len(refs) == 6
    s = m.setting(1, 2)
    assert s == {"bass": 4.0, "drive": 10.0, "treble": 8.0}
    want = esr(ReferenceAmp(**s)(di / DI_PEAK, SR),
               knob_model_output(knob_ckpt, di, {"drive": 10.0, "treble": 8.0}, extrapolate=True).numpy())
    assert m.esr[1, 2] == pytest.approx(want, rel=1e-12)
    i, j = np.unravel_index(np.argmax(m.esr), m.esr.shape)
    assert m.worst() == m.setting(i, j) and m.at(m.worst()) == m.esr.max()
    assert sorted(m.select(lambda p: p["drive"] <= 5.0)) == sorted(m.esr[:, :2].ravel())
    # The renders are kept: a second map reuses them and gives the same numbers.
    kept = dict(refs)
    m2 = esr_map(knob_ckpt, di, SR, "drive", [0.0, 5.0, 10.0], "treble", [2.0, 8.0], fixed={"bass": 4.0},
                 references=refs)
    assert np.array_equal(m.esr, m2.esr) and all(refs[k] is v for k, v in kept.items())


def test_the_map_refuses_what_the_model_cannot_be_asked(knob_ckpt):
    di = synth_di(0.1, SR, seed=9)
    with pytest.raises(GuneampError, match="outside the range"):
        esr_map(knob_ckpt, di, SR, "drive", [0.0, 10.0], "treble", [5.0], extrapolate=False)
    with pytest.raises(GuneampError, match="two different knobs"):
        esr_map(knob_ckpt, di, SR, "drive", [0.0], "drive", [5.0])
    with pytest.raises(GuneampError, match="treble"):
        model_settings(knob_ckpt, {"drive": 1.0, "bass": 2.0})
    with pytest.raises(GuneampError, match="not a point"):
        esr_map(knob_ckpt, di, SR, "drive", [0.0], "treble", [5.0]).at({"drive": 1.0, "treble": 5.0})


def test_one_slider_sets_the_amp_and_the_model(knob_ckpt):
    di = synth_di(0.5, SR, seed=4)
    ex = KnobExplorer(knob_ckpt, di, SR, fixed={"bass": 4.0}, seconds=0.25)
    assert set(ex.sliders) == {"drive", "treble"}
    assert (ex.sliders["drive"].min, ex.sliders["drive"].max) == (0.0, 6.0)  # the trained range
    assert ex.state["setting"] == {"bass": 4.0, "drive": 3.0, "treble": 5.0}  # the middle of each range
    ex.sliders["drive"].value = 1.5
    ex.sliders["treble"].value = 7.5
    s = ex.state
    assert s["setting"] == {"bass": 4.0, "drive": 1.5, "treble": 7.5}
    amp = ReferenceAmp(bass=4.0, drive=1.5, treble=7.5)(ex.di / DI_PEAK, SR)
    model = knob_model_output(knob_ckpt, ex.di, {"drive": 1.5, "treble": 7.5}).numpy()
    assert np.array_equal(s["amp"], amp) and np.array_equal(s["model"], model)
    assert s["esr"] == pytest.approx(esr(amp, model), rel=1e-12)
    assert set(ex.signals()) == {"clean DI", "reference amp", "knob model"} and "<audio" in ex.heard.value
    wide = KnobExplorer(knob_ckpt, di, SR, seconds=0.25, extrapolate=True)
    wide.sliders["drive"].value = 10.0  # beyond the trained range: asked with extrapolation
    assert wide.state["setting"]["drive"] == 10.0 and np.isfinite(wide.state["esr"])


def test_explorer_refuses_a_snapshot_model(knob_ckpt):
    from dataclasses import replace

    with pytest.raises(GuneampError, match="snapshot"):
        KnobExplorer(replace(knob_ckpt, knobs=None), synth_di(0.1, SR, seed=4), SR)


def test_plot_marks_the_trained_and_the_added_settings(knob_ckpt):
    m = esr_map(knob_ckpt, synth_di(0.1, SR, seed=9), SR, "drive", [0.0, 3.0, 6.0], "treble", [2.0, 8.0])
    fig = plot_knob_map(m, SETTINGS + [{"drive": 6.0, "treble": 2.0}], added=[{"drive": 6.0, "treble": 2.0}])
    ax = fig.axes[0]
    dots, stars = ax.collections[0], ax.collections[1]
    assert len(dots.get_offsets()) == 3 and [tuple(p) for p in stars.get_offsets()] == [(6.0, 2.0)]
    assert len(ax.texts) == m.esr.size  # every point's ESR is written on it
    assert np.allclose(ax.images[0].get_array(), m.esr)
