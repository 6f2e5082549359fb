"""The real-gear section of ``make bench``: a short run of ``benchmarks/real_gear.py``.

Each side (our recipe, NAM 0.13's A2 recipe, NAM's standard WaveNet) trains on three
takes of the Tube Screamer for :data:`SECTION_CPU_S` CPU seconds on one thread and is
scored on the unseen take. Short, so the figures show the sides are comparable and the
plumbing works; the table in docs/evaluation.md comes from the full script.
"""

from __future__ import annotations

import torch

SECTION_CPU_S = 30.0
QUICK_CPU_S, QUICK_SECONDS = 3.0, 2.0  # --quick: 2 s of each take, 3 CPU seconds a side
PEDAL = "TubeScreamer"


def bench(quick: bool) -> dict:
    import real_gear
    from guneamp_lib.study.datasets import egfxset_dir

    if egfxset_dir() is None:
        return {"skipped": "../shared/data/egfxset is not present"}
    try:
        import nam  # noqa: F401
        sides = real_gear.SIDES
    except ImportError:
        sides = ("ours",)
    budget = QUICK_CPU_S if quick else SECTION_CPU_S
    dataset = real_gear.load_pedal(PEDAL, seconds=QUICK_SECONDS if quick else None)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rows = [row for side in sides for row in real_gear.run_side(side, dataset, budget, {})]
    finally:
        torch.set_num_threads(threads)
    return {"budget_cpu_s": budget, "rows": rows}


def report_lines(r: dict) -> list[str]:
    import real_gear

    if "skipped" in r:
        return [f"real gear: skipped ({r['skipped']})"]
    return [f"real gear ({PEDAL}, unseen take; {r['budget_cpu_s']:.0f} CPU s per side on one thread; "
            "full runs: benchmarks/real_gear.py)", real_gear.table(r["rows"])]
