"""NAM's WaveNets as NAM 0.13 writes them run on the compiled engine, with the torch model's numbers.

:class:`~guneamp_lib.render.nam_engines.FastNamWaveNet` is selected by one ``supports()``
test and checked here against the general path (the torch model streaming the same
blocks): ESR < 1e-10 for A2 Full and Lite, a slimmable WaveNet, gated and blended layers
with a bottleneck, head 1x1 and a 4-tap head, and every activation code the kernel has.
Blocks of 1, 64 and 2048 cross the ring buffers' compaction. What the kernel does not
cover (FiLM, groups, a condition DSP, a post-stack head) runs on the general compiled
engine (:mod:`~guneamp_lib.render.nam_program`, tested in ``tests/test_nam_program.py``),
chosen by ``supports()``.
"""

import numpy as np
import pytest
import torch

from benchmarks import nam_written
from guneamp_lib.capture.guitar import synth_di
from guneamp_lib.models import NamWaveNet
from guneamp_lib.models.nam import load_model_file
from guneamp_lib.render.streaming import StreamingProcessor

SR = 48000


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    pytest.importorskip("nam.models", reason="neural-amp-modeler is not installed")
    d = tmp_path_factory.mktemp("nam-written")
    return {name: nam_written.write(name, d, seed=i) for i, name in enumerate(("a2", "slimmable", "gated", "film"))}


@pytest.fixture(scope="module")
def signal():
    return synth_di(0.4, SR, 4).astype(np.float32)


def stream(model, x, engine, block):
    proc = StreamingProcessor(model, 1, engine=engine)
    assert proc.engine == engine
    return np.concatenate([proc.process_block(x[s : s + block]) for s in range(0, x.size, block)])


def esr(ref, y):
    ref = np.asarray(ref, np.float64)
    return float(np.sum((np.asarray(y, np.float64) - ref) ** 2) / np.sum(ref**2))


@pytest.mark.parametrize("name, slim", [("a2", None), ("a2", 0.2), ("slimmable", None), ("slimmable", 0.4),
                                        ("gated", None)])
def test_nam_written_wavenets_run_compiled_as_on_torch(files, signal, name, slim):
    model = load_model_file(files[name], slim=slim).model
    assert isinstance(model, NamWaveNet)
    ref = stream(model, signal, "torch", 64)
    assert np.sqrt(np.mean(ref.astype(np.float64) ** 2)) > 1e-4
    for block in (1, 64, 2048) if name == "a2" and slim is None else (64,):
        assert esr(ref, stream(model, signal, "compiled", block)) < 1e-10, block


def assert_compiled_as_on_torch(arrays, seed, signal, blocks):
    """A NamWaveNet of these arrays with random weights streams through the kernel as through torch."""
    torch.manual_seed(seed)
    model = NamWaveNet(arrays, 0.3).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.5)
    ref = stream(model, signal, "torch", 64)
    assert np.sqrt(np.mean(ref.astype(np.float64) ** 2)) > 1e-3
    for block in blocks:
        assert esr(ref, stream(model, signal, "compiled", block)) < 1e-10, block


ACTIVATIONS = [{"type": "Tanh"}, {"type": "Hardtanh"}, {"type": "Fasttanh"}, {"type": "ReLU"},
               {"type": "LeakyReLU", "negative_slope": 0.2}, {"type": "PReLU", "negative_slope": -0.3},
               {"type": "Sigmoid"}, {"type": "SiLU"}, {"type": "Hardswish"},
               {"type": "LeakyHardtanh", "min_val": -0.5, "max_val": 0.7, "min_slope": 0.05, "max_slope": 0.1},
               {"type": "Softsign"}]


def _array(acts, modes, seconds, **kw):
    n = len(acts)
    lc = {"input_size": 1, "condition_size": 1, "channels": 5, "bottleneck": 3, "kernel_sizes": [2, 5, 3] * n,
          "dilations": [1, 3, 7] * n, "activations": acts, "gating_modes": modes, "secondary_activations": seconds,
          "layer1x1": True, "head1x1_out": 0, "head_out": 1, "head_kernel": 3, "head_dilation": 2,
          "head_bias": True, "films": {}}
    lc.update(kw)
    lc["kernel_sizes"], lc["dilations"] = lc["kernel_sizes"][:n], lc["dilations"][:n]
    return lc


def test_every_activation_and_gating_mode_runs_compiled_as_on_torch(signal):
    n = len(ACTIVATIONS)
    plain = _array(ACTIVATIONS, ["none"] * n, [None] * n, head_out=5)
    gated = _array(ACTIVATIONS[::-1], ["gated", "blended"] * (n // 2) + ["gated"], ACTIVATIONS, input_size=5,
                   head1x1_out=5, layer1x1=False, bottleneck=5, head_kernel=1, head_dilation=1)
    assert_compiled_as_on_torch([plain, gated], 3, signal, (64,))


def test_what_the_kernel_does_not_cover_runs_on_the_general_engine(files, signal):
    from guneamp_lib.render.nam_engines import FastNamWaveNet

    model = load_model_file(files["film"]).model
    assert not FastNamWaveNet.supports(model)
    proc = StreamingProcessor(model, 1, engine="auto")
    assert proc.engine_name == "FastNamProgram"
    ref = stream(model, signal, "torch", 64)
    dc = ref.mean()  # this file's output is mostly a constant: compare its variation
    assert np.std(ref) > 1e-4
    assert esr(ref - dc, stream(model, signal, "compiled", 64) - dc) < 1e-10


def test_three_channel_layers_with_any_activation_run_compiled_as_on_torch(signal):
    """The fused 3-channel layer (A2 Lite's) with activations other than LeakyReLU, in two arrays.

    Kernel sizes below, at and above six taps a pass (7, 12, 13: two and three passes, with
    the zero taps that fill a pass), at blocks that leave the compiled loops a remainder.
    """
    acts = [{"type": "Tanh"}, {"type": "SiLU"}, {"type": "LeakyHardtanh", "min_val": -0.5, "max_val": 0.7,
                                                 "min_slope": 0.05, "max_slope": 0.1}]
    first = _array(acts, ["none"] * 3, [None] * 3, channels=3, head_out=3, head_kernel=4, head_dilation=1)
    second = _array(acts[::-1], ["none"] * 3, [None] * 3, channels=3, input_size=3, head_kernel=16, head_dilation=1, head_out=3,
                    kernel_sizes=[7, 12, 13], dilations=[1, 2, 3])
    leaky = _array([{"type": "LeakyReLU", "negative_slope": 0.05}] * 2, ["none"] * 2, [None] * 2, channels=3,
                   input_size=3, kernel_sizes=[6, 15], dilations=[2, 1])
    assert_compiled_as_on_torch([first, second, leaky], 4, signal, (1, 13, 64))


def test_per_block_kernels_keep_no_reference_counts():
    """The kernels a stream calls from Python each block, and those they call many times a
    block, are compiled without reference counting (kernels.LEAF_OPTIONS): with it, every
    array argument cost an atomic increment and decrement per call and a wrapper object per
    call from Python (A2 Lite at block 64: 1.33 -> 0.90 of NAM core's time)."""
    from guneamp_lib.render import kernels, lstm_kernels, nam_kernels, nam_ops, wavenet_kernels

    per_block = [nam_kernels.nam_wavenet_block, wavenet_kernels.wavenet_block, nam_ops.run_ops, lstm_kernels.lstm_kernel(16),
                 lstm_kernels.lstm_kernel(8), lstm_kernels.lstm_glide_kernel(16, 2), kernels.compact]
    inner = [kernels.product, nam_kernels._mm, nam_kernels._product3, nam_kernels._taps3_pass,
             nam_kernels._taps3_last, nam_kernels.activation_row]
    for f in per_block + inner:
        assert f.targetoptions.get("_nrt") is False, f.py_func.__name__
    # and numba honours the option: a function compiled so cannot even return a new array
    import numba

    with pytest.raises(numba.core.errors.TypingError, match="returning of array"):
        numba.njit(**dict(kernels.LEAF_OPTIONS, cache=False))(lambda a: a.reshape(-1))(np.zeros((2, 2)))
