"""The WaveNet's training step: valid convolutions (NAM's way) against zero-padded ones.

    python benchmarks/sections/wavenet_step.py [--quick]      (also a section of ``make bench``)

A training segment carries its own context (the receptive field, 4,092 samples before the
8,192 scored ones), so padding every layer with zeros only computes outputs nobody scores
and copies each layer's input once more. ``WaveNet.forward(pad=False)`` runs NAM's
valid convolutions instead, cropping the residual, the condition and the skip sum to each
layer's shorter output; ``training.step.forward_segments`` uses it. One step here is the
forward and backward pass of ``train()``'s default segments (2 or 4 x 8,192 scored samples
with their context), one thread, CPU time, the two sides alternated and the best of the
repeats kept, so the machine's load hits both alike. Cases: the knob recipe's standard
WaveNet with four knobs (batch 2) and the snapshot recipe's lite one (batch 4).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CASES = (("standard_4_knobs", "standard", 4, 2), ("lite", "lite", 0, 4))
SCORED = 8192


def _step_times(preset: str, num_knobs: int, batch: int, repeats: int, scored: int) -> dict:
    from guneamp_lib.models.wavenet import WaveNet

    torch.manual_seed(0)
    model = WaveNet(preset, num_knobs=num_knobs)
    n = scored + model.receptive_field - 1
    x = 0.3 * torch.randn(batch, 1, n)
    kw = {"knobs": torch.rand(batch, num_knobs)} if num_knobs else {}

    def step(pad: bool) -> float:
        t = time.process_time()
        model.zero_grad()
        model(x, pad=pad, **kw)[..., -scored:].pow(2).mean().backward()
        return time.process_time() - t

    step(True), step(False)  # warm-up
    best = {True: float("inf"), False: float("inf")}
    for _ in range(repeats):
        for pad in (True, False):
            best[pad] = min(best[pad], step(pad))
    return {"padded_s": best[True], "valid_s": best[False], "speedup": best[True] / best[False],
            "batch": batch, "scored": scored}


def bench(quick: bool = False) -> dict:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return {name: _step_times(preset, k, b, 2 if quick else 6, 1024 if quick else SCORED)
                for name, preset, k, b in CASES}
    finally:
        torch.set_num_threads(threads)


def report_lines(figures: dict) -> list[str]:
    lines = ["WaveNet training step, one thread, CPU time (forward + backward, best of the repeats):"]
    for name, f in figures.items():
        lines.append(f"  {name:18s} {f['batch']} x {f['scored']:,}: padded {f['padded_s'] * 1e3:7.1f} ms, "
                     f"valid {f['valid_s'] * 1e3:7.1f} ms: {f['speedup']:.2f}x")
    return lines


if __name__ == "__main__":
    print("\n".join(report_lines(bench("--quick" in sys.argv))))
