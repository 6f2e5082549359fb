"""Sections 5 and 6 of the benchmarks: the GPU, when there is one, and the limit (a large
matrix product and ``tanh`` on the same threads), which the other sections' GFLOP/s are
compared with.
"""

from __future__ import annotations

import torch

from .common import SR, best_time
from .training import segment_trainer


def bench_gpu(quick: bool, clean, amp, ir, cpu_rate: float) -> dict:
    if not torch.cuda.is_available():
        return {"available": False, "note": "no GPU"}
    from guneamp_lib.training.data import make_training_data
    from guneamp_lib.models import SeedCNN

    torch.manual_seed(0)
    dev = torch.device("cuda")
    data = make_training_data(clean, amp, SR, torch.from_numpy(ir))
    step, scored, _ = segment_trainer(SeedCNN().to(dev), data, dev, segment=2048)
    for _ in range(3):
        step()  # warm-up: kernels, allocator
    n = 10 if quick else 50
    t = best_time(lambda: [step() for _ in range(n)], 2) / n
    rate = scored / t
    return {"available": True, "name": torch.cuda.get_device_name(0), "segment_targets_per_s": rate,
            "segment_length": 2048, "ratio_to_cpu": rate / cpu_rate}


# --------------------------------------------------------------------------- 6. the limit

def bench_matmul(quick: bool) -> dict:
    n = 1024 if quick else 2048
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    t = best_time(lambda: torch.mm(a, b), 3 if quick else 5)
    return {"size": n, "gflops": 2 * n**3 / t / 1e9, "tanh": bench_tanh(quick)}


def bench_tanh(quick: bool) -> dict:
    """torch.tanh against guneamp_lib.dsp.activations.tanh on one SeedCNN layer's activations."""
    from guneamp_lib.dsp.activations import tanh

    x = torch.randn(8, 32, 3000 if quick else 24000)
    tanh(x)
    torch.tanh(x)
    t_torch = best_time(lambda: torch.tanh(x), 3 if quick else 10)
    t_ours = best_time(lambda: tanh(x), 3 if quick else 10)
    return {"elements": x.numel(), "torch_ms": t_torch * 1e3, "guneamp_ms": t_ours * 1e3, "speedup": t_torch / t_ours}


def report_limit(limit: dict, threads: int) -> list[str]:
    """Section 6 of the printed report (printed first: the other sections quote it)."""
    peak = limit["gflops"]
    return [
        f"6. limit: float32 matmul {limit['size']}x{limit['size']} on {threads} thread(s): {peak:.1f} GFLOP/s"
        " (streaming's shares below are of this figure too)",
        f"   tanh on {limit['tanh']['elements']:,} floats: torch.tanh {limit['tanh']['torch_ms']:.2f} ms, "
        f"guneamp_lib.dsp.activations.tanh {limit['tanh']['guneamp_ms']:.2f} ms ({limit['tanh']['speedup']:.1f}x)",
    ]


def report_gpu(g: dict) -> list[str]:
    """Section 5 of the printed report."""
    if g["available"]:
        return [f"5. GPU {g['name']}: segment training (8 x 2048, cabinet in the loss) {g['segment_targets_per_s']:,.0f} "
                f"targets/s, {g['ratio_to_cpu']:.1f}x the CPU figure above"]
    return ["5. GPU: no GPU"]
