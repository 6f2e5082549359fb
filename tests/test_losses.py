import numpy as np
import pytest
import torch

from guneamp_lib.training.losses import DesignLoss, design_loss, esr, pre_emphasis


def test_pre_emphasis_is_first_difference_filter():
    x = torch.tensor([1.0, 2.0, 4.0, 8.0])
    assert torch.allclose(pre_emphasis(x, 0.95), torch.tensor([2 - 0.95, 4 - 1.9, 8 - 3.8]))


def test_pre_emphasis_frequency_response_is_high_pass():
    sr = 44100
    t = torch.arange(sr) / sr
    gains = []
    for f in (100.0, 10000.0):
        x = torch.sin(2 * torch.pi * f * t)
        gains.append(pre_emphasis(x).abs().max().item())
    # |1 - a e^{-jw}|: 0.05-ish at low frequencies, up to 1.95 at Nyquist
    assert gains[0] == pytest.approx(abs(1 - 0.95 * np.exp(-2j * np.pi * 100 / sr)), rel=0.02)
    assert gains[1] > 20 * gains[0]


def test_design_loss_value():
    p = torch.tensor([0.0, 1.0, 0.0, 1.0])
    y = torch.zeros(4)
    mse = 0.5
    pe = torch.mean(pre_emphasis(p) ** 2).item()
    assert design_loss(p, y).item() == pytest.approx(mse + 0.5 * pe)
    assert DesignLoss(weight=0.0)(p, y).item() == pytest.approx(mse)
    with pytest.raises(ValueError):
        design_loss(p, torch.zeros(3))


def test_esr_on_known_signals():
    y = np.sin(np.linspace(0, 20, 1000))
    assert esr(y, y) == 0.0
    assert esr(y, np.zeros_like(y)) == pytest.approx(1.0)
    assert esr(y, 0.9 * y) == pytest.approx(0.01)
    assert esr(torch.tensor(y), torch.tensor(-y)) == pytest.approx(4.0)
    # level-independent
    assert esr(3 * y, 3 * 0.9 * y) == pytest.approx(0.01)
