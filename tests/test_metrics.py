import json
import math

import numpy as np
import pytest
import torch

from guneamp_lib.training import losses
from guneamp_lib.study.metrics import (
    QUALITY_BANDS, Report, dc_error, esr, esr_pre_emphasis, multi_resolution_stft_distance, quality,
    reports_to_markdown,
)
from guneamp_lib.models import SeedCNN

SR = 44100


def _sine(n=SR, f=441.0):
    # 441 Hz at 44.1 kHz: exactly 100 samples a period, so a second holds whole periods (mean 0).
    return np.sin(2 * np.pi * f * np.arange(n) / SR)


def _noise(seed=0, n=SR):
    return np.random.default_rng(seed).standard_normal(n)


def test_esr_is_the_one_from_losses():
    assert esr is losses.esr


def test_identical_signals_score_zero_everywhere():
    y = _noise()
    assert esr(y, y) == 0.0
    assert esr_pre_emphasis(y, y) == 0.0
    assert multi_resolution_stft_distance(y, y) == 0.0
    assert dc_error(y, y) == 0.0


def test_gain_of_0_9_gives_esr_0_01():
    y = _noise()
    assert esr(y, 0.9 * y) == pytest.approx(0.01, rel=1e-9)
    # Pre-emphasis is linear, so the same gain error survives it unchanged.
    assert esr_pre_emphasis(y, 0.9 * y) == pytest.approx(0.01, rel=1e-9)


def test_pre_emphasis_weights_treble():
    # An error at 10 kHz counts far more after pre-emphasis than one at 100 Hz.
    y = _sine()
    lo = y + 0.1 * np.sin(2 * np.pi * 100 * np.arange(SR) / SR)
    hi = y + 0.1 * np.sin(2 * np.pi * 10_000 * np.arange(SR) / SR)
    assert esr(y, lo) == pytest.approx(esr(y, hi), rel=1e-3)
    assert esr_pre_emphasis(y, hi) > 100 * esr_pre_emphasis(y, lo)


def test_dc_offset_gives_known_dc_error():
    y = _sine()  # mean 0, mean square 1/2
    assert dc_error(y, y + 0.1) == pytest.approx(0.1**2 / 0.5, rel=1e-9)
    # A pure offset is all DC error: ESR is the same number.
    assert esr(y, y + 0.1) == pytest.approx(0.02, rel=1e-9)
    # A gain error has no DC part.
    assert dc_error(y, 0.9 * y) == pytest.approx(0.0, abs=1e-20)


def test_stft_distance_for_a_gain_change_and_for_noise():
    y = _noise(1)
    # |Y_hat| = 0.9 |Y| in every bin: SC = 0.1 and LM = -log(0.9) (eps is negligible here).
    gain = multi_resolution_stft_distance(y, 0.9 * y)
    assert gain == pytest.approx(0.1 - math.log(0.9), rel=1e-4)
    other = multi_resolution_stft_distance(y, _noise(2))
    assert other > 3 * gain


def test_stft_distance_ignores_what_esr_punishes_most():
    # White noise one sample late: ESR about 2 (worse than silence), yet every frame
    # holds the same sound, so the spectrograms barely move.
    y = _noise(4)
    late = np.concatenate([[0.0], y[:-1]])
    assert esr(y, late) > 1.9
    assert multi_resolution_stft_distance(y, late) < 0.1 * multi_resolution_stft_distance(y, 0.9 * y)


def test_mismatched_or_too_short_inputs_are_refused():
    with pytest.raises(ValueError, match="length"):
        dc_error(np.zeros(10), np.zeros(11))
    with pytest.raises(ValueError, match="FFT size"):
        multi_resolution_stft_distance(np.ones(100), np.ones(100))


@pytest.mark.parametrize(
    "value, word",
    [(0.0, "great"), (0.0099, "great"), (0.01, "good"), (0.0349, "good"), (0.035, "usable"),
     (0.0999, "usable"), (0.1, "poor"), (3.0, "poor"), (float("nan"), "poor")],
)
def test_quality_bands(value, word):
    assert quality(value) == word


def test_quality_bands_are_increasing():
    bounds = [b for b, _ in QUALITY_BANDS]
    assert bounds == sorted(bounds) == [0.01, 0.035, 0.1]


def test_report_compute_fills_every_field():
    y = _noise(3)
    m = SeedCNN()
    r = Report.compute(y, 0.8 * y, "seed", model=m, train_seconds=12.34, device="cpu", extra={"epochs": 3})
    assert r.esr == pytest.approx(0.04, rel=1e-9)
    assert r.quality == "usable"
    assert r.parameters == 6433 and r.receptive_field == 17
    assert r.dc_error == pytest.approx((0.2 * y.mean()) ** 2 / np.mean(y**2), rel=1e-9)
    assert r.mrstft == pytest.approx(multi_resolution_stft_distance(y, 0.8 * y))
    # Torch tensors score the same as arrays.
    r2 = Report.compute(torch.as_tensor(y, dtype=torch.float64), torch.as_tensor(0.8 * y, dtype=torch.float64))
    assert r2.esr == r.esr and r2.parameters is None


def _hand_report(**kw):
    base = dict(name="nano wavenet", esr=0.0123456, esr_pre_emphasis=0.045678, mrstft=0.98765, dc_error=1.2345e-6,
                quality="good", parameters=841, receptive_field=4093, train_seconds=61.25, device="cpu")
    base.update(kw)
    return Report(**base)


def test_report_text_is_a_fixed_block():
    assert str(_hand_report()) == (
        "model             nano wavenet\n"
        "ESR               0.01235  (good)\n"
        "ESR pre-emphasis  0.04568\n"
        "MR-STFT distance  0.9877\n"
        "DC error          1.23e-06\n"
        "parameters        841\n"
        "receptive field   4,093 samples\n"
        "training time     61.2 s\n"
        "device            cpu"
    )
    r = _hand_report(receptive_field=math.inf, parameters=None, train_seconds=None, device=None)
    text = r.text()
    assert "receptive field   infinite\n" in text and "parameters        n/a\n" in text
    assert text.endswith("training time     n/a\ndevice            n/a")
    assert "training time" not in r.text(run_info=False) and "device" not in r.text(run_info=False)


def test_report_to_dict_is_json():
    r = _hand_report(receptive_field=math.inf, extra={"val_esr": np.float32(0.5), "curve": [1.0, float("nan")]})
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert d["receptive_field"] == "inf"
    assert d["extra"] == {"val_esr": 0.5, "curve": [1.0, "nan"]}
    assert d["esr"] == 0.0123456 and d["parameters"] == 841 and d["name"] == "nano wavenet"


def test_reports_to_markdown():
    md = reports_to_markdown([_hand_report(), _hand_report(name="lstm | 16", receptive_field=math.inf)])
    lines = md.splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("| model | ESR | quality |")
    assert lines[2] == "| nano wavenet | 0.01235 | good | 0.04568 | 0.9877 | 1.23e-06 | 841 | 4,093 | 61.2 | cpu |"
    assert lines[3].startswith("| lstm \\| 16 |") and "| infinite |" in lines[3]
    assert all(line.count("|") == lines[0].count("|") for line in lines[:3])
    assert "device" not in reports_to_markdown([_hand_report()], run_info=False)
