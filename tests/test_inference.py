import numpy as np
import pytest
import torch

from guneamp_lib.dsp.audio import load_wav
from guneamp_lib.errors import GuneampError
from guneamp_lib.render.inference import (
    overlap_add_inference_designed, predict, process, run_inference, windowed_inference,
)
from guneamp_lib.models import SeedCNN
from guneamp_lib.dsp.oversampling import downsample, oversample


@pytest.fixture
def model():
    torch.manual_seed(0)
    return SeedCNN().eval()


def test_fast_path_equals_windowed_inference(model):
    x = torch.randn(5000)
    fast = process(model, x, chunk=777)  # chunk borders must leave no trace
    windowed = windowed_inference(model, x, window=256, batch_size=333)
    assert fast.shape == windowed.shape == x.shape
    assert (fast - windowed).abs().max().item() < 1e-5
    assert (fast - process(model, x)).abs().max().item() < 1e-6


def test_windowed_first_samples_hear_silence_before_the_start(model):
    x = torch.randn(300)
    with torch.no_grad():
        padded = model(torch.cat([torch.zeros(255), x]).view(1, 1, -1))[0, 0, 255:]
    assert torch.allclose(windowed_inference(model, x, 256), padded, atol=1e-6)


def test_designed_overlap_add_is_a_moving_average_and_a_shift(model):
    w = 256
    x = torch.randn(1500)
    correct = process(model, x)
    designed = overlap_add_inference_designed(model, x, window=w, batch_size=32)
    # interior sample n = mean of the correct outputs n .. n+255: a 256-tap average moved 255 samples earlier
    n = torch.arange(w - 1, 1500 - w)
    expected = torch.stack([correct[i : i + w].mean() for i in n])
    assert torch.allclose(designed[n], expected, atol=1e-5)
    # and it is far from the correct output
    assert ((designed[n] - correct[n]) ** 2).sum() / (correct[n] ** 2).sum() > 0.1


def test_run_inference_writes_normalized_file(model, tmp_path):
    x = torch.randn(4000) * 0.5
    ir = torch.zeros(64)
    ir[0] = 1.0
    ir[1:] = 0.2
    out = run_inference(model, oversample(x, 2), ir, 2, 256, "cpu", 44100, output_file=tmp_path / "m.wav", progress=False)
    assert out.shape == (4000,)
    assert out.abs().max().item() == pytest.approx(1.0, abs=1e-5)
    y, sr = load_wav(tmp_path / "m.wav")
    assert sr == 44100 and torch.allclose(y, out, atol=1e-6)
    # windowed and fast methods give the same file content
    out_w = run_inference(model, oversample(x, 2), ir, 2, 256, "cpu", 44100, output_file=None, method="windowed", progress=False)
    assert (out - out_w).abs().max().item() < 1e-5


def test_predict_is_oversample_process_downsample(model):
    x = torch.randn(3000) * 0.3
    ref = downsample(process(model, oversample(x, 4)), 4)
    assert torch.allclose(predict(model, x, 4), ref, atol=1e-6)


def test_bad_inputs(model):
    with pytest.raises(GuneampError, match="1-D"):
        process(model, torch.zeros(2, 100))
    with pytest.raises(GuneampError, match="no samples"):
        process(model, torch.zeros(0))
    with pytest.raises(GuneampError, match="window"):
        windowed_inference(model, torch.zeros(100), window=8)


@pytest.mark.parametrize("engine", ["compiled", "auto"])
def test_compiled_engine_equals_torch(model, engine):
    x = torch.randn(100_000) * 0.3
    assert (process(model, x, engine=engine) - process(model, x)).abs().max().item() < 1e-5


def test_unknown_engine(model):
    with pytest.raises(ValueError, match="engine"):
        process(model, torch.zeros(10), engine="gpu-magic")
