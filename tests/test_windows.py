import pytest
import torch

from guneamp_lib.errors import GuneampError
from guneamp_lib.models import SeedCNN
from guneamp_lib.training.windows import (
    full_signal_loss, make_window, segment_targets, window_memory_bytes, window_predictions, windowed_loss,
)


def design_loop(x, y, window):
    """The design's loop, alignment fixed: the window ends at (includes) the target's sample."""
    X, Y = [], []
    for i in range(window - 1, len(x)):
        X.append(x[i - window + 1 : i + 1])
        Y.append(y[i])
    return torch.stack(X), torch.tensor(Y)


def test_make_window_equals_the_designed_loop():
    x, y = torch.randn(700), torch.randn(700)
    X, Y = make_window(x, y, 256)
    X2, Y2 = design_loop(x, y, 256)
    assert X.shape == (445, 256) and torch.equal(X, X2) and torch.equal(Y, Y2)
    # the window for target y[i] ends with x[i]
    assert X[0, -1] == x[255] and Y[0] == y[255]


def test_windows_and_full_signal_give_same_targets_and_loss():
    torch.manual_seed(0)
    model = SeedCNN()
    x = torch.randn(3000)
    y = torch.tanh(3 * x)
    _, Y = make_window(x, y, 256)
    assert torch.equal(Y, segment_targets(y, 256))
    a, b = windowed_loss(model, x, y, 256), full_signal_loss(model, x, y, 256)
    assert a.item() == pytest.approx(b.item(), rel=1e-5, abs=1e-7)
    # and so do their gradients
    ga = torch.autograd.grad(a, list(model.parameters()))
    gb = torch.autograd.grad(b, list(model.parameters()))
    assert all(torch.allclose(u, v, rtol=1e-4, atol=1e-6) for u, v in zip(ga, gb))


def test_window_predictions_are_last_outputs():
    torch.manual_seed(0)
    model = SeedCNN().eval()
    x = torch.randn(600)
    X, _ = make_window(x, x, 256)
    with torch.no_grad():
        full = model(x.view(1, 1, -1))[0, 0, 255:]
        assert torch.allclose(window_predictions(model, X, batch_size=100), full, atol=1e-6)


def test_memory_grows_256x_and_big_inputs_are_refused():
    n = 40 * 44100 * 8
    assert window_memory_bytes(n, 256) == (n - 255) * 257 * 4
    assert window_memory_bytes(n, 256) > 250 * n * 4
    with pytest.raises(GuneampError, match=r"GB .*full_signal_loss"):
        make_window(torch.zeros(n), torch.zeros(n), 256)


def test_make_window_bad_input():
    with pytest.raises(GuneampError, match="differ in length"):
        make_window(torch.zeros(300), torch.zeros(299))
    with pytest.raises(GuneampError, match="fewer than one window"):
        make_window(torch.zeros(100), torch.zeros(100), 256)
