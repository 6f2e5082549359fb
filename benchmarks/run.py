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
   on the same exported ``.nam`` files (``vs_nam.py``; ``--nam-only`` runs just this).

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
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from vs_nam import bench_nam_core, report_lines  # noqa: E402  (benchmarks/ is the script's folder)

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


# --------------------------------------------------------------------------- helpers

def best_time(fn, repeats: int) -> float:
    """The fastest of ``repeats`` runs: on a shared machine the minimum is the least disturbed."""
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
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


# --------------------------------------------------------------------------- 1. training

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


# --------------------------------------------------------------------------- 3. streaming

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


# --------------------------------------------------------------------------- 4. memory

def _memory_child(npz: str, steps: int) -> None:
    """Runs in a subprocess: a few steps of train() on the saved audio; prints peak RSS as JSON."""
    import resource

    from guneamp_lib.training.data import make_training_data
    from guneamp_lib.training.train import TrainConfig, train

    d = np.load(npz)
    data = make_training_data(d["clean"], d["amp"], SR, torch.from_numpy(d["ir"]))
    before = _rss_now()
    cfg = TrainConfig(oversample=FACTOR, epochs=1, steps_per_epoch=steps, time_budget_s=None, device="cpu")
    train(data, cfg, progress=False)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    print(json.dumps({"peak_rss_bytes": peak_kb * 1024, "rss_before_train_bytes": before}))


def _rss_now() -> int:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def bench_memory(quick: bool, threads: int) -> dict:
    from guneamp_lib.training.windows import window_memory_bytes

    seconds = 10.0 if quick else 60.0
    clean, _, amp, ir = bench_data(seconds, seed=1)
    steps = 2 if quick else 3
    with tempfile.TemporaryDirectory() as tmp:
        npz = str(Path(tmp) / "audio.npz")
        np.savez(npz, clean=clean, amp=amp, ir=ir)
        res = subprocess.run([sys.executable, __file__, "--threads", str(threads), "--_memory-child", npz, str(steps)],
                             capture_output=True, text=True, check=True)
    child = json.loads(res.stdout.strip().splitlines()[-1])
    n_os = clean.size * FACTOR
    return {
        "audio_seconds": seconds,
        "oversample": FACTOR,
        "train_steps": steps,
        "peak_rss_bytes": child["peak_rss_bytes"],
        "rss_before_train_bytes": child["rss_before_train_bytes"],
        "designed_windows_bytes": window_memory_bytes(n_os, WINDOW),
        "goal_peak_rss_bytes": GOALS["train_peak_rss_gb"] * 1e9,
    }


# --------------------------------------------------------------------------- 7. render memory

# Lengths rendered (seconds): memory that does not grow with the file gives one peak for both.
RENDER_MEMORY_SECONDS = (60.0, 600.0)
RENDER_MEMORY_SECONDS_QUICK = (5.0, 30.0)


def _render_memory_child(model: str, wav: str) -> None:
    """Runs in a subprocess: `guneamp render` with its default options; prints peak RSS as JSON."""
    import resource

    from guneamp_lib.cli import main as cli_main

    before = _rss_now()
    out = str(Path(wav).with_name("rendered.wav"))
    t = time.perf_counter()
    if cli_main(["render", "--model", model, "--input", wav, "--output", out, "--quiet", "--overwrite"]) != 0:
        raise SystemExit("render failed")
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    print(json.dumps({"peak_rss_bytes": peak_kb * 1024, "rss_before_bytes": before,
                      "seconds": time.perf_counter() - t}))


def bench_render_memory(quick: bool, threads: int) -> dict:
    """Peak RSS of an offline render (SeedCNN at 8x with a cabinet: the defaults) of a short and a long file."""
    from guneamp_lib.models import build_model
    from guneamp_lib.models.checkpoint import Checkpoint, save_checkpoint

    clean, _, _, ir = bench_data(10.0, seed=2)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        model = str(Path(tmp) / "model.pt")
        save_checkpoint(model, Checkpoint(build_model("seed_cnn"), "seed_cnn", SR, FACTOR, WINDOW, torch.from_numpy(ir)))
        for seconds in RENDER_MEMORY_SECONDS_QUICK if quick else RENDER_MEMORY_SECONDS:
            wav = Path(tmp) / "input.wav"
            import soundfile as sf

            sf.write(str(wav), np.resize(clean, int(seconds * SR)), SR, subtype="FLOAT")
            res = subprocess.run([sys.executable, __file__, "--threads", str(threads), "--_render-memory-child", model,
                                  str(wav)], capture_output=True, text=True, check=True)
            rows[f"{seconds:.0f}"] = {"audio_seconds": seconds, **json.loads(res.stdout.strip().splitlines()[-1])}
    return {"oversample": FACTOR, "renders": rows}


def report_render_memory(m: dict) -> list[str]:
    rows = list(m["renders"].values())
    lines = [f"7. memory: guneamp render with default options (SeedCNN at {m['oversample']}x, cabinet; subprocess, peak RSS)"]
    for row in rows:
        lines.append(f"   {row['audio_seconds'] / 60:5.1f} min of audio: peak RSS {row['peak_rss_bytes'] / 1e9:.2f} GB "
                     f"(before rendering {row['rss_before_bytes'] / 1e9:.2f} GB), {row['seconds']:.0f} s")
    lines.append(f"   longest / shortest: {rows[-1]['peak_rss_bytes'] / rows[0]['peak_rss_bytes']:.2f} "
                 "(1.00: memory does not grow with the file)")
    return lines


# --------------------------------------------------------------------------- 5. GPU

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


# --------------------------------------------------------------------------- report

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

        info["numba"] = numba.__version__
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
        f"load average at start: {', '.join(f'{v:.1f}' for v in m['load_average'])}" if m["load_average"] else "",
        f"mode: {'quick (less audio, rougher figures)' if r['quick'] else 'full'}",
        "",
        f"6. limit: float32 matmul {r['limit']['size']}x{r['limit']['size']} on {r['threads']} thread(s): {peak:.1f} GFLOP/s"
        " (streaming's shares below are of this figure too)",
        f"   tanh on {r['limit']['tanh']['elements']:,} floats: torch.tanh {r['limit']['tanh']['torch_ms']:.2f} ms, "
        f"guneamp_lib.dsp.activations.tanh {r['limit']['tanh']['guneamp_ms']:.2f} ms ({r['limit']['tanh']['speedup']:.1f}x)",
        "",
    ]
    t = r["training"]
    lines += [
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
    i = r["inference"]
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
        f"{r['threads']} PyTorch thread(s) as process())",
        "",
    ]
    s = r["streaming"]
    lines += [
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
    mem = r["memory"]
    lines += [
        f"4. memory: train() on {mem['audio_seconds']:.0f} s of audio at {mem['oversample']}x, {mem['train_steps']} steps "
        "(subprocess, peak RSS)",
        f"   peak RSS {mem['peak_rss_bytes'] / 1e9:.2f} GB (before training {mem['rss_before_train_bytes'] / 1e9:.2f} GB); "
        f"goal <= {mem['goal_peak_rss_bytes'] / 1e9:.1f} GB for 60 s",
        f"   the designed windows would need {mem['designed_windows_bytes'] / 1e9:.1f} GB (computed, not allocated)",
        "",
    ]
    g = r["gpu"]
    if g["available"]:
        lines.append(f"5. GPU {g['name']}: segment training (8 x 2048, cabinet in the loss) {g['segment_targets_per_s']:,.0f} targets/s, "
                     f"{g['ratio_to_cpu']:.1f}x the CPU figure above")
    else:
        lines.append("5. GPU: no GPU")
    if "render_memory" in r:
        lines += [""] + report_render_memory(r["render_memory"])
    if "nam_core" in r:
        lines += [""] + report_lines(r["nam_core"])
    return "\n".join(line for line in lines if line is not None)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="less audio, fewer repeats: well under a minute")
    p.add_argument("--json", metavar="PATH", help="also write the figures to this JSON file")
    p.add_argument("--threads", type=int, default=1,
                   help="PyTorch threads for training, offline inference, memory and the matmul limit "
                        "(default 1; 0 = every CPU). Streaming is always measured on one thread.")
    p.add_argument("--nam-only", action="store_true", help="only section 7: NAM core against our engine")
    p.add_argument("--nam-seconds", type=float, default=None,
                   help="seconds of audio for section 7 (default 30; 3 with --quick)")
    p.add_argument("--_memory-child", nargs=2, metavar=("NPZ", "STEPS"), help=argparse.SUPPRESS)
    p.add_argument("--_render-memory-child", nargs=2, metavar=("MODEL", "WAV"), help=argparse.SUPPRESS)
    p.add_argument("--only-render-memory", action="store_true", help="run only section 7 (render memory)")
    args = p.parse_args(argv)
    if args.nam_seconds is not None and not (math.isfinite(args.nam_seconds) and 0.5 <= args.nam_seconds <= 600):
        p.error("--nam-seconds must be from 0.5 to 600")
    threads = args.threads if args.threads > 0 else os.cpu_count()
    torch.set_num_threads(threads)
    if args._memory_child:
        _memory_child(args._memory_child[0], int(args._memory_child[1]))
        return 0
    if args._render_memory_child:
        _render_memory_child(*args._render_memory_child)
        return 0
    if args.only_render_memory:
        print("\n".join(report_render_memory(bench_render_memory(args.quick, threads))))
        return 0
    r = {"quick": args.quick, "threads": threads, "machine": machine()}
    if args.nam_only:
        torch.set_num_threads(1)
        r["nam_core"] = bench_nam_core(args.quick, SR, seconds=args.nam_seconds)
        m = r["machine"]
        print(f"machine: {m['cpu']}, {m['logical_cpus']} logical CPUs; load average at start: "
              + ", ".join(f"{v:.1f}" for v in m["load_average"] or ()))
        print("\n".join(report_lines(r["nam_core"])))
        return _write(args.json, r)
    r["limit"] = bench_matmul(args.quick)
    clean, direct, amp, ir = bench_data(3.0 if args.quick else 12.0)
    r["training"] = bench_training(args.quick, clean, direct, amp, ir)
    r["inference"] = bench_inference(args.quick, clean)
    torch.set_num_threads(1)
    r["streaming"] = bench_streaming(args.quick, clean, ir)
    torch.set_num_threads(threads)
    r["memory"] = bench_memory(args.quick, threads)
    cpu_rate = r["training"]["segments"]["guneamp train default: cabinet in the loss"]["targets_per_s"]
    r["gpu"] = bench_gpu(args.quick, clean, amp, ir, cpu_rate)
    r["render_memory"] = bench_render_memory(args.quick, threads)
    r["limit"]["threads"] = threads
    r["limit"]["note"] = "GFLOP/s count 2 flops per multiply-add"
    torch.set_num_threads(1)
    # --quick never starts a build of NAM core (minutes); it uses one that `make bench` cached
    r["nam_core"] = bench_nam_core(args.quick, SR, build=not args.quick, seconds=args.nam_seconds)
    print(report(r))
    return _write(args.json, r)


def _write(path, r: dict) -> int:
    if path:
        from guneamp_lib.paths import write_text_atomic

        write_text_atomic(path, json.dumps(r, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
