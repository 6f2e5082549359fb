"""Running a trained model over audio (notebook 07).

Three ways to get the model's output for a whole recording:

* :func:`windowed_inference` does what the design intends: for every sample, cut the
  window that ends at it, run the network on a batch of windows, keep the last output.
* :func:`process` gets the same numbers (to 1e-5) from one causal pass per long chunk;
  it is thousands of times faster because neighbouring windows share all but one
  sample, and the convolutions compute each shared product once.
* :func:`overlap_add_inference_designed` is the design's loop, kept for teaching. It
  writes each window's single-sample prediction over all 256 positions of the window and
  averages. The result is the correct output passed through a 256-tap moving average and
  moved 255 samples earlier: at 8x oversampling a low-pass with its first null at
  1.4 kHz, plus a 0.7 ms jump ahead of the input.

:func:`render_chunks` runs the whole chain (oversample, network, downsample, cabinet)
over a signal of any length a piece at a time, so memory stays flat however long the
file: each piece is read with the resamplers' reach on both sides, the network carries
its receptive field (or its state) from piece to piece, and the cabinet its tail. The
samples are those of the whole-signal chain to float rounding (about 1e-7 of the peak).

A knob model (notebook 13) takes its knobs as ``knobs``: the normalized ``(K,)`` vector
(:meth:`guneamp_lib.knobs.KnobSpace.normalize`), held for the whole signal. Knobs that move
go through the streaming engine, which smooths them (:mod:`guneamp_lib.render.knob_input`).
"""

from __future__ import annotations

import math

import torch
from tqdm.auto import tqdm

from ..dsp.audio import peak_normalize, save_wav
from ..dsp.cabinet import convolve_ir, fft_convolve
from ..errors import GuneampError
from ..models import receptive_field
from ..dsp.oversampling import RESAMPLER_REACH, downsample, oversample
from .compiled import ENGINES

# Samples per forward pass in the fast path: large enough to amortize the per-call
# overhead, small enough that a 32-channel activation stays around 16 MB.
DEFAULT_CHUNK = 1 << 17
# Network samples per piece of render_chunks: each piece hands work between PyTorch's
# threads and the compiled engine's, which costs little on an idle machine but much on a
# busy one (on 2 cores shared with other jobs, 30 s at 8x rendered in 37 s with pieces of
# this size, 74 s with pieces of DEFAULT_CHUNK); a piece's arrays stay at a few MB.
RENDER_PIECE = 1 << 19
# File-rate samples read beyond each piece, either side, by render_chunks: torchaudio's
# kernel at roll-off 0.94 reaches ceil(32 / 0.94) = 35 input samples, plus one frame.
CHUNK_MARGIN = RESAMPLER_REACH + 4


def model_device(model: torch.nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def _as_signal(x) -> torch.Tensor:
    x = torch.as_tensor(x, dtype=torch.float32) if not isinstance(x, torch.Tensor) else x.float()
    if x.ndim != 1:
        raise GuneampError(f"expected one channel of samples (1-D), got shape {tuple(x.shape)}")
    if x.numel() == 0:
        raise GuneampError("the input holds no samples")
    return x


def knob_tensor(model: torch.nn.Module, knobs) -> torch.Tensor | None:
    """``knobs`` as the model takes them, ``(1, K)`` on its device; refuses a mismatch.

    Notebook: 13
    """
    if knobs is None:
        if model.num_knobs:
            raise GuneampError(f"this knob model needs its {model.num_knobs} knob value(s)")
        return None
    if not model.num_knobs:
        raise GuneampError("this is a snapshot model: it has no knobs to set")
    k = torch.as_tensor(knobs, dtype=torch.float32).reshape(1, -1)
    if k.shape[1] != model.num_knobs:
        raise GuneampError(f"the model takes {model.num_knobs} knob(s), got {k.shape[1]}")
    return k.to(model_device(model))


def run_model(model: torch.nn.Module, x: torch.Tensor, knobs: torch.Tensor | None = None, **kw) -> torch.Tensor:
    """``model(x)``, with ``knobs=`` only for a knob model (a snapshot model's forward takes none)."""
    return model(x, **kw) if knobs is None else model(x, knobs=knobs, **kw)


@torch.no_grad()
def process(model: torch.nn.Module, x: torch.Tensor, chunk: int = DEFAULT_CHUNK, progress: bool = False,
            engine: str = "torch", knobs=None) -> torch.Tensor:
    """The fast path: the model's causal output for the whole of ``x``, same length, on CPU.

    Long inputs go through in chunks; each chunk is preceded by the receptive field's
    worth of the previous input, so chunk borders leave no trace. Recurrent models carry
    their state from chunk to chunk instead.

    ``engine="compiled"`` runs the same computation through the real-time engine's
    compiled kernels (:func:`guneamp_lib.render.streaming.process_compiled`) on as many threads
    as PyTorch uses; ``"auto"`` does so when the model is on the CPU and the kernels cover
    it, and uses PyTorch otherwise. All engines agree to 1e-5.

    Notebook: 07
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    x = _as_signal(x)
    device = model_device(model)
    kt = knob_tensor(model, knobs)
    if engine != "torch" and device.type == "cpu":
        from .streaming import process_compiled

        try:
            return process_compiled(model, x, workers=torch.get_num_threads(),
                                    knobs=None if kt is None else kt[0].cpu().numpy())
        except GuneampError:
            if engine == "compiled":
                raise
    was = model.training
    model.eval()
    try:
        rf = receptive_field(model)
        n = x.numel()
        out = torch.empty(n)
        starts = range(0, n, chunk)
        bar = tqdm(starts, desc="inference", unit="chunk", disable=not progress, leave=False)
        if math.isfinite(rf):
            # Input silence before the start, not the layers' own zero padding: a hidden
            # layer's response to silence is tanh(bias), not zero.
            ctx = int(rf) - 1
            xp = torch.cat([torch.zeros(ctx), x])
            # The context is in the input, so a model that can skip its own zero padding does.
            valid = model.supports_valid
            for s in bar:
                e = min(s + chunk, n)
                seg = xp[s : e + ctx].to(device).view(1, 1, -1)
                y = run_model(model, seg, kt, pad=False)[0, 0] if valid else run_model(model, seg, kt)[0, 0, ctx:]
                out[s:e] = y.cpu()
        else:
            state = None
            for s in bar:
                e = min(s + chunk, n)
                seg = x[s:e].to(device).view(1, 1, -1)
                y, state = model.forward_stateful(seg, state) if kt is None else model.forward_stateful(seg, state, kt)
                out[s:e] = y[0, 0].cpu()
        return out
    finally:
        model.train(was)


class _CausalStream:
    """The network's output for consecutive pieces of one signal: what :func:`process`
    gives for the whole, piece by piece. A finite receptive field is carried as the last
    ``receptive_field - 1`` input samples, a recurrent model as its state."""

    def __init__(self, model: torch.nn.Module, engine: str, knobs=None):
        rf = receptive_field(model)
        self.model, self.engine, self.knobs = model, engine, knobs
        self.kt = knob_tensor(model, knobs)
        self.ctx = int(rf) - 1 if math.isfinite(rf) else None
        self.history = torch.zeros(self.ctx or 0)  # silence before the start, as in process()
        self.stream, self.state = None, None
        if self.ctx is None and engine != "torch" and model_device(model).type == "cpu":
            from .streaming import StreamingProcessor

            try:
                self.stream = StreamingProcessor(model, 1, engine="compiled")
            except GuneampError:
                pass
            else:
                if self.kt is not None:
                    self.stream.set_knob_vector(self.kt[0].cpu().numpy())
                    self.stream.reset()

    def push(self, u: torch.Tensor) -> torch.Tensor:
        if self.ctx is not None:
            seg = torch.cat([self.history, u])
            self.history = seg[seg.numel() - self.ctx :]
            return process(self.model, seg, engine=self.engine, knobs=self.knobs)[self.ctx :]
        if self.stream is not None:
            return torch.from_numpy(self.stream.process_block(u.numpy()).copy())
        seg = u.to(model_device(self.model)).view(1, 1, -1)
        if self.kt is None:
            y, self.state = self.model.forward_stateful(seg, self.state)
        else:
            y, self.state = self.model.forward_stateful(seg, self.state, self.kt)
        return y[0, 0].cpu()


@torch.no_grad()
def render_chunks(model: torch.nn.Module, read, n: int, factor: int = 1, ir: torch.Tensor | None = None, *,
                  chunk: int | None = None, engine: str = "torch", progress: bool = False, knobs=None):
    """Yield the model's output (oversample, network, downsample, cabinet; not normalized)
    for a signal of ``n`` samples, in consecutive pieces, in memory that does not grow with ``n``.

    ``read(lo, hi)`` returns the input's samples ``lo`` to ``hi`` (float32, 1-D); it is
    only asked for ranges inside ``[0, n)``. ``chunk``: file-rate samples per piece
    (default: :data:`RENDER_PIECE` network samples). The concatenated pieces equal
    :func:`predict` to float rounding.

    Notebook: 07
    """
    F, R = int(factor), CHUNK_MARGIN
    chunk = max(int(chunk or RENDER_PIECE // F), 1)
    stream = _CausalStream(model, engine, knobs)
    ys, ys_start, done = torch.zeros(0), 0, 0  # network outputs kept, where they start, how far computed
    k = 0 if ir is None else ir.numel()
    tail = torch.zeros(max(k - 1, 0))  # the pre-cabinet signal's last k - 1 samples

    def padded(lo: int, hi: int) -> torch.Tensor:
        """Input samples lo..hi, silence outside the file (as the resampler's own padding)."""
        out = torch.zeros(hi - lo)
        a, b = max(lo, 0), min(hi, n)
        if b > a:
            out[a - lo : b - lo] = torch.as_tensor(read(a, b), dtype=torch.float32)
        return out

    for a in tqdm(range(0, n, chunk), desc="render", unit="chunk", disable=not progress, leave=False):
        b = min(a + chunk, n)
        if F == 1:
            z = stream.push(padded(a, b))
        else:
            # The downsampler needs network output R samples past b, the network input up to
            # there, and the upsampler R input samples beyond that.
            need = min(b + R, n)
            if need > done:
                u = oversample(padded(done - R, need + R), F)[R * F : (R + need - done) * F]
                ys = torch.cat([ys, stream.push(u)])
                done = need
            lo, hi = (a - R) * F, (b + R) * F
            window = torch.zeros(hi - lo)  # network output, silence outside the signal
            s0, s1 = max(lo, ys_start), min(hi, ys_start + ys.numel())
            window[s0 - lo : s1 - lo] = ys[s0 - ys_start : s1 - ys_start]
            z = downsample(window, F)[R : R + b - a]
            keep = (b - R) * F  # the next piece's window starts here
            if keep > ys_start:
                ys, ys_start = ys[keep - ys_start :], keep
        if ir is not None:
            full = torch.cat([tail, z])
            tail = full[full.numel() - (k - 1) :] if k > 1 else full[:0]
            z = fft_convolve(full, ir.to(full))[k - 1 : k - 1 + z.numel()]
        yield z


@torch.no_grad()
def windowed_inference(model: torch.nn.Module, x: torch.Tensor, window: int = 256, batch_size: int = 4096, progress: bool = False) -> torch.Tensor:
    """The design's intent, literally: one window per output sample, ending at that sample.

    Before the recording starts the amp heard silence, so the first windows are padded
    with zeros on the left. The result has the length of ``x``.

    Notebook: 07
    """
    x = _as_signal(x)
    rf = receptive_field(model)
    if rf > window:
        raise GuneampError(f"the model sees {rf} samples but the window holds {window}; use window >= {rf}")
    device = model_device(model)
    was = model.training
    model.eval()
    try:
        xp = torch.cat([torch.zeros(window - 1), x]).to(device)
        n = x.numel()
        out = torch.empty(n)
        for s in tqdm(range(0, n, batch_size), desc="windowed inference", disable=not progress, leave=False):
            e = min(s + batch_size, n)
            windows = xp[s : e + window - 1].unfold(0, window, 1)  # (e - s, window), a view
            out[s:e] = model(windows.unsqueeze(1))[:, 0, -1].cpu()
        return out
    finally:
        model.train(was)


@torch.no_grad()
def overlap_add_inference_designed(model: torch.nn.Module, x: torch.Tensor, window: int = 256, batch_size: int = 32, progress: bool = False) -> torch.Tensor:
    """The design's batched overlap-add loop, unchanged in substance (for teaching only).

    Each window ``x[i : i + window]`` yields one prediction (the sample at the window's
    end), and the loop adds that single value to all ``window`` positions it covers.

    Notebook: 07
    """
    x = _as_signal(x)
    device = model_device(model)
    was = model.training
    model.eval()
    try:
        x = x.to(device)
        n = x.shape[0]
        out = torch.zeros(n, device=device)
        weight = torch.zeros(n, device=device)
        for i in tqdm(range(0, n - window, batch_size), desc="designed overlap-add", disable=not progress, leave=False):
            batch_end = min(i + batch_size, n - window)
            windows = [x[j : j + window].unsqueeze(0) for j in range(i, batch_end)]
            x_batch = torch.cat(windows, dim=0).unsqueeze(1)
            # The design's network returns one sample per window: the output at its end.
            y_batch = model(x_batch)[:, :, -1:]
            for j, idx in enumerate(range(i, batch_end)):
                y = y_batch[j].squeeze()
                out[idx : idx + window] += y
                weight[idx : idx + window] += 1.0
        return (out / weight.clamp(min=1.0)).cpu()
    finally:
        model.train(was)


def predict(model: torch.nn.Module, clean: torch.Tensor, oversample_factor: int = 1, ir: torch.Tensor | None = None,
            progress: bool = False, knobs=None) -> torch.Tensor:
    """Clean audio at the file rate in, modeled audio at the file rate out (same length).

    Oversample, run the network, downsample, then apply the cabinet if given: the
    design's inference order, without the final normalization.

    Notebook: 07
    """
    clean = _as_signal(clean)
    if clean.numel() * oversample_factor > 2 * RENDER_PIECE:
        # Long signals piece by piece: memory stays flat (validation of long recordings).
        return torch.cat(list(render_chunks(model, lambda lo, hi: clean[lo:hi], clean.numel(), oversample_factor, ir,
                                            progress=progress, knobs=knobs)))
    y = process(model, oversample(clean, oversample_factor), progress=progress, knobs=knobs)
    y = downsample(y, oversample_factor)[: clean.numel()]
    if ir is not None:
        y = convolve_ir(y, ir)
    return y


def run_inference(
    model,
    clean_os,
    cab_ir,
    oversample_factor,
    window,
    device,
    sr,
    output_file="modeled.wav",
    batch_size=32,
    *,
    method: str = "fast",
    protect=(),
    progress: bool = True,
):
    """The design's entry point, with its signature: network, downsample, cabinet, normalize, save.

    ``clean_os`` is the clean signal already oversampled by ``oversample_factor``.
    ``method="fast"`` (default) uses :func:`process`; ``"windowed"`` uses
    :func:`windowed_inference` with ``batch_size`` windows per batch; both give each
    output sample the prediction of the window ending at it. ``cab_ir=None`` skips the
    cabinet. Returns the normalized output at rate ``sr`` (written to ``output_file``
    unless that is ``None``).

    Notebook: 07
    """
    model = model.to(device)
    clean_os = _as_signal(clean_os)
    if method == "fast":
        out_os = process(model, clean_os, progress=progress, engine="auto")
    elif method == "windowed":
        out_os = windowed_inference(model, clean_os, window, batch_size=max(batch_size, 1), progress=progress)
    elif method == "designed_overlap_add":
        out_os = overlap_add_inference_designed(model, clean_os, window, batch_size, progress=progress)
    else:
        raise ValueError(f"unknown method {method!r}: use 'fast', 'windowed' or 'designed_overlap_add'")
    out = downsample(out_os, oversample_factor)[: math.ceil(clean_os.numel() / oversample_factor)]
    if cab_ir is not None:
        out = convolve_ir(out, cab_ir)
    out = peak_normalize(out)
    if output_file is not None:
        save_wav(output_file, out, sr, protect=protect)
    return out
