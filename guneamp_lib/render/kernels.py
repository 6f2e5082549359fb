"""Compiled per-block kernels for :mod:`guneamp_lib.render.streaming` (the fast path).

At a host block of 64 samples a PyTorch call costs more than the arithmetic it
launches (a standard WaveNet would need some 150 of them per block), so the fast path
runs a whole block of a whole model in one numba-compiled call. The kernels hold no
state of their own: every history lives in arrays owned by the Python objects in
``streaming.py``, which pass them in together with the write position.

Layout: activations are channel-major ``(channels, time)`` so that every inner loop
runs over contiguous time and the compiler vectorizes it. A layer's input history is a
"sliding" buffer ``(channels, capacity)``: block ``t`` is written at ``pos + t`` and a
dilated tap reads ``pos + t - shift``; when the buffer is full its last ``history``
samples are moved to the front (:func:`compact`), which costs ``history`` samples once
every ``capacity / block`` blocks instead of at every block, as a plain
concatenation would.

Indexing style: the inner loops address flattened arrays with unsigned offsets
(``row * stride + column``), and each array is flattened once per block. Three
cheaper-looking alternatives are slower here: a signed 2-D index ``a[i, s + t]`` makes
numba test every index for negative wrap-around, which stops vectorization; a view per
row or per layer (``a[i, s:s+n]``, ``bufs[l].ravel()``) costs an atomic reference count
update, as much as the arithmetic of a loop at a block of 64; and two work areas as
offsets into one array (rather than two arrays) left the compiler unable to tell them
apart, which made the standard WaveNet 1.35 times slower. Copies are loops too:
``a[i:j] = b[k:l] + c`` compiles to a temporary array.

The matrix products (:func:`_product`) go four outputs by four inputs per pass over
the block, every tap of a dilated convolution into the same pass, and are compiled
with their array arguments marked as never overlapping (:class:`NoAliasCompiler`).
Our WaveNet's block kernel is in :mod:`.wavenet_kernels`, NAM's WaveNet's in
:mod:`.nam_kernels`, the LSTM's in :mod:`.lstm_kernels`.

``tanh`` is evaluated as Lambert's continued fraction truncated to a rational function:
libm's tanh is a scalar call, the rational function vectorizes. It is evaluated in
float32, eight lanes per AVX2 instruction where float64 gives four, and within 2e-7 of
the exact value (a few float32 steps): before, in float64, a third of the standard
WaveNet's streaming time went into ``tanh``; in float32 it runs 1.1 to 1.2 times faster
overall, and its output moves by an ESR of about 1e-13 (benchmarks/run.py, section 7).
"""

from __future__ import annotations

import numpy as np
from numba import njit, uint64
from numba.core.compiler import Compiler

# Lambert's continued fraction tanh(x) = x / (1 + x^2 / (3 + x^2 / (5 + ...))) cut
# after this many terms is the [13/12] Pade approximant: within 4e-8 of tanh on
# |x| <= TANH_CLAMP in exact arithmetic; evaluated in float32, within 3e-7.
TANH_TERMS = 12
# tanh(9) = 1 - 3e-8 rounds to 1.0 in float32, so clamping there loses nothing.
TANH_CLAMP = np.float32(9.0)


def _tanh_coefficients(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Numerator and denominator of the continued fraction, as polynomials in x^2."""
    num, den = np.array([2.0 * n + 1]), np.array([1.0])
    for k in range(n - 1, -1, -1):
        # (2k+1) + s * den / num, as one fraction in s = x^2
        nxt = np.zeros(max(num.size, den.size + 1))
        nxt[: num.size] += (2 * k + 1) * num
        nxt[1 : den.size + 1] += den
        num, den = nxt, num
    # tanh(x) = x * den(s) / num(s); scaled so the highest power of num is 1
    return den / num[-1], num / num[-1]


_TANH_P, _TANH_Q = _tanh_coefficients(TANH_TERMS)
# the coefficients as float32, lowest power first (lstm_kernels evaluates them its own way)
TANH_NUMERATOR = tuple(np.float32(v) for v in _TANH_P)
TANH_DENOMINATOR = tuple(np.float32(v) for v in _TANH_Q)
_P0, _P1, _P2, _P3, _P4, _P5, _P6 = TANH_NUMERATOR
_Q0, _Q1, _Q2, _Q3, _Q4, _Q5, _Q6 = TANH_DENOMINATOR
assert _TANH_P.size == 7 and _TANH_Q.size == 7, "the unrolled Horner steps below assume TANH_TERMS = 12"

JIT_OPTIONS = dict(cache=True, fastmath=True, nogil=True, error_model="numpy")
# For the inner kernels, called many times a block: no reference counting. Numba otherwise
# increments and decrements each array argument's count on entry to and exit from every
# compiled call, an atomic read-modify-write apiece: the 14 of a call to the fused A2 Lite
# pass were 70 ns of its 170 at one sample. A function compiled so may not allocate, nor
# make a view (``ravel``, ``reshape``) of an array it did not receive.
LEAF_OPTIONS = dict(JIT_OPTIONS, _nrt=False)
U64 = uint64


@njit(inline="always", **JIT_OPTIONS)
def tanh(v):
    x = np.float32(v)
    # conditional moves, not min()/max(): those carry NaN branches that stop vectorization
    x = x if x < TANH_CLAMP else TANH_CLAMP
    x = x if x > -TANH_CLAMP else -TANH_CLAMP
    s = x * x
    p = (((((_P6 * s + _P5) * s + _P4) * s + _P3) * s + _P2) * s + _P1) * s + _P0
    q = (((((_Q6 * s + _Q5) * s + _Q4) * s + _Q3) * s + _Q2) * s + _Q1) * s + _Q0
    return x * p / q


# Inputs smaller than this enter the LSTM's products as 0. Their products with the
# weights would be subnormal floats, which cost the processor extra time (measured: a
# block of 1e-39 inputs ran 15 % slower per sample than one of normal inputs), as the
# tail of a decaying note does. A product of 1e-20 is far below float32's resolution of
# any sum it joins, so the output is the same. (NAM's -Ofast build flushes subnormals
# to zero for its whole process.)
SUBNORMAL_GUARD = np.float32(1e-20)


@njit(inline="always", **JIT_OPTIONS)
def guard(v):
    return v if (v > SUBNORMAL_GUARD or v < -SUBNORMAL_GUARD) else np.float32(0.0)


@njit(**LEAF_OPTIONS)
def tanh_array(x, out):
    """Elementwise tanh of a 1-D array (for tests of the approximation)."""
    for i in range(x.size):
        out[i] = tanh(x[i])


class NoAliasCompiler(Compiler):
    """Numba's own pipeline, with every array argument of the function marked ``noalias``:
    no two of them share memory while it runs.

    Otherwise the compiler must assume that a store to the accumulators may change the
    inputs, and guards every vectorized pass with run-time overlap tests. Only for
    functions that are never handed a caller's array twice (:func:`_product`: the
    engines own every array it writes). Measured on the standard WaveNet at a block of
    64: 1.15 to 1.2 times faster.
    """

    def define_pipelines(self):
        self.state.flags.noalias = True
        return super().define_pipelines()


# A block length the product's main loop also has compiled with a constant length (16:
# a plugin's smallest common block; a third of a millisecond at 48 kHz).
SHORT_BLOCK = U64(16)


@njit(inline="always", **LEAF_OPTIONS)
def _add4x4(ac, q0, q1, q2, q3, xs, p0, p1, p2, p3, w, t):
    """Sample ``t`` of four accumulator rows gains four input rows times the 4 x 4 weights ``w`` (row by row)."""
    v0, v1, v2, v3 = xs[p0 + t], xs[p1 + t], xs[p2 + t], xs[p3 + t]
    ac[q0 + t] += (w[0] * v0 + w[1] * v1) + (w[2] * v2 + w[3] * v3)
    ac[q1 + t] += (w[4] * v0 + w[5] * v1) + (w[6] * v2 + w[7] * v3)
    ac[q2 + t] += (w[8] * v0 + w[9] * v1) + (w[10] * v2 + w[11] * v3)
    ac[q3 + t] += (w[12] * v0 + w[13] * v1) + (w[14] * v2 + w[15] * v3)


@njit(pipeline_class=NoAliasCompiler, **LEAF_OPTIONS)
def _product(wf, w0, wtap, wrow, taps, shift, cout, cin, xs, sst, s0, ac, ast, a0, n, bias, b0, init):
    """A causal dilated convolution as one sum of matrix products, on flat arrays:
    ``ac[a0 + o * ast + t] = (bias[b0 + o] if init else itself) + sum_k sum_i W[k, o, i] * xs[s0 + i * sst - (taps - 1 - k) * shift + t]``
    for ``o < cout``, ``t < n``, where ``W[k, o, i] = wf[w0 + k * wtap + o * wrow + i]``
    (a plain matrix product is one tap).

    Everything is a flat array and an offset: an array view (``bufs[l]``, ``a.ravel()``)
    costs an atomic reference count update, which at a block of 64 took as long as the
    arithmetic of the loop it fed. What limits the loops themselves is memory traffic
    and the fixed cost of each pass over the block: a pass takes four outputs and four
    inputs, so each input row is loaded once for four outputs and each accumulator once
    for four inputs, and every tap adds into the same accumulators, the first pass
    starting from the bias. That is a third of the passes of one tap and two outputs per
    pass, and 1.5 to 2 times faster for 8 and 16 channels.
    """
    un, usst, uast = U64(n), U64(sst), U64(ast)
    o = 0
    while o < cout:
        rows = 4 if o + 4 <= cout else 1
        q0 = U64(a0 + o * ast)
        q1 = q0 + uast
        q2 = q1 + uast
        q3 = q2 + uast
        first = init
        for k in range(taps):
            s = U64(s0 - (taps - 1 - k) * shift)
            wk = U64(w0 + k * wtap + o * wrow)
            wr = U64(wrow)
            i = 0
            while i < cin:
                p0 = U64(i) * usst + s
                m0 = wk + U64(i)
                m1 = m0 + wr
                m2 = m1 + wr
                m3 = m2 + wr
                if rows == 4 and i + 4 <= cin:
                    p1 = p0 + usst
                    p2 = p1 + usst
                    p3 = p2 + usst
                    a0_, a1, a2, a3 = wf[m0], wf[m0 + 1], wf[m0 + 2], wf[m0 + 3]
                    b0_, b1, b2, b3 = wf[m1], wf[m1 + 1], wf[m1 + 2], wf[m1 + 3]
                    c0, c1, c2, c3 = wf[m2], wf[m2 + 1], wf[m2 + 2], wf[m2 + 3]
                    d0, d1, d2, d3 = wf[m3], wf[m3 + 1], wf[m3 + 2], wf[m3 + 3]
                    if first:
                        e0, e1, e2, e3 = bias[b0 + o], bias[b0 + o + 1], bias[b0 + o + 2], bias[b0 + o + 3]
                        for t in range(un):
                            v0, v1, v2, v3 = xs[p0 + t], xs[p1 + t], xs[p2 + t], xs[p3 + t]
                            ac[q0 + t] = e0 + ((a0_ * v0 + a1 * v1) + (a2 * v2 + a3 * v3))
                            ac[q1 + t] = e1 + ((b0_ * v0 + b1 * v1) + (b2 * v2 + b3 * v3))
                            ac[q2 + t] = e2 + ((c0 * v0 + c1 * v1) + (c2 * v2 + c3 * v3))
                            ac[q3 + t] = e3 + ((d0 * v0 + d1 * v1) + (d2 * v2 + d3 * v3))
                    else:
                        w = (a0_, a1, a2, a3, b0_, b1, b2, b3, c0, c1, c2, c3, d0, d1, d2, d3)
                        if un == SHORT_BLOCK:
                            # the same loop with its length a constant: at 16 samples (two or one
                            # vectors) the general loop's checks of its length cost about as much
                            # as its arithmetic (the standard WaveNet at block 16: 0.92 of the time)
                            for t in range(SHORT_BLOCK):
                                _add4x4(ac, q0, q1, q2, q3, xs, p0, p1, p2, p3, w, t)
                        else:
                            for t in range(un):
                                _add4x4(ac, q0, q1, q2, q3, xs, p0, p1, p2, p3, w, t)
                    i += 4
                elif rows == 4:
                    # the inputs left over after the groups of four, one at a time
                    a0_, b0_, c0, d0 = wf[m0], wf[m1], wf[m2], wf[m3]
                    if first:
                        e0, e1, e2, e3 = bias[b0 + o], bias[b0 + o + 1], bias[b0 + o + 2], bias[b0 + o + 3]
                        for t in range(un):
                            v0 = xs[p0 + t]
                            ac[q0 + t] = e0 + a0_ * v0
                            ac[q1 + t] = e1 + b0_ * v0
                            ac[q2 + t] = e2 + c0 * v0
                            ac[q3 + t] = e3 + d0 * v0
                    else:
                        for t in range(un):
                            v0 = xs[p0 + t]
                            ac[q0 + t] += a0_ * v0
                            ac[q1 + t] += b0_ * v0
                            ac[q2 + t] += c0 * v0
                            ac[q3 + t] += d0 * v0
                    i += 1
                else:
                    # an output row left over after the groups of four, one input at a time
                    a0_ = wf[m0]
                    if first:
                        e0 = bias[b0 + o]
                        for t in range(un):
                            ac[q0 + t] = e0 + a0_ * xs[p0 + t]
                    else:
                        for t in range(un):
                            ac[q0 + t] += a0_ * xs[p0 + t]
                    i += 1
                first = False
        if first:
            # no inputs at all: the bias alone
            for j in range(rows):
                e0, q = bias[b0 + o + j], U64(a0 + (o + j) * ast)
                for t in range(un):
                    ac[q + t] = e0
        o += rows


# The product for the kernels of other modules (render/nam_kernels.py).
product = _product


@njit(**JIT_OPTIONS)
def _conv(buf, pos, n, w, b, cout, cin, ksize, dilation, out):
    """Causal dilated convolution of the block at ``pos`` of ``buf`` into ``out[:cout, :n]``.

    ``w`` is ``(kernel, out, in)``: tap ``k`` reads the history shifted by ``(K - 1 - k) * dilation``.
    """
    _product(w.ravel(), 0, w.shape[1] * w.shape[2], w.shape[2], ksize, dilation, cout, cin, buf.ravel(),
             buf.shape[1], pos, out.ravel(), out.shape[1], 0, n, b, 0, True)


@njit(**LEAF_OPTIONS)
def compact(bf, count, rows, span, pos, table, column):
    """Move each buffer's last ``table[l, column]`` columns (its history) before ``pos`` to
    just before the returned position, which is the same for every buffer (the largest
    history). ``bf`` is ``count`` buffers of ``rows`` rows of ``span`` columns, flat."""
    newpos = 0
    for l in range(count):
        newpos = max(newpos, table[l, column])
    for l in range(count):
        h = table[l, column]
        for c in range(rows):
            r = (l * rows + c) * span
            # a forward copy is safe: the destination starts before the source
            for j in range(h):
                bf[r + newpos - h + j] = bf[r + pos - h + j]
    return newpos


# Columns of the per-layer integer table of conv_stack_block.
CS_IN, CS_OUT, CS_KERNEL, CS_DILATION, CS_HISTORY = range(5)


@njit(**JIT_OPTIONS)
def conv_stack_block(x, out, pos, bufs, weights, biases, layers, scratch):
    """One block through a stack of causal convolutions with tanh between them (SeedCNN).

    ``bufs[l]`` holds layer ``l``'s input history (channels padded to the widest layer);
    ``x`` goes into ``bufs[0]`` and the last layer's first channel into ``out``.
    Returns the new write position.
    """
    n = x.size
    un = U64(n)
    nl = layers.shape[0]
    if pos + n > bufs.shape[2]:
        pos = compact(bufs.ravel(), bufs.shape[0], bufs.shape[1], bufs.shape[2], pos, layers, CS_HISTORY)
    first = bufs[0].ravel()
    for t in range(un):
        first[U64(pos) + t] = x[t]
    sc, sst = scratch.ravel(), U64(scratch.shape[1])
    for l in range(nl):
        cout = layers[l, CS_OUT]
        _conv(bufs[l], pos, n, weights[l], biases[l], cout, layers[l, CS_IN], layers[l, CS_KERNEL],
              layers[l, CS_DILATION], scratch)
        if l < nl - 1:
            nxt, nst = bufs[l + 1].ravel(), U64(bufs.shape[2])
            for o in range(cout):
                ps, pd = U64(o) * sst, U64(o) * nst + U64(pos)
                for t in range(un):
                    nxt[pd + t] = tanh(sc[ps + t])
        else:
            for t in range(un):
                out[t] = sc[t]
    return pos + n


@njit(**JIT_OPTIONS)
def fir_block(buf, pos, n, taps_rev, out):
    """Causal FIR on the block at ``pos``: ``out[t] = sum_m taps_rev[m] * buf[pos + t - K + 1 + m]``."""
    k = taps_rev.size
    for t in range(n):
        s = U64(pos + t - k + 1)
        acc = 0.0
        for m in range(U64(k)):
            acc += taps_rev[m] * buf[s + m]
        out[t] = acc


@njit(**JIT_OPTIONS)
def polyphase_block(buf, first, count, stride, kernel, out):
    """A bank of FIR filters with a stride (a resampler):
    ``out[c * R + r] = sum_j kernel[r, j] * buf[first + c * stride + j]`` (``R`` rows).

    Upsampling by F is F rows and stride 1, downsampling one row and stride F.
    Accumulates in float64.
    """
    rows, ntaps = kernel.shape
    kf = kernel.ravel()
    for c in range(count):
        s = U64(first + c * stride)
        for r in range(rows):
            kr = U64(r * ntaps)
            acc = 0.0
            for j in range(U64(ntaps)):
                acc += kf[kr + j] * buf[s + j]
            out[c * rows + r] = acc


@njit(**JIT_OPTIONS)
def fold_knobs(base, w, v, out):
    """``out = base + w @ v``: a knob model's biases at the knob vector ``v`` (notebook 13).

    One compiled call per knob update instead of two NumPy calls: at a host block of 64 the
    per-call overhead is a large part of a small model's time (an LSTM of 16: about 30 us).
    """
    for i in range(out.size):
        acc = base[i]
        for j in range(v.size):
            acc += w[i, j] * v[j]
        out[i] = acc


@njit(**JIT_OPTIONS)
def knob_retarget(vector, target, now, delta, inv_ramp, w, ramp_b):
    """A new knob target: ``delta`` becomes one sample's glide toward it and ``ramp_b`` the
    biases' change per sample (``w @ delta``). False (nothing changed) when ``vector`` is the
    target already (notebook 13)."""
    same = True
    for j in range(target.size):
        if vector[j] != target[j]:
            same = False
    if same:
        return False
    for j in range(target.size):
        target[j] = vector[j]
        delta[j] = (vector[j] - now[j]) * inv_ramp
    for i in range(ramp_b.size):
        acc = np.float32(0.0)
        for j in range(delta.size):
            acc += w[i, j] * delta[j]
        ramp_b[i] = acc
    return True


@njit(**JIT_OPTIONS)
def knob_advance(now, delta, target, n, last, base, w, out):
    """The knobs ``n`` samples of glide on (the last lands on ``target`` exactly), then the biases there."""
    for j in range(now.size):
        now[j] = target[j] if last else now[j] + np.float32(n) * delta[j]
    fold_knobs(base, w, now, out)
