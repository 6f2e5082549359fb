"""The WaveNet's training step: valid convolutions (NAM's way) against zero-padded ones.

    python benchmarks/sections/wavenet_step.py [--quick]      (also a section of ``make bench``)

A training segment carries its own context (the receptive field, 4,092 samples before the
8,192 scored ones), so padding every layer with zeros only computes outputs nobody scores
and copies each layer's input once more. ``WaveNet.forward(pad=False)`` runs NAM's
valid convolutions instead, cropping the residual, the condition and the skip sum to each
layer's shorter output; ``training.step.forward_segments`` uses it. One step here is
``train()``'s own ``train_step`` on its sampler (loss, backward, gradient clipping, Adam) at
the recipe's segments (2 or 4 x 8,192 scored samples with their context), the reference amp
on a synthetic DI (four settings for the knob model), one thread, CPU time, the two sides
alternated and the best of the repeats kept, so the machine's load hits both alike. Cases: the knob recipe's standard
WaveNet with four knobs and FiLM (batch 2) and the snapshot recipe's lite one (batch 4).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from sections.common import SR, bench_data  # noqa: E402
else:
    from .common import SR, bench_data

CASES = (("standard_4_knobs", "standard", 4, 2), ("lite", "lite", 0, 4))
SCORED = 8192
KNOBS = ("drive", "bass", "mid", "treble")


def _data(num_knobs: int, seconds: float):
    """The reference amp on a synthetic DI: one capture, or one per setting of ``KNOBS``."""
    from guneamp_lib.capture.synth import ReferenceAmp
    from guneamp_lib.training.data import make_training_data
    from guneamp_lib.training.knob_data import make_knob_training_data

    clean, direct, _, _ = bench_data(seconds)
    if not num_knobs:
        return make_training_data(clean, direct, SR, target_kind="amp_direct")
    settings = [dict(zip(KNOBS, (2.5 * ((i + j) % 5) for j in range(4)))) for i in range(4)]
    return make_knob_training_data([(clean, ReferenceAmp(**st)(clean, SR), st) for st in settings], SR,
                                   target_kind="amp_direct")


def _step_times(preset: str, num_knobs: int, batch: int, repeats: int, scored: int, seconds: float) -> dict:
    """``train()``'s own step (``train_step`` on its sampler: loss, backward, clip, Adam), padded and valid."""
    from guneamp_lib.models.wavenet import WaveNet
    from guneamp_lib.training.knob_data import KnobSampler
    from guneamp_lib.training.step import SegmentSampler, train_step
    from guneamp_lib.training.train import TrainConfig

    torch.manual_seed(0)
    model = WaveNet(preset, num_knobs=num_knobs, film=bool(num_knobs))  # the knob recipe's WaveNet has FiLM
    cfg = TrainConfig(model="wavenet", batch_size=batch, segment=scored, knob_recipe=bool(num_knobs))
    data = _data(num_knobs, seconds)
    sampler = (KnobSampler if num_knobs else SegmentSampler).build(model, data, cfg, scored, torch.device("cpu"))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    gen = torch.Generator().manual_seed(0)

    def step(pad: bool) -> float:
        if pad:
            model.supports_valid = False  # instance attribute: forward_segments takes the padded path
        t = time.process_time()
        try:
            train_step(model, opt, sampler, batch, gen, cfg, cfg.learning_rate)
        finally:
            model.__dict__.pop("supports_valid", None)
        return time.process_time() - t

    step(True), step(False)  # warm-up
    best = {True: float("inf"), False: float("inf")}
    for _ in range(repeats):
        for pad in (True, False):
            best[pad] = min(best[pad], step(pad))
    return {"padded_s": best[True], "valid_s": best[False], "speedup": best[True] / best[False],
            "batch": batch, "scored": sampler.length}


def bench(quick: bool = False) -> dict:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return {name: _step_times(preset, k, b, 2 if quick else 6, 1024 if quick else SCORED, 2.0 if quick else 4.0)
                for name, preset, k, b in CASES}
    finally:
        torch.set_num_threads(threads)


def report_lines(figures: dict) -> list[str]:
    lines = ["WaveNet training step (train()'s train_step), one thread, CPU time, best of the repeats:"]
    for name, f in figures.items():
        lines.append(f"  {name:18s} {f['batch']} x {f['scored']:,}: padded {f['padded_s'] * 1e3:7.1f} ms, "
                     f"valid {f['valid_s'] * 1e3:7.1f} ms: {f['speedup']:.2f}x")
    return lines


if __name__ == "__main__":
    print("\n".join(report_lines(bench("--quick" in sys.argv))))
