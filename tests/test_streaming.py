"""The streaming engine against the offline render, block size by block size."""

import tracemalloc
from pathlib import Path

import numpy as np

from guneamp_lib.dsp.oversampling import LOWPASS_WIDTH
import pytest
import soundfile as sf
import torch

from guneamp_lib.models.checkpoint import Checkpoint, save_checkpoint
from guneamp_lib.errors import GuneampError, GuneampWarning
from guneamp_lib.render.files import render_file
from guneamp_lib.render.inference import predict
from guneamp_lib.models import build_model
from guneamp_lib.dsp.oversampling import downsample, oversample
from guneamp_lib.render.convolver import PartitionedConvolver
from guneamp_lib.render.resamplers import downsampler_taps, stream_latency, upsampler_taps
from guneamp_lib.render.files import render_streaming
from guneamp_lib.render.streaming import StreamingProcessor
from guneamp_lib.models.wavenet import PRESETS
from tests.conftest import toy_di, write

TOL = 1e-5
SR = 44100
N = SR // 4  # 0.25 s for the block sizes from 64 up
N_SMALL = 1500  # block sizes 1 and 7 call the engine once per block: a shorter signal
BLOCKS = (1, 7, 64, 512, 4096, "mix")
CASES = {
    "seed_cnn_8x": ("seed_cnn", {}, 8),
    "seed_cnn_1x": ("seed_cnn", {}, 1),
    "wavenet_nano": ("wavenet", {"preset": "nano"}, 1),
    "wavenet_standard": ("wavenet", {"preset": "standard"}, 1),
    "lstm": ("lstm", {}, 1),
}


@pytest.fixture(autouse=True)
def one_thread():
    """Streaming is single-threaded work: blocks of a few samples gain nothing from
    threads, and on a busy machine PyTorch's idle worker threads can make each small
    call many times slower (seen: a 2 s test taking 90 s)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def signal(n=N, seed=0):
    """A DI-like signal (decaying notes) with a little noise, peak near 1 like a normalized DI."""
    rng = np.random.default_rng(seed)
    x = toy_di(max(n / SR, 0.5), seed=seed)[:n] + 0.05 * rng.standard_normal(n).astype(np.float32)
    return x.astype(np.float32)


def cabinet(n, seed=0):
    rng = np.random.default_rng(seed)
    ir = rng.standard_normal(n) * np.exp(-np.arange(n) / (n / 6))
    ir[0] = 1.0
    return (ir / np.abs(ir).max()).astype(np.float32)


def model_for(case):
    name, kw, factor = CASES[case]
    torch.manual_seed(0)
    return build_model(name, **kw).eval(), factor


def schedule(size, n, seed=0):
    if size != "mix":
        return [size] * (-(-n // size))
    rng = np.random.default_rng(seed)
    sizes = []
    while sum(sizes) < n:
        sizes.append(int(rng.choice([1, 2, 3, rng.integers(1, 65), rng.integers(1, 700), 4096])))
    return sizes


def stream(proc, x, sizes):
    out, s = [], 0
    for b in sizes:
        if s >= x.size:
            break
        y = proc.process_block(x[s : s + b])
        assert y.shape == x[s : s + b].shape and y.dtype == np.float32
        out.append(y)
        s += b
    return np.concatenate(out)


def offline(model, x, factor, ir):
    return predict(model, torch.from_numpy(x), factor, None if ir is None else torch.from_numpy(ir)).numpy()


@pytest.mark.parametrize("engine", ["compiled", "torch"])
@pytest.mark.parametrize("case", list(CASES))
def test_stream_equals_offline_for_every_block_size(case, engine):
    model, factor = model_for(case)
    irs = {"no IR": None, "1024-tap IR (partitioned)": cabinet(1024)}
    if engine == "compiled":
        irs["100-tap IR (direct only)"] = cabinet(100, seed=1)
    for ir_name, ir in irs.items():
        proc = StreamingProcessor(model, factor, ir, engine=engine)
        assert proc.engine == engine
        lat = proc.latency
        for size in BLOCKS:
            n = N_SMALL if size in (1, 7) else N
            x = signal(n)
            ref = offline(model, x, factor, ir)
            proc.reset()
            y = stream(proc, x, schedule(size, n))
            err = np.abs(y[lat:] - ref[: n - lat]).max()
            assert err < TOL, f"{case} {engine} {ir_name} block {size}: max error {err:.2e}"
            assert not y[:lat].any(), "the first `latency` samples are silence"
            if size == 4096:
                # flush() supplies the offline render's end, as if the input stopped there
                tail = proc.flush()
                assert tail.shape == (lat,)
                full = np.concatenate([y, tail])[lat:]
                assert np.abs(full - ref).max() < TOL


@pytest.mark.parametrize("preset", list(PRESETS))
def test_fast_engine_equals_reference_engine(preset):
    torch.manual_seed(1)
    model = build_model("wavenet", preset=preset).eval()
    with torch.no_grad():  # larger weights than at initialization: drive the tanh layers harder
        for p in model.parameters():
            p.mul_(1.5)
    x = signal(N, seed=2)
    sizes = schedule("mix", N, seed=3)
    ys = [stream(StreamingProcessor(model, 1, engine=e), x, sizes) for e in ("compiled", "torch")]
    assert np.abs(ys[0] - ys[1]).max() < TOL


def test_fast_engine_covers_odd_shapes():
    """Widths that are no multiple of four (the compiled products' left-over rows and inputs),
    a first array wider than the second, and kernel sizes 2 and 4."""
    nano = PRESETS["nano"]["layers"]
    layers = [dict(nano[0], channels=5, head_size=3, kernel_size=2, dilations=[1, 3, 7]),
              dict(nano[1], input_size=5, channels=3, kernel_size=4, dilations=[2, 5])]
    torch.manual_seed(4)
    model = build_model("wavenet", preset=None, layers=layers).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1.5)
    x = signal(N, seed=5)
    sizes = schedule("mix", N, seed=6)
    ys = [stream(StreamingProcessor(model, 1, engine=e), x, sizes) for e in ("compiled", "torch")]
    assert np.abs(ys[1]).max() > 1e-3
    assert np.abs(ys[0] - ys[1]).max() < TOL


def test_latency_is_stated_and_constant():
    assert stream_latency(1) == 0
    # the resampling kernels reach LOWPASS_WIDTH (+ a few) input samples ahead, up and down
    lat = stream_latency(8)
    assert 2 * LOWPASS_WIDTH <= lat <= 2 * LOWPASS_WIDTH + 8
    for factor in (2, 4, 8):
        model, _ = model_for("seed_cnn_1x")
        proc = StreamingProcessor(model, factor)
        assert proc.latency == stream_latency(factor) == lat
        x = signal(3000)
        ref = offline(model, x, factor, None)
        y = stream(proc, x, schedule("mix", 3000, seed=factor))
        assert np.all(y[:lat] == 0)
        assert np.abs(y[lat:] - ref[:-lat]).max() < TOL


def test_resampler_kernels_are_torchaudios():
    x = torch.from_numpy(signal(2000))
    for factor in (2, 8):
        kernel, first = upsampler_taps(factor)
        assert kernel.shape[0] == factor and first == -(kernel.shape[1] // 2) and -first >= LOWPASS_WIDTH
        xp = np.concatenate([np.zeros(-first), x.numpy(), np.zeros(kernel.shape[1])])
        up = np.stack([xp[k : k + kernel.shape[1]] for k in range(x.numel())]) @ kernel.T.astype(np.float64)
        assert np.abs(up.reshape(-1) - oversample(x, factor).numpy()).max() < 1e-6
        taps, first = downsampler_taps(factor)
        u = oversample(x, factor).numpy()
        up_p = np.concatenate([np.zeros(-first), u, np.zeros(taps.shape[1])])
        down = np.array([up_p[i * factor : i * factor + taps.shape[1]] @ taps[0] for i in range(x.numel())])
        assert np.abs(down - downsample(torch.from_numpy(u), factor).numpy()).max() < 1e-6


def test_partitioned_convolution_long_ir_any_blocks():
    rng = np.random.default_rng(0)
    ir = cabinet(45_000)
    x = rng.standard_normal(60_000)
    want = np.convolve(x, ir.astype(np.float64))[: x.size]
    for sizes in ([64], [1, 255, 256, 257, 3000, 4096, 17], [4096]):
        conv = PartitionedConvolver(ir)
        got = stream(_F64(conv), x, sizes * (x.size // sum(sizes) + 1))
        assert np.abs(got - want).max() < 1e-6 * np.abs(want).max()  # float32 output of a float64 sum


@pytest.mark.parametrize("taps", [1, 100, 255, 256, 257, 300, 2048, 5000])
def test_partitioned_convolution_odd_blocks_short_and_long_irs(taps):
    """IRs inside one partition (all head), at its edge and over many; blocks that never
    line up with a partition; the compiled and NumPy paths both equal np.convolve."""
    rng = np.random.default_rng(taps)
    ir = (rng.standard_normal(taps) * np.exp(-np.arange(taps) / 400.0)).astype(np.float32)
    x = rng.standard_normal(6000)
    want = np.convolve(x, ir.astype(np.float64))[: x.size]
    sizes = [7, 33, 1, 250, 511, 3, 97]
    for fast in (True, False):
        conv = PartitionedConvolver(ir, fast=fast)
        got = stream(_F64(conv), x, sizes * (x.size // sum(sizes) + 1))
        assert np.abs(got - want).max() < 1e-6 * np.abs(want).max(), (taps, fast)
        conv.reset()  # a second stream from silence gives the same numbers
        again = stream(_F64(conv), x, [64] * (x.size // 64 + 1))
        np.testing.assert_array_equal(again, got)


def test_compiled_fft_equals_numpy():
    from guneamp_lib.render import fft_kernels as fk

    rng = np.random.default_rng(1)
    for p in (1, 2, 8, 256, 1024):
        x = rng.standard_normal(2 * p)
        spec, z = np.zeros(p + 1, np.complex128), np.zeros(p, np.complex128)
        tables = fk.fft_tables(p)
        fk.rfft_into(x, 0, spec, z, *tables)
        assert np.abs(spec - np.fft.rfft(x)).max() < 1e-12 * 2 * p
        back = np.zeros(2 * p)
        fk.irfft_into(spec, back, z, *tables, 0)
        assert np.abs(back - x).max() < 1e-13 * 2 * p
        tail = np.zeros(p)
        fk.irfft_into(spec, tail, z, *tables, p)
        np.testing.assert_array_equal(tail, back[p:])
    with pytest.raises(ValueError, match="power of two"):
        fk.fft_tables(384)
    with pytest.raises(GuneampError, match="power of two"):
        PartitionedConvolver(np.ones(1000), partition=384)


@pytest.mark.parametrize("block", [64, 4096])
def test_partitioned_convolver_block_allocates_nothing(block):
    """The compiled push writes into the caller's array: no NumPy buffer for a block, not
    even at the blocks that cross a partition (where the FFTs run)."""
    conv = PartitionedConvolver(cabinet(3000))
    x, y = signal(block * 20), np.zeros(block, np.float32)
    xs = [x[s : s + block] for s in range(0, x.size, block)]
    conv.push(xs[0], y)  # compiled (or read from numba's cache)
    tracemalloc.start()
    try:
        peaks = []
        for v in xs:
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            conv.push(v, y)
            peaks.append(tracemalloc.get_traced_memory()[1] - before)
    finally:
        tracemalloc.stop()
    # what is left is numba's per-call bookkeeping of its 15 arguments (about 850 bytes); an
    # FFT's spectrum would be 4 KB, a float32 block at 4096 16 KB
    assert max(peaks) < 2048, sorted(set(peaks))


class _F64:
    """Feeds a convolver float64 blocks through the stream() helper's interface."""

    def __init__(self, conv):
        self.conv = conv

    def process_block(self, x):
        return self.conv.push(x)


def test_long_ir_through_the_processor_adds_no_latency():
    model, _ = model_for("wavenet_nano")
    ir = cabinet(45_000, seed=3)
    x = signal(50_000)
    ref = offline(model, x, 1, ir)
    proc = StreamingProcessor(model, 1, ir)
    assert proc.latency == 0
    y = stream(proc, x, schedule("mix", x.size, seed=5))
    assert np.abs(y - ref).max() < TOL * max(1.0, np.abs(ref).max())


@pytest.mark.shared_data
def test_shared_juce_ir(shared_data):
    from guneamp_lib.dsp.cabinet import load_ir

    ir = load_ir(shared_data / "ir" / "juce_guitar_amp.wav", SR).numpy()
    assert ir.size > 40_000  # the long IR this test is about
    model, _ = model_for("seed_cnn_1x")
    x = signal(ir.size + 5000)
    ref = offline(model, x, 1, ir)
    y = stream(StreamingProcessor(model, 1, ir), x, schedule(64, x.size))
    assert np.abs(y - ref).max() < TOL * max(1.0, np.abs(ref).max())


def test_block_inputs_and_reset():
    model, factor = model_for("seed_cnn_8x")
    proc = StreamingProcessor(model, factor, cabinet(300))
    x = signal(5000)
    a = proc.process_block(x)
    proc.reset()
    b = np.concatenate([proc.process_block(torch.from_numpy(x[:1000])), proc.process_block(x[1000:].reshape(1, -1)),
                        proc.process_block(np.zeros(0, np.float32))])
    assert np.array_equal(a, b) or np.abs(a - b).max() < 1e-7
    with pytest.raises(GuneampError, match="1-D"):
        proc.process_block(np.zeros((2, 10)))


def test_engines_choice():
    gated = build_model("wavenet", preset="nano", layers=[dict(lc, gated=True) for lc in PRESETS["nano"]["layers"]])
    assert StreamingProcessor(gated).engine == "torch"  # auto falls back
    with pytest.raises(GuneampError, match="compiled engine"):
        StreamingProcessor(gated, engine="compiled")
    with pytest.raises(GuneampError, match="engine"):
        StreamingProcessor(gated, engine="turbo")
    model, _ = model_for("seed_cnn_1x")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    StreamingProcessor(model, engine="torch").process_block(signal(100))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # the model is copied
    assert not any(getattr(m, "streaming", False) for m in model.modules())


def test_fast_tanh_is_within_a_few_float32_steps():
    # Evaluated in float32 (for twice the SIMD width): up to ~5 float32 steps (3e-7) off,
    # near saturation; PyTorch's own float32 tanh path is 1.8e-7 off.
    from guneamp_lib.render.kernels import tanh_array

    x = np.linspace(-12, 12, 400_001).astype(np.float32)
    out = np.empty_like(x)
    tanh_array(x, out)
    err = np.abs(out.astype(np.float64) - np.tanh(x.astype(np.float64)))
    assert err.max() < 4e-7
    assert err[np.abs(x) < 1].max() < 1.5e-7



def test_the_lstms_tanh_is_as_close_down_to_tiny_inputs():
    # The LSTM kernel's tanh: its own shorter rational function by Estrin's scheme, its x^2
    # floored where x^8 would be a subnormal float. As close as the [13/12] Pade everywhere
    # (within 4e-7), and tiny inputs must come out as themselves.
    from guneamp_lib.render.lstm_kernels import tanh_short_array

    x = np.concatenate([np.linspace(-12, 12, 400_001), np.geomspace(1e-30, 1e-2, 2000)]).astype(np.float32)
    out = np.empty_like(x)
    tanh_short_array(x, out)
    err = np.abs(out.astype(np.float64) - np.tanh(x.astype(np.float64)))
    assert err.max() < 4e-7
    assert (err[np.abs(x) < 1] / np.maximum(np.abs(x[np.abs(x) < 1]), 1e-38)).max() < 3e-7  # relative, near 0


def test_the_lstms_tanh_coefficients_are_the_fits():
    """The coefficients in lstm_kernels are what benchmarks/tanh_fit.py computes, to float32."""
    import importlib.util

    from guneamp_lib.render.lstm_kernels import SHORT_CLAMP, SHORT_P, SHORT_Q

    spec = importlib.util.spec_from_file_location("tanh_fit", Path(__file__).parents[1] / "benchmarks" / "tanh_fit.py")
    tanh_fit = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tanh_fit)
    p, q, worst = tanh_fit.fit(clamp=float(SHORT_CLAMP))
    assert worst < 1e-8
    np.testing.assert_allclose(np.float32(p), np.float32(SHORT_P), rtol=1e-6)
    np.testing.assert_allclose(np.float32(q), np.float32(SHORT_Q), rtol=1e-6)


def test_the_lstm_kernel_takes_eight_or_sixteen_units_or_more():
    from guneamp_lib.render.lstm_kernels import GATE_PAD, NARROW, WIDTH, gate_count, gate_order, lstm_kernel

    with pytest.raises(ValueError, match="at least 16"):
        lstm_kernel(WIDTH - 1)
    assert list(gate_order(NARROW)) == list(range(32))  # narrower than the tree: PyTorch's order
    assert gate_count(17) == (72 if GATE_PAD == 8 else 80) and gate_count(16) == 64
    # the first 16 units' gates gate by gate, then the 17th unit's four
    order = gate_order(17)
    assert sorted(order) == list(range(68))
    assert list(order[:3]) == [0, 1, 2] and list(order[16:18]) == [17, 18] and list(order[64:]) == [16, 33, 50, 67]


# --------------------------------------------------------------------------- files

@pytest.fixture
def checkpoint(tmp_path):
    model, factor = model_for("seed_cnn_8x")
    return save_checkpoint(tmp_path / "model.pt", Checkpoint(model, "seed_cnn", SR, factor, 256, torch.from_numpy(cabinet(2048))))


def test_render_streaming_equals_render_file(checkpoint, tmp_path):
    x = 0.7 * signal(20_000)
    stereo = write(tmp_path / "di.wav", np.stack([x, 0.5 * x], axis=1), subtype="PCM_24")
    with pytest.warns(GuneampWarning, match="2 channels"):
        render_file(checkpoint, stereo, tmp_path / "offline.wav", gain_db=4.0, progress=False)
    want, _ = sf.read(tmp_path / "offline.wav", dtype="float32")
    for block in (64, 1000):
        with pytest.warns(GuneampWarning, match="2 channels"):
            out = render_streaming(checkpoint, stereo, tmp_path / f"stream{block}.wav", block, gain_db=4.0,
                                   progress=False)
        got, sr = sf.read(out, dtype="float32")
        assert sr == SR and got.shape == want.shape  # the latency is compensated: same length, lined up
        assert np.abs(got - want).max() < TOL
    assert not list(tmp_path.glob("*.tmp"))


def test_render_streaming_refuses_bad_requests(checkpoint, tmp_path):
    x = write(tmp_path / "di.wav", signal(5000))
    with pytest.raises(GuneampError, match="input files"):
        render_streaming(checkpoint, x, x)
    with pytest.raises(GuneampError, match="Hz"):
        render_streaming(checkpoint, write(tmp_path / "48k.wav", signal(5000), sr=48000), tmp_path / "o.wav")
    with pytest.raises(GuneampError, match="block size"):
        render_streaming(checkpoint, x, tmp_path / "o.wav", 0)
    with pytest.raises(GuneampError, match="not found"):
        render_streaming(checkpoint, tmp_path / "missing.wav", tmp_path / "o.wav")


def _render_peak_bytes(checkpoint, path, out):
    tracemalloc.start()
    try:
        render_streaming(checkpoint, path, out, 1024, use_ir=True, progress=False)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_render_streaming_memory_does_not_grow_with_the_file(tmp_path):
    model, _ = model_for("seed_cnn_1x")
    ckpt = save_checkpoint(tmp_path / "m1.pt", Checkpoint(model, "seed_cnn", SR, 1, 256, torch.from_numpy(cabinet(2048))))
    rng = np.random.default_rng(0)
    paths = {}
    for seconds in (10, 60):
        p = tmp_path / f"di{seconds}.wav"
        with sf.SoundFile(p, "w", SR, 1, subtype="FLOAT") as f:
            for _ in range(seconds):
                f.write((0.3 * rng.standard_normal(SR)).astype(np.float32))
        paths[seconds] = p
    _render_peak_bytes(ckpt, paths[10], tmp_path / "warm.wav")  # first-use allocations (caches, kernels)
    short = _render_peak_bytes(ckpt, paths[10], tmp_path / "o10.wav")
    long = _render_peak_bytes(ckpt, paths[60], tmp_path / "o60.wav")
    # 50 s more audio is 8.8 MB of float32: a render that held it would show it
    assert long - short < 1_000_000, (short, long)
    assert sf.info(tmp_path / "o60.wav").frames == 60 * SR


def test_process_compiled_equals_process():
    from guneamp_lib.render.inference import process
    from guneamp_lib.render.streaming import process_compiled

    for case in ("seed_cnn_1x", "wavenet_standard", "lstm"):
        model, _ = model_for(case)
        x = torch.from_numpy(signal(9000))
        assert torch.abs(process_compiled(model, x) - process(model, x, chunk=4000)).max() < TOL
