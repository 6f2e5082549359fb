import numpy as np
import pytest
import torch
from scipy.signal import fftconvolve

from guneamp_lib.dsp.cabinet import apply_ir, apply_ir_fft, convolve_ir, ir_energy_length, load_ir
from guneamp_lib.errors import GuneampError, GuneampWarning
from tests.conftest import write


def decaying_ir(n=2048, seed=0):
    g = torch.Generator().manual_seed(seed)
    ir = torch.randn(n, generator=g) * torch.exp(-torch.arange(n) / 200.0)
    return ir / ir.abs().max()


def test_direct_equals_fft_and_numpy():
    ir = decaying_ir()
    x = torch.randn(20000, generator=torch.Generator().manual_seed(1)) * 0.3
    a, b = apply_ir(x, ir), apply_ir_fft(x, ir)
    ref = torch.from_numpy(fftconvolve(x.numpy().astype(np.float64), ir.numpy().astype(np.float64)))
    assert a.shape == b.shape == (20000 + 2048 - 1,)
    assert (a - b).abs().max().item() < 1e-5
    assert (a.double() - ref).abs().max().item() < 1e-5


def test_apply_ir_is_a_convolution_not_a_correlation():
    ir = decaying_ir(64)
    delta = torch.zeros(500)
    delta[100] = 1.0
    out = apply_ir(delta, ir)
    assert torch.allclose(out[100:164], ir, atol=1e-6)
    assert out[:100].abs().max() == 0  # nothing before the impulse: no pre-echo
    # the design's conv1d without the flip plays the IR backwards
    designed = torch.nn.functional.conv1d(delta.view(1, 1, -1), ir.view(1, 1, -1), padding=63).view(-1)
    # in the same output frame the spike arrives K-1 samples late, after the decay
    assert torch.allclose(designed[100:164], ir.flip(0), atol=1e-6)


def test_convolve_ir_keeps_length_and_picks_path():
    ir = decaying_ir(512)
    x = torch.randn(50000)
    y = convolve_ir(x, ir)
    assert y.shape == x.shape
    assert (y - apply_ir_fft(x, ir)[:50000]).abs().max() < 1e-5


def test_ir_longer_than_signal_is_refused():
    with pytest.raises(GuneampError, match="longer than the signal"):
        apply_ir(torch.randn(100), torch.randn(200))
    with pytest.raises(GuneampError, match="longer than the signal"):
        apply_ir_fft(torch.randn(100), torch.randn(200))


def test_load_ir_resamples_other_rates(tmp_path):
    ir48 = np.zeros(4800, dtype=np.float32)
    ir48[0] = 1.0
    ir48[1:] = 0.3 * np.exp(-np.arange(4799) / 100.0)
    write(tmp_path / "ir48.wav", ir48, sr=48000)
    with pytest.warns(GuneampWarning, match="at 48000 Hz and the audio at 44100 Hz: resampling the IR"):
        ir = load_ir(tmp_path / "ir48.wav", 44100)
    assert ir.numel() == 4410
    assert ir.abs().max().item() == pytest.approx(1.0, abs=1e-6)
    # the decay time constant is kept in seconds (100 samples at 48k ~ 92 at 44.1k)
    tail = ir[200:1000].abs().numpy()
    assert tail[0] > tail[-1] * 100


def test_load_silent_ir_is_refused(tmp_path):
    write(tmp_path / "silent.wav", np.zeros(100))
    with pytest.warns(Warning):
        with pytest.raises(GuneampError, match="silent"):
            load_ir(tmp_path / "silent.wav", 44100)


def test_energy_length():
    ir = np.zeros(1000)
    ir[:10] = 1.0
    assert ir_energy_length(ir, 0.9999) == 10
