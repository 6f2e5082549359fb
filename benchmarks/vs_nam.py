"""Section 8 of the benchmarks: our streaming engine against NAM core, the plugin's C++ engine.

Both run the same ``.nam`` files, written by the function ``guneamp export`` uses
(:func:`guneamp_lib.models.nam.export_nam`) and read back with :func:`load_model_file`, so each
engine runs exactly the weights in the file. The audio is the course's synthetic DI at
the file's rate. NAM core streams it in 64-sample blocks through our small driver (see
``nam_core.py``); ours streams it through :class:`StreamingProcessor` on one thread at
blocks of 16, 64, 256 and 2048. Runs alternate (NAM, then ours at every block size, then
NAM again), so that load from other processes falls on both alike, and each figure is the
fastest of its repeats. The ratio is ours / NAM core at block 64: below 1, ours is faster.
NAM core is timed at blocks 16 and 256 too, for the ratios where the cost of each call
weighs most and least.

Beside our own exports, three files NAM 0.13's own package writes (``nam_written.py``,
NAM's initial weights): its trainer's default A2 (a ``SlimmableContainer``) played at
full size (``nam:a2-full``, 8 channels) and with the plugin's CPU slider low
(``nam:a2-lite``, 3 channels), and a slimmable WaveNet (``nam:slimmable``). NAM core runs
A2 on its dedicated fast path (``NAM/wavenet/a2_fast.*``, on in both builds).

NAM's figure comes from its ``fast`` build (upstream's ``-Ofast`` release flags) with the
plugin's default fast ``tanh``; the output difference that costs is printed as an ESR
against ours. Where the ``exact`` build (``-O3``) is cached too, NAM with exact ``tanh`` is
timed as well, and its ESR against ours shows that the two engines compute the same thing.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from nam_core import DESCRIPTION, build_nam_core, missing_requirements, run_driver

BLOCKS = (16, 64, 256, 2048)
RATIO_BLOCK = 64
NAM_BLOCKS = (16, RATIO_BLOCK, 256)
# NAM-written files: (name, file made by nam_written.write, the plugin's CPU slider or None)
NAM_FILES = (("nam:a2-full", "a2", None), ("nam:a2-lite", "a2", 0.2), ("nam:slimmable", "slimmable", None))


def _nam_files(folder: Path) -> list[tuple[str, Path, float | None]]:
    """NAM's own files (see the module docstring), or none where NAM's package is missing."""
    try:
        import nam_written
        written = {kind: nam_written.write(kind, folder, perturb=0.0) for kind in {k for _, k, _ in NAM_FILES}}
    except ImportError:
        return []
    return [(name, written[kind], slim) for name, kind, slim in NAM_FILES]


def _models():
    """Every WaveNet preset and the LSTM (name, model)."""
    from guneamp_lib.models import LSTMModel, WaveNet
    from guneamp_lib.models.wavenet import PRESETS

    torch.manual_seed(0)
    out = [(f"wavenet:{p}", WaveNet(preset=p).eval()) for p in PRESETS]
    return out + [("lstm:16", LSTMModel(hidden_size=16).eval())]


def _esr(ref: np.ndarray, y: np.ndarray) -> float:
    ref = ref.astype(np.float64)
    return float(np.sum((y.astype(np.float64) - ref) ** 2) / max(np.sum(ref ** 2), 1e-30))


def _ours(model, x: np.ndarray, block: int) -> tuple[np.ndarray, float]:
    from guneamp_lib.render.streaming import StreamingProcessor

    proc = StreamingProcessor(model, 1, engine="auto")
    out = np.empty_like(x)
    t0, c0 = time.perf_counter(), time.process_time()
    for s in range(0, x.size, block):
        proc.process_block(x[s : s + block], out[s : s + block])
    return out, (time.perf_counter() - t0, time.process_time() - c0)


def bench_nam_core(quick: bool, sample_rate: int, build: bool = True, seconds: float | None = None) -> dict:
    """Time NAM core and our engine on every exported model (see the module docstring).

    ``build``: build NAM core where it is not cached yet (minutes); otherwise use only
    cached builds. The exact-tanh figures need the ``exact`` build, which is used when cached.
    """
    from guneamp_lib.capture.guitar import synth_di
    from guneamp_lib.errors import GuneampError
    from guneamp_lib.models.checkpoint import Checkpoint
    from guneamp_lib.models.nam import export_nam, load_model_file

    why = missing_requirements()
    if why is not None:
        return {"available": False, "note": f"NAM core cannot be built here: {why}"}
    fast_build = build_nam_core("fast", verbose=True) if build else _cached("fast")
    if fast_build is None:
        return {"available": False, "note": "NAM core is not built yet (`make bench` builds it)"}
    exact = _cached("exact")
    seconds = seconds or (3.0 if quick else 30.0)
    x = np.ascontiguousarray(synth_di(seconds, sample_rate, 1), dtype=np.float32)
    repeats = 2 if quick else 3
    result = {"available": True, "audio_seconds": seconds, "repeats": repeats, "ratio_block": RATIO_BLOCK,
              "nam_build": f"fast: {DESCRIPTION['fast']}, fast tanh (the plugin's default)",
              "nam_build_exact": None if exact is None else f"exact: {DESCRIPTION['exact']}, exact tanh",
              "models": {}}
    with tempfile.TemporaryDirectory(prefix="guneamp-nam-") as d:
        cases = []
        for name, model in _models():
            path = Path(d) / f"{name.replace(':', '-')}.nam"
            try:
                export_nam(Checkpoint(model, name.split(":")[0], sample_rate, 1, 1, target_kind="amp_direct"), path)
            except GuneampError as exc:
                result["models"][name] = {"skipped": f"guneamp export cannot write it yet: {exc}"}
                continue
            cases.append((name, path, None, model))
        cases += [(name, path, slim, None) for name, path, slim in _nam_files(Path(d))]
        for name, path, slim, model in cases:
            reread = load_model_file(path, slim=slim).model
            # Ours runs what it reads back from the file (the compiled engine covers every form
            # ours exports, NAM's LSTM layout included); otherwise the exported model, same weights.
            from guneamp_lib.render.streaming import StreamingProcessor

            fast = StreamingProcessor(reread, 1, engine="auto").engine == "compiled"
            model = reread if fast or model is None else model
            ours_t = {b: np.inf for b in BLOCKS}
            nam_by_block = {b: np.inf for b in NAM_BLOCKS}
            nam_exact_t, nam_cpu, ours_cpu = np.inf, np.inf, np.inf
            y_ours = y_nam = y_exact = None
            for _ in range(repeats):
                y_nam, (t, c) = run_driver(fast_build, path, x, RATIO_BLOCK, clock="both", slim=slim)
                nam_by_block[RATIO_BLOCK], nam_cpu = min(nam_by_block[RATIO_BLOCK], t), min(nam_cpu, c)
                for b in NAM_BLOCKS:
                    if b != RATIO_BLOCK:
                        nam_by_block[b] = min(nam_by_block[b],
                                              run_driver(fast_build, path, x, b, output=False, slim=slim)[1])
                for b in BLOCKS:
                    y, (t, c) = _ours(model, x, b)
                    ours_t[b] = min(ours_t[b], t)
                    if b == RATIO_BLOCK:
                        y_ours, ours_cpu = y, min(ours_cpu, c)
                if exact is not None:
                    y_exact, t = run_driver(exact, path, x, RATIO_BLOCK, exact_tanh=True, slim=slim)
                    nam_exact_t = min(nam_exact_t, t)
            nam_t = nam_by_block[RATIO_BLOCK]
            entry = {
                "nam_core_rtf": nam_t / seconds,
                "nam_core_rtf_by_block": {str(b): t / seconds for b, t in nam_by_block.items()},
                "ours_rtf": {str(b): ours_t[b] / seconds for b in BLOCKS},
                "ours_runs": ("the model read back from the .nam (compiled)" if fast
                              else "the model on torch" if model is reread else "the exported model (same weights)"),
                "ratio": ours_t[RATIO_BLOCK] / nam_t,
                "ratio_by_block": {str(b): ours_t[b] / t for b, t in nam_by_block.items()},
                # processor time: what each engine itself used, less disturbed by other load
                "ratio_cpu": ours_cpu / nam_cpu,
                "esr_nam_fast_tanh_vs_ours": _esr(y_ours, y_nam),
            }
            if exact is not None:
                entry.update({"nam_core_exact_rtf": nam_exact_t / seconds,
                              "ratio_to_exact": ours_t[RATIO_BLOCK] / nam_exact_t,
                              "esr_nam_exact_vs_ours": _esr(y_ours, y_exact)})
            result["models"][name] = entry
    return result


def _cached(variant: str) -> Path | None:
    """A build of ``variant`` only if it is already cached (building it takes minutes)."""
    from nam_core import ROOT

    builds = sorted((ROOT / "build" / "nam-core").glob(f"{variant}-*/nam_driver"))
    return build_nam_core(variant) if builds else None


def report_lines(r: dict) -> list[str]:
    if not r.get("available"):
        return [f"8. NAM core: skipped ({r.get('note', 'not available')})"]
    lines = [f"8. NAM core ({r['nam_build']}) vs ours, {r['audio_seconds']:.0f} s, one thread, "
             f"ratio = our time / NAM's at block {r['ratio_block']}:"]
    for name, e in r["models"].items():
        if "skipped" in e:
            lines.append(f"   {name:17s} skipped: {e['skipped']}")
            continue
        ours = "  ".join(f"{b}:{v:.4f}" for b, v in e["ours_rtf"].items())
        small = "  ".join(f"block {b}: {v:.2f}" for b, v in e["ratio_by_block"].items() if int(b) != r["ratio_block"])
        line = (f"   {name:17s} NAM RTF {e['nam_core_rtf']:.4f}  ours RTF by block {ours}  "
                f"ratio {e['ratio']:.2f} (processor time {e['ratio_cpu']:.2f}; {small})  "
                f"(ESR vs NAM fast tanh {e['esr_nam_fast_tanh_vs_ours']:.1e})")
        if "ratio_to_exact" in e:
            line += (f"; NAM exact tanh RTF {e['nam_core_exact_rtf']:.4f}, ratio {e['ratio_to_exact']:.2f}, "
                     f"ESR {e['esr_nam_exact_vs_ours']:.1e}")
        lines.append(line)
    return lines
