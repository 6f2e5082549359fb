"""Nonsense the command line used to accept silently, and the words it used (issue 20).

Each case asserts the one `error:` line (or the warning in the report) and that nothing
was written; see :mod:`tests.test_reliability` for the helpers.
"""

import numpy as np
import pytest
import torch

from guneamp_lib.capture.lag import estimate_lag
from guneamp_lib.errors import GuneampError
from guneamp_lib.jobs import Engine, usable_cores
from tests.conftest import toy_amp, toy_di, write
from tests.test_reliability import SR, TRAIN, digests, files, refused, run  # noqa: F401  (files: a fixture)


@pytest.mark.parametrize("command", ["render", "score"])
def test_ir_and_no_ir_together_are_refused(files, capsys, command):
    before = digests(files["dir"])
    argv = (["render", "--input", files["clean"], "--output", files["dir"] / "o.wav"] if command == "render"
            else ["score", "--clean", files["clean"], "--amp", files["amp"]])
    line = refused(capsys, *argv, "--model", files["model"], "--ir", files["ir"], "--no-ir")
    assert "--no-ir" in line and "--ir" in line and "not allowed" in line
    assert digests(files["dir"]) == before


@pytest.mark.parametrize("name", ["o.flac", "o.ogg", "o.mp3", "o.aiff", "o"])
def test_render_refuses_a_name_that_says_another_format(files, capsys, name):
    line = refused(capsys, "render", "--model", files["model"], "--input", files["clean"],
                   "--output", files["dir"] / name)
    assert "WAV" in line and "*.wav" in line
    assert not (files["dir"] / name).exists()


def test_render_library_refuses_it_too(files):
    from guneamp_lib.render.files import render_file

    with pytest.raises(GuneampError, match=r"\.flac is not WAV"):
        render_file(files["model"], files["clean"], files["dir"] / "o.flac", progress=False)
    assert not (files["dir"] / "o.flac").exists()


# --------------------------------------------------------------------------- the lag


def _late(seconds, seed, lag):
    x = toy_di(seconds=seconds, seed=seed)
    y = toy_amp(x)
    return x, np.concatenate([np.zeros(lag, np.float32), y])[: y.size]


@pytest.mark.parametrize("seed, seconds, lag, max_lag_s", [(1, 3.0, 1000, 0.005), (0, 3.0, 300, 0.002),
                                                          (2, 8.0, 100, 0.0005)])
def test_a_max_lag_too_small_to_find_the_lag_says_so(seed, seconds, lag, max_lag_s):
    """These searches were each sure of a wrong lag (104, -1 and 14 samples) before."""
    x, y = _late(seconds, seed, lag)
    est = estimate_lag(x, y, SR, max_lag_s)
    assert not est.reliable and "search wider (--max-lag)" in est.note
    wide = estimate_lag(x, y, SR)
    assert wide.reliable and abs(wide.lag - lag) <= 3  # the default search finds it


def test_a_max_lag_wide_enough_stays_reliable():
    x, y = _late(3.0, 0, 40)
    est = estimate_lag(x, y, SR, 0.002)  # 88 samples searched, the lag is 40
    assert est.reliable and abs(est.lag - 40) <= 2 and est.note == ""


def test_check_says_a_small_max_lag_missed_the_lag_in_words(tmp_path, capsys):
    x, y = _late(3.0, 1, 1000)
    c, t = write(tmp_path / "c.wav", x), write(tmp_path / "t.wav", 0.9 * y / np.abs(y).max())
    code, out, err = run(capsys, "check", c, t, "--max-lag", "0.005")
    lag_line = next(line for line in out.splitlines() if line.strip().startswith("lag:"))
    assert "NOT reliable" in lag_line and "--max-lag" in lag_line
    assert "bla" not in lag_line.split(":", 2)[1] and "by impulse response" in lag_line


# --------------------------------------------------------------------------- evaluate


def _pair(tmp_path, name):
    x = toy_di(2.0, seed=4)
    files = [write(tmp_path / f"{name}_{i}.wav", a) for i, a in enumerate((x, 0.8 * toy_amp(x), x, 0.8 * toy_amp(x)))]
    return f"{name}=" + ",".join(str(f) for f in files)


@pytest.mark.parametrize("argv", [["--datasets", "RAT", "RAT@3"], ["--datasets", "default", "default"], "pairs"])
def test_two_datasets_with_one_name_are_refused(tmp_path, capsys, argv):
    if argv == "pairs":
        argv = ["--dataset-pair", _pair(tmp_path, "jvm"), "--dataset-pair", _pair(tmp_path, "jvm")]
    line = refused(capsys, "evaluate", *argv, "--quick", "--quiet", "--out", tmp_path / "ev")
    assert "given twice" in line
    assert not (tmp_path / "ev" / "evaluation.md").exists()


def test_evaluate_exits_non_zero_when_its_models_failed(tmp_path, capsys, monkeypatch):
    import guneamp_lib.study.evaluate as evaluate

    def broken(*args, **kwargs):
        raise RuntimeError("the model blew up")

    monkeypatch.setattr(evaluate, "train_and_test", broken)
    code, out, err = run(capsys, "evaluate", "--dataset-pair", _pair(tmp_path, "jvm"), "--models", "lstm:8",
                         "--quick", "--quiet", "--out", tmp_path / "ev", "--device", "cpu")
    assert code == 1, err
    assert "1 of 1 models failed" in out and "the model blew up" in (tmp_path / "ev" / "evaluation.md").read_text()


# --------------------------------------------------------------------------- workers


def test_workers_are_capped_at_the_cores_and_the_jobs():
    cores = usable_cores()
    with pytest.warns(UserWarning, match=f"more than the {cores} cores"):
        engine = Engine(workers=cores + 3, progress=False)
    assert engine.workers == cores
    engine = Engine(workers=max(cores, 2), progress=False)
    engine.fit(1)  # one job: one worker, and no cluster at all
    assert engine.workers == 1 and not engine.distributed
    engine.fit(0)  # nothing to run: nothing changes
    assert engine.workers == 1


# --------------------------------------------------------------------------- words


def test_ctrl_c_in_train_says_how_to_resume(files, capsys, monkeypatch):
    import guneamp_lib.training.train as training

    out = files["dir"] / "run"

    def interrupted(data, cfg, out_dir, **kwargs):
        (out_dir / "last.pt").write_text("the run so far")  # what the loop saves every minute
        raise KeyboardInterrupt

    out.mkdir()
    monkeypatch.setattr(training, "train", interrupted)
    code, _, err = run(capsys, *TRAIN, "--clean", files["clean"], "--amp", files["amp"], "--out", out)
    assert code == 130
    assert err.strip().splitlines()[-1] == (f"interrupted: {out / 'last.pt'} keeps the run up to its last save; continue it with "
                           f"`guneamp train --resume {out}`")


def test_a_refused_checkpoint_leaks_no_torch_warning(files, capsys):
    import pickle

    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    bad = files["dir"] / "bad.pt"
    bad.write_bytes(pickle.dumps(Payload(), protocol=4))  # torch warns about the protocol, then refuses
    line = refused(capsys, "render", "--model", bad, "--input", files["clean"], "--output", files["dir"] / "o.wav")
    assert "not a loadable guneamp checkpoint" in line
    with pytest.warns(UserWarning, match="pickle protocol"):  # the warning the command keeps quiet
        with pytest.raises(Exception):
            torch.load(bad, weights_only=True)
