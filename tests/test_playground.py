"""The playground dashboard, driven headlessly: move a control, check what follows."""

import numpy as np
import pytest
import torch
from scipy.signal import butter, sosfilt

from guneamp_lib.models.checkpoint import Checkpoint, save_checkpoint
from guneamp_lib.errors import GuneampError
from guneamp_lib.models import SeedCNN
from guneamp_lib.course.playground import COURSE_LABEL, Playground, band_db, find_checkpoints, level_spectrum

from .conftest import toy_amp, toy_di

SR = 44100


def lowpass_ir(n=512, hz=2000.0):
    impulse = np.zeros(n)
    impulse[0] = 1.0
    h = sosfilt(butter(4, hz, fs=SR, output="sos"), impulse)
    return torch.tensor(h / np.abs(h).max(), dtype=torch.float32)


def save_model(path, seed, oversample=1, sr=SR):
    torch.manual_seed(seed)
    return save_checkpoint(path, Checkpoint(SeedCNN(channels=8), "seed_cnn", sr, oversample, 256))


@pytest.fixture
def runs(tmp_path):
    root = tmp_path / "runs"
    save_model(root / "zz_other" / "best.pt", seed=1)
    save_model(root / "zz_other" / "last.pt", seed=2)
    save_model(root / "course" / "seed_cnn" / "best.pt", seed=3, oversample=2)
    save_model(root / "loose.pt", seed=4)
    return root


@pytest.fixture
def toy():
    x = toy_di(seconds=2.0)
    ir = lowpass_ir()
    y = np.convolve(toy_amp(x), ir.numpy())[: x.size]
    return x, (y / np.abs(y).max()).astype(np.float32), ir


def make(toy, runs, reference=True, **kw):
    x, y, ir = toy
    ref = (lambda u, sr: toy_amp(np.asarray(u, dtype=np.float32))) if reference else None
    return Playground(x, y, SR, find_checkpoints(runs), ir=ir, reference=ref, seconds=1.0, start=0.6, **kw)


def test_find_checkpoints_labels_and_order(runs, tmp_path):
    found = find_checkpoints(runs)
    assert list(found) == [COURSE_LABEL, "loose", "zz_other"]  # the course model first, no last.pt
    assert found["zz_other"].name == "best.pt"
    assert find_checkpoints(tmp_path / "missing") == {}


def test_reference_at_zero_gain_reproduces_the_recording(toy, runs):
    pg = make(toy, runs)
    amp = pg.signals()["real amp"]
    assert torch.allclose(amp, pg.target, atol=1e-3)  # same amp, same cabinet, rescaled to its units


def test_gain_slider_moves_output_spectrum_and_numbers(toy, runs):
    pg = make(toy, runs)
    before = dict(pg.state)
    line = pg.model_line.get_ydata().copy()
    clean_line = pg.clean_line.get_ydata().copy()
    pg.gain.value = 6.0
    assert pg.state["gain_db"] == 6.0
    assert pg.state["model_rms_db"] != pytest.approx(before["model_rms_db"], abs=0.1)
    assert pg.state["amp_rms_db"] > before["amp_rms_db"]  # the real amp is rendered again, louder
    assert not np.allclose(pg.model_line.get_ydata(), line)
    # the clean line moves up by exactly the gain
    assert np.nanmedian(pg.clean_line.get_ydata() - clean_line) == pytest.approx(6.0, abs=0.01)
    assert "+6 dB" in pg.ax.get_title()


def test_cabinet_toggle_drops_the_highs(toy, runs):
    pg = make(toy, runs)
    f = pg.freqs[pg._keep]
    hi, mid = f > 5000, (f > 200) & (f < 1000)

    def tilt():  # the model line above 5 kHz, relative to its 200 Hz - 1 kHz level
        y = pg.model_line.get_ydata()
        return np.mean(y[hi]) - np.mean(y[mid])

    with_ir, tilt_with = dict(pg.state), tilt()
    pg.cabinet.value = False
    assert pg.state["use_ir"] is False
    assert with_ir["model_high_db"] < pg.state["model_high_db"] - 10
    assert with_ir["amp_high_db"] < pg.state["amp_high_db"] - 10
    assert tilt_with < tilt() - 10  # the spectrum line follows
    pg.cabinet.value = True
    assert pg.state["model_high_db"] == pytest.approx(with_ir["model_high_db"])
    assert tilt() == pytest.approx(tilt_with)


def test_switching_checkpoint_changes_the_output(toy, runs):
    pg = make(toy, runs)
    first = pg.signals()["model"].clone()
    line = pg.model_line.get_ydata().copy()
    pg.model.value = "zz_other"
    assert pg.state["model"] == "zz_other"
    assert not torch.allclose(pg.signals()["model"], first)
    assert not np.allclose(pg.model_line.get_ydata(), line)
    assert pg.state["esr"] != pytest.approx(0.0)


def test_without_a_reference_the_real_amp_is_the_recording(toy, runs):
    pg = make(toy, runs, reference=False)
    pg.gain.value = -6.0
    assert torch.equal(pg.signals()["real amp"], pg.target)


def test_widget_and_errors(toy, runs, tmp_path):
    pg = make(toy, runs)
    box = pg.widget()
    assert pg.gain in box.children[0].children and pg.gain.description == "gain (dB)"
    assert pg.out in box.children  # the spectrum lives in an Output widget
    x, y, ir = toy
    with pytest.raises(GuneampError, match="no trained models"):
        Playground(x, y, SR, {}, ir=ir)
    save_model(tmp_path / "other_rate" / "best.pt", seed=5, sr=48000)
    pg2 = Playground(x, y, SR, find_checkpoints(tmp_path / "other_rate"), ir=ir, seconds=1.0, start=0.6)
    assert "48000" in pg2.summary.value and pg2.state == {}


def test_spectrum_helpers():
    t = np.arange(SR) / SR
    x = np.sin(2 * np.pi * 1000 * t)
    f, p = level_spectrum(x, SR)
    assert p.max() == pytest.approx(0.0, abs=0.1)  # a full-scale sine reads 0 dB
    assert band_db(x, SR, 5000) < -60 and band_db(x, SR, 500, 2000) == pytest.approx(0.0, abs=0.5)
