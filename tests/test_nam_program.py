"""Every option NAM core plays runs compiled (render/nam_program.py), with the torch model's numbers.

The networks here are built directly with random weights, so that every option is on
at once where NAM allows it: FiLM at all eight slots (with and without shift, grouped),
grouped convolutions and 1x1s, a per-channel PReLU, gated and blended layers, a
post-stack head, and a condition DSP of each kind (ConvNet with two outputs, Linear,
WaveNet, LSTM, and a WaveNet fed by an LSTM). Each streams through the compiled engine in blocks of 1, 64 and 2048 (the
last crosses the ring buffers' compaction) and through the torch model in blocks of 64;
the two agree to ESR < 1e-10 on the output's variation (its mean taken out, so a
constant offset cannot hide a wrong signal). NAM core itself is compared in
``tests/test_nam_core_files.py``.
"""

import numpy as np
import pytest
import torch

from guneamp_lib.capture.guitar import synth_di
from guneamp_lib.models import NamWaveNet
from guneamp_lib.models.nam_convnet import NamConvNet, NamLinear
from guneamp_lib.models.nam_wavenet import FILM_SLOTS
from guneamp_lib.render.nam_program import FastNamProgram, activation_params, dense_taps
from guneamp_lib.render.streaming import StreamingProcessor
from tests.test_nam_engines import esr, stream

pytest.importorskip("numba")
SR = 48000
PRELU = {"type": "PReLU", "negative_slopes": [0.1, -0.2]}
HARD = {"type": "LeakyHardtanh", "min_val": -0.5, "max_val": 0.7, "min_slope": 0.05, "max_slope": 0.1}


@pytest.fixture(scope="module")
def signal():
    return synth_di(0.5, SR, 4).astype(np.float32)


def ac_esr(ref, y):
    dc = float(np.mean(ref))
    return esr(np.asarray(ref, np.float64) - dc, np.asarray(y, np.float64) - dc)


def randomized(model, seed, scale=0.8):
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            # an LSTM's weights smaller: at 0.8 its state is so sensitive that float32's
            # rounding in two engines drifts apart (ESR 1.6e-8), as no trained amp does
            p.normal_(0, 0.4 if ".lstm." in name else scale)
    return model.eval()


def array(n, **kw):
    lc = {"input_size": 1, "condition_size": 1, "channels": 4, "bottleneck": 2, "kernel_sizes": [3, 2, 4][:n],
          "dilations": [1, 3, 2][:n], "activations": [PRELU, HARD, {"type": "Tanh"}][:n],
          "gating_modes": ["blended", "gated", "none"][:n],
          "secondary_activations": [{"type": "Sigmoid"}, {"type": "Hardswish"}, None][:n], "layer1x1": True,
          "head1x1_out": 2, "head_out": 1, "head_kernel": 3, "head_dilation": 2, "head_bias": True, "films": {},
          "groups_input": 2, "groups_input_mixin": 1, "layer1x1_groups": 2, "head1x1_groups": 2}
    lc.update(kw)
    return lc


CONVNET = {"name": "nam_convnet", "config": {"channels": 3, "dilations": [1, 2, 4], "batchnorm": True,
                                             "activation": {"type": "SiLU"}, "out_channels": 2}}
LINEAR = {"name": "nam_linear", "config": {"receptive_field": 12, "bias": True}}
COND_WAVENET = {"name": "nam_wavenet", "config": {"arrays": [array(2, head_out=2, head_kernel=1, head_dilation=1)],
                                                  "head_scale": 0.7}}
LSTM = {"name": "nam_lstm", "config": {"hidden_size": 5, "num_layers": 2}}
LSTM_FED = {"name": "nam_wavenet", "config": {"arrays": [array(2, head_out=2, head_kernel=1, head_dilation=1)],
                                              "head_scale": 0.7, "head": None, "condition": LSTM}}
POST_HEAD = {"in_channels": 1, "channels": 3, "out_channels": 1, "kernel_sizes": [2, 3], "activation": {"type": "SiLU"}}


# Seeds whose random weights give an output that moves (a near-constant output makes float32's
# rounding, 1e-7 of its level, a large share of its variation): on an AMD EPYC (Zen, AVX-512)
# seed 1 gave the condition WaveNet a standard deviation of 0.011 and an ESR of 1.0e-10, the
# ConvNet without batch norm 0.0013 and 1.7e-9; these give 0.036 / 1.6e-12, 0.068 / 2.1e-11
# and, for the ConvNet (9.1e-11 at seed 1), 0.11 / 6.9e-12.
SEEDS = {"condition LSTM": 2, "condition WaveNet": 2, "ConvNet without batch norm": 4, "ConvNet": 9}


def films(groups):
    return {s: {"shift": i % 2 == 0, "groups": groups} for i, s in enumerate(FILM_SLOTS)}


def networks():
    return {
        # every FiLM, grouped by the condition's two channels, fed by a ConvNet; a second array; a post-stack head
        "film, groups, condition ConvNet, post head": NamWaveNet(
            [array(3, condition_size=2, films=films(2), head_out=4, groups_input_mixin=2),
             array(2, input_size=4, condition_size=2, films=films(1), head1x1_out=4, head1x1_groups=1,
                   head_kernel=1, head_dilation=1)], 0.4, POST_HEAD, CONVNET),
        "condition WaveNet": NamWaveNet([array(3, condition_size=2, films=films(2))], 0.5, None, COND_WAVENET),
        "condition Linear, no layer 1x1": NamWaveNet([array(2, condition_size=1, layer1x1=False, bottleneck=4,
                                                            head1x1_out=0, gating_modes=["none", "gated"],
                                                            activations=[{"type": "Softsign"}, HARD])],
                                                     0.5, None, LINEAR),
        # recurrent: the LSTM runs on its own engine, its output one of the program's inputs
        "condition LSTM": NamWaveNet([array(3, films={s: films(1)[s] for s in ("conv_post_film",
                                                                              "activation_pre_film")})],
                                     0.5, None, LSTM),
        "condition WaveNet fed by an LSTM": NamWaveNet([array(2, condition_size=2)], 0.5, POST_HEAD, LSTM_FED),
        "ConvNet": NamConvNet(4, [1, 2, 4, 8], True, {"type": "Tanh"}),
        "ConvNet without batch norm": NamConvNet(4, [1, 3], False, {"type": "ReLU"}, groups=1, out_channels=1),
        "Linear": NamLinear(32, True),
    }


@pytest.mark.parametrize("name", list(networks()))
def test_every_option_runs_compiled_as_on_torch(signal, name):
    # The LSTM engine's gates are float32 rational functions within 2e-7 of torch's: where
    # the output barely moves (seed 1: standard deviation 0.005) that alone is an ESR of
    # 5e-10 on its variation; seed 2 gives a signal (0.027) and 7e-12.
    model = randomized(networks()[name], seed=SEEDS.get(name, 1))
    ref = stream(model, signal, "torch", 64)
    assert np.std(ref) > 1e-3  # a signal, not a constant (measured: 1.3e-3 to 0.4)
    for block in (1, 64, 2048):
        assert ac_esr(ref, stream(model, signal, "compiled", block)) < 1e-10, block


def test_what_nam_core_plays_is_never_left_to_torch():
    for name, model in networks().items():
        assert FastNamProgram.supports(model), name
        assert StreamingProcessor(model, 1, engine="auto").engine == "compiled", name


def test_grouped_weights_become_block_diagonal():
    conv = torch.nn.Conv1d(4, 6, 2, groups=2)
    w = dense_taps(conv)
    assert w.shape == (2, 6, 4)
    assert np.all(w[:, :3, 2:] == 0) and np.all(w[:, 3:, :2] == 0)
    np.testing.assert_array_equal(w[1, 3:, 2:], conv.weight.detach().numpy()[3:, :, 1])
    x = torch.randn(1, 4, 9)
    dense = torch.nn.functional.conv1d(x, torch.from_numpy(w.transpose(1, 2, 0).copy()), conv.bias)
    torch.testing.assert_close(dense, conv(x), rtol=0, atol=1e-6)


def test_activation_parameters_per_row():
    np.testing.assert_array_equal(activation_params(PRELU, 2)[:, 0], np.float32([0.1, -0.2]))
    np.testing.assert_array_equal(activation_params({"type": "LeakyReLU"}, 3)[:, 0], np.float32([0.01] * 3))
    np.testing.assert_array_equal(activation_params(HARD, 1)[0], np.float32([-0.5, 0.7, 0.05, 0.1]))
    assert not activation_params({"type": "Tanh"}, 2).any()


def test_an_lstm_condition_makes_the_wavenet_recurrent(signal):
    """Offline, streamed in two pieces, and streamed in blocks: one signal, from the same primed start."""
    from guneamp_lib.render.inference import process

    model = randomized(networks()["condition LSTM"], seed=2)
    assert model.recurrent_condition and model.receptive_field == float("inf")
    x = torch.from_numpy(signal).view(1, 1, -1)
    with torch.no_grad():
        whole, _ = model.forward_stateful(x)
        a, state = model.forward_stateful(x[..., :777])
        b, _ = model.forward_stateful(x[..., 777:], state)
        torch.testing.assert_close(torch.cat([a, b], -1), whole, rtol=0, atol=1e-6)
        torch.testing.assert_close(model(x), whole, rtol=0, atol=0)
    offline = process(model, torch.from_numpy(signal)).numpy()
    assert ac_esr(offline, whole.view(-1).numpy()) < 1e-12
    assert ac_esr(offline, stream(model, signal, "compiled", 64)) < 1e-10
    # the start is primed: silence through the layers first, not their zero padding
    with torch.no_grad():
        zero_start = model._stack(x, model.condition(x)).view(-1).numpy()
    assert ac_esr(offline[:200], zero_start[:200]) > 1e-6
    with pytest.raises(TypeError, match="condition DSP holds an LSTM"):
        randomized(networks()["condition Linear, no layer 1x1"], seed=2).forward_stateful(x)
