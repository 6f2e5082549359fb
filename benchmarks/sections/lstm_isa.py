"""Section 8b: every LSTM against NAM core, on AVX2 and on AVX-512, in one alternating run (issue 21).

An LSTM's time is a chain of dependent steps, so the vector width of the machine changes
the two engines' ratio (section 8 ran on AVX-512; this project's CI machines have AVX2
only). One AVX-512 machine measures both kinds honestly: for AVX2, NAM core is built with
``-march=haswell`` (``nam_core.build_nam_core(arch="haswell")``) and our engine runs in a
process whose numba compiles for Haswell with every AVX-512 feature switched off
(``NUMBA_CPU_NAME``, ``NUMBA_CPU_FEATURES``: :func:`numba_env`). On a machine without
AVX-512 only the AVX2 rows are measured. On a Zen 4 the AVX-512 rows are numba's code
as guneamp runs it there: AVX-512 instructions on 256-bit vectors
(:mod:`guneamp_lib.vector_width`).

The files: our ``lstm:16`` exported by ``guneamp export`` (17 units in the file: one
carries the skip connection) and LSTMs that NAM 0.13's package writes
(``nam_written.py``: 2 layers of 6 units, and one layer of 16). Each round runs, per
instruction set, NAM core's ``fast`` build (the plugin's fast ``tanh``) at blocks 16, 64
and 256, then ours at the same blocks in a fresh process; rounds alternate, each figure is
the least processor time over the rounds, and the ratio is ours / NAM core's.
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

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parents[1])]  # benchmarks/ and the repository

from nam_core import build_nam_core, missing_requirements, run_driver  # noqa: E402

BLOCKS = (16, 64, 256)
RATE = 48000
# name -> (NAM-written kind or None for our export, its config)
NAM_LSTMS = {"nam:lstm-2x6": {"hidden_size": 6, "num_layers": 2}, "nam:lstm-16": {"hidden_size": 16, "num_layers": 1}}


def host_features() -> str:
    import llvmlite.binding as ll

    return ll.get_host_cpu_features().flatten()


def has_avx512() -> bool:
    return "+avx512f" in host_features().split(",")


def numba_env(isa: str) -> dict[str, str]:
    """The environment that makes numba compile for ``isa`` ("avx2": Haswell, no AVX-512 feature; "avx512": this machine)."""
    if isa == "avx512":
        return {}
    feats = ",".join(("-" + f[1:]) if f.startswith("+avx512") or f.startswith("+amx") or f.startswith("+avx10")
                     else f for f in host_features().split(","))
    return {"NUMBA_CPU_NAME": "haswell", "NUMBA_CPU_FEATURES": feats}


def _cached(arch: str) -> bool:
    from nam_core import ROOT

    name = "fast" if arch == "native" else f"fast-{arch}"
    return any(p.parent.name.count("-") == name.count("-") + 1
               for p in (ROOT / "build" / "nam-core").glob(f"{name}-*/nam_driver"))


def _worker(argv: list[str]) -> None:
    """In the child: stream each file at each block; print the least processor times as JSON."""
    files, seconds, repeats = json.loads(argv[0]), float(argv[1]), int(argv[2])
    from guneamp_lib.capture.guitar import synth_di
    from guneamp_lib.models.nam import load_model_file
    from guneamp_lib.render.streaming import StreamingProcessor

    x = np.ascontiguousarray(synth_di(seconds, RATE, 1), dtype=np.float32)
    out = {}
    for name, path in files.items():
        proc = StreamingProcessor(load_model_file(path).model, 1, engine="compiled")
        y = np.empty_like(x)
        proc.process_block(x[:256], y[:256])  # compiled (or loaded from the cache) before timing
        out[name] = {}
        for b in BLOCKS:
            best = np.inf
            for _ in range(repeats):
                proc.reset()
                c0 = time.process_time()
                for s in range(0, x.size, b):
                    proc.process_block(x[s : s + b], y[s : s + b])
                best = min(best, time.process_time() - c0)
            out[name][str(b)] = best
    print(json.dumps(out))


def _ours(isa: str, files: dict, seconds: float, repeats: int) -> dict:
    env = {**os.environ, **numba_env(isa), "PYTHONPATH": str(HERE.parents[1]), "OMP_NUM_THREADS": "1",
           "NUMBA_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, __file__, "--worker", json.dumps({k: str(v) for k, v in files.items()}),
                        str(seconds), str(repeats)], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"the {isa} worker failed: {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def _files(folder: Path) -> dict[str, Path]:
    import torch

    import nam_written
    from guneamp_lib.models import LSTMModel
    from guneamp_lib.models.checkpoint import Checkpoint
    from guneamp_lib.models.nam import export_nam

    torch.manual_seed(0)
    files = {"lstm:16": folder / "lstm-16.nam"}
    export_nam(Checkpoint(LSTMModel(hidden_size=16).eval(), "lstm", RATE, 1, 1, target_kind="amp_direct"),
               files["lstm:16"])
    for name, config in NAM_LSTMS.items():
        model = nam_written.init_model("LSTM", {**config, "sample_rate": float(RATE)})
        model.export(folder, basename=name.replace(":", "-"))
        files[name] = folder / f"{name.replace(':', '-')}.nam"
    return files


def bench(quick: bool, build: bool = True, seconds: float | None = None) -> dict:
    """NAM core and ours on every LSTM, per instruction set (see the module docstring)."""
    why = missing_requirements()
    if why is not None:
        return {"available": False, "note": f"NAM core cannot be built here: {why}"}
    isas = ("avx2", "avx512") if has_avx512() else ("avx2",)
    arches = {"avx2": "haswell", "avx512": "native"}
    build = build and not quick  # --quick never starts a build of NAM core (minutes)
    if not build and not all(_cached(arches[isa]) for isa in isas):
        return {"available": False, "note": "NAM core's native and haswell builds are not cached (`make bench`)"}
    builds = {isa: build_nam_core("fast", arch=arches[isa], verbose=True) for isa in isas}
    seconds = seconds or (3.0 if quick else 20.0)
    rounds, repeats = (2, 1) if quick else (3, 2)
    from guneamp_lib.capture.guitar import synth_di

    x = np.ascontiguousarray(synth_di(seconds, RATE, 1), dtype=np.float32)
    nam = {isa: {} for isa in isas}
    ours = {isa: {} for isa in isas}
    with tempfile.TemporaryDirectory(prefix="guneamp-lstm-isa-") as d:
        files = _files(Path(d))
        for _ in range(rounds):
            for isa in isas:
                for name, path in files.items():
                    for b in BLOCKS:
                        t = run_driver(builds[isa], path, x, b, output=False, clock="cpu", repeat=repeats)[1]
                        key = nam[isa].setdefault(name, {})
                        key[str(b)] = min(key.get(str(b), np.inf), t)
                for name, by_block in _ours(isa, files, seconds, repeats).items():
                    key = ours[isa].setdefault(name, {})
                    for b, t in by_block.items():
                        key[b] = min(key.get(b, np.inf), t)
    result = {"available": True, "audio_seconds": seconds, "rounds": rounds, "load_average": list(os.getloadavg()),
              "isas": {}}
    for isa in isas:
        result["isas"][isa] = {name: {"nam_core_cpu_s": nam[isa][name], "ours_cpu_s": ours[isa][name],
                                      "ratio": {b: ours[isa][name][b] / nam[isa][name][b] for b in nam[isa][name]}}
                               for name in files}
    return result


def report_lines(r: dict) -> list[str]:
    title = "8b. LSTMs against NAM core (fast build) on AVX2 and AVX-512"
    if not r.get("available"):
        return [f"{title}: skipped ({r.get('note', 'not available')})"]
    rows = [f"   {isa:6s} {name:14s} " + "  ".join(f"block {b}: {v:.2f}" for b, v in e["ratio"].items())
            for isa, models in r["isas"].items() for name, e in models.items()]
    return [f"{title}: our processor time / NAM core's, {r['audio_seconds']:.0f} s, one thread, least of "
            f"{r['rounds']} alternating rounds (load {r['load_average'][0]:.1f}):", *rows, ""]


if __name__ == "__main__" and sys.argv[1:2] == ["--worker"]:
    _worker(sys.argv[2:])
