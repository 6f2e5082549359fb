import numpy as np
import pytest
import torch

from guneamp_lib.dsp.oversampling import (
    alias_to_harmonic_db, downsample, log_sweep, oversample, sine, static_clipper, sweep_alias_db,
)

SR = 44100


def test_round_trip_on_band_limited_audio():
    rng = np.random.default_rng(0)
    t = torch.arange(SR) / SR
    x = sum(float(rng.uniform(0.1, 0.3)) * torch.sin(2 * torch.pi * f * t + float(rng.uniform(0, 6)))
            for f in (110.0, 440.0, 1234.0, 5000.0, 12000.0))
    up = oversample(x, 8)
    assert up.shape == (8 * SR,)
    back = downsample(up, 8)
    err = (back - x)[2000:-2000].abs().max().item()
    assert err < 2e-3
    # every 8th oversampled sample lands on an original sample
    assert (up[::8] - x)[2000:-2000].abs().max().item() < 2e-3


def test_factor_one_is_identity_and_bad_factor():
    x = torch.randn(100)
    assert oversample(x, 1) is x and downsample(x, 1) is x
    with pytest.raises(ValueError):
        oversample(x, 0)
    with pytest.raises(ValueError):
        oversample(x, 2.5)


def test_oversampling_reduces_aliasing_of_a_clipper():
    f0 = 3001.0
    x = sine(f0, 1.0, SR, 0.9)
    at_1x = alias_to_harmonic_db(static_clipper(x, 10.0), SR, f0)
    y8 = downsample(static_clipper(oversample(torch.from_numpy(x), 8), 10.0), 8).numpy()
    at_8x = alias_to_harmonic_db(y8, SR, f0)
    assert at_1x > -30  # aliasing is loud at the file rate
    assert at_8x < at_1x - 15


def test_alias_measure_is_low_for_a_clean_sine():
    assert alias_to_harmonic_db(sine(1000.0, 1.0, SR), SR, 1000.0) < -100


def test_sweep_alias_measure_orders_1x_and_8x():
    x = log_sweep(200.0, 8000.0, 2.0, SR, 0.9)
    a1 = sweep_alias_db(static_clipper(x, 10.0), SR, 200.0, 8000.0, 2.0)
    y8 = downsample(static_clipper(oversample(torch.from_numpy(x), 8), 10.0), 8).numpy()
    a8 = sweep_alias_db(y8, SR, 200.0, 8000.0, 2.0)
    assert a8 < a1 - 10
