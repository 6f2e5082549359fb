"""Knob models (issue 18, notebook 13): conditioned WaveNet, LSTM and GRU, their checkpoints and streaming."""

import itertools
from dataclasses import replace

import numpy as np
import pytest
import torch

from guneamp_lib.cli import build_parser, main
from guneamp_lib.cli.train import _knob_rows, _train_config
from guneamp_lib.errors import GuneampError
from guneamp_lib.knobs import Knob, KnobSpace
from guneamp_lib.models import build_model
from guneamp_lib.models.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from guneamp_lib.render.inference import predict
from guneamp_lib.render.knob_input import KNOB_RAMP
from guneamp_lib.render.streaming import StreamingProcessor
from guneamp_lib.training.knob_data import KnobSampler, load_knob_training_data, make_knob_training_data
from guneamp_lib.training.train import TrainConfig, train
from tests.conftest import toy_amp, toy_di, write

SMALL = [("wavenet", {"preset": "nano"}), ("lstm", {"hidden_size": 8}), ("gru", {"hidden_size": 8})]
FILM = ("wavenet", {"preset": "nano", "film": True})  # the knob recipe's WaveNet: knobs scale each layer too
KNOBBED = [*SMALL, FILM]
SPACE = KnobSpace([Knob("drive", 0, 10), Knob("treble", 2, 8)])


def _model(name, kw, k=2, seed=0):
    torch.manual_seed(seed)
    m = build_model(name, num_knobs=k, **kw)
    with torch.no_grad():  # FiLM starts as the identity, which would hide a wrong scale: give it weights
        for n, p in m.named_parameters():
            if n.endswith("film.weight"):
                p.normal_(0.0, 0.5)
    return m.eval()


def _signal(n=4000, seed=1):
    return torch.randn(n, generator=torch.Generator().manual_seed(seed)) * 0.3


@pytest.mark.parametrize("name,kw", SMALL)
def test_snapshot_model_is_unchanged_by_the_knob_code(name, kw):
    """num_knobs=0 builds today's model: the same config, weight names and outputs."""
    torch.manual_seed(3)
    a = build_model(name, **kw)
    torch.manual_seed(3)
    b = build_model(name, num_knobs=0, **kw)
    assert "num_knobs" not in a.config and a.config == b.config
    assert list(a.state_dict()) == list(b.state_dict())
    x = _signal(500).view(1, 1, -1)
    assert torch.equal(a(x), b(x))
    with pytest.raises(ValueError, match="snapshot"):
        a(x, knobs=torch.zeros(1, 2))


@pytest.mark.parametrize("name,kw", KNOBBED)
def test_output_changes_with_the_knob_and_constant_equals_time_varying(name, kw):
    m = _model(name, kw)
    x = _signal(800).view(1, 1, -1)
    lo, hi = m(x, knobs=torch.tensor([[0.0, 0.5]])), m(x, knobs=torch.tensor([[1.0, 0.5]]))
    assert (lo - hi).abs().max() > 1e-3
    track = torch.tensor([0.0, 0.5]).view(1, 2, 1).expand(1, 2, 800)
    assert torch.allclose(lo, m(x, knobs=track), atol=1e-6)
    with pytest.raises(ValueError, match="knob"):
        m(x)


@pytest.mark.parametrize("name,kw", KNOBBED)
@pytest.mark.parametrize("engine", ["torch", "auto"])
def test_streaming_equals_offline_at_fixed_knobs(name, kw, engine):
    m = _model(name, kw)
    x = _signal()
    for knobs in ([0.2, 0.9], [0.8, 0.1]):
        k = np.float32(knobs)
        ref = predict(m, x, 1, None, knobs=k).numpy()
        sp = StreamingProcessor(m, 1, engine=engine, knob_space=SPACE)
        sp.set_knobs(SPACE.denormalize(k))
        sp.reset()
        y = np.concatenate([sp.process_block(x[i : i + 64].numpy()) for i in range(0, x.numel(), 64)])
        np.testing.assert_allclose(y, ref, atol=2e-5)


def _knob_track(sends: dict, n: int, ramp: int, start) -> np.ndarray:
    """The knobs sample by sample, in float64: a vector sent at sample ``s`` (unless it is the
    target already) glides linearly from where the knobs are to it over ``ramp`` samples."""
    now = target = np.float64(start)
    delta, left, track = 0.0, 0, np.zeros((len(start), n))
    for t in range(n):
        if t in sends and not np.array_equal(sends[t], target):
            target = np.float64(sends[t])
            delta, left = (target - now) / ramp, ramp
        if left:
            left -= 1
            now = target if left == 0 else now + delta
        track[:, t] = now
    return track


@pytest.mark.parametrize("name,kw", [SMALL[0], SMALL[1], FILM])
@pytest.mark.parametrize("engine", ["torch", "compiled"])
@pytest.mark.parametrize("block", [64, 50])
def test_glide_equals_the_model_fed_the_same_per_sample_knob_track(name, kw, engine, block):
    """A knob turned mid-stream glides linearly sample by sample, whole blocks at a time: each
    engine plays exactly the offline model given that knob track, with the knobs moving every
    block (a glide retargeted before it lands), then gliding to rest (landing mid-block where
    the block does not divide the ramp), then still."""
    m = _model(name, kw)
    n = 2 * KNOB_RAMP + 40 * block
    x = _signal(n)
    sp = StreamingProcessor(m, 1, engine=engine)
    start = np.float32([0.0, 0.0])
    sp.set_knob_vector(start)
    sp.reset()
    sends, y = {}, []
    for i, s in enumerate(range(0, n, block)):
        if 2 <= i < 30:
            sends[s] = np.float32([(i % 7) / 7.0, 1.0 - (i % 5) / 5.0])
        elif i == 30:
            sends[s] = np.float32([1.0, 0.5])
        if s in sends:
            sp.set_knob_vector(sends[s])
        y.append(sp.process_block(x[s : s + block].numpy()))
    track = _knob_track(sends, n, KNOB_RAMP, start)
    assert np.array_equal(track[:, -1], [1.0, 0.5]) and np.ptp(track[0, : 30 * block]) > 0.2
    # Silence before the start, at the first knobs, as the stream is primed.
    ctx = 0 if m.receptive_field == float("inf") else m.receptive_field - 1
    xp = torch.cat([torch.zeros(ctx), x]).view(1, 1, -1)
    tp = torch.from_numpy(np.concatenate([np.repeat(track[:, :1], ctx, axis=1), track], axis=1)).float()
    ref = m(xp, knobs=tp[None])[0, 0, ctx:].detach().numpy()
    assert np.abs(ref).max() > 0.01
    np.testing.assert_allclose(np.concatenate(y), ref, rtol=0, atol=2e-5)


def test_set_knobs_refusals():
    sp = StreamingProcessor(_model("lstm", {"hidden_size": 8}), 1, engine="torch", knob_space=SPACE)
    with pytest.raises(GuneampError, match="unknown knob 'gain'"):
        sp.set_knobs({"gain": 1, "drive": 1, "treble": 3})
    with pytest.raises(GuneampError, match="outside the range"):
        sp.set_knobs({"drive": 11, "treble": 3})
    sp.set_knobs({"drive": 11, "treble": 3}, extrapolate=True)
    snap = StreamingProcessor(build_model("lstm", hidden_size=8), 1, engine="torch")
    assert snap.knob_space is None
    with pytest.raises(GuneampError, match="snapshot"):
        snap.set_knobs({"drive": 1})


def test_checkpoint_keeps_the_knob_space_and_refuses_bad_knob_data(tmp_path):
    m = _model("wavenet", {"preset": "nano"})
    ckpt = Checkpoint(m, "wavenet", 48000, 1, 256, knobs=SPACE)
    save_checkpoint(tmp_path / "k.pt", ckpt)
    back = load_checkpoint(tmp_path / "k.pt")
    assert back.knobs == SPACE and back.model.num_knobs == 2
    x = _signal(300).view(1, 1, -1)
    k = torch.tensor([[0.3, 0.6]])
    assert torch.equal(back.model(x, knobs=k), m(x, knobs=k))
    payload = torch.load(tmp_path / "k.pt", weights_only=True)
    for bad, why in (([{"name": "drive", "low": 0, "high": 10}], "takes 2 knob"),
                     ("drive", "malformed"), ([{"name": "drive", "low": 5, "high": 5}] * 2, "malformed")):
        torch.save({**payload, "knobs": bad}, tmp_path / "bad.pt")
        with pytest.raises(GuneampError, match=why):
            load_checkpoint(tmp_path / "bad.pt")
    torch.save({k: v for k, v in payload.items() if k != "knobs"}, tmp_path / "none.pt")
    with pytest.raises(GuneampError, match="no knob list"):
        load_checkpoint(tmp_path / "none.pt")
    with pytest.raises(GuneampError, match="takes 2 knob"):
        save_checkpoint(tmp_path / "x.pt", Checkpoint(m, "wavenet", 48000, 1, 256))
    snap = Checkpoint(build_model("wavenet", preset="nano"), "wavenet", 48000, 1, 256)
    save_checkpoint(tmp_path / "s.pt", snap)
    assert "knobs" not in torch.load(tmp_path / "s.pt", weights_only=True)


# --------------------------------------------------------------------------- training


def _knob_amp(x, drive):
    """The toy amp with a drive knob (0..10): input gain from 0.25 to 2.5."""
    return toy_amp(x * (0.25 + 0.225 * drive))


@pytest.fixture
def knob_manifest(tmp_path):
    x = toy_di(seconds=1.5, seed=4)
    write(tmp_path / "di.wav", x)
    lines = ["name,clean,target,target_kind,split,knob:drive"]
    for d in (0, 5, 10):
        write(tmp_path / f"amp_{d}.wav", 0.5 * _knob_amp(x, d))
        lines.append(f"d{d},di.wav,amp_{d}.wav,amp_direct,train,{d}")
    write(tmp_path / "amp_7.wav", 0.5 * _knob_amp(x, 7))
    lines.append("d7,di.wav,amp_7.wav,amp_direct,test,7")
    (tmp_path / "knobs.csv").write_text("\n".join(lines) + "\n")
    return tmp_path / "knobs.csv"


def test_knob_data_keeps_one_level_and_mixes_settings():
    x = toy_di(seconds=1.0, seed=5)
    data = make_knob_training_data([(x, _knob_amp(x, d), {"drive": d}) for d in (0, 10)], 44100,
                                   target_kind="amp_direct")
    assert data.space == KnobSpace([Knob("drive", 0, 10)])
    assert torch.equal(data.knobs, torch.tensor([[0.0], [1.0]]))
    # One output gain for both: the loud setting stays louder than the quiet one.
    quiet, loud = (c.target.abs().max().item() for c in data.captures)
    assert loud == pytest.approx(1.0, abs=1e-6) and quiet < 0.8
    model = build_model("lstm", hidden_size=8, num_knobs=1)
    cfg = TrainConfig(model="lstm", segment=256, batch_size=64, epochs=1, time_budget_s=None)
    sampler = KnobSampler.build(model, data, cfg, 256, "cpu")
    (xs, knobs), ys = sampler.draw(64, torch.Generator().manual_seed(0))
    assert xs.shape[0] == knobs.shape[0] == ys.shape[0] == 64
    assert 10 < int(knobs.sum()) < 54  # both settings in one batch
    # each segment's target is its own capture's
    first = data.captures[int(knobs[0, 0])]
    hits = (first.target.unfold(0, ys.shape[1], 1) == ys[0]).all(dim=1)
    assert hits.any()


def test_the_knob_recipe_gives_the_wavenet_film_unless_told_otherwise():
    from guneamp_lib.training.train import knob_config

    x = toy_di(seconds=0.5, seed=5)
    data = make_knob_training_data([(x, _knob_amp(x, d), {"drive": d}) for d in (0, 10)], 44100,
                                   target_kind="amp_direct")
    cfg = knob_config(TrainConfig(model="wavenet", model_kwargs={"preset": "nano"}, epochs=1), data)
    assert cfg.model_kwargs == {"preset": "nano", "num_knobs": 1, "film": True}
    off = knob_config(TrainConfig(model="wavenet", model_kwargs={"preset": "nano", "film": False}, epochs=1), data)
    assert off.model_kwargs["film"] is False
    assert "film" not in knob_config(TrainConfig(model="lstm", epochs=1), data).model_kwargs
    snap = TrainConfig(model="wavenet", model_kwargs={"preset": "nano"}, epochs=1)
    assert knob_config(snap, None) is snap  # a snapshot's data: unchanged


def test_balanced_settings_weigh_each_setting_by_its_own_power():
    """balance_settings scales each segment's prediction and target by its capture's
    sqrt(mean power / own power): a setting 10x quieter weighs as much as a loud one in
    the loss, the prediction's level untouched; without it the sampler is as before."""
    from guneamp_lib.training.knob_data import setting_scales
    from guneamp_lib.training.losses import training_loss

    x = toy_di(seconds=1.0, seed=5)
    loud = _knob_amp(x, 10)
    data = make_knob_training_data([(x, loud / 10, {"drive": 0}), (x, loud, {"drive": 10})], 44100,
                                   target_kind="amp_direct")
    scales = setting_scales(data)
    p = [float(torch.mean(c.target[: c.n_train].double() ** 2)) for c in data.captures]
    assert scales[0] / scales[1] == pytest.approx(10.0, rel=1e-4)
    assert float(scales[0]) ** 2 * p[0] == pytest.approx(float(scales[1]) ** 2 * p[1], rel=1e-4)
    model = build_model("lstm", hidden_size=8, num_knobs=1)
    cfg = TrainConfig(model="lstm", segment=256, batch_size=8, epochs=1, time_budget_s=None, balance_settings=True)
    sampler = KnobSampler.build(model, data, cfg, 256, "cpu")
    (xs, knobs, scale), ys = sampler.draw(8, torch.Generator().manual_seed(0))
    assert torch.equal(scale[:, 0], scales[knobs[:, 0].long()])
    plain = KnobSampler.build(model, data, TrainConfig(model="lstm", segment=256, batch_size=8, epochs=1,
                                                       time_budget_s=None), 256, "cpu")
    (xs0, knobs0), ys0 = plain.draw(8, torch.Generator().manual_seed(0))  # the same segments, unscaled
    assert torch.equal(xs0, xs) and torch.allclose(ys, ys0 * scale)
    with torch.no_grad():
        pred0, pred = plain.forward(model, (xs0, knobs0)), sampler.forward(model, (xs, knobs, scale))
        assert torch.allclose(pred, pred0 * scale)
        # the balanced loss is each segment's squared error times its capture's scale squared
        mse = torch.mean((pred0 - ys0) ** 2, dim=1)
        plain_cfg = TrainConfig(model="lstm", segment=256, epochs=1, time_budget_s=None, pre_emphasis_weight=0.0)
        assert float(training_loss(pred, ys, plain_cfg)) == pytest.approx(float(torch.mean(mse * scale[:, 0] ** 2)),
                                                                          rel=1e-5)
    silent = make_knob_training_data([(x, loud, {"drive": 0}), (x, loud * 0, {"drive": 10})], 44100,
                                     target_kind="amp_direct")
    with pytest.raises(GuneampError, match="silent"):
        setting_scales(silent)


def test_cli_trains_a_knob_model_that_resumes_and_refuses(knob_manifest, tmp_path, capsys):
    args = ["train", "--manifest", str(knob_manifest), "--model", "lstm:8", "--segment", "512", "--batch-size", "4",
            "--epochs", "2", "--time-budget", "100000", "--save-every", "1", "--device", "cpu", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "knob model on 3 captures: drive 0 to 10" in out
    ckpt = load_checkpoint(tmp_path / "run" / "best.pt")
    assert ckpt.knobs == KnobSpace([Knob("drive", 0, 10)]) and ckpt.model.num_knobs == 1
    assert ckpt.meta["source"]["manifest"] == str(knob_manifest.resolve())
    assert ckpt.meta["config"]["knob_recipe"]  # options left out came from the knob recipe (KNOB_TRAINING)
    x = torch.from_numpy(toy_di(seconds=1.0, seed=9)) * ckpt.input_gain
    lo, hi = (predict(ckpt.model, x, 1, None, knobs=ckpt.knobs.normalize({"drive": d})) for d in (0, 10))
    assert (lo - hi).abs().max() > 1e-2 * hi.abs().max()  # the trained model's output changes with the knob
    # A run stopped after its first epoch (last.pt saved, unfinished) resumes to the same weights.
    last = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    ns = build_parser().parse_args([*args, "--out", str(tmp_path / "half")])
    source, rows = _knob_rows(ns.manifest, ns)

    def stop(history):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(load_knob_training_data(rows, target_kind="amp_direct"), _train_config(ns, knob_recipe=True), tmp_path / "half",
              progress=False, callback=stop, save_every=1, source=source)
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path / "half"), "--device", "cpu", "--quiet"]) == 0
    assert "at step 77" in capsys.readouterr().out
    resumed = torch.load(tmp_path / "half" / "last.pt", weights_only=True)
    assert resumed["training_state"]["finished"] and resumed["knobs"] == last["knobs"]
    for k, v in last["state_dict"].items():
        torch.testing.assert_close(resumed["state_dict"][k], v, rtol=1e-5, atol=1e-6)
    # refusals: a snapshot model on a knob manifest, before any audio is read
    assert main([*args[:-1], "--model", "seed_cnn", "--out", str(tmp_path / "x")]) == 2
    assert "takes no knobs" in capsys.readouterr().err


# --------------------------------------------------------------------------- render


@pytest.fixture
def knob_ckpt(tmp_path):
    m = _model("wavenet", {"preset": "nano"})
    save_checkpoint(tmp_path / "k.pt", Checkpoint(m, "wavenet", 44100, 1, 256, knobs=SPACE))
    save_checkpoint(tmp_path / "s.pt", Checkpoint(build_model("wavenet", preset="nano"), "wavenet", 44100, 1, 256))
    write(tmp_path / "di.wav", _signal(12000).numpy())
    return tmp_path


@pytest.mark.parametrize("block", [[], ["--block-size", "64"]])
def test_render_plays_the_knobs_given(knob_ckpt, block):
    import soundfile as sf

    t = knob_ckpt
    args = ["render", "--model", str(t / "k.pt"), "--input", str(t / "di.wav"), "--quiet", *block]
    assert main([*args, "--output", str(t / "a.wav"), "--knob", "drive=2.5", "--knob", "treble=6.5"]) == 0
    y = sf.read(t / "a.wav", dtype="float32")[0]
    ckpt = load_checkpoint(t / "k.pt")
    ref = predict(ckpt.model, _signal(12000), 1, None, knobs=SPACE.normalize({"drive": 2.5, "treble": 6.5}))
    np.testing.assert_allclose(y, ref.numpy(), atol=2e-5)


def test_render_follows_a_knob_automation(knob_ckpt):
    import soundfile as sf

    t = knob_ckpt
    (t / "sweep.csv").write_text("time,drive,knob:treble\n0,0,2\n0.05,10,8\n")
    args = ["render", "--model", str(t / "k.pt"), "--input", str(t / "di.wav"), "--quiet"]
    assert main([*args, "--output", str(t / "sweep.wav"), "--knob-automation", str(t / "sweep.csv")]) == 0
    assert main([*args, "--output", str(t / "lo.wav"), "--knob", "drive=0", "--knob", "treble=2"]) == 0
    assert main([*args, "--output", str(t / "hi.wav"), "--knob", "drive=10", "--knob", "treble=8"]) == 0
    sweep, lo, hi = (sf.read(t / f"{n}.wav", dtype="float32")[0] for n in ("sweep", "lo", "hi"))
    # at the start it plays the first row, after the sweep (0.1 s and a glide) the last
    np.testing.assert_allclose(sweep[:64], lo[:64], atol=2e-5)
    np.testing.assert_allclose(sweep[9000:], hi[9000:], atol=2e-5)  # the glide and the receptive field after it
    assert np.abs(sweep[2000:4000] - lo[2000:4000]).max() > 1e-3


def test_render_refuses_bad_knobs_in_one_line(knob_ckpt, capsys):
    t = knob_ckpt
    base = ["render", "--input", str(t / "di.wav"), "--output", str(t / "o.wav"), "--quiet"]
    cases = [(["--model", str(t / "s.pt"), "--knob", "drive=1"], "snapshot model"),
             (["--model", str(t / "k.pt"), "--knob", "gain=1", "--knob", "drive=1"], "unknown knob 'gain'"),
             (["--model", str(t / "k.pt"), "--knob", "drive=11", "--knob", "treble=3"], "outside the range"),
             (["--model", str(t / "k.pt"), "--knob", "drive"], "name=value"),
             (["--model", str(t / "k.pt"), "--knob", "drive=1"], "'treble' has no value")]
    for extra, why in cases:
        capsys.readouterr()
        try:
            code = main([*base, *extra])
        except SystemExit as exc:  # argparse's own refusal, before anything loads
            code = exc.code
        assert code == 2
        err = capsys.readouterr().err
        assert why in err and err.count("\n") == 1 and err.startswith("error:"), err
    assert not (t / "o.wav").exists()
    assert main([*base, "--model", str(t / "k.pt"), "--knob", "drive=11", "--knob", "treble=3", "--extrapolate"]) == 0


# --------------------------------------------------------------------------- exports


def _esr(ref, y):
    ref = np.asarray(ref, np.float64)
    return float(np.sum((np.asarray(y, np.float64) - ref) ** 2) / np.sum(ref ** 2))


def _knob_checkpoint(name, kw, k, seed=0):
    space = KnobSpace([Knob("drive", 0, 10), Knob("treble", 2, 8), Knob("bass", 0, 10)][:k])
    return Checkpoint(_model(name, kw, k, seed), name, 48000, 1, 256, target_kind="amp_direct",
                      knobs=space if k else None, input_gain=1.7, output_gain=2.5)


def test_baked_snapshot_equals_the_knob_model_at_its_setting():
    from guneamp_lib.models.bake import bake_knobs

    x = _signal(3000).view(1, 1, -1)
    for name, kw in KNOBBED:
        ckpt = _knob_checkpoint(name, kw, 2)
        settings = {"drive": 7.0, "treble": 3.0}
        baked = bake_knobs(ckpt, settings)
        assert baked.knobs is None and baked.model.num_knobs == 0 and "num_knobs" not in baked.model.config
        k = torch.from_numpy(ckpt.knobs.normalize(settings))[None]
        torch.testing.assert_close(baked.model(x), ckpt.model(x, knobs=k), rtol=1e-5, atol=1e-6)
    with pytest.raises(GuneampError, match="snapshot"):
        bake_knobs(_knob_checkpoint("lstm", {"hidden_size": 8}, 0), {})


@pytest.mark.slow
def test_baked_nam_plays_in_nam_core_as_the_knob_model(tmp_path, capsys, nam_core_exact):
    from benchmarks.nam_core import run_driver
    from guneamp_lib.capture.guitar import synth_di

    build = nam_core_exact
    x = synth_di(1.0, 48000, 3).astype(np.float32)
    for (drive, treble), kw in itertools.product(((7, 3), (0.5, 8)), (SMALL[0][1], FILM[1])):
        ckpt = _knob_checkpoint("wavenet", kw, 2, seed=5)
        save_checkpoint(tmp_path / "k.pt", ckpt)
        out = tmp_path / f"d{drive}{'f' if 'film' in kw else ''}.nam"
        assert main(["export", "--model", str(tmp_path / "k.pt"), "--output", str(out), "--knob", f"drive={drive}",
                     "--knob", f"treble={treble}"]) == 0
        y, _ = run_driver(build, out, x, block=64, exact_tanh=True)
        sp = StreamingProcessor.from_checkpoint(ckpt, engine="auto")
        sp.set_knobs({"drive": drive, "treble": treble})
        sp.reset()
        ref = np.concatenate([sp.process_block(x[s : s + 64] * np.float32(ckpt.input_gain))
                              for s in range(0, x.size, 64)]) / np.float32(ckpt.output_gain)
        assert np.sum(ref.astype(np.float64) ** 2) > 1e-6 * ref.size  # not a silent comparison
        assert _esr(ref, y) < 1e-9
    capsys.readouterr()
    assert main(["export", "--model", str(tmp_path / "k.pt"), "--output", str(tmp_path / "no.nam")]) == 2
    assert "give every knob with --knob" in capsys.readouterr().err


CASES = [("lstm", 8, 0), ("lstm", 16, 1), ("lstm", 12, 2), ("gru", 8, 0), ("gru", 20, 1), ("gru", 16, 2)]


@pytest.mark.slow
@pytest.mark.parametrize("name,hidden,k", CASES)
def test_aidax_json_plays_in_rtneural_as_ours(tmp_path, name, hidden, k):
    from benchmarks.rtneural import build_driver, missing_requirements, play_aidax
    from guneamp_lib.capture.guitar import synth_di

    why = missing_requirements()
    if why is not None:
        pytest.skip(f"RTNeural's driver cannot be built here: {why}")
    exe = build_driver()
    ckpt = _knob_checkpoint(name, {"hidden_size": hidden}, k, seed=hidden + k)
    save_checkpoint(tmp_path / "m.pt", ckpt)
    assert main(["export", "--format", "aidax", "--model", str(tmp_path / "m.pt"),
                 "--output", str(tmp_path / "m.json")]) == 0
    x = synth_di(0.5, 48000, 2).astype(np.float32)
    for knobs in ([0.0, 0.0], [0.3, 0.9], [1.0, 0.25])[: 3 if k else 1]:
        kv = np.float32(knobs[:k])
        y = play_aidax(exe, tmp_path / "m.json", x, kv)  # AIDA-X's gains and skip around RTNeural's network
        ref = predict(ckpt.model, torch.from_numpy(x) * ckpt.input_gain, 1, None,
                      knobs=kv if k else None).numpy() / ckpt.output_gain
        assert np.sum(ref.astype(np.float64) ** 2) > 1e-6 * ref.size
        assert _esr(ref, y) < 1e-6


def test_aidax_refuses_what_aidax_cannot_play(tmp_path, capsys):
    for ckpt, why in ((_knob_checkpoint("lstm", {"hidden_size": 16}, 3), "at most 2 knobs"),
                      (_knob_checkpoint("gru", {"hidden_size": 10}, 1), "8, 12, 16"),
                      (_knob_checkpoint("wavenet", {"preset": "nano"}, 1), "one LSTM or GRU")):
        save_checkpoint(tmp_path / "m.pt", ckpt)
        capsys.readouterr()
        assert main(["export", "--format", "aidax", "--model", str(tmp_path / "m.pt"), "--output",
                     str(tmp_path / "m.json")]) == 2
        err = capsys.readouterr().err
        assert why in err and err.count("\n") == 1
    assert not (tmp_path / "m.json").exists()


def test_the_glide_removes_the_zipper_steps_of_a_knob_sweep():
    from guneamp_lib.study.knob_sweep import zipper_steps

    model = _model("wavenet", {"preset": "nano"}, k=1)
    one = KnobSpace([Knob("drive", 0, 10)])
    rough = zipper_steps(model, one, "drive", seconds=0.3, glide=0)
    smooth = zipper_steps(model, one, "drive", seconds=0.3)
    assert rough["still_step"] == smooth["still_step"] > 0
    assert rough["ratio"] > 10  # each control value steps every layer's bias: a click
    assert smooth["ratio"] < rough["ratio"] / 10


def test_a_knob_wavenet_run_started_without_film_resumes_without_it(tmp_path):
    """The knob recipe took FiLM on 7 December: a run begun before (its model has no scales)
    resumes as it began, and a new run gets FiLM."""
    x = toy_di(seconds=1.0, seed=5)
    data = make_knob_training_data([(x, _knob_amp(x, d), {"drive": d}) for d in (0, 10)], 44100,
                                   target_kind="amp_direct")
    cfg = TrainConfig(model="wavenet", model_kwargs={"preset": "nano"}, segment=512, batch_size=2, epochs=2,
                      steps_per_epoch=2, time_budget_s=None, device="cpu", knob_recipe=True)

    def stop(history):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(data, replace(cfg, model_kwargs={"preset": "nano", "film": False}), tmp_path / "old", progress=False,
              callback=stop, save_every=1)
    resumed = train(data, cfg, tmp_path / "old", progress=False, resume=True)
    assert not resumed.model.film and "film" not in resumed.model.config
    assert resumed.history[-1]["step"] == 4
    assert train(data, cfg, tmp_path / "new", progress=False).model.film
