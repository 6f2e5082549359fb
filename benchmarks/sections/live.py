"""The live section of the benchmarks: ``guneamp play`` in real time on a JACK server (issue 19).

For each model and block size: a dummy JACK server (``jackd -d dummy``: JACK's clock and
graph, no sound card) at 48 kHz, ``guneamp play`` on it for :data:`SECONDS` seconds,
both pinned to one core, while a busy loop loads the other core. The server runs with
real-time scheduling (``jackd -R``), as on a live rig, where the system allows it; the
table says where it did not. The server's capture port
feeds ``play`` the dummy driver's silence: the network's arithmetic does not depend on the
signal (its hidden layers see tanh of their biases, not zeros). Reported: the xruns the
server counted (and, per block size, those of the server with only an idle client: on a
shared machine the dummy driver's own timer thread misses deadlines too), the callback's time per block (median, 99.9th percentile, max) against
the block's deadline, and the DSP load JACK measured. ``play --stats`` writes the figures;
this module only starts the processes and tabulates.

Goal (issue 19): no xrun at block 64 for the standard WaveNet, lite and the LSTM.
The knob model (:data:`KNOB_MODEL`) plays at its middle settings.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

RATE = 48000
BLOCKS = (32, 64, 128)
SECONDS = 60.0
QUICK_SECONDS = 3.0
# (label, build_model name, keyword arguments)
MODELS = (
    ("wavenet standard", "wavenet", {"preset": "standard"}),
    ("wavenet lite", "wavenet", {"preset": "lite"}),
    ("lstm 16", "lstm", {"hidden_size": 16}),
)
# A knob model: the standard WaveNet with five knobs (drive, bass, mid, treble, master).
KNOB_NAMES = ("drive", "bass", "mid", "treble", "master")
KNOB_MODEL = ("standard, 5 knobs", "wavenet", {"preset": "standard", "num_knobs": 5})
ROOT = Path(__file__).resolve().parents[2]
# Where play and its server run, and where the load runs, on a machine with two cores or more.
PLAY_CPU, LOAD_CPU = "0", "1"
LOAD = "while True: pass"


def _checkpoint(folder: Path, label: str, name: str, kw: dict) -> Path:
    import torch

    from guneamp_lib.models import build_model
    from guneamp_lib.models.checkpoint import Checkpoint, save_checkpoint

    torch.manual_seed(0)
    model = build_model(name, **kw).eval()
    window = 4096 if name == "wavenet" else 2048
    extra = {}
    if kw.get("num_knobs"):
        from guneamp_lib.knobs import Knob, KnobSpace

        extra["knobs"] = KnobSpace(Knob(n, 0.0, 10.0) for n in KNOB_NAMES[: kw["num_knobs"]])
    return save_checkpoint(folder / (label.replace(" ", "_").replace(",", "") + ".pt"),
                           Checkpoint(model, name, RATE, 1, window, **extra))


def _models(quick: bool) -> tuple:
    return MODELS[1:2] if quick else MODELS + (KNOB_MODEL,)


def run_case(model_path: Path, block: int, seconds: float, pin: bool, folder: Path) -> dict:
    """One take: server and play on one core, the load on another; play's ``--stats`` figures."""
    from guneamp_lib.render.live_clients import DummyServer

    stats = folder / f"stats-{model_path.stem}-{block}.json"
    taskset = ["taskset", "-c", PLAY_CPU] if pin else []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    load = subprocess.Popen((["taskset", "-c", LOAD_CPU] if pin else []) + [sys.executable, "-c", LOAD])
    try:
        with DummyServer(RATE, block, cpus=PLAY_CPU if pin else None, realtime=True) as server:
            cmd = taskset + [sys.executable, "-m", "guneamp_lib.cli", "play", "--model", str(model_path),
                             "--server", server.name, "--no-connect", "--connect", "system:capture_1", "--connect",
                             "system:playback_1", "--no-keys", "--seconds", str(seconds), "--stats", str(stats)]
            res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=seconds + 300)
            if res.returncode != 0:
                return {"error": (res.stderr.strip().splitlines() or ["no output"])[-1]}
            realtime = server.realtime
    finally:
        load.terminate()
        load.wait()
    return {**json.loads(stats.read_text()), "realtime": realtime}


def server_alone(block: int, seconds: float, pin: bool) -> dict:
    """The xruns of the server on its own (an idle client counts them): what the machine
    costs before any model runs."""
    import time

    import jack

    from guneamp_lib.render.live_clients import DummyServer

    load = subprocess.Popen((["taskset", "-c", LOAD_CPU] if pin else []) + [sys.executable, "-c", LOAD])
    try:
        with DummyServer(RATE, block, cpus=PLAY_CPU if pin else None, realtime=True) as server:
            client = jack.Client("xrun-counter", servername=server.name, no_start_server=True)
            xruns = [0]
            client.set_xrun_callback(lambda delay: xruns.__setitem__(0, xruns[0] + 1))
            client.activate()
            time.sleep(seconds)
            client.deactivate()
            client.close()
            realtime = server.realtime
    finally:
        load.terminate()
        load.wait()
    return {"xruns": xruns[0], "deadline_ms": 1000.0 * block / RATE, "realtime": realtime}


def bench(quick: bool = False, seconds: float | None = None) -> dict:
    if shutil.which("jackd") is None:
        return {"skipped": "jackd is not installed (Debian: apt install jackd2)"}
    seconds = seconds or (QUICK_SECONDS if quick else SECONDS)
    pin = shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2
    models = _models(quick)
    blocks = (64,) if quick else BLOCKS
    out = {"rate": RATE, "seconds": seconds, "pinned": pin, "load_average": list(os.getloadavg()), "cases": []}
    for block in blocks:
        out["cases"].append({"model": "(server alone)", "block": block, **server_alone(block, seconds, pin)})
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for label, name, kw in models:
            path = _checkpoint(folder, label, name, kw)
            for block in blocks:
                row = run_case(path, block, seconds, pin, folder)
                out["cases"].append({"model": label, "block": block, **row})
    out["load_average_after"] = list(os.getloadavg())
    return out


def report_lines(s: dict) -> list[str]:
    if "skipped" in s:
        return [f"live: guneamp play on a JACK server: skipped ({s['skipped']})", ""]
    where = "play and jackd pinned to CPU 0, a busy loop on CPU 1" if s["pinned"] else "not pinned (one CPU)"
    rt = [c.get("realtime") for c in s["cases"] if "error" not in c]
    where += ("; server real-time (SCHED_FIFO)" if rt and all(rt) else
              "; server NOT real-time in some rows (the system refused SCHED_FIFO)" if any(rt) else
              "; server not real-time (the system refused SCHED_FIFO): xruns include the timer's")
    lines = [
        f"live: guneamp play on a dummy JACK server at {s['rate']} Hz, {s['seconds']:g} s per row; {where}; "
        f"load average {s['load_average'][0]:.1f} at start, {s['load_average_after'][0]:.1f} at the end",
        f"   {'model':18s} {'block':>5s} {'deadline':>9s} {'median':>8s} {'99.9%':>8s} {'max':>8s} "
        f"{'DSP load':>9s} {'xruns':>6s}",
    ]
    for c in s["cases"]:
        if "error" in c:
            lines.append(f"   {c['model']:18s} {c['block']:5d}  failed: {c['error']}")
            continue
        if "callback_ms" not in c:
            lines.append(f"   {c['model']:18s} {c['block']:5d} {c['deadline_ms']:7.3f}ms {'':>8s} {'':>8s} {'':>8s} "
                         f"{'':>9s} {c['xruns']:6d}")
            continue
        t = c["callback_ms"]
        lines.append(f"   {c['model']:18s} {c['block']:5d} {c['deadline_ms']:7.3f}ms {t['median']:6.3f}ms "
                     f"{t['p99_9']:6.3f}ms {t['max']:6.3f}ms {c['dsp_load_mean']:8.1f}% {c['xruns']:6d}")
    lines += ["   (callback: guneamp's whole block, model and copies; DSP load: JACK's own measure, mean;",
              "    (server alone): the xruns of jackd with an idle client, what the machine costs before any model)", ""]
    return lines


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(description="guneamp play on a dummy JACK server: xruns and callback times")
    p.add_argument("--quick", action="store_true", help=f"lite at block 64 only, {QUICK_SECONDS:g} s")
    p.add_argument("--seconds", type=float, default=None, help=f"seconds per row (default {SECONDS:g})")
    p.add_argument("--json", default=None, help="also write the figures here")
    args = p.parse_args(argv)
    s = bench(args.quick, args.seconds)
    print("\n".join(report_lines(s)))
    if args.json:
        Path(args.json).write_text(json.dumps(s, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
