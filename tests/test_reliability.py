"""Nothing of the user's is lost, nothing hangs, every mistake ends in one `error:` line.

Each case runs the command line in-process and checks the exit status, that stderr holds
exactly one `error:` line and no traceback, and that every file involved is byte for byte
what it was (sha256). Models here are untrained (building one is enough to save it).
"""

import hashlib
import os
import signal
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from guneamp_lib import paths
from guneamp_lib.cli import main
from guneamp_lib.models import build_model
from guneamp_lib.models.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from guneamp_lib.errors import GuneampError
from tests.conftest import toy_amp, toy_di, write

SR = 44100


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def digests(folder):
    return {p.name: digest(p) for p in sorted(folder.iterdir()) if p.is_file()}


def run(capsys, *argv):
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse's refusals end here
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def refused(capsys, *argv, code=2):
    """Run a command that must refuse; return its one error line."""
    got, out, err = run(capsys, *argv)
    assert got == code, err
    assert "Traceback" not in err and "Traceback" not in out
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    # nothing else but warnings about the data (the toy amp's peak sits flat for a few samples)
    assert all(line.startswith(("error:", "warning:")) for line in err.strip().splitlines()), err
    return errors[0]


@pytest.fixture
def files(tmp_path):
    """A short DI, its amp recording, a cabinet IR, and an untrained seed_cnn (2x, with the IR)."""
    x = toy_di(seconds=1.5)
    ir = np.exp(-np.arange(64) / 8.0).astype(np.float32)
    torch.manual_seed(0)
    model = tmp_path / "model.pt"
    save_checkpoint(model, Checkpoint(build_model("seed_cnn"), "seed_cnn", SR, 2, 256, torch.from_numpy(ir)))
    return {
        "dir": tmp_path,
        "clean": write(tmp_path / "clean.wav", x),
        "amp": write(tmp_path / "amp.wav", 0.9 * toy_amp(x) / np.abs(toy_amp(x)).max()),
        "ir": write(tmp_path / "ir.wav", ir),
        "model": model,
    }


# --------------------------------------------------------------------------- outputs on inputs


def _link(kind, target, link):
    if kind == "symlink":
        link.symlink_to(target)
    elif kind == "hardlink":
        os.link(target, link)
    return link if kind != "same" else target


@pytest.mark.parametrize("kind", ["same", "symlink", "hardlink"])
@pytest.mark.parametrize("command", ["render", "render --block-size 64", "export"])
def test_no_output_lands_on_the_model(files, capsys, kind, command):
    import shutil

    model = files["model"]
    if command == "export":  # export writes only *.nam files: give the model that name
        model = shutil.copy(model, files["dir"] / "model.nam")
    before = digests(files["dir"])
    out = _link(kind, model, files["dir"] / ("alias" + Path(model).suffix))
    extra = ["--input", files["clean"]] if command.startswith("render") else []
    line = refused(capsys, *command.split(), "--model", model, *extra, "--output", out, "--overwrite")
    assert "input" in line
    assert {k: v for k, v in digests(files["dir"]).items() if not k.startswith("alias")} == before


@pytest.mark.parametrize("which", ["clean", "ir"])
@pytest.mark.parametrize("kind", ["same", "hardlink"])
def test_no_render_lands_on_the_di_or_the_ir(files, capsys, which, kind):
    before = digests(files["dir"])
    out = _link(kind, files[which], files["dir"] / "alias.wav")
    refused(capsys, "render", "--model", files["model"], "--input", files["clean"], "--ir", files["ir"],
            "--output", out, "--overwrite")
    assert {k: v for k, v in digests(files["dir"]).items() if k != "alias.wav"} == before


def test_evaluate_keeps_an_existing_report_without_overwrite(tmp_path, capsys):
    for name in ("evaluation.md", "evaluation.json"):
        (tmp_path / name).write_text("mine")
    line = refused(capsys, "evaluate", "--out", tmp_path, "--quick", "--quiet")
    assert "--overwrite" in line
    assert {p.read_text() for p in tmp_path.iterdir()} == {"mine"}


def test_pipeline_keeps_existing_outputs_without_overwrite(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GUNEAMP_OUT", str(tmp_path))
    for rel in ("data/modeled.wav", "runs/tutorial/best.pt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("mine")
    line = refused(capsys, "pipeline", "--time-budget", "1", "--quiet")
    assert "--overwrite" in line
    assert (tmp_path / "data/modeled.wav").read_text() == "mine"
    assert (tmp_path / "runs/tutorial/best.pt").read_text() == "mine"


def test_train_does_not_replace_an_interrupted_run(files, capsys):
    out = files["dir"] / "run"
    out.mkdir()
    (out / "last.pt").write_text("interrupted")
    line = refused(capsys, "train", "--clean", files["clean"], "--amp", files["amp"], "--target-kind", "amp_direct",
                   "--out", out, "--epochs", "1", "--quiet")
    assert f"--resume {out}" in line
    assert (out / "last.pt").read_text() == "interrupted"


# --------------------------------------------------------------------------- options


TRAIN = ["train", "--target-kind", "amp_direct", "--epochs", "1", "--quiet"]


@pytest.mark.parametrize("argv", [
    TRAIN + ["--oversample", "0"], TRAIN + ["--oversample", "-2"], TRAIN + ["--oversample", "65"],
    TRAIN + ["--batch-size", "0"], TRAIN + ["--batch-size", "-1"], TRAIN + ["--batch-size", "100000000"],
    TRAIN + ["--lr", "nan"], TRAIN + ["--lr", "-1"], TRAIN + ["--lr", "inf"], TRAIN + ["--seed", str(2**70)],
    TRAIN + ["--time-budget", "nan"], TRAIN + ["--time-budget", "inf"], TRAIN + ["--epochs", "0"],
    TRAIN + ["--segment", "0"], TRAIN + ["--save-every", "0"],
    ["render", "--gain-db", "nan"], ["render", "--gain-db", "inf"], ["render", "--gain-db", "1000"],
    ["render", "--block-size", "0"], ["check", "--max-lag", "nan"], ["check", "--max-lag", "-1"],
    ["synth", "--seconds", "nan"], ["pipeline", "--time-budget", "nan"], ["evaluate", "--time-budget", "nan"],
    ["course", "--cell-timeout", "nan"], ["course", "--cell-timeout", "0"],
])
def test_bad_numbers_are_refused_before_any_data_is_read(files, capsys, argv):
    before = digests(files["dir"])
    if argv[0] == "render":
        argv = argv + ["--model", files["model"], "--input", files["clean"], "--output", files["dir"] / "o.wav"]
    elif argv[0] == "check":
        argv = argv + [files["clean"], files["amp"]]
    elif argv[0] == "train":
        argv = argv + ["--clean", files["clean"], "--amp", files["amp"], "--out", files["dir"] / "run"]
    elif argv[0] == "evaluate":
        argv = argv + ["--out", files["dir"] / "ev"]
    line = refused(capsys, *argv)
    assert "argument" in line or "--time-budget" in line
    assert digests(files["dir"]) == before and not (files["dir"] / "run").exists()


@pytest.mark.parametrize("name, text", [("p.yaml", "a: [1, 2\n"), ("p.json", "{'a': 1}"), ("p.yml", "\t- x: : :\n")])
def test_course_parameters_file_that_does_not_parse(tmp_path, capsys, name, text):
    (tmp_path / name).write_text(text)
    line = refused(capsys, "course", "--parameters-file", tmp_path / name, "--quiet")
    assert "not valid" in line and name in line


# --------------------------------------------------------------------------- paths that cannot work


def test_output_whose_parent_is_a_file(files, capsys):
    line = refused(capsys, "render", "--model", files["model"], "--input", files["clean"],
                   "--output", files["clean"] / "out.wav")
    assert "is a file, not a folder" in line


def test_output_that_is_a_folder(files, capsys):
    (files["dir"] / "folder").mkdir()
    line = refused(capsys, "render", "--model", files["model"], "--input", files["clean"], "--output", files["dir"] / "folder")
    assert "is a folder" in line


def test_train_finds_an_unusable_out_before_training(files, capsys):
    line = refused(capsys, *TRAIN, "--clean", files["clean"], "--amp", files["amp"], "--out", files["amp"] / "run")
    assert "not a folder" in line


def _deny(monkeypatch, mode):
    real = os.access
    monkeypatch.setattr(paths.os, "access", lambda p, m, **kw: False if m & mode else real(p, m, **kw))


def test_unwritable_folder(files, capsys, monkeypatch):
    _deny(monkeypatch, os.W_OK)  # permission bits do not bind root, who runs many CI containers
    line = refused(capsys, *TRAIN, "--clean", files["clean"], "--amp", files["amp"], "--out", files["dir"] / "run")
    assert "permission denied" in line and not (files["dir"] / "run").exists()


def test_unreadable_input(files, capsys, monkeypatch):
    _deny(monkeypatch, os.R_OK)
    line = refused(capsys, "check", files["clean"], files["amp"])
    assert "cannot read" in line and "permission denied" in line


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this system")
@pytest.mark.parametrize("command", ["check", "render", "render --block-size 64", "train"])
def test_named_pipe_is_refused_not_waited_on(files, capsys, command):
    fifo = files["dir"] / "pipe.wav"
    os.mkfifo(fifo)  # nobody writes to it: opening it for reading would block for ever
    argv = {"check": ["check", fifo, files["amp"]],
            "train": [*TRAIN, "--clean", fifo, "--amp", files["amp"], "--out", files["dir"] / "run"]}.get(
        command, [*command.split(), "--model", files["model"], "--input", fifo, "--output", files["dir"] / "o.wav"])
    assert "named pipe" in refused(capsys, *argv)


def test_process_substitution_says_why(files, capsys):
    r, w = os.pipe()  # what `<(cat clean.wav)` hands over: /dev/fd/N, a pipe
    try:
        line = refused(capsys, "check", f"/dev/fd/{r}", files["amp"])
    finally:
        os.close(r)
        os.close(w)
    assert "pipe" in line and "Save it to a file first" in line


# --------------------------------------------------------------------------- malformed checkpoints


def _tamper(files, **changes):
    payload = torch.load(files["model"], weights_only=True)
    for key, value in changes.items():
        if value is KeyError:
            del payload[key]
        else:
            payload[key] = value
    bad = files["dir"] / "bad.pt"
    torch.save(payload, bad)
    return bad


@pytest.mark.parametrize("changes, field", [
    ({"version": "1"}, "version"), ({"sample_rate": KeyError}, "sample_rate"), ({"sample_rate": 0}, "sample_rate"),
    ({"sample_rate": float("nan")}, "sample_rate"), ({"sample_rate": "44100"}, "sample_rate"),
    ({"oversample": 0}, "oversample"), ({"oversample": -2}, "oversample"), ({"ir": [0.5, 0.25]}, "ir"),
    ({"model_name": "gpt"}, "model_name"), ({"input_gain": float("inf")}, "input_gain"),
])
def test_malformed_checkpoint_fields(files, capsys, changes, field):
    bad = _tamper(files, **changes)
    line = refused(capsys, "render", "--model", bad, "--input", files["clean"], "--output", files["dir"] / "o.wav")
    assert f"'{field}'" in line and "malformed" in line
    assert not (files["dir"] / "o.wav").exists()


def test_weight_shape_mismatch_is_one_line(files, capsys):
    payload = torch.load(files["model"], weights_only=True)
    key = next(iter(payload["state_dict"]))
    bad = _tamper(files, state_dict={**payload["state_dict"], key: torch.zeros(3, 3)})
    line = refused(capsys, "render", "--model", bad, "--input", files["clean"], "--output", files["dir"] / "o.wav")
    assert key in line and "[3, 3]" in line


def test_permission_problem_is_not_called_pickled_code(files, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(files["model"]))

    monkeypatch.setattr(torch, "load", denied)
    with pytest.raises(GuneampError) as exc:
        load_checkpoint(files["model"])
    assert "cannot read" in str(exc.value) and "pickled" not in str(exc.value)


# --------------------------------------------------------------------------- interruptions and temporaries


def test_ctrl_c_in_a_command(files, capsys, monkeypatch):
    import guneamp_lib.cli.check as check_cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(check_cli, "cmd_check", interrupted)
    code, out, err = run(capsys, "check", files["clean"], files["amp"])
    assert code == 130 and err.strip() == "interrupted"


def test_ctrl_c_while_starting_up(capsys, monkeypatch):
    """Ctrl-C during the command line's (slow) imports ends in one line, status 130."""
    import importlib.abc

    from guneamp_lib import launch

    class Interrupt(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name == "guneamp_lib.cli":
                raise KeyboardInterrupt
            return None

    monkeypatch.delitem(sys.modules, "guneamp_lib.cli")
    monkeypatch.setattr(sys, "meta_path", [Interrupt(), *sys.meta_path])
    assert launch.main() == 130
    assert capsys.readouterr().err.strip() == "interrupted"


def test_sigterm_during_a_render_leaves_no_temporary(files, capsys, monkeypatch):
    import guneamp_lib.render.files as render_files

    real = render_files.render_chunks

    def killed_half_way(*args, **kwargs):
        for block in real(*args, **kwargs):
            yield block  # the temporary output holds this block when the signal comes
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(render_files, "render_chunks", killed_half_way)
    handler = signal.getsignal(signal.SIGTERM)
    before = digests(files["dir"])
    code, _, err = run(capsys, "render", "--model", files["model"], "--input", files["clean"],
                       "--output", files["dir"] / "o.wav", "--quiet")
    assert code == 128 + signal.SIGTERM and err.strip() == "terminated"
    assert digests(files["dir"]) == before  # no output, no temporary
    assert signal.getsignal(signal.SIGTERM) is handler  # the command put the previous handler back


def test_stale_temporaries_are_removed_and_live_ones_kept(tmp_path):
    target = tmp_path / "out.wav"
    dead = tmp_path / f"out.wav{paths.TEMP_MARK}{2**22 + 7}-abc.tmp"  # above Linux's pid_max: nobody
    alive = tmp_path / f"out.wav{paths.TEMP_MARK}{os.getpid()}-def.tmp"
    other = tmp_path / "other.wav.guneamp-partial-1-x.tmp"
    for p in (dead, alive, other):
        p.write_bytes(b"partial")
    paths.write_text_atomic(target, "done")
    assert not dead.exists() and alive.exists() and other.exists() and target.read_text() == "done"


def test_outputs_follow_the_umask_and_keep_an_existing_mode(tmp_path):
    old = os.umask(0o022)
    try:
        fresh = paths.write_text_atomic(tmp_path / "a.txt", "x")
        assert fresh.stat().st_mode & 0o777 == 0o644
        os.chmod(fresh, 0o640)
        paths.write_text_atomic(fresh, "y")
        assert fresh.stat().st_mode & 0o777 == 0o640
        os.umask(0o077)
        assert paths.write_text_atomic(tmp_path / "b.txt", "x").stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)


def test_numba_cache_falls_back_when_unwritable(tmp_path, monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", "/proc/no-such-cache")  # not writable, even for root
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert paths.configure_compiled_cache() == tmp_path / "xdg" / "guneamp" / "numba"
    monkeypatch.setenv("XDG_CACHE_HOME", "/proc/no-such-home")
    chosen = paths.configure_compiled_cache()
    assert chosen.is_dir() and os.access(chosen, os.W_OK) and os.environ["NUMBA_CACHE_DIR"] == str(chosen)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "mine"))
    assert paths.configure_compiled_cache() == tmp_path / "mine"  # a working choice of the user's is kept


# --------------------------------------------------------------------------- guneamp check verdicts


@pytest.fixture
def pair(tmp_path):
    x = toy_di(seconds=3.0, seed=3)
    y = toy_amp(x)
    return tmp_path, x, 0.9 * y / np.abs(y).max()


def _check(capsys, d, x, y):
    c, t = write(d / "c.wav", x), write(d / "t.wav", y)
    before = (digest(c), digest(t))
    code, out, err = run(capsys, "check", c, t)
    assert (digest(c), digest(t)) == before and "Traceback" not in err
    return code, out


def test_check_passes_a_good_pair(pair, capsys):
    code, out = _check(capsys, *pair)
    assert code == 0 and "OK: usable" in out


@pytest.mark.parametrize("case, expected", [
    ("noise", "does not follow"), ("clipped", "clipped: "), ("half_silent", "silent for"),
    ("one_sample", "only 1 samples"), ("inverted", "polarity-inverted"),
])
def test_check_gives_a_verdict_on_a_bad_pair(pair, capsys, case, expected):
    d, x, y = pair
    if case == "noise":
        y = 0.3 * np.random.default_rng(0).standard_normal(x.size)
    elif case == "clipped":
        y = np.clip(3 * y, -0.9, 0.9)
    elif case == "half_silent":
        x = x.copy()
        x[x.size // 2 :] = 0.0
    elif case == "one_sample":
        x, y = x[np.argmax(np.abs(x))][None], y[np.argmax(np.abs(x))][None]
    elif case == "inverted":
        y = -y
    code, out = _check(capsys, d, x, y)
    assert code == 1 and "OK: usable" not in out
    assert any(expected in line for line in out.splitlines() if line.startswith("PROBLEM:")), out
    if case == "inverted":
        assert "--align" in out


# --------------------------------------------------------------------------- rendering in pieces


@pytest.mark.parametrize("name, factor, with_ir", [("seed_cnn", 2, True), ("wavenet", 1, True), ("lstm", 2, False)])
def test_render_in_pieces_matches_the_whole_signal_chain(tmp_path, name, factor, with_ir):
    from guneamp_lib.render.files import render_file
    from guneamp_lib.render.inference import run_inference

    torch.manual_seed(1)
    x = toy_di(seconds=1.0, seed=5)
    ir = torch.exp(-torch.arange(300) / 40.0) if with_ir else None
    model = build_model(name, **({"preset": "nano"} if name == "wavenet" else {}))
    ckpt = save_checkpoint(tmp_path / "m.pt", Checkpoint(model, name, SR, factor, 256, ir))
    inp = write(tmp_path / "in.wav", 0.7 * x)
    from guneamp_lib.dsp.oversampling import oversample

    clean = torch.from_numpy(0.7 * x)
    clean = clean / (clean.abs().max() + 1e-8)
    whole = run_inference(model.eval(), oversample(clean, factor), ir, factor, 256, "cpu", SR, output_file=None,
                          progress=False)
    for chunk in (997, 4096):  # pieces of awkward and of round sizes
        out = render_file(ckpt, inp, tmp_path / f"o{chunk}.wav", chunk=chunk, progress=False,
                          normalize_input=True, normalize_output=True)  # the design's chain, as run_inference
        y, _ = sf.read(out, dtype="float32")
        assert y.shape == whole.shape
        assert np.abs(y - whole.numpy()).max() < 1e-6


# --------------------------------------------------------------------------- time budget


def test_validation_fits_in_a_short_budget():
    """A budget too short to score all of the held-out part scores its first second(s) instead."""
    from guneamp_lib.training.data import make_training_data
    from guneamp_lib.training.train import TrainConfig, validation_plan

    x = toy_di(seconds=8.0)
    data = make_training_data(x, toy_amp(x), SR, None, target_kind="amp_direct")
    model = build_model("seed_cnn")
    end, reserve = validation_plan(model, data, TrainConfig(oversample=2, time_budget_s=1e-6, device="cpu"))
    assert end == data.val_start + SR and reserve > 0
    end, reserve = validation_plan(model, data, TrainConfig(oversample=2, epochs=1, time_budget_s=None, device="cpu"))
    assert end == data.clean.numel() and reserve == 0


def test_a_batch_that_cannot_fit_is_refused_before_training(files, capsys, monkeypatch):
    import guneamp_lib.training.train as training

    monkeypatch.setattr(training, "free_memory_bytes", lambda device: 50_000_000)  # a 50 MB machine
    line = refused(capsys, *TRAIN, "--oversample", "8", "--batch-size", "1024", "--clean", files["clean"],
                   "--amp", files["amp"], "--out", files["dir"] / "run")
    assert "--batch-size" in line and "GB is free" in line
    assert not (files["dir"] / "run" / "last.pt").exists()
