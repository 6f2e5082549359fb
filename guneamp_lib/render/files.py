"""Rendering a DI file through a trained model, whole or block by block (notebook 07).

Both ways start from :func:`prepare_render`, which does every check once: the output
may not land on any input (the model, the DI, the IR; links count), the model must
load, the file must be readable, at the model's rate, long enough, and not longer than
its IR. :func:`render_file` then runs the design's chain (oversample, network,
downsample, cabinet, normalize) in pieces of a few seconds through
:func:`~guneamp_lib.render.inference.render_chunks`: the samples of
:func:`~guneamp_lib.render.inference.run_inference` over the whole file (to 1e-6), in
memory that stays flat for any length (``make bench`` prints it for 1 and 10 minutes).
:func:`render_streaming` runs it block by block through a
:class:`~guneamp_lib.render.streaming.StreamingProcessor`, as a plugin would, and
gives the same samples to 1e-5.

Both write the output as 32-bit float to a temporary file next to the output and
rename it over the output (:func:`write_output`). Asked to normalize, they track its
peak and a last pass rescales that file in place: float WAV keeps every sample exactly,
so rescaling afterwards equals normalizing in memory, for a read and a write instead of
a second run of the network.

**Levels.** A model learns the gear at one drive: the training DI times its
``input_gain``, against the target times its ``output_gain`` (both stored in the
checkpoint). Both paths multiply new DI by the same ``input_gain``, so the same guitar
at the same level drives the model as hard as in training, whatever the loudest note in
the file, and divide the output by ``output_gain``, so it comes out at the target
recording's level. The design's per-file peak normalization (input, output or both)
stays available behind ``normalize_input`` / ``normalize_output``; on a file whose
loudest moment is a click, it turns the whole performance down.

**Knobs** (notebook 13). A knob model plays at the settings given (``knobs``, dial
units, checked against the ranges it was trained on), or, in :func:`render_streaming`,
follows a :class:`~guneamp_lib.knobs.KnobAutomation`: the value at each block's start is
sent to the streaming engine, which glides to it (:mod:`guneamp_lib.render.knob_input`).
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from tqdm.auto import tqdm

from ..dsp.audio import FAR_BEYOND_FULL_SCALE, NORMALIZE_EPS, audio_info, far_beyond_text, zero_peak_timestamp
from ..dsp.cabinet import load_ir
from ..errors import GuneampError, GuneampWarning
from ..knobs import KnobAutomation
from ..models.checkpoint import Checkpoint
from ..models.nam import load_model_file
from ..paths import atomic_output, disk_errors, refuse_output_on_inputs
from ..runtime import pick_device
from ..vocabulary import check_wav_name
from .inference import render_chunks
from .knob_input import knob_vector
from .streaming import StreamingProcessor

# Blocks read from and written to files by render_streaming: large enough that file
# I/O is not the bottleneck, small enough to keep memory flat.
FILE_BLOCK = 1 << 16


@dataclass
class RenderJob:
    """Everything a render needs, checked: the model, the input's shape and peak, the IR.

    Notebook: 07
    """

    ckpt: Checkpoint
    input_path: Path
    output_path: Path
    sample_rate: int
    n: int
    channels: int
    peak: float
    ir: torch.Tensor | None


def read_peak(path: Path) -> tuple[float, int, int, int]:
    """First pass: the input's peak (after mixing to mono), rate, length and channels, block by block.

    Notebook: 07
    """
    peak, n, far, first_far = 0.0, 0, 0, -1
    with sf.SoundFile(str(path)) as f:
        sr, channels = f.samplerate, f.channels
        for block in f.blocks(blocksize=FILE_BLOCK, dtype="float32", always_2d=True):
            mono = block[:, 0] if channels == 1 else block.mean(axis=1)
            bad = ~np.isfinite(mono)
            if bad.any():
                first = n + int(np.flatnonzero(bad)[0])
                raise GuneampError(
                    f"{path} contains NaN or infinite samples (first at {first / sr:.3f} s). "
                    "Export the file again from your recorder or editor."
                )
            peak = max(peak, float(np.max(np.abs(mono))) if mono.size else 0.0)
            beyond = np.flatnonzero(np.abs(mono) > FAR_BEYOND_FULL_SCALE)
            if beyond.size and first_far < 0:
                first_far = n + int(beyond[0])
            far += beyond.size
            n += mono.size
    if far:
        raise GuneampError(far_beyond_text(path, far, peak, first_far / sr) + ".")
    return peak, sr, n, channels


def prepare_render(checkpoint, input_path, output_path, *, ir_path=None, use_ir: bool = True) -> RenderJob:
    """The checks both render paths share, in the order that fails fastest.

    Notebook: 07
    """
    input_path, output_path = Path(input_path), Path(output_path)
    check_wav_name(output_path)
    inputs = [input_path, ir_path] + ([checkpoint] if isinstance(checkpoint, (str, os.PathLike)) else [])
    refuse_output_on_inputs(output_path, inputs)
    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else load_model_file(checkpoint)
    audio_info(input_path, what="input")
    peak, sr, n, channels = read_peak(input_path)
    if sr != ckpt.sample_rate:
        raise GuneampError(
            f"{input_path} is at {sr} Hz but the model was trained at {ckpt.sample_rate} Hz. "
            f"Resample the file to {ckpt.sample_rate} Hz first (e.g. `sox in.wav -r {ckpt.sample_rate} out.wav`)."
        )
    min_len = int(math.ceil(ckpt.min_input_samples))
    if n < min_len:
        raise GuneampError(f"{input_path} is {n} samples long; the model needs at least {min_len}.")
    if channels > 1:
        warnings.warn(f"{input_path} has {channels} channels; mixing them to mono (the model takes one channel).",
                      GuneampWarning, stacklevel=3)
    if peak < 1e-6:
        warnings.warn(f"{input_path} is silent (peak {20 * np.log10(max(peak, 1e-12)):.0f} dBFS).", GuneampWarning,
                      stacklevel=3)
    ir = None
    if use_ir:
        ir = load_ir(ir_path, sr) if ir_path else ckpt.ir
        if ir is not None and ir.numel() > n:
            raise GuneampError(
                f"the cabinet IR ({ir.numel()} samples) is longer than {input_path} ({n} samples). "
                "Render a longer file, trim the IR, or pass --no-ir."
            )
    return RenderJob(ckpt, input_path, output_path, sr, n, channels, peak, ir)


def read_mono(f: sf.SoundFile, channels: int, lo: int, hi: int) -> np.ndarray:
    """Samples ``lo`` to ``hi`` of an open file, mixed to mono as the readers do.

    Notebook: 07
    """
    f.seek(lo)
    block = f.read(hi - lo, dtype="float32", always_2d=True)
    return block[:, 0] if channels == 1 else block.mean(axis=1)


def input_scale(job: RenderJob, gain_db: float = 0.0, normalize_input: bool = False) -> np.float32:
    """What the DI's samples are multiplied by before the model: its drive.

    By default the gain the training DI got (``Checkpoint.input_gain``), so a guitar at
    the level it was recorded at for training drives the model as hard as it did then,
    whatever the loudest note in this file. ``normalize_input`` is the design's choice:
    peak-normalize each file, so the drive follows the file's loudest sample.
    ``gain_db`` pushes either harder or softer. One float32 factor for both render
    paths, so they compute the same products.

    Notebook: 07
    """
    level = 1.0 / (job.peak + NORMALIZE_EPS) if normalize_input else job.ckpt.input_gain
    return np.float32(level * 10.0 ** (gain_db / 20.0))


def write_output(job: RenderJob, blocks, normalize_output: bool = False) -> Path:
    """Write consecutive blocks of model output to ``job.output_path`` atomically, at the
    training target's level (divided by ``output_gain``) or peak-normalized; refuses NaN
    or infinite samples.

    Notebook: 07
    """
    output_path = job.output_path
    level = np.float32(1.0) if normalize_output else np.float32(1.0 / job.ckpt.output_gain)
    with atomic_output(output_path) as tmp:
        out_peak = 0.0
        # Only the writes are read as disk errors: the blocks come from the network, whose
        # own failures must keep their names.
        with disk_errors(output_path):
            fout = sf.SoundFile(str(tmp), "w", samplerate=job.sample_rate, channels=1, subtype="FLOAT", format="WAV")
        try:
            for y in blocks:
                y = y.numpy() if isinstance(y, torch.Tensor) else y
                if not np.all(np.isfinite(y)):
                    raise GuneampError(f"refusing to write {output_path}: the model produced NaN or infinite samples.")
                if y.size:
                    y = y * level
                    out_peak = max(out_peak, float(np.max(np.abs(y))))
                    with disk_errors(output_path):
                        fout.write(y)
        finally:
            with disk_errors(output_path):
                fout.close()
        with disk_errors(output_path):
            if normalize_output:
                scale = np.float32(out_peak + NORMALIZE_EPS)
                with sf.SoundFile(str(tmp), "r+") as f:
                    for start in range(0, f.frames, FILE_BLOCK):
                        f.seek(start)
                        y = f.read(FILE_BLOCK, dtype="float32")
                        f.seek(start)
                        f.write(y / scale)
            zero_peak_timestamp(tmp)
    return output_path


def knob_settings(ckpt: Checkpoint, knobs: dict | None, extrapolate: bool = False) -> dict | None:
    """The settings a render plays a model at: ``knobs`` checked against the model's ranges, the
    middle of every range for a knob model given none (with a warning), ``None`` for a snapshot.

    Notebook: 13
    """
    if ckpt.knobs is None:
        if knobs:
            raise GuneampError("this is a snapshot model: it has no knobs to set (drop --knob, or render a knob model)")
        return None
    if not knobs:
        warnings.warn(f"no --knob given: playing every knob at the middle of its range ({ckpt.knobs.describe()})",
                      GuneampWarning, stacklevel=3)
        return ckpt.knobs.center()
    return ckpt.knobs.check(knobs, extrapolate=extrapolate)


def render_file(checkpoint, input_path, output_path, *, ir_path=None, use_ir: bool = True, gain_db: float = 0.0,
                device: str = "auto", progress: bool = True, chunk: int | None = None,
                normalize_input: bool = False, normalize_output: bool = False, knobs: dict | None = None,
                extrapolate: bool = False) -> Path:
    """Render a DI file through a trained model (and its cabinet) to a new WAV file.

    The design's chain over the whole file, computed in pieces (``chunk`` file-rate
    samples each; default a few seconds) so that memory does not grow with the file.
    The DI is brought to the level the model trained at (:func:`input_scale`) and the
    output to the target's level; ``normalize_input`` / ``normalize_output``
    peak-normalize instead, as the design does. ``knobs``: a knob model's settings (dial units).

    Notebook: 07
    """
    job = prepare_render(checkpoint, input_path, output_path, ir_path=ir_path, use_ir=use_ir)
    ckpt = job.ckpt
    settings = knob_settings(ckpt, knobs, extrapolate)
    vector = None if settings is None else knob_vector(ckpt.knobs, settings, extrapolate=True)
    model = ckpt.model.to(pick_device(device))
    drive = input_scale(job, gain_db, normalize_input)
    with sf.SoundFile(str(job.input_path)) as fin:
        def read(lo: int, hi: int) -> torch.Tensor:
            return torch.from_numpy(read_mono(fin, job.channels, lo, hi) * drive)

        blocks = render_chunks(model, read, job.n, ckpt.oversample, job.ir, chunk=chunk, engine="auto",
                               progress=progress, knobs=vector)
        return write_output(job, blocks, normalize_output)


def render_streaming(
    checkpoint,
    input_path,
    output_path,
    block_size: int = 64,
    *,
    ir_path=None,
    use_ir: bool = True,
    gain_db: float = 0.0,
    engine: str = "auto",
    progress: bool = True,
    normalize_input: bool = False,
    normalize_output: bool = False,
    knobs: dict | None = None,
    automation: KnobAutomation | None = None,
    extrapolate: bool = False,
) -> Path:
    """Render a DI file through a model block by block, with memory that does not grow with the file.

    The same result as :func:`guneamp_lib.render.inference.render_file` (to 1e-5), and the
    same checks, computed the way a plugin would: ``block_size`` samples at a time
    through a :class:`StreamingProcessor`. The input is read twice: once for its peak and
    checks, once to process it; the output is written by :func:`write_output`, at the
    same levels as :func:`render_file`. The latency is compensated: the first ``latency``
    outputs are dropped and :meth:`StreamingProcessor.flush` supplies the end, so the
    output lines up with the input sample for sample. A knob model plays at ``knobs`` or
    follows ``automation`` (its value at each block's start, glided to).

    Notebook: 07
    """
    block_size = int(block_size)
    if block_size < 1:
        raise GuneampError(f"the block size must be at least 1 sample, got {block_size}")
    job = prepare_render(checkpoint, input_path, output_path, ir_path=ir_path, use_ir=use_ir)
    ckpt, ir, n, channels = job.ckpt, job.ir, job.n, job.channels
    input_path, output_path = job.input_path, job.output_path
    if automation is not None:
        if ckpt.knobs is None:
            raise GuneampError("this is a snapshot model: it has no knobs to automate")
        if knobs:
            raise GuneampError("give --knob or --knob-automation, not both")
        automation.check(ckpt.knobs, extrapolate=extrapolate)
        settings = automation.at(0.0)
    else:
        settings = knob_settings(ckpt, knobs, extrapolate)
    proc = StreamingProcessor(ckpt.model, ckpt.oversample, ir, engine=engine, knob_space=ckpt.knobs)
    if settings is not None:
        proc.set_knobs(settings, extrapolate=True)  # checked above
        proc.reset()  # start at these settings, not gliding to them
    drive = input_scale(job, gain_db, normalize_input)  # the same factor as render_file's

    def blocks():
        skip = proc.latency
        bar = tqdm(total=n, desc=f"streaming render ({proc.engine_name})", unit="sample", unit_scale=True, disable=not progress, leave=False)
        with sf.SoundFile(str(input_path)) as fin:
            done = 0
            for block in fin.blocks(blocksize=block_size, dtype="float32", always_2d=True):
                x = block[:, 0] if channels == 1 else block.mean(axis=1)
                if automation is not None:
                    proc.set_knobs(automation.at(done / job.sample_rate), extrapolate=True)
                done += x.size
                y = proc.process_block(x * drive)
                cut = min(skip, y.size)
                skip -= cut
                yield y[cut:]
                bar.update(x.size)
        yield proc.flush()[skip:]
        bar.close()

    write_output(job, blocks(), normalize_output)
    return output_path
