import copy
import math

import pytest
import torch

import guneamp_lib.models.lstm  # noqa: F401  (registers "lstm" until models.py imports it)
from guneamp_lib.models.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from guneamp_lib.render.inference import process
from guneamp_lib.models.lstm import LSTMModel
from guneamp_lib.models import MODELS, build_model, receptive_field
from tests.conftest import toy_amp, toy_di


def test_registered_shapes_and_receptive_field():
    assert MODELS["lstm"] is LSTMModel
    m = build_model("lstm")
    assert m.config == {"hidden_size": 16, "tbptt": 2048}
    assert receptive_field(m) == math.inf
    for shape in [(3, 1, 100), (1, 1, 1)]:
        assert m(torch.randn(*shape)).shape == shape


def test_parameter_count():
    # LSTM: 4 gates x (input weights 1 + recurrent weights H + two biases 2) x H; head: H + 1.
    for h in (8, 16, 32):
        assert LSTMModel(h).num_parameters == 4 * h * (1 + h + 2) + h + 1
    assert LSTMModel(16).num_parameters == 1233


@pytest.mark.parametrize("bad", [7, 81, 16.5, "16", True])
def test_hidden_size_outside_8_to_80_is_refused(bad):
    with pytest.raises(ValueError, match="hidden_size"):
        LSTMModel(bad)


def test_tbptt_must_be_positive():
    with pytest.raises(ValueError, match="tbptt"):
        LSTMModel(16, tbptt=0)


def test_skip_connection_makes_a_zeroed_head_a_wire():
    m = LSTMModel().eval()
    with torch.no_grad():
        m.head.weight.zero_()
        m.head.bias.zero_()
        x = torch.randn(2, 1, 300)
        assert torch.equal(m(x), x)


def test_causality_exact():
    torch.manual_seed(0)
    m = LSTMModel().eval()
    x = torch.randn(1, 1, 800)
    x2 = x.clone()
    x2[..., 500:] += 1.0
    with torch.no_grad():
        y, y2 = m(x), m(x2)
    assert torch.equal(y[..., :500], y2[..., :500])
    assert not torch.allclose(y[..., 500], y2[..., 500])


def test_forward_stateful_continues_where_it_stopped():
    torch.manual_seed(1)
    m = LSTMModel(12).eval()
    x = torch.randn(2, 1, 1000)
    with torch.no_grad():
        whole = m(x)
        y1, state = m.forward_stateful(x[..., :333])
        y2, state = m.forward_stateful(x[..., 333:], state)
    torch.testing.assert_close(torch.cat([y1, y2], dim=-1), whole, rtol=0, atol=1e-6)
    assert state[0].shape == state[1].shape == (1, 2, 12)


def test_process_whole_equals_chunked():
    torch.manual_seed(2)
    m = LSTMModel()
    x = torch.randn(20_000) * 0.5
    whole = process(m, x, chunk=x.numel())
    chunked = process(m, x, chunk=1234)
    torch.testing.assert_close(chunked, whole, rtol=0, atol=1e-5)
    with torch.no_grad():
        torch.testing.assert_close(whole, m.eval()(x.view(1, 1, -1))[0, 0], rtol=0, atol=1e-5)


def test_tbptt_truncates_gradients_but_not_values():
    torch.manual_seed(3)
    tbptt = 64
    m = LSTMModel(8, tbptt=tbptt)
    n = 3 * tbptt + 50  # the last chunk starts at 192
    last_chunk = 3 * tbptt

    def input_grad(training: bool):
        m.train(training)
        x = torch.randn(1, 1, n, requires_grad=True)
        y = m(x)
        y[0, 0, -1].backward()
        return x.grad[0, 0], y.detach(), x.detach()

    g, y_train, x = input_grad(True)
    assert torch.count_nonzero(g[:last_chunk]) == 0
    assert torch.count_nonzero(g[last_chunk:]) > 0
    # Same input in evaluation mode: the same output, and the gradient reaches back further.
    with torch.no_grad():
        torch.testing.assert_close(m.eval()(x), y_train, rtol=0, atol=1e-6)
    g_full, _, _ = input_grad(False)
    assert torch.count_nonzero(g_full[:last_chunk]) > 0


def test_config_round_trips_through_checkpoint(tmp_path):
    torch.manual_seed(4)
    m = LSTMModel(24, tbptt=512)
    assert build_model("lstm", **copy.deepcopy(m.config)).config == m.config
    path = save_checkpoint(tmp_path / "l.pt", Checkpoint(m, "lstm", 44100, 1, 256))
    m2 = load_checkpoint(path).model
    x = torch.randn(1, 1, 400)
    with torch.no_grad():
        assert torch.equal(m2.eval()(x), m.eval()(x))


def test_lstm_trains_through_the_training_loop():
    from guneamp_lib.training.data import make_training_data
    from guneamp_lib.training.train import TrainConfig, evaluate, train

    x = toy_di(seconds=2.0)  # long enough that the held-out last 20% holds notes, not silence
    data = make_training_data(x, toy_amp(x), 44100, target_kind="amp_direct")
    cfg = TrainConfig(model="lstm", model_kwargs={"hidden_size": 8, "tbptt": 512}, oversample=1, segment=1024,
                      batch_size=4, burn_in=512, learning_rate=1e-2, epochs=2, steps_per_epoch=10,
                      time_budget_s=None, device="cpu")
    torch.manual_seed(cfg.seed)
    model = build_model("lstm", **cfg.model_kwargs)
    with torch.no_grad():
        before = evaluate(copy.deepcopy(model).eval(), data, cfg)["loss"]
    result = train(data, cfg, progress=False, model=model)
    assert result.history[-1]["val_loss"] < 0.5 * before
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
