"""Sections 4, 7 and 7b of the benchmarks: peak memory of ``train()``, of ``guneamp render``,
and of ``guneamp check`` and ``guneamp score``.

Each runs in a subprocess of ``run.py`` (``--_memory-child``, ``--_render-memory-child``,
``--_check-memory-child``), so that its peak RSS is its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from .common import FACTOR, GOALS, RUN_SCRIPT, SR, WINDOW, _rss_now, bench_data


def memory_child(npz: str, steps: int) -> None:
    """Runs in a subprocess: a few steps of train() on the saved audio; prints peak RSS as JSON."""
    import resource

    from guneamp_lib.training.data import make_training_data
    from guneamp_lib.training.train import TrainConfig, train

    d = np.load(npz)
    data = make_training_data(d["clean"], d["amp"], SR, torch.from_numpy(d["ir"]))
    before = _rss_now()
    cfg = TrainConfig(oversample=FACTOR, epochs=1, steps_per_epoch=steps, time_budget_s=None, device="cpu")
    train(data, cfg, progress=False)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    print(json.dumps({"peak_rss_bytes": peak_kb * 1024, "rss_before_train_bytes": before}))


def bench_memory(quick: bool, threads: int) -> dict:
    from guneamp_lib.training.windows import window_memory_bytes

    seconds = 10.0 if quick else 60.0
    clean, _, amp, ir = bench_data(seconds, seed=1)
    steps = 2 if quick else 3
    with tempfile.TemporaryDirectory() as tmp:
        npz = str(Path(tmp) / "audio.npz")
        np.savez(npz, clean=clean, amp=amp, ir=ir)
        res = subprocess.run([sys.executable, str(RUN_SCRIPT), "--threads", str(threads), "--_memory-child", npz, str(steps)],
                             capture_output=True, text=True, check=True)
    child = json.loads(res.stdout.strip().splitlines()[-1])
    n_os = clean.size * FACTOR
    return {
        "audio_seconds": seconds,
        "oversample": FACTOR,
        "train_steps": steps,
        "peak_rss_bytes": child["peak_rss_bytes"],
        "rss_before_train_bytes": child["rss_before_train_bytes"],
        "designed_windows_bytes": window_memory_bytes(n_os, WINDOW),
        "goal_peak_rss_bytes": GOALS["train_peak_rss_gb"] * 1e9,
    }


# --------------------------------------------------------------------------- 7. render memory

# Lengths rendered (seconds): memory that does not grow with the file gives one peak for both.
RENDER_MEMORY_SECONDS = (60.0, 600.0)
RENDER_MEMORY_SECONDS_QUICK = (5.0, 30.0)


def render_memory_child(model: str, wav: str) -> None:
    """Runs in a subprocess: `guneamp render` with its default options; prints peak RSS as JSON."""
    import resource

    from guneamp_lib.cli import main as cli_main

    before = _rss_now()
    out = str(Path(wav).with_name("rendered.wav"))
    t = time.perf_counter()
    if cli_main(["render", "--model", model, "--input", wav, "--output", out, "--quiet", "--overwrite"]) != 0:
        raise SystemExit("render failed")
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    print(json.dumps({"peak_rss_bytes": peak_kb * 1024, "rss_before_bytes": before,
                      "seconds": time.perf_counter() - t}))


def bench_render_memory(quick: bool, threads: int) -> dict:
    """Peak RSS of an offline render (SeedCNN at 8x with a cabinet: the defaults) of a short and a long file."""
    from guneamp_lib.models import build_model
    from guneamp_lib.models.checkpoint import Checkpoint, save_checkpoint

    clean, _, _, ir = bench_data(10.0, seed=2)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        model = str(Path(tmp) / "model.pt")
        save_checkpoint(model, Checkpoint(build_model("seed_cnn"), "seed_cnn", SR, FACTOR, WINDOW, torch.from_numpy(ir)))
        for seconds in RENDER_MEMORY_SECONDS_QUICK if quick else RENDER_MEMORY_SECONDS:
            wav = Path(tmp) / "input.wav"
            import soundfile as sf

            sf.write(str(wav), np.resize(clean, int(seconds * SR)), SR, subtype="FLOAT")
            res = subprocess.run([sys.executable, str(RUN_SCRIPT), "--threads", str(threads), "--_render-memory-child", model,
                                  str(wav)], capture_output=True, text=True, check=True)
            rows[f"{seconds:.0f}"] = {"audio_seconds": seconds, **json.loads(res.stdout.strip().splitlines()[-1])}
    return {"oversample": FACTOR, "renders": rows}


def report_render_memory(m: dict) -> list[str]:
    rows = list(m["renders"].values())
    lines = [f"7. memory: guneamp render with default options (SeedCNN at {m['oversample']}x, cabinet; subprocess, peak RSS)"]
    for row in rows:
        lines.append(f"   {row['audio_seconds'] / 60:5.1f} min of audio: peak RSS {row['peak_rss_bytes'] / 1e9:.2f} GB "
                     f"(before rendering {row['rss_before_bytes'] / 1e9:.2f} GB), {row['seconds']:.0f} s")
    lines.append(f"   longest / shortest: {rows[-1]['peak_rss_bytes'] / rows[0]['peak_rss_bytes']:.2f} "
                 "(1.00: memory does not grow with the file)")
    return lines


def report_lines(mem: dict) -> list[str]:
    """Section 4 of the printed report."""
    return [
        f"4. memory: train() on {mem['audio_seconds']:.0f} s of audio at {mem['oversample']}x, {mem['train_steps']} steps "
        "(subprocess, peak RSS)",
        f"   peak RSS {mem['peak_rss_bytes'] / 1e9:.2f} GB (before training {mem['rss_before_train_bytes'] / 1e9:.2f} GB); "
        f"goal <= {mem['goal_peak_rss_bytes'] / 1e9:.1f} GB for 60 s",
        f"   the designed windows would need {mem['designed_windows_bytes'] / 1e9:.1f} GB (computed, not allocated)",
        "",
    ]


# --------------------------------------------------------------------------- 7b. check and score memory

# Lengths checked and scored (seconds): an hour is what the probe tried; flat memory
# gives one peak for both lengths. The pair repeats CHECK_PATTERN_S of synthetic playing.
CHECK_MEMORY_SECONDS = (60.0, 3600.0)
CHECK_MEMORY_SECONDS_QUICK = (5.0, 20.0)
CHECK_PATTERN_S = 30.0
# The target is this many samples late, as through an interface, so the lag search has work.
CHECK_LAG = 37
# Goal from issue 20: an hour's pair in under this.
CHECK_GOAL_PEAK_BYTES = 1.5e9


def check_memory_child(argv_json: str) -> None:
    """Runs in a subprocess: one `guneamp` command (check or score); prints peak RSS as JSON."""
    import resource

    from guneamp_lib.cli import main as cli_main

    before = _rss_now()
    t = time.perf_counter()
    code = cli_main(json.loads(argv_json))
    if code not in (0, 1):  # check says 1 for a pair with problems: still a finished run
        raise SystemExit(f"the command failed ({code})")
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    print(json.dumps({"peak_rss_bytes": peak_kb * 1024, "rss_before_bytes": before,
                      "seconds": time.perf_counter() - t}))


def _write_long_pair(folder: Path, seconds: float, clean: np.ndarray, amp: np.ndarray) -> tuple[Path, Path]:
    """A DI and its target, ``seconds`` long, written a pattern at a time (never whole in memory)."""
    import soundfile as sf

    paths = folder / "clean.wav", folder / "amp.wav"
    late = np.concatenate([np.zeros(CHECK_LAG, np.float32), amp])[: amp.size]
    n = int(seconds * SR)
    with sf.SoundFile(str(paths[0]), "w", SR, 1, "FLOAT") as fc, sf.SoundFile(str(paths[1]), "w", SR, 1, "FLOAT") as fa:
        for lo in range(0, n, clean.size):
            k = min(clean.size, n - lo)
            fc.write(clean[:k])
            fa.write((late if lo == 0 else np.roll(amp, CHECK_LAG))[:k])
    return paths


def bench_check_memory(quick: bool, threads: int) -> dict:
    """Peak RSS and time of `guneamp check` and `guneamp score` (SeedCNN at 1x with a cabinet) on a
    short and a long pair, each in a subprocess; the pairs are written to a temporary folder."""
    from guneamp_lib.models import build_model
    from guneamp_lib.models.checkpoint import Checkpoint, save_checkpoint

    clean, _, amp, ir = bench_data(CHECK_PATTERN_S, seed=3)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model = str(folder / "model.pt")
        torch.manual_seed(0)
        save_checkpoint(model, Checkpoint(build_model("seed_cnn"), "seed_cnn", SR, 1, WINDOW, torch.from_numpy(ir)))
        for seconds in CHECK_MEMORY_SECONDS_QUICK if quick else CHECK_MEMORY_SECONDS:
            c, a = _write_long_pair(folder, seconds, clean, amp)
            for command, argv in (("check", ["check", str(c), str(a)]),
                                  ("score", ["score", "--model", model, "--clean", str(c), "--amp", str(a)])):
                res = subprocess.run([sys.executable, str(RUN_SCRIPT), "--threads", str(threads), "--_check-memory-child",
                                      json.dumps(argv)], capture_output=True, text=True, check=True)
                row = rows[f"{command} {seconds:.0f}"] = {"command": command, "audio_seconds": seconds,
                                                          **json.loads(res.stdout.strip().splitlines()[-1])}
                # an hour's score takes long on a busy machine: each figure as soon as it is measured
                print(f"7b. {command} of {seconds:.0f} s: peak RSS {row['peak_rss_bytes'] / 1e9:.2f} GB, "
                      f"{row['seconds']:.0f} s", file=sys.stderr, flush=True)
    return {"rows": rows, "goal_peak_rss_bytes": CHECK_GOAL_PEAK_BYTES}


def report_check_memory(m: dict) -> list[str]:
    lines = ["7b. memory: guneamp check and guneamp score (SeedCNN 1x, cabinet) of a pair (subprocess, peak RSS)"]
    by_command: dict = {}
    for row in m["rows"].values():
        by_command.setdefault(row["command"], []).append(row)
        lines.append(f"   {row['command']:<5} {row['audio_seconds'] / 60:5.1f} min: peak RSS "
                     f"{row['peak_rss_bytes'] / 1e9:.2f} GB (before {row['rss_before_bytes'] / 1e9:.2f} GB), "
                     f"{row['seconds']:.0f} s")
    for command, rows in by_command.items():
        lines.append(f"   {command}: longest / shortest {rows[-1]['peak_rss_bytes'] / rows[0]['peak_rss_bytes']:.2f} "
                     f"(1.00: flat); goal for an hour <= {m['goal_peak_rss_bytes'] / 1e9:.1f} GB")
    return lines
