"""What every benchmark section shares: the audio, the constants of the design, and timing.

The sections (``training``, ``streaming``, ``memory``, ``hardware`` here, and
``vs_nam.py`` for NAM core) each measure and report one part; ``benchmarks/run.py`` runs
them in order and writes the figures.
"""

from __future__ import annotations

import math
import os
import platform
import time
from pathlib import Path

import numpy as np
from torch import nn

SR = 44100
FACTOR = 8  # the design's oversampling
WINDOW = 256  # the design's window, in oversampled samples
# The design names no training batch; 256 windows per step is common and large enough
# that per-step overhead does not decide the comparison.
DESIGN_TRAIN_BATCH = 256
DESIGN_INFER_BATCH = 32  # the design's run_inference default
HOST_BLOCK = 64  # a typical plugin buffer: 1.5 ms at 44.1 kHz
SEGMENT_BATCH = 8  # train()'s default batch of segments
# Segment training set-ups: (segment length, cabinet inside the loss). Each segment also
# computes its context (network, downsampler and, with the cabinet, the IR's useful
# part). train()'s default is 2048 with the cabinet; notebook 06 uses 8192. The designed
# windows have no cabinet, so the set-up without it is the like-for-like comparison.
# Segment lengths as train() picks them by default (guneamp_lib.training.train.segment_length:
# 1024 without a cabinet in the loss, 2048 with one), plus two for comparison.
SEGMENT_CONFIGS = {
    "like for like: amp_direct target, no cabinet, train()'s default": (1024, False),
    "the same with 2048-sample segments": (2048, False),
    "guneamp train default: cabinet in the loss": (2048, True),
    "notebook 06: cabinet in the loss": (8192, True),
}
# Forward + backward costs about three forward passes (gradients for inputs and for weights).
TRAIN_PASSES = 3
GOALS = {"training_ratio": 200.0, "inference_ratio": 1000.0, "rtf_seed_cnn_8x": 0.3, "rtf_wavenet_standard": 0.1,
         "train_peak_rss_gb": 2.5}


# Where a section's subprocess finds the driver (the children run `run.py --_...-child`).
RUN_SCRIPT = Path(__file__).resolve().parents[1] / "run.py"


def best_time(fn, repeats: int, clock=time.perf_counter) -> float:
    """The fastest of ``repeats`` runs: on a shared machine the minimum is the least disturbed.

    ``clock``: wall time by default; ``time.process_time`` (the process's CPU time) for work
    done on one thread, which other processes on a busy machine do not inflate.
    """
    best = math.inf
    for _ in range(repeats):
        t0 = clock()
        fn()
        best = min(best, clock() - t0)
    return best


def macs_per_sample(model: nn.Module) -> int:
    """Multiply-adds per output sample at the network's rate: each weight is used once per sample."""
    n = 0
    for m in model.modules():
        if isinstance(m, (nn.Conv1d, nn.Linear)):
            n += m.weight.numel()
        elif isinstance(m, nn.LSTM):
            n += sum(p.numel() for name, p in m.named_parameters() if name.startswith("weight"))
    return n


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def bench_data(seconds: float, seed: int = 0):
    """Synthetic DI, the reference amp's output (direct and through the cabinet) and the cabinet IR."""
    from scipy.signal import fftconvolve

    from guneamp_lib.capture.guitar import synth_di
    from guneamp_lib.capture.synth import ReferenceAmp, synth_cab_ir

    clean = synth_di(seconds, SR, seed).astype(np.float32)
    direct = ReferenceAmp()(clean, SR)
    ir = synth_cab_ir(SR, seed).astype(np.float32)
    amp = fftconvolve(direct, ir)[: clean.size].astype(np.float32)
    return clean, direct, amp, ir


def _rss_now() -> int:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0
