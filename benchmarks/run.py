"""guneamp's benchmarks: every speed and memory claim, each measured next to its reference.

    python benchmarks/run.py [--quick] [--json out.json]        (or: make bench)

Sections (see benchmarks/README.md for what each one measures and why):

1. training throughput: the design's per-window training vs segment training;
2. offline inference: the design's overlap-add loop vs ``inference.process``;
3. streaming real-time factor at a host block of 64 samples;
4. peak memory of ``train()`` on 60 s of audio at 8x vs the designed windows;
5. the GPU, when there is one;
6. the limit: a large matrix product on the same threads, and each model's share of it;
7. peak memory of ``guneamp render`` (default options) on 1 and on 10 minutes of audio.
8. NAM core, the Neural Amp Modeler plugin's C++ engine, against our streaming engine
   on the same exported ``.nam`` files (``vs_nam.py``; ``--nam-only`` runs just this);
   8b. every LSTM against NAM core on AVX2 and on AVX-512 (``sections/lstm_isa.py``;
   ``--lstm-isa-only`` runs just this);

then the command line's start-up (``startup.py``) and ``guneamp play`` live on a dummy JACK
server (``sections/live.py``: xruns and callback times, 60 s per model and block size, nine
rows; ``--live-seconds`` shortens them, ``--live-only`` runs just this).

Each section lives in a module of ``benchmarks/sections/`` (``training``: 1 and 2,
``streaming``: 3, ``memory``: 4 and 7, ``hardware``: 5 and 6) or next to this file
(``vs_nam.py``: 8); this file runs them in order, prints the report and writes the JSON.
More sections plug in through :data:`EXTRA_SECTIONS`.

CPU figures are single-threaded by default (``torch.set_num_threads(1)``), so they can
be compared with the single-thread matrix product and with each other; ``--threads``
changes that for every section but streaming, which is always one thread. ``--quick`` runs
every section on less audio (well under a minute); the figures are then rougher.
"""

from __future__ import annotations

import os

# numpy's BLAS and numba on one thread, set before they start their pools; PyTorch's
# threads are set with --threads.
for _var in ("OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

# benchmarks/ is the script's folder, so its modules import by their plain names
from sections import hardware, live, memory, streaming, training  # noqa: E402
from sections.common import SEGMENT_CONFIGS, SR, bench_data, cpu_name  # noqa: E402,F401  (tests read SEGMENT_CONFIGS here)
from vs_nam import bench_nam_core, report_lines  # noqa: E402

# Sections after the eighth, run at the end of a full run: (key in the JSON, module in
# benchmarks/). The module has ``bench(quick: bool) -> dict`` (the figures, written under
# the key) and ``report_lines(figures: dict) -> list[str]`` (what is printed).
EXTRA_SECTIONS: tuple[tuple[str, str], ...] = (("startup", "startup"), ("knobs", "sections.knobs"), ("live", "sections.live"),
                                               ("real_gear", "sections.real_gear"),
                                               ("nam_core_lstm_isa", "sections.lstm_isa"),
                                               ("wavenet_step", "sections.wavenet_step"))


def machine() -> dict:
    import guneamp_lib

    info = {
        "cpu": cpu_name(),
        "logical_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "guneamp_lib": guneamp_lib.__version__,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }
    try:
        import numba

        from guneamp_lib.vector_width import PREFER_256, compiled_features
        import llvmlite.binding as ll

        info["numba"] = numba.__version__
        # LLVM's name tells a Zen 4 from other AVX-512 CPUs ("AMD EPYC" does not), and the
        # vector width numba's kernels were compiled for (guneamp_lib.vector_width)
        info["llvm_cpu"] = ll.get_host_cpu_name()
        features = compiled_features().split(",")
        info["numba_vectors"] = ("256-bit (prefer-256-bit)" if PREFER_256 in features
                                 else "512-bit" if "+avx512f" in features else "256-bit or less")
    except ImportError:
        info["numba"] = None
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def report(r: dict) -> str:
    m = r["machine"]
    peak = r["limit"]["gflops"]
    lines = [
        f"machine: {m['cpu']}, {m['logical_cpus']} logical CPUs; {r['threads']} PyTorch thread(s) for sections 1, 2, 4, 6, "
        "one for 3; "
        f"torch {m['torch']}, numba {m['numba']}" + (f", GPU {m['gpu']}" if m.get("gpu") else ""),
        f"LLVM's CPU: {m.get('llvm_cpu')}; numba's kernels use {m.get('numba_vectors')} vectors" if m.get("numba") else "",
        f"load average at start: {', '.join(f'{v:.1f}' for v in m['load_average'])}" if m["load_average"] else "",
        f"mode: {'quick (less audio, rougher figures)' if r['quick'] else 'full'}",
        "",
        *hardware.report_limit(r["limit"], r["threads"]),
        "",
        # each of these sections ends with its own blank line
        *training.report_lines(r["training"], r["inference"], peak, r["threads"]),
        *streaming.report_lines(r["streaming"], peak),
        *memory.report_lines(r["memory"]),
        *hardware.report_gpu(r["gpu"]),
    ]
    if "render_memory" in r:
        lines += [""] + memory.report_render_memory(r["render_memory"])
    if "check_memory" in r:
        lines += [""] + memory.report_check_memory(r["check_memory"])
    if "nam_core" in r:
        lines += [""] + report_lines(r["nam_core"])
    for key, module in EXTRA_SECTIONS:
        if key in r:
            lines += [""] + importlib.import_module(module).report_lines(r[key])
    return "\n".join(line for line in lines if line is not None)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="less audio, fewer repeats: well under a minute")
    p.add_argument("--json", metavar="PATH", help="also write the figures to this JSON file")
    p.add_argument("--threads", type=int, default=1,
                   help="PyTorch threads for training, offline inference, memory and the matmul limit "
                        "(default 1; 0 = every CPU). Streaming is always measured on one thread.")
    p.add_argument("--nam-only", action="store_true", help="only section 8: NAM core against our engine")
    p.add_argument("--lstm-isa-only", action="store_true",
                   help="only section 8b: every LSTM against NAM core on AVX2 and AVX-512")
    p.add_argument("--nam-seconds", type=float, default=None,
                   help="seconds of audio for section 8 (default 30; 3 with --quick)")
    p.add_argument("--_memory-child", nargs=2, metavar=("NPZ", "STEPS"), help=argparse.SUPPRESS)
    p.add_argument("--_render-memory-child", nargs=2, metavar=("MODEL", "WAV"), help=argparse.SUPPRESS)
    p.add_argument("--only-render-memory", action="store_true", help="run only section 7 (render memory)")
    p.add_argument("--_check-memory-child", metavar="ARGV_JSON", help=argparse.SUPPRESS)
    p.add_argument("--only-check-memory", action="store_true",
                   help="run only section 7b (memory of check and score on an hour)")
    p.add_argument("--live-seconds", type=float, default=None,
                   help="seconds per row of the live section (default 60; 3 with --quick)")
    p.add_argument("--live-only", action="store_true", help="only the live section: guneamp play on a JACK server")
    args = p.parse_args(argv)
    if args.nam_seconds is not None and not (math.isfinite(args.nam_seconds) and 0.5 <= args.nam_seconds <= 600):
        p.error("--nam-seconds must be from 0.5 to 600")
    threads = args.threads if args.threads > 0 else os.cpu_count()
    torch.set_num_threads(threads)
    if args._memory_child:
        memory.memory_child(args._memory_child[0], int(args._memory_child[1]))
        return 0
    if args._render_memory_child:
        memory.render_memory_child(*args._render_memory_child)
        return 0
    if args._check_memory_child:
        memory.check_memory_child(args._check_memory_child)
        return 0
    if args.only_check_memory:
        print("\n".join(memory.report_check_memory(memory.bench_check_memory(args.quick, threads))))
        return 0
    if args.live_seconds is not None and not (math.isfinite(args.live_seconds) and 1 <= args.live_seconds <= 600):
        p.error("--live-seconds must be from 1 to 600")
    if args.live_only:
        r = {"quick": args.quick, "machine": machine(), "live": live.bench(args.quick, args.live_seconds)}
        print("\n".join(live.report_lines(r["live"])))
        return _write(args.json, r)
    if args.only_render_memory:
        print("\n".join(memory.report_render_memory(memory.bench_render_memory(args.quick, threads))))
        return 0
    r = {"quick": args.quick, "threads": threads, "machine": machine()}
    if args.lstm_isa_only:
        from sections import lstm_isa

        r["nam_core_lstm_isa"] = lstm_isa.bench(args.quick)
        print("\n".join(lstm_isa.report_lines(r["nam_core_lstm_isa"])))
        return _write(args.json, r)
    if args.nam_only:
        torch.set_num_threads(1)
        r["nam_core"] = bench_nam_core(args.quick, SR, seconds=args.nam_seconds)
        m = r["machine"]
        print(f"machine: {m['cpu']} ({m.get('llvm_cpu')}, numba: {m.get('numba_vectors')} vectors), "
              f"{m['logical_cpus']} logical CPUs; load average at start: "
              + ", ".join(f"{v:.1f}" for v in m["load_average"] or ()))
        print("\n".join(report_lines(r["nam_core"])))
        return _write(args.json, r)
    r["limit"] = hardware.bench_matmul(args.quick)
    clean, direct, amp, ir = bench_data(3.0 if args.quick else 12.0)
    r["training"] = training.bench_training(args.quick, clean, direct, amp, ir)
    r["inference"] = training.bench_inference(args.quick, clean)
    torch.set_num_threads(1)
    r["streaming"] = streaming.bench_streaming(args.quick, clean, ir)
    torch.set_num_threads(threads)
    r["memory"] = memory.bench_memory(args.quick, threads)
    cpu_rate = r["training"]["segments"]["guneamp train default: cabinet in the loss"]["targets_per_s"]
    r["gpu"] = hardware.bench_gpu(args.quick, clean, amp, ir, cpu_rate)
    r["render_memory"] = memory.bench_render_memory(args.quick, threads)
    r["check_memory"] = memory.bench_check_memory(args.quick, threads)
    r["limit"]["threads"] = threads
    r["limit"]["note"] = "GFLOP/s count 2 flops per multiply-add"
    torch.set_num_threads(1)
    # --quick never starts a build of NAM core (minutes); it uses one that `make bench` cached
    r["nam_core"] = bench_nam_core(args.quick, SR, build=not args.quick, seconds=args.nam_seconds)
    for key, module in EXTRA_SECTIONS:
        extra = {"seconds": args.live_seconds} if key == "live" else {}
        r[key] = importlib.import_module(module).bench(args.quick, **extra)
    print(report(r))
    return _write(args.json, r)


def _write(path, r: dict) -> int:
    if path:
        from guneamp_lib.paths import write_text_atomic

        write_text_atomic(path, json.dumps(r, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
