"""Section 3 of the benchmarks: the streaming engine's real-time factor at a host block of 64 samples.

Every model the library trains, one thread, through :class:`StreamingProcessor` with
and without the cabinet; for two of them also the plain PyTorch engine, to show what the
compiled kernels buy.
"""

from __future__ import annotations

import numpy as np
import torch

from .common import GOALS, HOST_BLOCK, SR, best_time, macs_per_sample


STREAM_CASES = (
    ("seed_cnn_8x", "seed_cnn", {}, 8),
    ("seed_cnn_1x", "seed_cnn", {}, 1),
    ("wavenet_standard", "wavenet", {"preset": "standard"}, 1),
    ("wavenet_lite", "wavenet", {"preset": "lite"}, 1),
    ("wavenet_feather", "wavenet", {"preset": "feather"}, 1),
    ("wavenet_nano", "wavenet", {"preset": "nano"}, 1),
    ("lstm", "lstm", {}, 1),
)


def stream_rtf(proc, x: np.ndarray, repeats: int) -> float:
    """Processing time per second of audio, host block by host block."""
    blocks = [x[s : s + HOST_BLOCK] for s in range(0, x.size, HOST_BLOCK)]
    proc.process_block(x[:4096])  # warm-up (and the compiled kernels' first load)

    def run():
        proc.reset()
        for b in blocks:
            proc.process_block(b)

    return best_time(run, repeats) / (x.size / SR)


def bench_streaming(quick: bool, clean, ir) -> dict:
    from guneamp_lib.models import build_model
    from guneamp_lib.render.streaming import StreamingProcessor

    x = clean[: int((1.0 if quick else 5.0) * SR)]
    x_ref = clean[: int((0.25 if quick else 1.0) * SR)]
    out = {"host_block": HOST_BLOCK, "sample_rate": SR, "audio_seconds": x.size / SR, "models": {}}
    for label, name, kw, factor in STREAM_CASES:
        torch.manual_seed(0)
        model = build_model(name, **kw).eval()
        proc = StreamingProcessor(model, factor)
        row = {
            "oversample": factor,
            "engine": proc.engine,
            "latency_samples": proc.latency,
            "rtf": stream_rtf(proc, x, 2 if quick else 3),
            "rtf_with_cabinet": stream_rtf(StreamingProcessor(model, factor, ir), x, 2 if quick else 3),
            "macs_per_file_sample": macs_per_sample(model) * factor,
        }
        row["gflops"] = row["macs_per_file_sample"] * 2 * SR / row["rtf"] / 1e9
        if label in ("seed_cnn_8x", "wavenet_standard"):
            # the plain PyTorch path, to show what the compiled kernels buy
            row["rtf_reference_engine"] = stream_rtf(StreamingProcessor(model, factor, engine="torch"), x_ref, 1)
        out["models"][label] = row
    out["goal_rtf_seed_cnn_8x"] = GOALS["rtf_seed_cnn_8x"]
    out["goal_rtf_wavenet_standard"] = GOALS["rtf_wavenet_standard"]
    return out


def report_lines(s: dict, peak: float) -> list[str]:
    """Section 3 of the printed report; ``peak`` is the matrix product's GFLOP/s."""
    lines = [
        f"3. streaming, host block {s['host_block']} at {s['sample_rate']} Hz, one thread, {s['audio_seconds']:.0f} s of audio "
        "(real-time factor = processing time / audio time)",
        f"   {'model':18s} {'engine':9s} {'latency':>7s} {'RTF':>7s} {'+cab':>7s} {'GFLOP/s':>8s} {'of matmul':>9s}"
        f" {'reference engine':>17s}",
    ]
    for label, row in s["models"].items():
        ref = f"{row['rtf_reference_engine']:.3f}" if "rtf_reference_engine" in row else ""
        lines.append(f"   {label:18s} {row['engine']:9s} {row['latency_samples']:7d} {row['rtf']:7.3f} "
                     f"{row['rtf_with_cabinet']:7.3f} {row['gflops']:8.2f} {row['gflops'] / peak:9.0%} {ref:>17s}")
    lines += [f"   goals: seed_cnn_8x <= {s['goal_rtf_seed_cnn_8x']}, wavenet_standard <= {s['goal_rtf_wavenet_standard']}"
              f"  (+cab: with the default 2048-tap cabinet IR)", ""]
    return lines
