"""Knob models in the streaming engine (issue 18, notebook 13): what the knobs cost, and whether they click.

    python benchmarks/sections/knobs.py [--quick]      (also the last section of ``make bench``)

1. **Cost at a host block of 64.** The conditioned WaveNet (standard) and LSTM (16) against
   the same models without knobs, one thread, compiled engine: knobs still (the per-layer
   bias is computed once), and knobs moving all the time (a new value every block, so the
   engine glides, its biases moving sample by sample inside each block). The two sides of each
   ratio are timed alternately, best of the repeats, in CPU time (one thread does all the work):
   on the shared 2-core machine at load 17, wall-time ratios of two runs of the same LSTM kernel
   came out at 2.0x, while CPU time holds them within a few percent. The issue's budget: at
   most 1.2x.
2. **Zipper noise.** :func:`guneamp_lib.study.knob_sweep.zipper_steps` on an untrained
   conditioned WaveNet nano and LSTM 16: a quiet held note while one knob sweeps its range in
   one second, its value sent every 512 samples; the worst sample-to-sample step of the
   output over the output's own largest step with the knob still, with the engine's glide
   and without it.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from sections.common import HOST_BLOCK, SR, best_time  # noqa: E402
else:
    from .common import HOST_BLOCK, SR, best_time

# The knob recipe's WaveNet has FiLM (each layer's scale moves with the knobs too): timed beside the
# bias-only one, each against the same WaveNet without knobs.
COST_CASES = (("wavenet_standard", "wavenet", {"preset": "standard"}),
              ("wavenet_standard_film", "wavenet", {"preset": "standard", "film": True}),
              ("lstm_16", "lstm", {"hidden_size": 16}))
ZIPPER_CASES = (("wavenet_nano", "wavenet", {"preset": "nano"}), ("lstm_16", "lstm", {"hidden_size": 16}))
# The budget for a knob model at a host block of 64, relative to its snapshot.
BUDGET = 1.2


def _seconds(proc, x: np.ndarray, moving: bool, repeats: int) -> float:
    blocks = [x[s : s + HOST_BLOCK] for s in range(0, x.size, HOST_BLOCK)]
    k = max(proc.knob_space and len(proc.knob_space) or 0, 1)
    # the host's values, made before the clock starts: making them is not the engine's cost
    knobs = [np.full(k, (i % 100) / 100.0, np.float32) for i in range(len(blocks))]
    proc.process_block(x[:4096])  # warm-up (and the compiled kernels' first load)

    def run():
        proc.reset()
        for b, knob in zip(blocks, knobs):
            if moving:
                proc.set_knob_vector(knob)
            proc.process_block(b)

    return best_time(run, repeats, clock=time.process_time)


def bench(quick: bool = False) -> dict:
    from guneamp_lib.knobs import Knob, KnobSpace
    from guneamp_lib.models import build_model
    from guneamp_lib.render.streaming import StreamingProcessor
    from guneamp_lib.study.knob_sweep import zipper_steps

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    x = (0.3 * rng.standard_normal(int((0.5 if quick else 3.0) * SR))).astype(np.float32)
    repeats = 2 if quick else 5
    space = KnobSpace([Knob("drive", 0, 10), Knob("treble", 0, 10)])
    cost = {}
    for label, name, kw in COST_CASES:
        torch.manual_seed(0)
        plain = StreamingProcessor(build_model(name, **{k: v for k, v in kw.items() if k != "film"}).eval(), 1,
                                   engine="compiled")
        knob = StreamingProcessor(build_model(name, num_knobs=2, **kw).eval(), 1, engine="compiled", knob_space=space)
        best = {"plain": np.inf, "still": np.inf, "moving": np.inf}
        for _ in range(repeats):  # alternate the sides, so a busy moment hits all of them
            best["plain"] = min(best["plain"], _seconds(plain, x, False, 1))
            best["still"] = min(best["still"], _seconds(knob, x, False, 1))
            best["moving"] = min(best["moving"], _seconds(knob, x, True, 1))
        cost[label] = {"rtf_plain": best["plain"] / (x.size / SR), "ratio_still": best["still"] / best["plain"],
                       "ratio_moving": best["moving"] / best["plain"]}
    zipper = {}
    one = KnobSpace([Knob("drive", 0, 10)])
    for label, name, kw in ZIPPER_CASES:
        torch.manual_seed(0)
        model = build_model(name, num_knobs=1, **kw).eval()
        zipper[label] = {"glide": zipper_steps(model, one, "drive", seconds=0.5 if quick else 1.0),
                         "no_glide": zipper_steps(model, one, "drive", seconds=0.5 if quick else 1.0, glide=0)}
    return {"host_block": HOST_BLOCK, "budget": BUDGET, "cost": cost, "zipper": zipper,
            "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None}


def report_lines(r: dict) -> list[str]:
    load = f"; load average {', '.join(f'{v:.1f}' for v in r['load_average'])}" if r["load_average"] else ""
    lines = [f"knob models, compiled engine, host block {r['host_block']}, one thread{load}",
             f"   cost against the same model without knobs (budget {r['budget']:.1f}x):"]
    for label, c in r["cost"].items():
        lines.append(f"   {label:22s} knobs still {c['ratio_still']:5.2f}x   knobs moving every block "
                     f"{c['ratio_moving']:5.2f}x   (snapshot CPU RTF {c['rtf_plain']:.4f})")
    lines.append("   zipper: worst step of a 1 s knob sweep / the output's own largest step, knob still")
    for label, z in r["zipper"].items():
        lines.append(f"   {label:22s} with the glide {z['glide']['ratio']:7.2f}   without {z['no_glide']['ratio']:7.2f}")
    return lines


if __name__ == "__main__":
    print("\n".join(report_lines(bench("--quick" in sys.argv))))
