"""Two writers, a full disk, train-many reruns: no command loses or tears the user's files.

The second hostile-user round (issue 20): two runs into one output both reported success
while one replaced the other, a full disk gave tracebacks, and train-many replaced
best.pt files it had not written or skipped rows whose files had changed. Each case runs
the command line in-process, as :mod:`tests.test_reliability` does, and checks the one
`error:` line and the files byte for byte.
"""

import errno
import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
import soundfile as sf
import torch

from guneamp_lib import paths
from guneamp_lib.study import many
from tests.conftest import toy_amp, toy_di, write
from tests.test_reliability import TRAIN, digests, files, refused, run  # noqa: F401  (files: a fixture)

# --------------------------------------------------------------------------- one writer at a time


@pytest.fixture
def other_run():
    """Another process that holds the lock on a path until the test ends (a second guneamp run)."""
    procs = []

    def hold(path):
        code = ("import sys; from guneamp_lib import paths\n"
                f"with paths.output_lock({str(path)!r}):\n    print('held', flush=True); sys.stdin.read()")
        proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}, text=True)
        procs.append(proc)
        assert proc.stdout.readline().strip() == "held"
        return proc

    yield hold
    for proc in procs:
        proc.stdin.close()
        proc.wait(timeout=60)


def _render(files, out, *extra):
    return ["render", "--model", files["model"], "--input", files["clean"], "--output", out, "--quiet", *extra]


@pytest.mark.parametrize("extra", [[], ["--block-size", "256"]])
def test_a_second_render_to_one_output_is_refused(files, capsys, other_run, extra):
    out = files["dir"] / "o.wav"
    holder = other_run(out)
    line = refused(capsys, *_render(files, out, *extra))
    assert f"process {holder.pid}" in line and "another guneamp run" in line
    assert not out.exists()


@pytest.mark.parametrize("command", ["export", "synth", "capture-signal", "evaluate", "train-many", "course",
                                     "pipeline"])
def test_every_command_that_writes_takes_the_lock(files, capsys, other_run, monkeypatch, command):
    d = files["dir"]
    (d / "m.csv").write_text(f"clean,target,model,out\n{files['clean']},{files['amp']},lstm:8,rows/a\n")
    monkeypatch.setenv("GUNEAMP_OUT", str(d / "pipeline"))
    argv, held = {
        "export": (["export", "--model", files["model"], "--output", d / "o.nam"], d / "o.nam"),
        "synth": (["synth", "--data-dir", d / "data", "--quiet"], d / "data" / "amp.wav"),
        "capture-signal": (["capture-signal", "--output", d / "s.wav", "--quiet"], d / "s.json"),
        "evaluate": (["evaluate", "--datasets", "default", "--quick", "--quiet", "--out", d / "ev"], d / "ev"),
        "train-many": (["train-many", d / "m.csv", "--quiet"], d / "m.summary.md"),
        "course": (["course", "--output-dir", d / "nb", "--only", "01", "--quiet"], d / "nb"),
        "pipeline": (["pipeline", "--quiet"], d / "pipeline" / "runs" / "tutorial"),
    }[command]
    holder = other_run(held)
    before = digests(d)  # the other run's lock included
    line = refused(capsys, *argv)
    assert f"process {holder.pid}" in line and str(held) in line
    assert digests(d) == before and not (d / "rows").exists()


def test_a_second_train_into_one_out_is_refused(files, capsys, other_run):
    out = files["dir"] / "run"
    out.mkdir()
    (out / "best.pt").write_text("the first run's model")
    holder = other_run(out)
    line = refused(capsys, *TRAIN, "--clean", files["clean"], "--amp", files["amp"], "--out", out, "--overwrite")
    assert f"process {holder.pid}" in line
    assert [p.name for p in out.iterdir()] == ["best.pt"] and (out / "best.pt").read_text() == "the first run's model"


def test_a_lock_left_by_a_killed_run_is_removed(files, capsys):
    out = files["dir"] / "o.wav"
    paths.lock_path(out).write_text(f"{2**22 + 7} {__import__('socket').gethostname()}\n")  # above pid_max: gone
    code, _, err = run(capsys, *_render(files, out))
    assert code == 0, err
    assert sf.info(str(out)).frames > 0 and not paths.lock_path(out).exists()


def test_a_lock_of_another_host_is_never_taken_over(tmp_path):
    out = tmp_path / "o.wav"
    paths.lock_path(out).write_text("1 some-other-host\n")
    with pytest.raises(paths.GuneampError, match="on some-other-host"):
        with paths.output_lock(out):
            pass
    assert paths.lock_path(out).read_text() == "1 some-other-host\n"


def test_the_lock_is_exclusive_reentrant_and_released(tmp_path):
    out = tmp_path / "run"
    with paths.output_lock(out):
        with paths.output_lock(out):  # a command, then the library function it calls
            assert paths.lock_path(out).read_text().split()[0] == str(os.getpid())
        assert paths.lock_path(out).exists()
    assert not paths.lock_path(out).exists()


def test_an_output_written_while_waiting_for_the_claim_is_not_replaced(files, capsys, monkeypatch):
    """Between the first check and the claim, another run finished the same output."""
    out = files["dir"] / "o.wav"
    real = paths.output_lock

    def late(*outputs):
        out.write_text("the other run's render")
        return real(*outputs)

    monkeypatch.setattr(paths, "output_lock", late)
    line = refused(capsys, *_render(files, out))
    assert "already exists" in line and out.read_text() == "the other run's render"


# --------------------------------------------------------------------------- a full disk


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _libsndfile_full(*args, **kwargs):
    raise sf.LibsndfileError(2, prefix="Error writing: ")  # what libsndfile says when write() fails: System error


def _torch_full(*args, **kwargs):
    raise RuntimeError("[enforce fail at inline_container.cc:858] . PytorchStreamWriter failed writing file "
                       "data/0: file write failed")


@pytest.mark.parametrize("command, target, fail", [
    ("render", (sf.SoundFile, "write"), _libsndfile_full),
    ("render --block-size 256", (sf.SoundFile, "write"), _no_space),
    ("synth", (sf, "write"), _libsndfile_full),
    ("capture-signal", (sf, "write"), _no_space),
    ("train", (torch, "save"), _torch_full),
])
def test_a_full_disk_is_one_line_and_leaves_no_partial_file(files, capsys, monkeypatch, command, target, fail):
    import shutil

    monkeypatch.setattr(*target, fail)
    # A full disk, as the writers find it: 512 bytes left.
    monkeypatch.setattr(shutil, "disk_usage", lambda p: SimpleNamespace(total=10**9, used=10**9 - 512, free=512))
    out = files["dir"] / "out"
    out.mkdir()
    argv = {"synth": ["synth", "--data-dir", out, "--seconds", "1", "--quiet"],
            "capture-signal": ["capture-signal", "--output", out / "signal.wav", "--seconds", "60", "--quiet"],
            "train": [*TRAIN, "--clean", files["clean"], "--amp", files["amp"], "--out", out]}.get(
        command, [*command.split(), "--model", files["model"], "--input", files["clean"], "--output", out / "o.wav",
                  "--quiet"])
    before = digests(files["dir"])
    line = refused(capsys, *argv)
    assert "the disk is full" in line and "free some space" in line
    assert digests(files["dir"]) == before and list(out.iterdir()) == []  # no output, no temporary, no lock


def test_other_write_failures_name_the_file_and_the_reason(files, capsys, monkeypatch):
    def io_error(*args, **kwargs):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(torch, "save", io_error)
    line = refused(capsys, *TRAIN, "--clean", files["clean"], "--amp", files["amp"], "--out", files["dir"] / "run")
    assert "cannot write" in line and "Input/output error" in line and "disk is full" not in line


@pytest.mark.parametrize("device", ["/dev/full", "/dev/null"])
def test_a_device_is_refused_as_an_output(files, capsys, device):
    if not os.path.exists(device):
        pytest.skip(f"no {device} here")
    line = refused(capsys, *_render(files, device, "--overwrite"))
    assert "not a regular file" in line
    assert not list(files["dir"].glob("*partial*"))


# --------------------------------------------------------------------------- train-many


STEPS = "2"


@pytest.fixture
def manifest(tmp_path):
    """One capture (toy amp, lstm:8) and its manifest; returns (manifest, row folder)."""
    x = toy_di(1.5, seed=2)
    write(tmp_path / "di.wav", x)
    write(tmp_path / "amp.wav", 0.8 * toy_amp(x))
    path = tmp_path / "captures.csv"
    path.write_text("clean,target,model,out\ndi.wav,amp.wav,lstm:8,m/a\n")
    return path, tmp_path / "m" / "a"


def _train_many(capsys, manifest, *extra):
    code, out, err = run(capsys, "train-many", manifest, "--steps", STEPS, "--device", "cpu", "--quiet", *extra)
    table = json.loads(many.summary_paths(manifest)["json"].read_text())
    return code, out, table[0]


def test_train_many_keeps_a_best_pt_it_did_not_write(manifest, capsys):
    path, out = manifest
    out.mkdir(parents=True)
    (out / "best.pt").write_text("the user's model")
    code, _, row = _train_many(capsys, path)
    assert code == 1 and row["status"] == "failed" and "--overwrite" in row["error"]
    assert (out / "best.pt").read_text() == "the user's model"
    code, _, row = _train_many(capsys, path, "--overwrite")
    assert code == 0 and row["status"] == "trained" and (out / "best.pt").read_bytes()[:2] == b"PK"


def test_train_many_reruns_see_what_changed(manifest, capsys):
    path, out = manifest
    assert _train_many(capsys, path)[0] == 0
    model = (out / "best.pt").read_bytes()
    code, _, row = _train_many(capsys, path)
    assert code == 0 and row["status"] == "skipped"  # nothing changed
    x = toy_di(1.5, seed=9)  # a new take under the old name, same length
    write(path.parent / "amp.wav", 0.8 * toy_amp(x))
    code, printed, row = _train_many(capsys, path)
    assert code == 0 and row["status"] == "trained" and "target changed" in printed
    assert (out / "best.pt").read_bytes() != model
    (out / "best.pt").write_bytes((out / "best.pt").read_bytes() + b"\0")  # the user edits the model
    edited = (out / "best.pt").read_bytes()
    code, _, row = _train_many(capsys, path)
    assert code == 1 and row["status"] == "failed" and "changed since train-many wrote it" in row["error"]
    assert (out / "best.pt").read_bytes() == edited


def test_a_row_cut_off_mid_training_trains_again(manifest, capsys, monkeypatch):
    import guneamp_lib.training.train as training

    path, out = manifest
    real = training.train

    def cut_off(*args, **kwargs):
        real(*args, **kwargs)  # best.pt is written, result.json still says "training"
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "train", cut_off)
    code, _, err = run(capsys, "train-many", path, "--steps", STEPS, "--device", "cpu", "--quiet")
    assert code == 130 and (out / "best.pt").exists()
    monkeypatch.setattr(training, "train", real)
    code, printed, row = _train_many(capsys, path)
    assert code == 0 and row["status"] == "trained" and "cut off" in printed


@pytest.mark.parametrize("output", ["best.pt", "last.pt", "result.json"])
def test_no_row_writes_over_another_rows_input(manifest, capsys, output):
    path, out = manifest
    out.mkdir(parents=True)
    (out / output).write_text("row 2's clean DI, kept in row 1's folder")
    path.write_text(f"clean,target,model,out\ndi.wav,amp.wav,lstm:8,m/a\nm/a/{output},amp.wav,lstm:8,m/b\n")
    line = refused(capsys, "train-many", path, "--steps", STEPS, "--quiet")
    assert "row 2's clean" in line and f"row 1's output {output}" in line
    assert (out / output).read_text() == "row 2's clean DI, kept in row 1's folder"


@pytest.mark.parametrize("text", ['"di\n.wav",amp.wav,lstm:8,m/a\n', 'di.wav,amp.wav,lstm:8,"m/a\r"\n'])
def test_a_manifest_path_with_a_line_break_is_refused(manifest, capsys, text):
    path, out = manifest
    path.write_text("clean,target,model,out\n" + text)
    line = refused(capsys, "train-many", path, "--steps", STEPS, "--quiet")
    assert "line break" in line and not out.exists()


def test_a_yaml_manifest_path_with_a_line_break_is_refused(manifest, capsys):
    path, _ = manifest
    yaml_path = path.with_suffix(".yaml")
    yaml_path.write_text('- {clean: "di.wav\\n", target: amp.wav, model: "lstm:8", out: m/a}\n')
    assert "line break" in refused(capsys, "train-many", yaml_path, "--steps", STEPS, "--quiet")
