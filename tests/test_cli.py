"""Every command's happy path, and the bad-input list through the command line."""

import hashlib
import re

import numpy as np
import pytest
import soundfile as sf
import torch

from guneamp_lib.cli import main
from tests.conftest import toy_amp, toy_di, write

FAST_TRAIN = ["--oversample", "2", "--epochs", "1", "--segment", "2048", "--batch-size", "2", "--device", "cpu", "--quiet"]


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", ["synth", "train", "render", "check", "course", "pipeline", "evaluate", "export",
                                     "score"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as e:
        main([command, "--help"])
    assert e.value.code == 0
    assert "usage: guneamp " + command in capsys.readouterr().out


def test_synth_then_skip(tmp_path, capsys):
    code, out, _ = run(capsys, "synth", "--data-dir", tmp_path, "--seconds", "6", "--quiet")
    assert code == 0 and out.count("wrote") == 4
    before = digest(tmp_path / "amp.wav")
    code, out, _ = run(capsys, "synth", "--data-dir", tmp_path, "--seconds", "6", "--quiet")
    assert code == 0 and "already" in out and digest(tmp_path / "amp.wav") == before


def test_train_render_check_happy_path(toy_pair, tmp_path, capsys):
    sums = {k: digest(v) for k, v in toy_pair.items() if k != "dir"}
    out_dir = tmp_path / "run"
    code, out, err = run(capsys, "train", "--clean", toy_pair["clean"], "--amp", toy_pair["amp"], "--ir",
                         toy_pair["cab_ir"], "--out", out_dir, *FAST_TRAIN)
    assert code == 0, err
    assert "held-out ESR" in out and (out_dir / "best.pt").exists()
    # a second run into the same folder must not replace the model silently
    code, _, err = run(capsys, "train", "--clean", toy_pair["clean"], "--amp", toy_pair["amp"], "--ir",
                       toy_pair["cab_ir"], "--out", out_dir, *FAST_TRAIN)
    assert code == 2 and "--overwrite" in err

    rendered = tmp_path / "modeled.wav"
    code, out, err = run(capsys, "render", "--model", out_dir / "best.pt", "--input", toy_pair["clean"],
                         "--output", rendered, "--quiet", "--device", "cpu")
    assert code == 0, err
    y, sr = sf.read(rendered)
    assert sr == 44100 and y.shape == sf.read(toy_pair["clean"])[0].shape
    normalized = tmp_path / "normalized.wav"
    code, _, err = run(capsys, "render", "--model", out_dir / "best.pt", "--input", toy_pair["clean"],
                       "--output", normalized, "--normalize-output", "--quiet", "--device", "cpu")
    assert code == 0, err
    yn = sf.read(normalized)[0]
    assert np.abs(yn).max() == pytest.approx(1.0, abs=1e-4)
    np.testing.assert_allclose(yn, y / np.abs(y).max(), atol=1e-5)  # only the level differs
    code, _, err = run(capsys, "render", "--model", out_dir / "best.pt", "--input", toy_pair["clean"],
                       "--output", rendered, "--quiet")
    assert code == 2 and "already exists" in err
    streamed = tmp_path / "streamed.wav"
    code, _, err = run(capsys, "render", "--model", out_dir / "best.pt", "--input", toy_pair["clean"],
                       "--output", streamed, "--block-size", "64", "--quiet")
    assert code == 0, err
    assert np.abs(sf.read(streamed)[0] - y).max() < 1e-5  # block by block = whole file

    code, out, _ = run(capsys, "check", toy_pair["clean"], toy_pair["amp"])
    assert code == 0 and "lag" in out.lower()
    assert sums == {k: digest(v) for k, v in toy_pair.items() if k != "dir"}  # inputs untouched


def test_train_amp_direct_needs_no_ir(toy_pair, tmp_path, capsys):
    code, out, err = run(capsys, "train", "--clean", toy_pair["clean"], "--amp", toy_pair["amp_direct"],
                         "--target-kind", "amp_direct", "--ir", tmp_path / "nothing.wav", "--out", tmp_path / "r", *FAST_TRAIN)
    assert code == 0, err


# ---- the bad-input list ---------------------------------------------------------------

def train_args(clean, amp, ir, out):
    return ["train", "--clean", clean, "--amp", amp, "--ir", ir, "--out", out, *FAST_TRAIN]


def test_missing_file(toy_pair, tmp_path, capsys):
    code, _, err = run(capsys, *train_args(tmp_path / "nope.wav", toy_pair["amp"], toy_pair["cab_ir"], tmp_path / "r"))
    assert code == 2 and "not found" in err and "Traceback" not in err


def test_not_audio_and_truncated(toy_pair, tmp_path, capsys):
    txt = tmp_path / "notes.wav"
    txt.write_text("hello")
    code, _, err = run(capsys, "check", txt, toy_pair["amp"])
    assert code == 2 and "not a readable audio file" in err
    cut = tmp_path / "cut.wav"
    cut.write_bytes(toy_pair["amp"].read_bytes()[:5000])
    code, _, err = run(capsys, *train_args(toy_pair["clean"], cut, toy_pair["cab_ir"], tmp_path / "r"))
    assert code == 2 and "truncated" in err


def test_stereo_is_mixed_with_a_notice(toy_pair, tmp_path, capsys):
    x, sr = sf.read(toy_pair["clean"])
    st = tmp_path / "stereo.wav"
    sf.write(st, np.stack([x, x], 1), sr)
    code, _, err = run(capsys, *train_args(st, toy_pair["amp"], toy_pair["cab_ir"], tmp_path / "r"))
    assert code == 0 and "warning:" in err and "mono" in err


def test_different_sample_rates(toy_pair, tmp_path, capsys):
    x, _ = sf.read(toy_pair["amp"])
    other = write(tmp_path / "amp48.wav", x, sr=48000)
    code, _, err = run(capsys, *train_args(toy_pair["clean"], other, toy_pair["cab_ir"], tmp_path / "r"))
    assert code == 2 and "48000" in err and "44100" in err


def test_different_lengths_are_trimmed_with_a_notice(toy_pair, tmp_path, capsys):
    x, sr = sf.read(toy_pair["amp"])
    short = write(tmp_path / "short.wav", x[:-4410], sr=sr)
    code, _, err = run(capsys, *train_args(toy_pair["clean"], short, toy_pair["cab_ir"], tmp_path / "r"))
    assert code == 0 and "warning:" in err and "4410" in err


def test_misaligned_pair(toy_pair, tmp_path, capsys):
    x, sr = sf.read(toy_pair["amp"])
    late = write(tmp_path / "late.wav", np.concatenate([np.zeros(300), x])[: x.size], sr=sr)
    code, _, err = run(capsys, *train_args(toy_pair["clean"], late, toy_pair["cab_ir"], tmp_path / "r"))
    m = re.search(r"amp is (\d+) samples .* late", err)
    # the estimate is the peak of the amp's linear response: the plant plus a few samples of its own onset
    assert code == 2 and m and 298 <= int(m.group(1)) <= 310 and "--align" in err
    code, _, err = run(capsys, *train_args(toy_pair["clean"], late, toy_pair["cab_ir"], tmp_path / "r2"), "--align")
    assert code == 0, err


def test_silent_file(toy_pair, tmp_path, capsys):
    silent = write(tmp_path / "silent.wav", np.zeros(44100 * 3))
    code, _, err = run(capsys, *train_args(toy_pair["clean"], silent, toy_pair["cab_ir"], tmp_path / "r"))
    assert code == 2 and "silent" in err
    code, out, _ = run(capsys, "check", toy_pair["clean"], silent)
    assert code == 1 and "silent" in out


def test_nan_samples(toy_pair, tmp_path, capsys):
    x, sr = sf.read(toy_pair["clean"])
    x[500] = np.nan
    bad = write(tmp_path / "nan.wav", x, sr=sr)
    code, _, err = run(capsys, *train_args(bad, toy_pair["amp"], toy_pair["cab_ir"], tmp_path / "r"))
    assert code == 2 and "NaN" in err


def test_clipped_input_warns(toy_pair, tmp_path, capsys):
    x, sr = sf.read(toy_pair["clean"])
    clipped = write(tmp_path / "clipped.wav", np.clip(4 * x, -1, 1), sr=sr, subtype="PCM_16")
    code, _, err = run(capsys, *train_args(clipped, toy_pair["amp"], toy_pair["cab_ir"], tmp_path / "r"))
    assert "clipped" in err


def test_file_too_short_for_the_model(tmp_path, capsys):
    x = np.sin(np.arange(100) * 0.3).astype(np.float32)
    c = write(tmp_path / "c.wav", x)
    a = write(tmp_path / "a.wav", toy_amp(x))
    code, _, err = run(capsys, "train", "--clean", c, "--amp", a, "--target-kind", "amp_direct", "--out", tmp_path / "r", *FAST_TRAIN)
    assert code == 2 and "too short" in err


def test_ir_longer_than_the_signal(toy_pair, tmp_path, capsys):
    x = (0.5 * np.sin(np.arange(8820) * 0.05)).astype(np.float32)
    c = write(tmp_path / "c.wav", x)
    a = write(tmp_path / "a.wav", toy_amp(x))
    long_ir = write(tmp_path / "ir.wav", np.exp(-np.arange(20000) / 3000.0))
    code, _, err = run(capsys, *train_args(c, a, long_ir, tmp_path / "r"))
    assert code == 2 and "longer than the recording" in err


def test_output_that_would_overwrite_an_input(toy_pair, tmp_path, capsys):
    out_dir = tmp_path / "run"
    run(capsys, *train_args(toy_pair["clean"], toy_pair["amp"], toy_pair["cab_ir"], out_dir))
    before = digest(toy_pair["clean"])
    code, _, err = run(capsys, "render", "--model", out_dir / "best.pt", "--input", toy_pair["clean"],
                       "--output", toy_pair["clean"], "--overwrite", "--quiet")
    assert code == 2 and "input" in err
    assert digest(toy_pair["clean"]) == before


def test_pipeline_happy_path(tmp_path, monkeypatch, capsys):
    """The end-to-end job on a short default data set in a scratch project folder."""
    from guneamp_lib.capture.synth import generate_default_data

    monkeypatch.setenv("GUNEAMP_HOME", str(tmp_path))
    monkeypatch.delenv("GUNEAMP_OUT", raising=False)
    generate_default_data(tmp_path / "data", seconds=6.0, progress=False)
    code, out, err = run(capsys, "pipeline", "--time-budget", "2", "--device", "cpu", "--quiet")
    assert code == 0, err
    assert re.search(r"held-out ESR of the seed_cnn model: \d+\.\d{4}", out)
    assert (tmp_path / "data" / "modeled.wav").exists()
    assert (tmp_path / "runs" / "tutorial" / "best.pt").exists()


def test_course_runs_one_notebook(tmp_path, monkeypatch, capsys):
    from guneamp_lib import paths

    monkeypatch.setenv("GUNEAMP_OUT", str(tmp_path / "out"))
    params = paths.notebooks_dir() / "ci_parameters.yaml"
    code, out, err = run(capsys, "course", "--only", "05", "--parameters-file", params,
                         "--output-dir", tmp_path / "nb", "-p", "PRE_EMPHASIS", "0.9", "--quiet")
    assert code == 0, err
    assert (tmp_path / "nb" / "05_loss_functions.ipynb").exists()
    assert "1 notebooks" in out or "[1/1]" in out
    text = (tmp_path / "nb" / "05_loss_functions.ipynb").read_text()
    assert "PRE_EMPHASIS = 0.9" in text  # the override reached the notebook


def test_course_run_prints_no_warning_from_the_kernel(tmp_path):
    """The kernel writes to the terminal's stderr itself, so only a real process shows what
    a learner sees: no "Kernel is running over TCP without encryption" WARNING."""
    import os
    import subprocess
    import sys

    from guneamp_lib import paths

    env = dict(os.environ, GUNEAMP_OUT=str(tmp_path / "out"))
    proc = subprocess.run([sys.executable, "-m", "guneamp_lib.cli", "course", "--only", "00", "--quiet",
                           "--parameters-file", str(paths.notebooks_dir() / "ci_parameters.yaml"),
                           "--output-dir", str(tmp_path / "nb")], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "[1/1] 00_start_here done" in proc.stdout
    warnings = [line for line in proc.stderr.splitlines() if "WARNING" in line]
    assert not warnings, "\n".join(warnings)


def test_course_cell_timeout_is_one_clear_error(tmp_path):
    import nbformat

    from guneamp_lib.course import runner
    from guneamp_lib.errors import GuneampError

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import time\ntime.sleep(60)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "50_sleeps.ipynb"
    nbformat.write(nb, str(path))
    with pytest.raises(GuneampError, match=r"50_sleeps: a cell ran for more than 3 s .*--cell-timeout"):
        runner.run_notebook(path, output_dir=tmp_path / "out", progress=False, cell_timeout_s=3)
    assert (tmp_path / "out" / path.name).exists()  # the executed copy up to the cell is kept


def test_course_unknown_notebook(capsys):
    code, _, err = run(capsys, "course", "--only", "99_nope")
    assert code == 2 and "no notebook called" in err


def test_train_a_wavenet_preset(toy_pair, tmp_path, capsys):
    from guneamp_lib.models.checkpoint import load_checkpoint

    args = train_args(toy_pair["clean"], toy_pair["amp_direct"], toy_pair["cab_ir"], tmp_path / "w")
    args[args.index("--oversample") + 1] = "1"
    code, out, err = run(capsys, *args, "--model", "wavenet:nano", "--target-kind", "amp_direct")
    assert code == 0, err
    ckpt = load_checkpoint(tmp_path / "w" / "best.pt")
    assert ckpt.model_name == "wavenet" and ckpt.model.num_parameters == 841
    code, _, err = run(capsys, *args, "--model", "wavenet:huge", "--overwrite")
    assert code == 2 and "huge" in err
    from guneamp_lib.models.nam import load_nam

    code, _, err = run(capsys, "export", "--model", tmp_path / "w" / "best.pt", "--output", tmp_path / "amp.nam")
    assert code == 0, err
    nam = load_nam(tmp_path / "amp.nam")
    x = torch.randn(1, 1, 3000)
    with torch.no_grad():
        # the training levels are folded into the exported weights
        assert ckpt.input_gain != 1.0 and ckpt.output_gain != 1.0
        assert torch.allclose(nam.model(x), ckpt.model(x * ckpt.input_gain) / ckpt.output_gain, atol=1e-5)
    assert nam.sample_rate == 44100
