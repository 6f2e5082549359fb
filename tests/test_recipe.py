"""The recipe options of issue 22 (loss terms, augmentation, weight averaging): each does what
it says, and a run without them is the run it always was."""

import math

import pytest
import torch

from guneamp_lib.errors import GuneampError
from guneamp_lib.training.data import make_training_data
from guneamp_lib.training.losses import design_loss, dc_loss, mrstft_loss, training_loss
from guneamp_lib.training.step import WeightAverage, augment
from guneamp_lib.training.train import TrainConfig, evaluate, train
from tests.conftest import toy_amp, toy_di

SR = 44100


def fast(**kw):
    return TrainConfig(model="wavenet", model_kwargs={"preset": "nano"}, epochs=2, steps_per_epoch=3,
                       time_budget_s=None, segment=2048, batch_size=2, device="cpu", **kw)


@pytest.fixture(scope="module")
def data():
    x = toy_di(seconds=3.0, seed=2)
    return make_training_data(x, toy_amp(x), SR, None, target_kind="amp_direct")


def test_loss_terms_add_what_they_weigh():
    g = torch.Generator().manual_seed(0)
    t = torch.randn(3, 4096, generator=g)
    p = t + 0.1 * torch.randn(3, 4096, generator=g)
    assert mrstft_loss(t, t).item() == pytest.approx(0.0, abs=1e-9)
    assert mrstft_loss(p, t).item() > 0.01
    # a constant offset c on a signal of power P: the DC term is c^2 / P
    assert dc_loss(t + 0.3, t).item() == pytest.approx(0.09 / torch.mean(t**2).item(), rel=1e-5)
    cfg = TrainConfig(mrstft_weight=0.5, dc_weight=2.0)
    want = design_loss(p, t) + 0.5 * mrstft_loss(p, t) + 2.0 * dc_loss(p, t)
    assert training_loss(p, t, cfg).item() == pytest.approx(want.item(), rel=1e-6)
    assert training_loss(p, t, TrainConfig()).item() == design_loss(p, t).item()


def test_augment_flips_whole_segments_and_jitters_only_the_input():
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(64, 300, generator=g) + 0.1, torch.rand(64, 200, generator=g) + 0.1
    xa, ya = augment(x, y, TrainConfig(polarity=True, gain_jitter_db=1.0), torch.Generator().manual_seed(1))
    sx, sy = xa / x, ya / y
    assert torch.allclose(sx, sx[:, :1].expand_as(sx)) and torch.allclose(sy, sy[:, :1].expand_as(sy))  # per segment
    assert set(sy[:, 0].tolist()) == {-1.0, 1.0}  # both polarities drawn, the target only flipped
    assert torch.equal(torch.sign(sx[:, 0]), sy[:, 0])  # input and target flipped together
    db = 20 * torch.log10(sx[:, 0].abs())
    assert db.abs().max() <= 1.0 + 1e-5 and db.std() > 0.2
    gen = torch.Generator().manual_seed(1)
    before = gen.get_state()
    xo, yo = augment(x, y, TrainConfig(), gen)
    assert xo is x and yo is y and torch.equal(gen.get_state(), before)  # off: nothing drawn


def test_weight_average_is_the_exponential_average_and_swaps_back():
    net = torch.nn.Linear(2, 1)
    avg = WeightAverage(net, 0.5)
    w0 = net.weight.detach().clone()
    with torch.no_grad():
        net.weight.add_(1.0)
    avg.update(net)  # first update: min(0.5, 1/10) = 0.1 of the old
    assert torch.allclose(avg.avg["weight"], 0.1 * w0 + 0.9 * (w0 + 1.0))
    live = avg.swap_in(net)
    assert torch.allclose(net.weight, avg.avg["weight"])
    avg.swap_out(net, live)
    assert torch.allclose(net.weight, w0 + 1.0)


def test_options_off_leave_a_run_unchanged_and_each_option_changes_it(data):
    base = train(data, fast(), progress=False)
    same = train(data, fast(mrstft_weight=0.0, dc_weight=0.0, polarity=False, gain_jitter_db=0.0, ema=0.0),
                 progress=False)
    assert [h["val_esr"] for h in base.history] == [h["val_esr"] for h in same.history]
    for kw in ({"mrstft_weight": 1e-3}, {"dc_weight": 1.0}, {"polarity": True}, {"gain_jitter_db": 1.0},
               {"ema": 0.9}):
        other = train(data, fast(**kw), progress=False)
        assert other.history[-1]["val_esr"] != base.history[-1]["val_esr"], kw
        # the model returned is the one validation scored best (with ema: the averaged weights)
        cfg = fast(**kw)
        assert evaluate(other.model, data, cfg)["esr"] == pytest.approx(other.best_val_esr, rel=1e-5), kw


@pytest.mark.parametrize("kw", [{"mrstft_weight": -1.0}, {"dc_weight": math.nan}, {"gain_jitter_db": math.inf},
                                {"ema": 1.0}, {"ema": -0.1}])
def test_bad_option_values_are_refused(kw):
    with pytest.raises(GuneampError):
        TrainConfig(**kw)


def test_train_takes_the_options_and_records_them(toy_pair, tmp_path, capsys):
    from guneamp_lib.models.checkpoint import load_checkpoint
    from tests.test_cli import FAST_TRAIN, run

    args = ["train", "--clean", toy_pair["clean"], "--amp", toy_pair["amp_direct"], "--target-kind", "amp_direct",
            *FAST_TRAIN]
    code, _, err = run(capsys, *args, "--out", tmp_path / "r", "--ema", "0.9", "--polarity", "--gain-jitter-db", "0.5",
                       "--mrstft-weight", "1e-3", "--dc-weight", "0.1")
    assert code == 0, err
    config = load_checkpoint(tmp_path / "r" / "best.pt").meta["config"]
    assert (config["ema"], config["polarity"], config["gain_jitter_db"], config["mrstft_weight"],
            config["dc_weight"]) == (0.9, True, 0.5, 1e-3, 0.1)
    with pytest.raises(SystemExit) as e:
        run(capsys, *args, "--out", tmp_path / "r2", "--ema", "1")
    assert e.value.code == 2 and "out of range" in capsys.readouterr().err
