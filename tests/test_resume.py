"""A training run killed outright (SIGKILL) and resumed ends where an uninterrupted one does."""

import os
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from guneamp_lib.cli import main
from guneamp_lib.models.checkpoint import load_checkpoint
from tests.conftest import toy_amp, toy_di, write

# Three epochs of 51 steps on the 3 s toy pair; last.pt every 2 steps.
ARGS = ["--target-kind", "amp_direct", "--oversample", "2", "--segment", "1024", "--batch-size", "2",
        "--epochs", "3", "--time-budget", "100000", "--save-every", "2", "--device", "cpu", "--quiet"]


@pytest.fixture
def pair(tmp_path):
    x = toy_di(seconds=3.0, seed=2)
    y = toy_amp(x)
    return write(tmp_path / "clean.wav", x), write(tmp_path / "amp.wav", 0.9 * y / np.abs(y).max())


def _state(path):
    try:
        return load_checkpoint(path).training_state
    except Exception:  # not written yet, or being replaced this instant
        return None


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as the killed subprocess runs: the same float summation order
    yield
    torch.set_num_threads(before)


def test_killed_run_resumes_to_the_uninterrupted_result(pair, tmp_path, one_thread, capsys):
    clean, amp = pair
    full, killed = tmp_path / "full", tmp_path / "killed"
    argv = ["train", "--clean", str(clean), "--amp", str(amp), *ARGS]
    assert main([*argv, "--out", str(full)]) == 0

    code = "import sys; from guneamp_lib.launch import main; sys.argv[0] = 'guneamp'; sys.exit(main())"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.getcwd()}
    proc = subprocess.Popen([sys.executable, "-c", code, *argv, "--out", str(killed)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            state = _state(killed / "last.pt") if (killed / "last.pt").exists() else None
            if state and state["step"] >= 60:  # inside the second epoch
                break
            time.sleep(0.02)
        proc.kill()
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    state = _state(killed / "last.pt")
    assert state is not None and not state["finished"], "the run ended before it could be killed"
    stopped_at = state["step"]
    assert 0 < stopped_at < 153

    capsys.readouterr()
    assert main(["train", "--resume", str(killed), "--device", "cpu", "--quiet"]) == 0
    assert f"resuming {killed} at step {stopped_at}" in capsys.readouterr().out

    a, b = load_checkpoint(full / "last.pt"), load_checkpoint(killed / "last.pt")
    assert a.training_state["step"] == b.training_state["step"] == 153 and b.training_state["finished"]
    for key, value in a.model.state_dict().items():
        torch.testing.assert_close(b.model.state_dict()[key], value, rtol=1e-5, atol=1e-6)
    assert [h["step"] for h in a.history] == [h["step"] for h in b.history]
    np.testing.assert_allclose([h["val_esr"] for h in b.history], [h["val_esr"] for h in a.history], rtol=1e-4)
    best_a, best_b = load_checkpoint(full / "best.pt"), load_checkpoint(killed / "best.pt")
    for key, value in best_a.model.state_dict().items():
        torch.testing.assert_close(best_b.model.state_dict()[key], value, rtol=1e-5, atol=1e-6)


def test_resume_refuses_what_it_cannot_continue(pair, tmp_path, capsys):
    clean, amp = pair
    out = tmp_path / "run"
    fast = [a if a != "3" else "1" for a in ARGS]  # one epoch
    assert main(["train", "--clean", str(clean), "--amp", str(amp), *fast, "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(out), "--quiet"]) == 2
    assert "finished" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "nothing"), "--quiet"]) == 2
    assert "no last.pt" in capsys.readouterr().err
