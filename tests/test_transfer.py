"""Transfer-curve measurement on systems whose curve is known exactly."""

import numpy as np
import pytest
import torch
from scipy.signal import butter, sosfilt, sosfreqz

from guneamp_lib.errors import GuneampError
from guneamp_lib.models import SeedCNN
from guneamp_lib.capture.synth import ReferenceAmp
from guneamp_lib.study.transfer import (
    TransferCurve, compression_db, held_level_curve, model_system, reference_system, sine_peak_curve,
    sine_period, slope_at_zero,
)

SR = 44100
LEVELS = np.linspace(-1, 1, 41)
AMPS = np.linspace(0, 1, 21)[1:]


def test_tanh_curve_numbers():
    c = TransferCurve(LEVELS, np.tanh(LEVELS))
    assert slope_at_zero(c) == pytest.approx(1.0, abs=2e-3)
    assert compression_db(c, 1.0) == pytest.approx(20 * np.log10(np.tanh(1.0)), abs=0.02)  # -2.37 dB
    assert c.compression_db(-1.0) == pytest.approx(c.compression_db(1.0))
    levels, out = c  # unpacks like the (x, y) pairs plot_transfer_curve takes
    assert levels is c.levels and out is c.output


def test_linear_curve_has_no_compression_and_offsets_do_not_count():
    c = TransferCurve(LEVELS, 0.5 * LEVELS + 0.2)
    assert c.slope_at_zero() == pytest.approx(0.5)
    assert c.compression_db(1.0) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("method", ["held", "sine"])
def test_memoryless_tanh_is_measured_exactly(method):
    system = lambda x: np.tanh(3 * x)  # noqa: E731
    if method == "held":
        c = held_level_curve(system, LEVELS, hold=64)
    else:
        c = sine_peak_curve(system, AMPS, SR)
    assert np.allclose(c.output, np.tanh(3 * c.levels), atol=1e-6)


@pytest.mark.parametrize("method", ["held", "sine"])
def test_identity_is_the_straight_wire(method):
    c = held_level_curve(lambda x: x, LEVELS, 32) if method == "held" else sine_peak_curve(lambda x: x, AMPS, SR)
    assert np.allclose(c.output, c.levels, atol=1e-6)
    assert c.slope_at_zero() == pytest.approx(1.0) and c.compression_db() == pytest.approx(0.0, abs=1e-6)


def test_linear_filter_gives_a_straight_line_at_its_gain():
    sos = butter(2, 2000, fs=SR, output="sos")  # low-pass: gain 1 at DC, ~1 at 100 Hz
    system = lambda x: sosfilt(sos, x)  # noqa: E731
    held = held_level_curve(system, LEVELS, hold=2000)
    assert np.allclose(held.output, held.levels, atol=1e-4)
    sine = sine_peak_curve(system, AMPS, SR, freq=1000.0)
    _, h = sosfreqz(sos, worN=[SR / sine_period(SR, 1000.0)], fs=SR)
    # a straight line whose slope is the filter's gain at the test frequency
    assert np.allclose(sine.output, np.abs(h[0]) * sine.levels, atol=2e-3)
    assert sine.compression_db() == pytest.approx(0.0, abs=0.01)


def test_held_levels_read_zero_from_a_dc_blocker():
    sos = butter(1, 30, btype="highpass", fs=SR, output="sos")  # a coupling capacitor
    c = held_level_curve(lambda x: sosfilt(sos, x), LEVELS, hold=SR // 5)
    assert np.abs(c.output).max() < 0.01
    sine = sine_peak_curve(lambda x: sosfilt(sos, x), AMPS, SR)  # 100 Hz passes
    assert sine.slope_at_zero() > 0.9


def test_sine_period_puts_peaks_on_samples():
    p = sine_period(SR, 100.0)
    assert p % 2 == 0 and abs(SR / p - 100.0) < 0.5


def test_a_causal_cnn_held_curve_is_its_response_to_a_constant():
    torch.manual_seed(0)
    model = SeedCNN().eval()
    c = held_level_curve(model_system(model, 1), LEVELS, hold=64)
    with torch.no_grad():
        direct = model(torch.tensor(LEVELS, dtype=torch.float32).view(-1, 1, 1).expand(-1, 1, 17).contiguous())[:, 0, -1]
    assert np.allclose(c.output, direct.numpy(), atol=1e-5)
    # and, oversampled, the resamplers pass a held level nearly unchanged (their DC gain is 1 within 0.1%)
    c8 = held_level_curve(model_system(model, 8), LEVELS, hold=256)
    assert np.allclose(c8.output, direct.numpy(), atol=1e-3)


def test_reference_amp_blocks_dc_but_has_a_sine_curve():
    amp = ReferenceAmp()
    ref = reference_system(amp)
    assert np.abs(held_level_curve(ref, np.linspace(-1, 1, 9), hold=SR // 10).output).max() < 0.01
    sine = sine_peak_curve(ref, [0.02, 0.05, 0.5, 1.0], SR)
    assert sine.slope_at_zero() > 0.5 and sine.compression_db() < -6  # it squashes hard
    static = TransferCurve(LEVELS, amp.static_curve(LEVELS))
    assert static.slope_at_zero() > sine.slope_at_zero()  # its filters cut 100 Hz before the clipping
    assert abs(sine.at(1.0)) < 0.5 and abs(sine.at(-1.0)) < 0.5


def test_bad_inputs():
    with pytest.raises(GuneampError, match="increasing"):
        TransferCurve([0.0, 0.0], [1.0, 2.0])
    with pytest.raises(GuneampError, match="positive"):
        sine_peak_curve(lambda x: x, [0.0, 1.0], SR)
    with pytest.raises(GuneampError, match="two measured levels"):
        slope_at_zero(TransferCurve([-1.0, 1.0], [-1.0, 1.0]))
    with pytest.raises(GuneampError, match="does not rise"):
        compression_db(TransferCurve(LEVELS, LEVELS - 2 * LEVELS**3))  # folds back below zero
    with pytest.raises(GuneampError, match="returned"):
        held_level_curve(lambda x: x[:-1], LEVELS, 16)
