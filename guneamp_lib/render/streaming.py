"""Real-time processing: a trained model, block by block, as a plugin would run it.

:func:`guneamp_lib.render.inference.predict` renders a whole recording at once. A plugin gets
the guitar in host blocks of a few dozen samples and must answer each block at once,
with the same number of samples. :class:`StreamingProcessor` does that, and its output
is the offline render delayed by a constant :attr:`~StreamingProcessor.latency`
(``tests/test_streaming.py`` checks every model, block size and option against
``predict`` to 1e-5).

What each stage keeps between blocks, so no sample is ever computed twice:

* the upsampler: the last few input samples (torchaudio's polyphase kernel, read off by
  resampling impulses, so the numbers are the offline ones);
* the network: every dilated layer's input history, primed at :meth:`~StreamingProcessor.reset`
  with the receptive field's worth of silence, as :func:`~guneamp_lib.render.inference.process`
  does (a hidden layer's response to silence is tanh(bias), not zero); an LSTM keeps
  its state ``(h, c)``;
* the downsampler: the last few network outputs;
* the cabinet: a direct-form head of :data:`PARTITION` taps for the current samples and
  an FFT of every past :data:`PARTITION`-sample block for the rest of the IR (uniformly
  partitioned convolution), which adds no latency at any host block size.

Where the latency comes from: the windowed-sinc resampler
(:data:`~guneamp_lib.dsp.oversampling.RESAMPLE_KW`) is not causal. Each upsampled frame needs
about 35 input samples after it and each downsampled sample about 35 input samples'
worth of network output after it, so with oversampling output ``n`` is final once
input ``n + 70`` is in: 70 samples, 1.6 ms at 44.1 kHz, at any factor
(:func:`stream_latency` reads it off the kernels). Without oversampling the latency is
0. The first ``latency`` samples out are silence.

Two engines compute the same numbers. ``"torch"`` runs the model's own PyTorch
modules in streaming mode (:class:`~guneamp_lib.models.CausalConv1d` keeps its history,
the LSTM its state) and direct convolutions: plainly right, and slow at small blocks,
where each PyTorch call costs more than its arithmetic. ``"compiled"`` runs each block of
the network in one compiled call (:mod:`guneamp_lib.render.kernels`). ``"auto"``
picks the fast engine where it supports the model. Notebook 07 (inference) teaches the
offline path this module reproduces.
"""

from __future__ import annotations

import math
import os

import numpy as np
import torch

from ..errors import GuneampError
from .convolver import PartitionedConvolver, DirectCabinet
from . import compiled
from .compiled import ENGINES, as_block
from .engines import MAX_MODEL_BLOCK, TorchEngine, fast_engine
from .knob_input import KNOB_RAMP, default_space, knob_vector
from ..knobs import KnobSpace
from .resamplers import FIRStream, downsampler_taps, stream_latency, upsampler_taps

_F32 = np.dtype(np.float32)
# Below this many samples per thread, starting threads costs more than it saves.
MIN_PARALLEL_PART = 1 << 15


class StreamingProcessor:
    """A model (with its oversampling and cabinet) as a block-by-block real-time process.

    ``process_block(x)`` takes a block of any length at the file rate and returns as
    many samples. The output is the offline render
    (:func:`guneamp_lib.render.inference.predict`) delayed by :attr:`latency` samples: output
    sample ``n`` equals offline sample ``n - latency``, and the first ``latency``
    samples are silence. The latency is 0 without oversampling and :func:`stream_latency`
    samples with it (70 at any factor from 2 to 16, 1.6 ms at 44.1 kHz): the resampling
    filters look about 35 samples ahead on the way up and 35 on the way down (see the
    module docstring). The
    cabinet adds none. :meth:`flush` ends a stream: it returns the last ``latency`` samples of the
    offline render, as if the input were followed by silence the way ``predict`` pads it.

    ``engine``: ``"compiled"`` (compiled kernels; SeedCNN, tanh WaveNets, our LSTM and every model NAM core plays),
    ``"torch"`` (the model's PyTorch modules) or ``"auto"`` (compiled where possible).
    The model is copied; the original is not touched.

    Notebook: 07
    """

    def __init__(self, model: torch.nn.Module, oversample: int = 1, ir=None, *, engine: str = "auto",
                 knob_space: KnobSpace | None = None):
        if engine not in ENGINES:
            raise GuneampError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
        if int(oversample) != oversample or oversample < 1:
            raise GuneampError(f"the oversampling factor must be a positive integer, got {oversample!r}")
        self.oversample = F = int(oversample)
        k = compiled.kernels() if engine != "torch" else None
        stream = fast_engine(model, k, F) if engine != "torch" else None
        if stream is None:
            if engine == "compiled":
                why = "numba is not installed" if k is None else f"it does not cover {type(model).__name__} as configured"
                raise GuneampError(f"the compiled engine is not available: {why}. Use engine='torch' or 'auto'.")
            stream = TorchEngine(model, F)
        self.engine = "torch" if isinstance(stream, TorchEngine) else "compiled"
        self.engine_name = type(stream).__name__  # which engine the chooser picked, e.g. FastNamProgram
        fast = self.engine == "compiled"
        self._model = stream
        self._push = stream.push
        self._chunk = max(1, MAX_MODEL_BLOCK // F)  # file-rate samples per pass through the network
        self._up = self._down = None
        if F > 1:
            up, up_first = upsampler_taps(F)
            down, down_first = downsampler_taps(F)
            self._up = FIRStream(up, up_first, 1, self._chunk, fast)
            self._down = FIRStream(down, down_first, F, self._chunk * F, fast)
        self._cab = None
        if ir is not None:
            ir = ir.detach().cpu().numpy() if isinstance(ir, torch.Tensor) else np.asarray(ir)
            if ir.ndim != 1:
                raise GuneampError(f"the impulse response must be 1-D, got shape {ir.shape}")
            self._cab = PartitionedConvolver(ir, fast=fast) if fast else DirectCabinet(ir)
        self._latency = stream_latency(F)
        self._direct = self._up is None and self._cab is None
        if model.num_knobs and knob_space is None:
            knob_space = default_space(model.num_knobs)
        if knob_space is not None and len(knob_space) != model.num_knobs:
            raise GuneampError(f"the knob space has {len(knob_space)} knob(s), the model takes {model.num_knobs}")
        self.knob_space = knob_space if model.num_knobs else None
        self.reset()

    @classmethod
    def from_checkpoint(cls, ckpt, *, ir="checkpoint", engine: str = "auto") -> "StreamingProcessor":
        """A processor for a :class:`~guneamp_lib.models.checkpoint.Checkpoint` (or a path to a checkpoint or ``.nam`` file).

        ``ir="checkpoint"`` uses the cabinet IR stored with the model, ``None`` none, an
        array that IR.
        """
        if isinstance(ckpt, (str, os.PathLike)):
            from ..models.nam import load_model_file

            ckpt = load_model_file(ckpt)
        if isinstance(ir, str) and ir == "checkpoint":
            ir = ckpt.ir
        return cls(ckpt.model, ckpt.oversample, ir, engine=engine, knob_space=ckpt.knobs)

    def set_knobs(self, settings: dict, extrapolate: bool = False) -> None:
        """Turn the knobs to ``settings`` (dial units, every knob), checked against :attr:`knob_space`.

        Refuses (:class:`GuneampError`) knobs given to a snapshot model, unknown or missing
        names and values outside the trained range unless ``extrapolate``. The model glides
        to the new values over the next blocks (:mod:`guneamp_lib.render.knob_input`);
        :meth:`reset` jumps to them.

        Notebook: 13
        """
        self._model.set_knob_vector(knob_vector(self.knob_space, settings, extrapolate))

    def set_knob_glide(self, samples: int = KNOB_RAMP) -> None:
        """How many file-rate samples a knob change glides over (default :data:`KNOB_RAMP`; 0: no smoothing).

        Notebook: 13
        """
        self._model.set_glide(samples)

    def set_knob_vector(self, vector: np.ndarray) -> None:
        """The real-time form of :meth:`set_knobs`: the normalized ``(K,)`` float32 vector, unchecked.

        Never allocates array memory, locks or logs: safe in an audio callback.

        Notebook: 13
        """
        self._model.set_knob_vector(vector)

    @property
    def latency(self) -> int:
        """Samples (at the file rate) between an input sample and its output: constant."""
        return self._latency

    def reset(self) -> None:
        """Start again as after silence: every history is the response to silence."""
        self._model.reset()
        for stage in (self._up, self._down, self._cab):
            if stage is not None:
                stage.reset()
        self._n_in = 0
        self._frames = 0
        self._end = None  # frame at which the input stopped, once flush() has begun

    def process_block(self, x, out: np.ndarray | None = None) -> np.ndarray:
        """Process one host block (any length); returns the same number of samples (float32)."""
        # identity tests of the dtype: an equality test costs more than the rest of the check
        if not (type(x) is np.ndarray and x.dtype is _F32 and x.ndim == 1 and x.flags.c_contiguous):
            x = as_block(x)
        n = x.size
        if out is None:
            out = np.empty(n, np.float32)
        if self._direct and 0 < n <= self._chunk and out.dtype is _F32 and out.flags.c_contiguous:
            # No resampler and no cabinet: the network writes into the host's buffer. At
            # the small blocks plugins use, the Python around each call is a large part of
            # the time (block 16: about half before this path).
            self._n_in += n
            self._push(x, out if out.size == n else out[:n])
            return out
        for s in range(0, x.size, self._chunk):
            self._run(x[s : s + self._chunk], out[s : s + self._chunk])
        return out

    def flush(self) -> np.ndarray:
        """End the stream: the offline render's last :attr:`latency` samples; then :meth:`reset`."""
        self._end = self._n_in
        out = self.process_block(np.zeros(self._latency, np.float32))
        self.reset()
        return out

    def _run(self, x: np.ndarray, out: np.ndarray) -> None:
        self._n_in += x.size
        if self._up is not None:
            u = self._up.push(x)
            y = self._model.push(u) if u.size else u
            if self._end is not None:
                # predict() stops the network at the input's end and the downsampler sees
                # zeros after it, not the network's answer to the padding.
                y = y.copy()
                y[max(0, (self._end - self._frames) * self.oversample) :] = 0.0
            self._frames += u.size // self.oversample
            d = self._down.push(y)
        else:
            d = self._model.push(x)
        lead = x.size - d.size
        out[:lead] = 0.0
        if self._cab is not None and d.size:
            self._cab.push(d, out[lead:])
        else:
            out[lead:] = d


def _compiled(model, knobs) -> StreamingProcessor:
    proc = StreamingProcessor(model, 1, engine="compiled")
    if knobs is not None:
        proc.set_knob_vector(np.asarray(knobs, np.float32))
        proc.reset()  # from silence at these knobs, not gliding to them
    return proc


def process_compiled(model: torch.nn.Module, x, workers: int = 1, knobs=None) -> torch.Tensor:
    """:func:`guneamp_lib.render.inference.process` through the fast engine (same numbers to 1e-5).

    One causal pass from silence in pieces of :data:`MAX_MODEL_BLOCK` samples, each
    continuing the last one's histories: no chunk overlap to recompute. With
    ``workers > 1`` and a finite receptive field, the signal is cut into that many parts
    run on parallel threads (the kernels release the GIL); each part first hears the
    receptive field's worth of input before it, so the joins leave no trace. ``knobs``: a
    knob model's normalized ``(K,)`` vector, held for the whole signal. Raises
    :class:`GuneampError` where the fast engine does not cover the model.

    Notebook: 07
    """
    x = as_block(x)
    rf = model.receptive_field
    if workers <= 1 or not math.isfinite(rf) or x.size < workers * MIN_PARALLEL_PART:
        return torch.from_numpy(_compiled(model, knobs).process_block(x))
    from concurrent.futures import ThreadPoolExecutor

    ctx = int(rf) - 1
    bounds = np.linspace(0, x.size, workers + 1).astype(int)
    out = np.empty(x.size, np.float32)

    def run(i: int) -> None:
        a, b = bounds[i], bounds[i + 1]
        proc = _compiled(model, knobs)
        if a > 0:
            proc.process_block(x[max(a - ctx, 0) : a])  # fill every history with the real past
        proc.process_block(x[a:b], out[a:b])

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(run, range(workers)))
    return torch.from_numpy(out)
