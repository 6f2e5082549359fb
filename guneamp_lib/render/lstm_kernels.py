"""The compiled LSTM kernels for :mod:`guneamp_lib.render.streaming` (see :mod:`.kernels`).

An LSTM cannot be batched over time: each sample's gates need the last sample's ``h``.
So its speed is the length of that chain, not the arithmetic: ``h`` -> gate products ->
activations -> cell -> ``tanh(c)`` -> ``h``. :func:`lstm_kernel` shortens it twice:

- each gate's sum over the inputs ``h_j`` is written as a balanced tree, sixteen columns
  four additions deep (:func:`_columns16`), in one pass over the gates instead of a pass
  in memory per four inputs. (``fastmath`` lets LLVM re-chain the tree into 17 fused
  multiply-adds per gate vector; the vectors run side by side, and keeping the tree,
  compiled without reassociation, was 1.02 to 1.09 times slower: docs/benchmarks.md. The
  narrow kernel's trees of eight are another matter: kept, they win; see ``_NARROW_JIT``.)
- ``tanh`` is its own rational function (:func:`tanh_short`): degree 4 over 4 in ``x^2``,
  as close to tanh as :func:`.kernels.tanh`'s [13/12] Pade in float32 with 8 multiply-adds
  instead of 12, evaluated by Estrin's scheme, three deep per polynomial where Horner's
  takes four, and clamped by a min and a max (two instructions, where two selects took six).

Each width is compiled on its own (:func:`lstm_kernel`), so every loop has a known
length. Measured on a 16-unit LSTM (the kernel alone, block 4096): 78 ns per sample with
one pass per four inputs, Horner's ``tanh`` and the width an argument; 55 ns now.
The engine pads layers of 9 to 15 units to 16, and layers of 8 or fewer to 8 with a tree
three deep (:func:`_row8`): a padded unit has zero weights and stays at zero.

It takes one flat parameter array (:func:`lstm_layout`) and the state as rows
``h_0, c_0, h_1, c_1, ...``: a layer's ``c`` at a fixed distance after its ``h``, so the
compiler sees that the cell loop's reads and writes do not overlap. The engine scales
the sigmoid gates' weights by 0.5 when it fills the array (exact in floating point), so
every gate is ``act[r] * tanh(gate) + act[4 H + r]``: sigmoid(v) = 0.5 tanh(v / 2) + 0.5.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numba import njit

from ..vector_width import PREFER_256
from .kernels import LEAF_OPTIONS, U64, guard

# tanh(x) ~ x P(x^2) / Q(x^2) on |x| <= SHORT_CLAMP, P(0) = Q(0) = 1 (tiny inputs come out as
# themselves): a near-minimax fit (benchmarks/tanh_fit.py; the tests refit and compare),
# within 6e-9 of tanh in exact arithmetic and 3.2e-7 in float32. Where it replaced the
# [13/12] Pade, the LSTM kernels took 0.86 to 0.93 of the time (docs/benchmarks.md).
SHORT_CLAMP = np.float32(8.0)  # tanh(8) = 1 - 2.3e-7
SHORT_P = (1.0, 0.13443732261657715, 0.0035706849303096533, 2.1879461201024242e-05, 1.5208776460440276e-08)
SHORT_Q = (1.0, 0.46777060627937317, 0.02616097778081894, 0.00034097922616638243, 8.513729312653595e-07)
_P0, _P1, _P2, _P3, _P4 = (np.float32(v) for v in SHORT_P)
_Q0, _Q1, _Q2, _Q3, _Q4 = (np.float32(v) for v in SHORT_Q)
_JIT = LEAF_OPTIONS  # no reference counts: each block is one call from Python
# The narrow kernel (layers of 8 or fewer units) is compiled without reassociation, so its
# sums over eight inputs stay trees three deep; with it, LLVM re-chains each into one
# multiply-add per input. NAM's 2 x 6 LSTM: 0.91 of the time with 256-bit vectors, 0.94 on
# AVX2. The 16-input sums run faster re-chained (kept as trees: 1.07 and 1.09 times slower).
_NARROW_JIT = dict(LEAF_OPTIONS, fastmath={"nnan", "ninf", "nsz", "arcp", "contract", "afn"})
_U = U64
# tanh_short's floor under x^2 (see there)
S_FLOOR = np.float32(1e-9)

# The inputs summed as one tree (:func:`_columns16`): layers of 9 to 15 units are padded to
# it; layers of 8 or fewer to NARROW, summed by a tree of 8 (:func:`_row8`).
WIDTH = 16
NARROW = 8
# The most inputs one pass over the gates sums (16 as a tree, three groups of four, three more).
ONE_PASS = 31


def _vector_floats() -> int:
    """Floats per vector register of the code numba writes: 16 with AVX-512, else 8 (AVX2, or
    AVX-512 on 256-bit vectors: :mod:`guneamp_lib.vector_width`).

    Read from the features numba compiles for (``NUMBA_CPU_FEATURES`` where set, as the
    AVX2 benchmark and a Zen 4 set it; else this machine's)."""
    import llvmlite.binding as ll
    from numba.core import config

    features = config.CPU_FEATURES if config.CPU_FEATURES is not None else ll.get_host_cpu_features().flatten()
    flags = features.split(",")
    return 16 if "+avx512f" in flags and PREFER_256 not in flags else 8


# Gate rows are padded to whole vector registers: a loop over 68 gates (17 units, our
# exported LSTM 16 plus its skip unit) ran 64 in vectors and 4 one at a time, in every
# product and activation pass; 72 (AVX2) or 80 (AVX-512) rows run in vectors only.
GATE_PAD = _vector_floats()


def gate_count(width: int) -> int:
    """Gate rows of a ``width``-unit layer, padded to whole vectors (:data:`GATE_PAD`); the padding is zero."""
    return -(-4 * width // GATE_PAD) * GATE_PAD


def lstm_layout(layers: int, hidden: int) -> dict[str, tuple[int, int]]:
    """Where each weight sits in the kernels' one flat parameter array: name -> (start, size).

    ``w_in`` is the first layer's input weights (its input is the sample), ``act`` the
    activation's scales and offsets, ``head`` the head's weights, its bias and the skip
    gain; ``w_hh`` and ``w_ih`` (the layers above the first) are transposed,
    ``(hidden, 4 * hidden)`` per layer. Gate rows are in :func:`gate_order`'s order.
    """
    rows = gate_count(hidden)
    sizes = (("w_in", rows), ("bias", layers * rows), ("act", 2 * rows), ("head", hidden + 2),
             ("w_hh", layers * hidden * rows), ("w_ih", (layers - 1) * hidden * rows))
    out, start = {}, 0
    for name, size in sizes:
        out[name] = (start, size)
        start += size
    return out


@njit(inline="always", **_JIT)
def tanh_short(v):
    """tanh by the rational function above, with Estrin's scheme (for a latency-bound chain)."""
    x = min(max(np.float32(v), -SHORT_CLAMP), SHORT_CLAMP)
    s = x * x
    # s^4 = x^8 of |x| below about 2e-5 would be a subnormal float, which costs the processor
    # a slow assist on every multiply (measured: an exported LSTM, whose skip unit lives near
    # zero, ran 1.2 times slower). Flooring s at S_FLOOR changes the polynomials' ratio by
    # under 1e-9, far below float32's resolution.
    s = s if s > S_FLOOR else S_FLOOR
    s2 = s * s
    s4 = s2 * s2
    p = ((_P0 + _P1 * s) + (_P2 + _P3 * s) * s2) + _P4 * s4
    q = ((_Q0 + _Q1 * s) + (_Q2 + _Q3 * s) * s2) + _Q4 * s4
    return x * p / q


@njit(**_JIT)
def tanh_short_array(x, out):
    """Elementwise :func:`tanh_short` of a 1-D array (for tests of the approximation)."""
    for i in range(x.size):
        out[i] = tanh_short(x[i])


@njit(inline="always", **_JIT)
def _columns16(params, q, R, r, h):
    """Row ``r`` of 16 rows ``R`` apart at ``q`` (a transposed matrix) times the 16-tuple ``h``, as a tree."""
    a = ((params[q + r] * h[0] + params[q + R + r] * h[1]) + (
        params[q + _U(2) * R + r] * h[2] + params[q + _U(3) * R + r] * h[3]))
    b = ((params[q + _U(4) * R + r] * h[4] + params[q + _U(5) * R + r] * h[5]) + (
        params[q + _U(6) * R + r] * h[6] + params[q + _U(7) * R + r] * h[7]))
    c = ((params[q + _U(8) * R + r] * h[8] + params[q + _U(9) * R + r] * h[9]) + (
        params[q + _U(10) * R + r] * h[10] + params[q + _U(11) * R + r] * h[11]))
    d = ((params[q + _U(12) * R + r] * h[12] + params[q + _U(13) * R + r] * h[13]) + (
        params[q + _U(14) * R + r] * h[14] + params[q + _U(15) * R + r] * h[15]))
    return (a + b) + (c + d)


@njit(inline="always", **_JIT)
def _row16(sf, p):
    return (sf[p], sf[p + 1], sf[p + 2], sf[p + 3], sf[p + 4], sf[p + 5], sf[p + 6], sf[p + 7], sf[p + 8],
            sf[p + 9], sf[p + 10], sf[p + 11], sf[p + 12], sf[p + 13], sf[p + 14], sf[p + 15])


@njit(inline="always", **_JIT)
def _columns4(params, q, R, r, h):
    return (params[q + r] * h[0] + params[q + R + r] * h[1]) + (
        params[q + _U(2) * R + r] * h[2] + params[q + _U(3) * R + r] * h[3])


@njit(inline="always", **_JIT)
def _row4(sf, p):
    return (sf[p], sf[p + _U(1)], sf[p + _U(2)], sf[p + _U(3)])


@njit(inline="always", **_JIT)
def _tree_product(params, q, R, sf, ph, width, gates):
    """``gates[r] += sum_j params[q + j * R + r] * sf[ph + j]`` for ``j < width`` (at least
    16), ``r < R``. The inputs are read into registers (tuples) first; the first pass over
    the gates sums 16 of them as a tree plus up to three groups of four and three single
    inputs (every width up to :data:`ONE_PASS` in one pass: ``width`` is a constant of the
    compiled kernel, so the groups it lacks vanish), later passes 16 or 1 more at a time."""
    first = min(width, ONE_PASS)
    fours, ones = (first - 16) // 4, (first - 16) % 4
    h = _row16(sf, ph)
    g1 = _row4(sf, ph + _U(16)) if fours >= 1 else h[:4]
    g2 = _row4(sf, ph + _U(20)) if fours >= 2 else h[:4]
    g3 = _row4(sf, ph + _U(24)) if fours >= 3 else h[:4]
    o = ph + _U(16 + 4 * fours)
    e = _row4(sf, o) if ones >= 1 else h[:4]  # only the first `ones` are used
    qo = q + _U(16 + 4 * fours) * R
    for r in range(R):
        acc = _columns16(params, q, R, r, h)
        if fours >= 1:
            acc += _columns4(params, q + _U(16) * R, R, r, g1)
        if fours >= 2:
            acc += _columns4(params, q + _U(20) * R, R, r, g2)
        if fours >= 3:
            acc += _columns4(params, q + _U(24) * R, R, r, g3)
        if ones >= 1:
            acc += params[qo + r] * e[0]
        if ones >= 2:
            acc += params[qo + R + r] * e[1]
        if ones >= 3:
            acc += params[qo + _U(2) * R + r] * e[2]
        gates[r] += acc
    j = first
    while j + 16 <= width:
        h = _row16(sf, ph + _U(j))
        qj = q + _U(j) * R
        for r in range(R):
            gates[r] += _columns16(params, qj, R, r, h)
        j += 16
    while j < width:
        a = sf[ph + _U(j)]
        qj = q + _U(j) * R
        for r in range(R):
            gates[r] += params[qj + r] * a
        j += 1


@njit(inline="always", **_JIT)
def _inputs8(sf, p):
    """Eight inputs from ``p``, into registers."""
    return (sf[p], sf[p + _U(1)], sf[p + _U(2)], sf[p + _U(3)], sf[p + _U(4)], sf[p + _U(5)], sf[p + _U(6)],
            sf[p + _U(7)])


@njit(inline="always", **_JIT)
def _row8(params, q, R, r, h):
    """Gate row ``r`` of an 8-input transposed matrix at ``q`` times the 8-tuple ``h``, as a tree three deep.

    A chain of one multiply-add per input, as a loop over the inputs gives, made a 6-unit
    two-layer LSTM 1.2 times slower than padding it to the 16-unit tree: the LSTM waits on
    the depth of its sums, not on their number."""
    return _columns4(params, q, R, r, h[:4]) + _columns4(params, q + _U(4) * R, R, r, h[4:])


def gate_order(width: int) -> np.ndarray:
    """The kernel's order of the gate rows, as indices into PyTorch's ``(i, f, g, o) x width``.

    The gates of the first ``M`` units (a multiple of 16) come first, gate by gate, then
    those of the ``K`` others: the cell update of the first ``M`` runs in whole vector
    registers and waits for no row computed one at a time, while the few others go
    alongside. (With PyTorch's order, a 17-unit layer's 68 rows end in four single rows
    that every unit's output gate waited for.)
    """
    m = width // WIDTH * WIDTH
    return np.array([g * width + u for g in range(4) for u in range(m)]
                    + [g * width + u for g in range(4) for u in range(m, width)])


@lru_cache(maxsize=None)
def lstm_kernel(width: int, layers: int = 0):
    """The kernel for ``layers`` stacked LSTM layers of ``width`` units (:data:`NARROW` or at
    least :data:`WIDTH`), compiled for that width and depth (``layers`` 0: any depth, read
    from the state's size).

    ``kernel(x, out, params, state, gates)`` runs one block through stacked layers and
    a linear head, plus a skip gain times the input. ``params``: :func:`lstm_layout`;
    ``state``: flat, ``2 * layers`` rows of ``width``: ``h_0, c_0, h_1, ...`` (flat: a view made
    in the kernel costs an atomic reference count update per call); ``gates``: work space
    for :func:`gate_count` gates. The width is a constant of the compiled code, so every loop
    over the units and the gates has a known length: the compiler unrolls them and keeps
    the gates in registers (1.8 times faster than the same code with the width an argument).
    Each width and depth compiles once per machine (numba's cache keys it by both). With the
    depth a constant too, the compiler lays out the loop over the layers for it: our
    exported ``lstm:16`` ran in 0.96 to 0.97 of the time (a Zen 4, 256-bit vectors and AVX2),
    NAM's 16-unit and 2 x 6 LSTMs level (docs/benchmarks.md).
    """
    if width != NARROW and width < WIDTH:
        raise ValueError(f"the LSTM kernel takes {NARROW} or at least {WIDTH} units (pad others), got {width}")
    if layers < 0:
        raise ValueError(f"the LSTM kernel takes 1 or more layers (0: any), got {layers}")
    depth = layers
    M, K = _U(width // WIDTH * WIDTH), _U(width % WIDTH)
    rows = gate_count(width)
    jit = _NARROW_JIT if width == NARROW else _JIT

    @njit(inline="always", **jit)
    def run(x, out, t0, t1, params, state, gates):
        """Samples ``t0`` to ``t1`` of the block (inlined into the kernel and the glide)."""
        layers = depth if depth > 0 else state.size // (2 * width)
        H = _U(width)
        R = _U(rows)
        wsize = R * H
        p_bias = R
        p_act = p_bias + _U(layers) * R
        p_head = p_act + _U(2) * R
        p_hh = p_head + H + _U(2)
        p_ih = p_hh + _U(layers) * wsize
        head_b, skip = params[p_head + H], params[p_head + H + _U(1)]
        sf = state
        top = _U(layers - 1) * _U(2) * H
        for t in range(t0, t1):
            xt = x[t]
            xg = guard(xt)
            for l in range(layers):
                ph = _U(l) * _U(2) * H  # this layer's h; its c follows
                pb = p_bias + _U(l) * R
                if width == NARROW:
                    # each gate row's sums and activation in one pass, in registers (the
                    # same sums in the same order as below, so the same output): through
                    # the gate buffer each was a pass of its own on the chain from sample to
                    # sample (a 2 x 6 LSTM: 0.75 to 0.9 of the time)
                    hh = _inputs8(sf, ph)
                    qh = p_hh + _U(l) * wsize
                    if l == 0:
                        for r in range(R):
                            v = (params[pb + r] + params[r] * xg) + _row8(params, qh, R, r, hh)
                            gates[r] = params[p_act + r] * tanh_short(v) + params[p_act + R + r]
                    else:
                        hi = _inputs8(sf, ph - _U(2) * H)
                        qi = p_ih + _U(l - 1) * wsize
                        for r in range(R):
                            v = (params[pb + r] + _row8(params, qi, R, r, hi)) + _row8(params, qh, R, r, hh)
                            gates[r] = params[p_act + r] * tanh_short(v) + params[p_act + R + r]
                # what does not depend on this layer's h first, off the chain from sample to sample
                elif l == 0:
                    for r in range(R):
                        gates[r] = params[pb + r] + params[r] * xg
                else:
                    for r in range(R):
                        gates[r] = params[pb + r]
                    _tree_product(params, p_ih + _U(l - 1) * wsize, R, sf, ph - _U(2) * H, width, gates)
                if width != NARROW:
                    _tree_product(params, p_hh + _U(l) * wsize, R, sf, ph, width, gates)
                    for r in range(R):
                        gates[r] = params[p_act + r] * tanh_short(gates[r]) + params[p_act + R + r]
                # the first M units' gates, then the K others' (see gate_order)
                for j in range(M):
                    cj = gates[M + j] * sf[ph + H + j] + gates[j] * gates[_U(2) * M + j]
                    sf[ph + H + j] = cj
                    sf[ph + j] = gates[_U(3) * M + j] * tanh_short(cj)
                for j in range(K):
                    g, u = _U(4) * M + j, ph + M + j
                    cj = gates[g + K] * sf[u + H] + gates[g] * gates[g + _U(2) * K]
                    sf[u + H] = cj
                    sf[u] = gates[g + _U(3) * K] * tanh_short(cj)
            y = head_b
            for j in range(H):
                y += params[p_head + j] * sf[top + j]
            out[t] = y + skip * xt

    @njit(**jit)
    def kernel(x, out, params, state, gates):
        run(x, out, 0, x.size, params, state, gates)

    kernel.run = run  # for lstm_glide_kernel
    return kernel


def glide_size(width: int, num_knobs: int) -> int:
    """Floats a knob model's glide keeps at the end of the parameter array (:func:`lstm_glide_kernel`)."""
    return 3 * num_knobs + gate_count(width) * (3 + num_knobs)  # ..., base, w, then the bias and its move


@lru_cache(maxsize=None)
def lstm_glide_kernel(width: int, num_knobs: int, layers: int = 0):
    """One host block of a knob model's LSTM while a knob glides, in one compiled call.

    ``glide(x, out, params, state, gates, left)`` runs :func:`lstm_kernel`'s block with the
    knobs moving per sample for the ``left`` samples of glide still to go: sample ``t`` of
    the block sets the first layer's gate bias to ``base + w @ (now + (t + 1) * delta)``; where
    the glide lands within the block, the knobs sit on the target exactly and the rest of
    the block runs whole. It returns the samples left. The knobs live in the last
    :func:`glide_size` floats of ``params``: ``now``, ``delta`` and ``target`` (``K`` each),
    ``base`` (``R``, the padded gate rows of :func:`gate_count`), ``w`` (``R x K``, row by
    row) and two rows of ``R`` for the kernel's own use, so the call takes one argument more
    than the kernel's.

    This is :meth:`~guneamp_lib.render.knob_input.KnobInput.push` (with
    :func:`~guneamp_lib.render.kernels.knob_advance`) in one call: the per-sample bias is
    ``R`` multiply-adds per sample, against the ``R x width`` of the recurrent product.
    What made a knob moving every block cost 1.4 to 2 times the snapshot at a host block of
    64 was the calls, not the arithmetic: a knob step and a kernel call per 32-sample
    sub-block, each a Python call into compiled code with its arguments checked. Measured in
    CPU time on an LSTM of 16 (3,000 blocks of 64, best of 7, 2 cores at load 8 to 19), per
    block: the snapshot 6.1 to 6.8 us; a knob moving every block 7.8 us with the glide as
    one call of thirteen arguments, 6.9 us with the kernel's loop inlined here, the knobs
    in ``params``, and :func:`glide_retarget` (1.13x; then in 32-sample steps).
    """
    run = lstm_kernel(width, layers).run
    K, R = num_knobs, gate_count(width)
    glide_floats = glide_size(width, num_knobs)

    @njit(**(_NARROW_JIT if width == NARROW else _JIT))
    def glide(x, out, params, state, gates, left):
        p_now = params.size - glide_floats
        p_delta, p_target = p_now + K, p_now + 2 * K
        p_base, p_w = p_now + 3 * K, p_now + 3 * K + R
        n = x.size
        m = min(n, left)
        # the bias at the block's start and its move per sample, once per call; per sample
        # then R multiply-adds in one vectorized pass (R x K per sample doubled the LSTM 16).
        # Both live in the tail's last 2 R floats: nothing is allocated in an audio callback.
        p_b = p_w + R * K
        b_now, b_move = params[p_b : p_b + R], params[p_b + R : p_b + 2 * R]
        for i in range(R):
            acc, mv = params[p_base + i], np.float32(0.0)
            for j in range(K):
                acc += params[p_w + i * K + j] * params[p_now + j]
                mv += params[p_w + i * K + j] * params[p_delta + j]
            b_now[i], b_move[i] = acc, mv
        for t in range(m):
            c = np.float32(t + 1)
            for i in range(R):  # the first layer's gate bias sits after w_in (lstm_layout)
                params[R + i] = b_now[i] + c * b_move[i]
            run(x, out, t, t + 1, params, state, gates)
        left -= m
        for j in range(K):
            params[p_now + j] = params[p_target + j] if left == 0 else params[p_now + j] + np.float32(m) * params[p_delta + j]
        if left == 0:  # landed: the bias at the target, and the rest of the block whole
            for i in range(R):
                acc = params[p_base + i]
                for j in range(K):
                    acc += params[p_w + i * K + j] * params[p_now + j]
                params[R + i] = acc
            run(x, out, m, n, params, state, gates)
        return left

    return glide


@lru_cache(maxsize=None)
def glide_retarget(width: int, num_knobs: int):
    """:func:`~guneamp_lib.render.kernels.knob_retarget` on the knobs at the end of the parameter
    array (:func:`lstm_glide_kernel`): ``retarget(vector, params, inv_ramp)``, False when
    ``vector`` is the target already. Three arguments instead of five: the call is made every
    host block while a knob moves."""
    K = num_knobs
    glide_floats = glide_size(width, num_knobs)

    @njit(**_JIT)
    def retarget(vector, params, inv_ramp):
        p_now = params.size - glide_floats
        p_delta, p_target = p_now + K, p_now + 2 * K
        same = True
        for j in range(K):
            if vector[j] != params[p_target + j]:
                same = False
        if same:
            return False
        for j in range(K):
            params[p_target + j] = vector[j]
            params[p_delta + j] = (vector[j] - params[p_now + j]) * inv_ramp
        return True

    return retarget
