import copy

import pytest
import torch

import guneamp_lib.models.wavenet  # noqa: F401  (registers "wavenet" until models.py imports it)
from guneamp_lib.models.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from guneamp_lib.models import MODELS, build_model, measure_receptive_field
from guneamp_lib.models.wavenet import PRESETS, WaveNet
from tests.conftest import toy_amp, toy_di

# NAM's parameter count for one layer array with condition size 1, not gated:
#   rechannel  input_size * C                  (no bias)
#   per layer  K*C*C + C   (dilated conv)  +  C  (input mixer, no bias)  +  C*C + C  (1x1)
#   head       C * head_size (+ head_size if head_bias)
# standard: (16 + 10*1072 + 128) + (128 + 10*280 + 9)  = 10864 + 2937 = 13801
# lite:     (12 +  7*612  +  72) + ( 72 + 13*162 + 7)  =  4368 + 2185 =  6553
# feather:  ( 8 +  7*280  +  32) + ( 32 + 13*76  + 5)  =  2000 + 1025 =  3025
# nano:     ( 4 +  7*76   +   8) + (  8 + 13*22  + 3)  =   544 +  297 =   841
NAM_PARAMETERS = {"standard": 13801, "lite": 6553, "feather": 3025, "nano": 841}
# 1 + (3 - 1) * (sum of all dilations): 2 * 1023 * 2 for standard, 2 * (127 + 1919) for the others.
NAM_RECEPTIVE_FIELD = 4093


def _nam_formula(layers):
    total = 0
    for lc in layers:
        c, k, h, n = lc["channels"], lc["kernel_size"], lc["head_size"], len(lc["dilations"])
        total += lc["input_size"] * c + n * (k * c * c + c + c + c * c + c) + c * h + (h if lc["head_bias"] else 0)
    return total


@pytest.mark.parametrize("preset", list(PRESETS))
def test_parameter_count_equals_nam(preset):
    m = WaveNet(preset)
    assert m.num_parameters == NAM_PARAMETERS[preset] == _nam_formula(m.config["layers"])


@pytest.mark.parametrize("preset", list(PRESETS))
def test_receptive_field_declared_and_measured(preset):
    torch.manual_seed(0)
    m = WaveNet(preset)
    assert m.receptive_field == NAM_RECEPTIVE_FIELD
    assert measure_receptive_field(m) == NAM_RECEPTIVE_FIELD


def test_presets_match_nam_layer_counts_and_widths():
    widths = {p: [lc["channels"] for lc in PRESETS[p]["layers"]] for p in PRESETS}
    assert widths == {"standard": [16, 8], "lite": [12, 6], "feather": [8, 4], "nano": [4, 2]}
    assert [len(lc["dilations"]) for lc in PRESETS["standard"]["layers"]] == [10, 10]
    for p in ("lite", "feather", "nano"):
        assert [len(lc["dilations"]) for lc in PRESETS[p]["layers"]] == [7, 13]
    assert all(lc["activation"] == "Tanh" and not lc["gated"] for p in PRESETS.values() for lc in p["layers"])


def test_registered_and_shapes():
    assert MODELS["wavenet"] is WaveNet
    m = build_model("wavenet", preset="nano")
    for shape in [(3, 1, 500), (1, 1, 5000), (2, 1, 1)]:
        assert m(torch.randn(*shape)).shape == shape


@pytest.mark.parametrize("preset", ["nano", "standard"])
def test_causality_exact(preset):
    torch.manual_seed(1)
    m = WaveNet(preset).eval()
    x = torch.randn(1, 1, 3000)
    t = 1777
    x2 = x.clone()
    x2[..., t:] += torch.randn(3000 - t)
    with torch.no_grad():
        y, y2 = m(x), m(x2)
    assert torch.equal(y[..., :t], y2[..., :t])
    assert not torch.allclose(y[..., t], y2[..., t])


def test_output_at_t_depends_only_on_the_last_receptive_field_samples():
    # Once receptive_field - 1 samples have gone in, the zero padding is out of reach:
    # the output equals that of a window holding exactly the receptive field (NAM's valid output).
    torch.manual_seed(2)
    m = WaveNet("nano").double().eval()
    rf = m.receptive_field
    x = torch.randn(1, 1, rf + 700, dtype=torch.float64)
    with torch.no_grad():
        y = m(x)[0, 0]
        for t in (rf - 1, rf + 123, rf + 699):
            w = m(x[..., t - rf + 1 : t + 1])[0, 0, -1]
            torch.testing.assert_close(w, y[t], rtol=0, atol=1e-12)
        # A window that stops short of the longest dilations' reach does change the answer.
        # (The very first sample's own influence is ~1e-26: a product of 20 small taps.)
        t = rf + 123
        short = m(x[..., t - 1000 : t + 1])[0, 0, -1]
    assert abs(float(short - y[t])) > 1e-6


def test_streaming_block_by_block_equals_whole():
    torch.manual_seed(3)
    m = WaveNet("nano").double().eval()
    x = torch.randn(2, 1, 6000, dtype=torch.float64)
    with torch.no_grad():
        whole = m(x)
        m.set_streaming(True)
        # Blocks shorter and longer than the biggest dilation's history (1024 samples).
        sizes = [1, 7, 300, 1500, 64, 2000, 2128]
        assert sum(sizes) == 6000
        parts, s = [], 0
        for n in sizes:
            parts.append(m(x[..., s : s + n]))
            s += n
        streamed = torch.cat(parts, dim=-1)
        m.reset_state()
        again = m(x[..., :300])
        m.set_streaming(False)
    torch.testing.assert_close(streamed, whole, rtol=0, atol=1e-12)
    torch.testing.assert_close(again, whole[..., :300], rtol=0, atol=1e-12)


def test_parameters_come_in_nams_weight_order():
    names = [n for n, _ in WaveNet("nano").named_parameters()]
    expected = []
    for a, lc in enumerate(PRESETS["nano"]["layers"]):
        expected.append(f"arrays.{a}.rechannel.weight")
        for i in range(len(lc["dilations"])):
            p = f"arrays.{a}.layers.{i}."
            expected += [p + "conv.weight", p + "conv.bias", p + "input_mixer.weight", p + "conv1x1.weight",
                         p + "conv1x1.bias"]
        expected.append(f"arrays.{a}.head_rechannel.weight")
        if lc["head_bias"]:
            expected.append(f"arrays.{a}.head_rechannel.bias")
    assert names == expected


def test_config_round_trips_through_build_model_and_checkpoint(tmp_path):
    torch.manual_seed(4)
    m = WaveNet("feather", head_scale=0.05)
    assert m.config["head_scale"] == 0.05 and m.config["preset"] == "feather"
    m2 = build_model("wavenet", **copy.deepcopy(m.config))
    assert m2.config == m.config
    path = save_checkpoint(tmp_path / "w.pt", Checkpoint(m, "wavenet", 48000, 1, 4093))
    m3 = load_checkpoint(path).model.eval()
    x = torch.randn(1, 1, 500)
    with torch.no_grad():
        assert torch.equal(m3(x), m.eval()(x))


def test_custom_layers_and_gating():
    layers = copy.deepcopy(PRESETS["nano"]["layers"])
    for lc in layers:
        lc["gated"] = True
        lc["dilations"] = [1, 2]
    m = WaveNet(preset=None, layers=layers)
    assert m.receptive_field == 1 + 2 * 3 * 2 == measure_receptive_field(m)
    # Gating doubles the dilated conv's and the mixer's outputs.
    ungated = WaveNet(preset=None, layers=[dict(lc, gated=False) for lc in layers])
    assert m.num_parameters - ungated.num_parameters == sum(
        len(lc["dilations"]) * (3 * lc["channels"] ** 2 + 2 * lc["channels"]) for lc in layers
    )


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda ls: ls[1].update(channels=3), "head_size"),
        (lambda ls: ls[1].update(input_size=5), "input_size"),
        (lambda ls: ls[1].update(head_size=2), "head_size must be 1"),
        (lambda ls: ls[0].update(activation="Swish"), "activation"),
        (lambda ls: ls[0].update(dilations=[]), "dilation"),
        (lambda ls: ls[0].update(condition_size=2), "condition_size"),
    ],
)
def test_inconsistent_layers_are_refused(change, message):
    layers = copy.deepcopy(PRESETS["nano"]["layers"])
    change(layers)
    with pytest.raises(ValueError, match=message):
        WaveNet("nano", layers=layers)


def test_unknown_preset():
    with pytest.raises(ValueError, match="unknown WaveNet preset"):
        WaveNet("huge")
    with pytest.raises(ValueError, match="give the layer arrays"):
        WaveNet(preset=None)


@pytest.fixture
def smoke_pair():
    from guneamp_lib.training.data import make_training_data

    x = toy_di(seconds=2.0)  # long enough that the held-out last 20% holds notes, not silence
    return make_training_data(x, toy_amp(x), 44100, target_kind="amp_direct")


def test_nano_trains_through_the_training_loop(smoke_pair):
    from guneamp_lib.training.train import TrainConfig, evaluate, train

    data = smoke_pair
    cfg = TrainConfig(model="wavenet", model_kwargs={"preset": "nano"}, oversample=1, segment=2048, batch_size=4,
                      learning_rate=1e-2, epochs=3, steps_per_epoch=15, time_budget_s=None, device="cpu")
    torch.manual_seed(cfg.seed)
    model = build_model("wavenet", preset="nano")
    with torch.no_grad():
        before = evaluate(copy.deepcopy(model).eval(), data, cfg)["loss"]
    result = train(data, cfg, progress=False, model=model)
    after = result.history[-1]["val_loss"]
    assert after < 0.5 * before
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]


@pytest.mark.parametrize("preset", ["standard", "nano"])
def test_stream_weights_are_the_whole_model(preset):
    # The streaming engine reads the network only through stream_weights(): every
    # parameter must be in it, once, with the config's dilations.
    model = WaveNet(preset=preset)
    arrays = model.stream_weights()
    tensors = [t for a in arrays for t in (a["rechannel"], a["head"], a["head_bias"]) if t is not None]
    tensors += [l[k] for a in arrays for l in a["layers"] for k in ("conv", "conv_bias", "mixer", "res", "res_bias")]
    assert sum(t.numel() for t in tensors) == model.num_parameters
    assert [l["dilation"] for a in arrays for l in a["layers"]] == [d for lc in model.config["layers"] for d in lc["dilations"]]


@pytest.mark.parametrize("gated, num_knobs, film", [(False, 0, False), (True, 0, False), (False, 3, False),
                                                   (False, 3, True), (True, 2, True)])
def test_valid_convolutions_give_the_padded_outputs_and_gradients(gated, num_knobs, film):
    """forward(pad=False) is NAM's valid computation: the padded network's exact tail, and
    training through it (forward_segments) yields the padded network's gradients."""
    from guneamp_lib.training.step import forward_segments

    layers = copy.deepcopy(PRESETS["nano"]["layers"])
    for lc in layers:
        lc["gated"] = gated
        lc["dilations"] = [1, 2, 4]
        lc["condition_size"] = 1 + num_knobs
    torch.manual_seed(0)
    m = WaveNet(preset=None, layers=layers, num_knobs=num_knobs, film=film)
    with torch.no_grad():  # FiLM starts as the identity: give its scales weights
        for name, p in m.named_parameters():
            if name.endswith("film.weight"):
                p.normal_(0.0, 0.5)
    assert m.supports_valid
    rf = m.receptive_field
    x = 0.5 * torch.randn(2, 1, 200)
    knobs = torch.rand(2, num_knobs) if num_knobs else None
    kw = {"knobs": knobs} if num_knobs else {}
    with torch.no_grad():
        valid = m(x, pad=False, **kw)
        assert valid.shape == (2, 1, 200 - (rf - 1))
        assert (valid - m(x, **kw)[..., rf - 1 :]).abs().max() < 1e-6
    target = torch.randn(2, 64)

    def grads(valid_path: bool):
        m.zero_grad()
        if not valid_path:
            m.supports_valid = False  # instance attribute: the padded path
        try:
            out = forward_segments(m, x[:, 0], 1, None, 200 - 64, 64, knobs=knobs)
        finally:
            m.__dict__.pop("supports_valid", None)
        ((out - target) ** 2).mean().backward()
        # (the last layer's 1x1 feeds nothing, so it has no gradient)
        return out.detach(), [p.grad for p in m.parameters()]

    out_v, g_v = grads(True)
    out_p, g_p = grads(False)
    assert out_v.shape == (2, 64) and (out_v - out_p).abs().max() < 1e-6
    assert sum(g is not None for g in g_v) > len(g_v) - 3
    for a, b in zip(g_v, g_p):
        assert (a is None and b is None) or torch.allclose(a, b, rtol=1e-4, atol=1e-7)
    # the knobs must still reach the output through the valid path
    if num_knobs:
        with torch.no_grad():
            assert (m(x, pad=False, knobs=1 - knobs) - valid).abs().max() > 1e-4


def test_film_scales_each_layer_by_the_knobs_and_needs_knobs():
    """FiLM: z = (1 + film @ knobs) * conv(x) + mixer(c); it starts as the model without it."""
    torch.manual_seed(0)
    plain = WaveNet("nano", num_knobs=2)
    torch.manual_seed(0)
    film = WaveNet("nano", num_knobs=2, film=True)
    assert film.config["film"] is True and "film" not in plain.config
    # NAM's weights first, in NAM's order; the scales' weights after them
    names = [n for n, _ in film.named_parameters()]
    assert [n for n in names if "film" not in n] == [n for n, _ in plain.named_parameters()]
    assert all(names.index(n) > names.index(n.replace("film", "conv1x1")) for n in names if "film" in n)
    film.load_state_dict({**film.state_dict(), **plain.state_dict()})
    x, k = 0.3 * torch.randn(1, 1, 600), torch.tensor([[0.2, 0.9]])
    assert torch.equal(film(x, knobs=k), plain(x, knobs=k))  # zero FiLM weights: the identity
    layer = film.arrays[0].layers[0]
    with torch.no_grad():
        layer.film.weight[:, 1, 0] = 1.0  # the second knob scales layer 0 by 1 + k2
        y = film(x, knobs=k)
        layer.conv.weight *= 1.9
        layer.conv.bias *= 1.9
        layer.film.weight.zero_()
        assert torch.allclose(y, film(x, knobs=k), atol=1e-6)  # the same as a conv 1.9 times larger
    with pytest.raises(ValueError, match="num_knobs"):
        WaveNet("nano", film=True)
