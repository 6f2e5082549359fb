import numpy as np
import pytest
import torch
from scipy.signal import lfilter

from guneamp_lib.study import aliasing as al
from guneamp_lib.models import SeedCNN

SR = 44100


def test_static_clipper_aliases_more_at_1x_than_oversampled():
    for f in al.DEFAULT_FREQS_HZ:
        at_1x = al.tone_alias_db(al.clipper_system(10.0, 1), f, 0.5, SR)
        at_8x = al.tone_alias_db(al.clipper_system(10.0, 8), f, 0.5, SR)
        assert at_8x < at_1x - 10, (f, at_1x, at_8x)


def test_a_linear_system_has_almost_no_alias_energy():
    def one_pole(x, sr):
        return lfilter([0.3], [1.0, -0.7], x)

    for r in al.measure({"linear": one_pole}, SR):
        assert r.alias_db < -100, r


def test_the_reference_amp_is_below_minus_60_db():
    res = al.measure({"ref": al.reference_amp_system()}, SR)
    assert max(r.alias_db for r in res) < -60


def test_model_system_runs_at_the_rate_it_is_given():
    torch.manual_seed(0)
    model = SeedCNN().eval()
    x = al.sine(3000.0, 0.2, SR, 0.5)
    from guneamp_lib.render.inference import predict

    for factor in (1, 8):
        y = al.model_system(model, factor)(x, SR)
        assert y.shape == x.shape
        assert np.allclose(y, predict(model, torch.from_numpy(x), factor).numpy())


def test_running_a_model_at_another_rate_changes_its_sound():
    """The fairness argument of the module docstring, in numbers: new rate, new filter."""
    torch.manual_seed(0)
    model = SeedCNN().eval()
    x = np.random.default_rng(0).standard_normal(SR // 4).astype(np.float32) * 0.3
    assert al.rate_change_esr(model, x, 1, 1) == pytest.approx(0.0, abs=1e-12)
    assert al.rate_change_esr(model, x, 1, 8) > 0.05


def test_measure_model_aliasing_labels_rates_and_adds_the_reference():
    torch.manual_seed(0)
    res = al.measure_model_aliasing({"m @1x": (SeedCNN().eval(), 1)}, SR, quick=True)
    names = {r.system for r in res}
    assert names == {al.REFERENCE_NAME, "m @1x", "m @1x run at 8x (not its trained sound)"}
    table = al.aliasing_markdown(res)
    assert table.count("\n") == 2 + len(names) - 1 and "4 kHz @ 0.5" in table
    text = al.conclusion(res)
    assert "reference amp" in text and "different effect" in text


def test_conclusion_compares_the_same_network_trained_at_each_rate():
    res = [al.AliasResult("net @1x", 4000.0, 0.5, -40.0), al.AliasResult("net @8x", 4000.0, 0.5, -70.0),
           al.AliasResult(al.REFERENCE_NAME, 4000.0, 0.5, -130.0)]
    text = al.conclusion(res)
    assert "Trained and run at 8x, net aliases 30 dB less than trained and run at 1x." in text
    assert "about as much as" in al.conclusion([al.AliasResult("a @1x", 4000.0, 0.5, -40.2),
                                                 al.AliasResult("a @8x", 4000.0, 0.5, -40.0)])
    assert "60 dB above the reference amp" in text


def test_plot_aliasing_draws_one_labelled_line_per_system():
    import matplotlib

    matplotlib.use("Agg")
    res = al.measure({"a": al.clipper_system(5.0, 1), "b": al.clipper_system(5.0, 8)}, SR, freqs=(2000.0, 4000.0),
                     levels=(0.1, 0.5), seconds=0.05)
    fig = al.plot_aliasing(res)
    labels = [h.get_label() for h in fig.axes[0].get_lines() if not h.get_label().startswith("_")]
    assert labels == ["a", "b"]
