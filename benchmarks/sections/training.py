"""Sections 1 and 2 of the benchmarks: training throughput and offline inference (SeedCNN at 8x).

Each is measured next to the design it replaces: per-window training against segment
training (``train()``'s own step), and the designed overlap-add inference loop against
``inference.process`` and the streaming engine's compiled kernels.
"""

from __future__ import annotations

import os
import time

import torch

from .common import (DESIGN_INFER_BATCH, DESIGN_TRAIN_BATCH, FACTOR, GOALS, SEGMENT_BATCH, SEGMENT_CONFIGS, SR,
                     TRAIN_PASSES, WINDOW, best_time, macs_per_sample)


def segment_trainer(model, data, device, batch_size=8, segment=2048):
    """One step of ``train()``'s loop: the library's own ``train_step`` on its ``SegmentSampler``."""
    from guneamp_lib.training.step import RESAMPLER_MARGIN, SegmentSampler, train_step
    from guneamp_lib.training.train import TrainConfig

    cfg = TrainConfig(oversample=FACTOR, segment=segment, batch_size=batch_size)
    sampler = SegmentSampler.build(model, data, cfg, segment, device)
    L = sampler.length
    span = sampler.context + L + RESAMPLER_MARGIN
    opt = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    gen = torch.Generator().manual_seed(0)

    def step():
        train_step(model, opt, sampler, batch_size, gen, cfg, cfg.learning_rate)
        if device.type == "cuda":
            torch.cuda.synchronize()

    # network-rate samples scored per step, and computed per step (context included)
    return step, batch_size * L * FACTOR, batch_size * span * FACTOR


def bench_training(quick: bool, clean, direct, amp, ir) -> dict:
    from guneamp_lib.training.data import make_training_data
    from guneamp_lib.training.losses import design_loss
    from guneamp_lib.models import SeedCNN
    from guneamp_lib.dsp.oversampling import oversample
    from guneamp_lib.training.windows import designed_step, make_window

    torch.manual_seed(0)
    # designed: windows of the oversampled DI, one oversampled amp sample each, in time order
    excerpt = int((0.02 if quick else 0.05) * SR)
    start = SR // 2
    x_os = oversample(torch.from_numpy(clean[start : start + excerpt]), FACTOR)
    y_os = oversample(torch.from_numpy(direct[start : start + excerpt]), FACTOR)
    t0 = time.perf_counter()
    X, Y = make_window(x_os, y_os, WINDOW)
    t_windows = time.perf_counter() - t0
    model = SeedCNN()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    batches = [slice(i, i + DESIGN_TRAIN_BATCH) for i in range(0, X.shape[0] - DESIGN_TRAIN_BATCH + 1, DESIGN_TRAIN_BATCH)]
    n_steps = min(len(batches), 4 if quick else 20)

    def designed_steps():
        for b in batches[:n_steps]:
            designed_step(model, opt, X[b], Y[b])

    designed_steps()  # warm-up
    t_designed = best_time(designed_steps, 2 if quick else 3) / n_steps
    designed_rate = DESIGN_TRAIN_BATCH / t_designed

    with_cab = make_training_data(clean, amp, SR, torch.from_numpy(ir))
    without_cab = make_training_data(clean, direct, SR, None, target_kind="amp_direct")
    macs = macs_per_sample(model)
    out = {
        "unit": "scored target samples per second at the network's rate (8x)",
        "designed_targets_per_s": designed_rate,
        "designed_batch_windows": DESIGN_TRAIN_BATCH,
        "designed_make_window_s_per_million": t_windows / X.shape[0] * 1e6,
        # each window runs the network over all 256 samples for its one target
        "designed_gflops": designed_rate * WINDOW * macs * 2 * TRAIN_PASSES / 1e9,
        "goal_ratio": GOALS["training_ratio"],
        "segments": {},
    }
    for label, (segment, cab) in SEGMENT_CONFIGS.items():
        torch.manual_seed(0)
        data = with_cab if cab else without_cab
        step, scored, computed = segment_trainer(SeedCNN(), data, torch.device("cpu"), segment=segment)
        step()  # warm-up
        n_seg = 2 if quick else 5
        t_seg = best_time(lambda: [step() for _ in range(n_seg)], 2 if quick else 3) / n_seg
        rate = scored / t_seg
        out["segments"][label] = {
            "segment_length": segment, "batch": SEGMENT_BATCH, "cabinet_in_loss": cab, "targets_per_s": rate, "ratio": rate / designed_rate,
            "scored_fraction": scored / computed, "gflops": computed / t_seg * macs * 2 * TRAIN_PASSES / 1e9,
        }
    return out


# --------------------------------------------------------------------------- 2. offline inference

def bench_inference(quick: bool, clean) -> dict:
    from guneamp_lib.render.inference import overlap_add_inference_designed, process
    from guneamp_lib.models import SeedCNN
    from guneamp_lib.dsp.oversampling import oversample
    from guneamp_lib.render.streaming import process_compiled

    torch.manual_seed(0)
    model = SeedCNN().eval()
    excerpt_s = 0.01 if quick else 0.05
    x_short = oversample(torch.from_numpy(clean[SR // 2 : SR // 2 + int(excerpt_s * SR)]), FACTOR)
    overlap_add_inference_designed(model, x_short[:2048], WINDOW, DESIGN_INFER_BATCH)  # warm-up
    t_designed = best_time(lambda: overlap_add_inference_designed(model, x_short, WINDOW, DESIGN_INFER_BATCH), 1 if quick else 2)
    designed_rate = x_short.numel() / t_designed
    full_s = min(clean.size / SR, 2.0 if quick else 10.0)
    x_full = oversample(torch.from_numpy(clean[: int(full_s * SR)]), FACTOR)
    process(model, x_full[:4096])  # warm-up
    t_fast = best_time(lambda: process(model, x_full), 2 if quick else 3)
    fast_rate = x_full.numel() / t_fast
    x_np = x_full.numpy()
    process_compiled(model, x_np[:4096])  # warm-up
    t_compiled = best_time(lambda: process_compiled(model, x_np), 2 if quick else 3)
    compiled_rate = x_full.numel() / t_compiled
    # what `guneamp render` uses: the compiled kernels on every core (engine="auto")
    cores = os.cpu_count() or 1
    t_parallel = best_time(lambda: process_compiled(model, x_np, workers=cores), 2 if quick else 3)
    parallel_rate = x_full.numel() / t_parallel
    macs = macs_per_sample(model)
    return {
        "unit": "network-rate samples per second (8x)",
        "designed_samples_per_s": designed_rate,
        "designed_timed_seconds_of_audio": excerpt_s,
        "designed_extrapolated_s_per_audio_s": FACTOR * SR / designed_rate,
        "process_samples_per_s": fast_rate,
        "process_timed_seconds_of_audio": full_s,
        "process_s_per_audio_s": FACTOR * SR / fast_rate,
        "ratio": fast_rate / designed_rate,
        "goal_ratio": GOALS["inference_ratio"],
        # the designed loop runs all 256 outputs of each window for one sample
        "designed_gflops": designed_rate * WINDOW * macs * 2 / 1e9,
        "process_gflops": fast_rate * macs * 2 / 1e9,
        # the streaming engine's compiled kernels over the same signal (one thread always)
        "compiled_samples_per_s": compiled_rate,
        "compiled_ratio": compiled_rate / designed_rate,
        "compiled_gflops": compiled_rate * macs * 2 / 1e9,
        "parallel_workers": cores,
        "parallel_samples_per_s": parallel_rate,
        "parallel_ratio": parallel_rate / designed_rate,
    }


def report_lines(t: dict, i: dict, peak: float, threads: int) -> list[str]:
    """Sections 1 and 2 of the printed report; ``peak`` is the matrix product's GFLOP/s."""
    lines = [
        "1. training throughput, SeedCNN at 8x, designed loss (targets/s at 352.8 kHz)",
        f"   designed windows (batch {t['designed_batch_windows']}): {t['designed_targets_per_s']:12,.0f}/s"
        f"   {t['designed_gflops']:6.2f} GFLOP/s ({t['designed_gflops'] / peak:.0%} of matmul; 255 of 256 outputs discarded)",
    ]
    for label, seg in t["segments"].items():
        lines.append(
            f"   segments {seg['batch']} x {seg['segment_length']:<5d} {seg['targets_per_s']:12,.0f}/s   {seg['gflops']:6.2f} GFLOP/s "
            f"({seg['gflops'] / peak:.0%} of matmul)   ratio {seg['ratio']:4.0f}x   [{label}; "
            f"{seg['scored_fraction']:.0%} of computed samples scored]")
    lines += [f"   goal: ratio >= {t['goal_ratio']:.0f}x", ""]
    lines += [
        "2. offline inference, SeedCNN at 8x (samples/s at 352.8 kHz)",
        f"   designed overlap-add (batch {DESIGN_INFER_BATCH}), timed on {i['designed_timed_seconds_of_audio']} s of audio and "
        f"extrapolated: {i['designed_samples_per_s']:12,.0f}/s = {i['designed_extrapolated_s_per_audio_s']:.1f} s per second of audio",
        f"   process() on {i['process_timed_seconds_of_audio']:.0f} s of audio: {i['process_samples_per_s']:12,.0f}/s = "
        f"{i['process_s_per_audio_s']:.3f} s per second of audio, {i['process_gflops']:.1f} GFLOP/s "
        f"({i['process_gflops'] / peak:.0%} of matmul)",
        f"   ratio {i['ratio']:.0f}x (goal >= {i['goal_ratio']:.0f}x)",
        f"   the same pass through the streaming engine's compiled kernels (one thread): {i['compiled_samples_per_s']:12,.0f}/s,"
        f" {i['compiled_gflops']:.1f} GFLOP/s ({i['compiled_gflops'] / peak:.0%} of matmul), ratio {i['compiled_ratio']:.0f}x",
        f"   the compiled kernels on all {i['parallel_workers']} cores (what `guneamp render` uses): "
        f"{i['parallel_samples_per_s']:12,.0f}/s, ratio {i['parallel_ratio']:.0f}x (the designed loop gets the same "
        f"{threads} PyTorch thread(s) as process())",
        "",
    ]
    return lines
