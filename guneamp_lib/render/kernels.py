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
(``row * stride + column``). Two cheaper-looking alternatives are slower here: a
signed 2-D index ``a[i, s + t]`` makes numba test every index for negative
wrap-around, which stops vectorization, and slicing a row per loop (``a[i, s:s+n]``)
costs a reference count update per slice, about 1 us per 16x16 product, as much as
the product itself at a block of 64. Copies are loops too: ``a[i:j] = b[k:l] + c``
compiles to a temporary array.

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
_P0, _P1, _P2, _P3, _P4, _P5, _P6 = (np.float32(v) for v in _TANH_P)
_Q0, _Q1, _Q2, _Q3, _Q4, _Q5, _Q6 = (np.float32(v) for v in _TANH_Q)
assert _TANH_P.size == 7 and _TANH_Q.size == 7, "the unrolled Horner steps below assume TANH_TERMS = 12"

_JIT = dict(cache=True, fastmath=True, nogil=True, error_model="numpy")
_U = uint64


@njit(inline="always", **_JIT)
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


@njit(inline="always", **_JIT)
def guard(v):
    return v if (v > SUBNORMAL_GUARD or v < -SUBNORMAL_GUARD) else np.float32(0.0)


@njit(**_JIT)
def tanh_array(x, out):
    """Elementwise tanh of a 1-D array (for tests of the approximation)."""
    for i in range(x.size):
        out[i] = tanh(x[i])


@njit(**_JIT)
def _matmul_add(w, cout, cin, src, s0, acc, a0, n):
    """``acc[o, a0 + t] += sum_i w[o, i] * src[i, s0 + t]`` for ``o < cout``, ``i < cin``, ``t < n``.

    What limits this loop is memory traffic, not arithmetic: two outputs and four
    inputs per pass load each input row once for two outputs and each accumulator
    once for four inputs.
    """
    xs, ac = src.ravel(), acc.ravel()
    sst, ast, un = _U(src.shape[1]), _U(acc.shape[1]), _U(n)
    o = 0
    while o + 2 <= cout:
        pa = _U(o) * ast + _U(a0)
        pb = pa + ast
        i = 0
        while i + 4 <= cin:
            p0 = _U(i) * sst + _U(s0)
            p1 = p0 + sst  # uint64 only: mixing in a signed int would promote to float64
            p2 = p1 + sst
            p3 = p2 + sst
            wa0, wa1, wa2, wa3 = w[o, i], w[o, i + 1], w[o, i + 2], w[o, i + 3]
            wb0, wb1, wb2, wb3 = w[o + 1, i], w[o + 1, i + 1], w[o + 1, i + 2], w[o + 1, i + 3]
            for t in range(un):
                v0, v1, v2, v3 = xs[p0 + t], xs[p1 + t], xs[p2 + t], xs[p3 + t]
                ac[pa + t] += (wa0 * v0 + wa1 * v1) + (wa2 * v2 + wa3 * v3)
                ac[pb + t] += (wb0 * v0 + wb1 * v1) + (wb2 * v2 + wb3 * v3)
            i += 4
        while i < cin:
            p0 = _U(i) * sst + _U(s0)
            wa, wb = w[o, i], w[o + 1, i]
            for t in range(un):
                v = xs[p0 + t]
                ac[pa + t] += wa * v
                ac[pb + t] += wb * v
            i += 1
        o += 2
    if o < cout:
        pa = _U(o) * ast + _U(a0)
        for i in range(cin):
            p0 = _U(i) * sst + _U(s0)
            wa = w[o, i]
            for t in range(un):
                ac[pa + t] += wa * xs[p0 + t]


@njit(**_JIT)
def _fill_rows(acc, a0, n, values, rows):
    """``acc[o, a0 + t] = values[o]`` for ``o < rows``, ``t < n``."""
    ac, ast = acc.ravel(), _U(acc.shape[1])
    for o in range(rows):
        p, v = _U(o) * ast + _U(a0), values[o]
        for t in range(_U(n)):
            ac[p + t] = v


@njit(**_JIT)
def _conv(buf, pos, n, w, b, cout, cin, ksize, dilation, out):
    """Causal dilated convolution of the block at ``pos`` into ``out[:cout, :n]``.

    ``w`` is ``(kernel, out, in)``: tap ``k`` is a matrix product with the history
    shifted by ``(K - 1 - k) * dilation``, so the convolution is ``kernel`` of them.
    """
    _fill_rows(out, 0, n, b, cout)
    for k in range(ksize):
        _matmul_add(w[k], cout, cin, buf, pos - (ksize - 1 - k) * dilation, out, 0, n)


@njit(**_JIT)
def compact(bufs, pos, histories):
    """Move each buffer's last ``histories[l]`` columns before ``pos`` to just before the
    returned position, which is the same for every buffer (the largest history)."""
    newpos = histories.max()
    for l in range(bufs.shape[0]):
        h = histories[l]
        for c in range(bufs.shape[1]):
            # a forward copy is safe: the destination starts before the source
            for j in range(h):
                bufs[l, c, newpos - h + j] = bufs[l, c, pos - h + j]
    return newpos


# Columns of the per-layer integer table of conv_stack_block.
CS_IN, CS_OUT, CS_KERNEL, CS_DILATION, CS_HISTORY = range(5)


@njit(**_JIT)
def conv_stack_block(x, out, pos, bufs, weights, biases, layers, scratch):
    """One block through a stack of causal convolutions with tanh between them (SeedCNN).

    ``bufs[l]`` holds layer ``l``'s input history (channels padded to the widest layer);
    ``x`` goes into ``bufs[0]`` and the last layer's first channel into ``out``.
    Returns the new write position.
    """
    n = x.size
    un = _U(n)
    nl = layers.shape[0]
    if pos + n > bufs.shape[2]:
        pos = compact(bufs, pos, layers[:, CS_HISTORY].copy())
    first = bufs[0].ravel()
    for t in range(un):
        first[_U(pos) + t] = x[t]
    sc, sst = scratch.ravel(), _U(scratch.shape[1])
    for l in range(nl):
        cout = layers[l, CS_OUT]
        _conv(bufs[l], pos, n, weights[l], biases[l], cout, layers[l, CS_IN], layers[l, CS_KERNEL],
              layers[l, CS_DILATION], scratch)
        if l < nl - 1:
            nxt, nst = bufs[l + 1].ravel(), _U(bufs.shape[2])
            for o in range(cout):
                ps, pd = _U(o) * sst, _U(o) * nst + _U(pos)
                for t in range(un):
                    nxt[pd + t] = tanh(sc[ps + t])
        else:
            for t in range(un):
                out[t] = sc[t]
    return pos + n


# Columns of wavenet_block's per-layer and per-array integer tables.
WL_KERNEL, WL_DILATION, WL_HISTORY = range(3)
WA_FIRST, WA_COUNT, WA_CHANNELS, WA_INPUT, WA_HEAD = range(5)


@njit(**_JIT)
def wavenet_block(x, out, pos, bufs, conv_w, conv_b, mix_w, res_w, res_b, layers, arrays, rech_w, head_w,
                  head_b, head_scale, scratch):
    """One block through NAM's WaveNet (non-gated tanh layers).

    ``bufs[l]`` holds layer ``l``'s input history (layers numbered across the arrays,
    channels padded to the widest). The condition is the raw input block ``x``.
    ``scratch`` holds four work areas: the layer's activation, the skip sum, the last
    residual and the head output. Returns the new write position.
    """
    n = x.size
    un, upos = _U(n), _U(pos)
    if pos + n > bufs.shape[2]:
        pos = compact(bufs, pos, layers[:, WL_HISTORY].copy())
        upos = _U(pos)
    z, head, resid, hout = scratch[0], scratch[1], scratch[2], scratch[3]
    zf, hf, rf, of = z.ravel(), head.ravel(), resid.ravel(), hout.ravel()
    sst, bst = _U(z.shape[1]), _U(bufs.shape[2])
    xin = x.reshape((1, n))
    zeros = np.zeros(bufs.shape[1], np.float32)
    na = arrays.shape[0]
    for a in range(na):
        first, count, ch = arrays[a, WA_FIRST], arrays[a, WA_COUNT], arrays[a, WA_CHANNELS]
        # the first array's input is x itself, later ones take the previous residual
        _fill_rows(bufs[first], pos, n, zeros, ch)
        if a == 0:
            _matmul_add(rech_w[a], ch, 1, xin, 0, bufs[first], pos, n)
        else:
            _matmul_add(rech_w[a], ch, arrays[a, WA_INPUT], resid, 0, bufs[first], pos, n)
        # the skip sum starts from the previous array's head output, or from nothing
        for o in range(ch):
            p = _U(o) * sst
            for t in range(un):
                hf[p + t] = 0.0 if a == 0 else of[p + t]
        for j in range(count):
            l = first + j
            buf = bufs[l]
            bf = buf.ravel()
            _conv(buf, pos, n, conv_w[l], conv_b[l], ch, ch, layers[l, WL_KERNEL], layers[l, WL_DILATION], z)
            for o in range(ch):
                p, mo = _U(o) * sst, mix_w[l, o]
                for t in range(un):
                    v = tanh(zf[p + t] + mo * x[t])
                    zf[p + t] = v
                    hf[p + t] += v
            last_layer = j == count - 1
            if last_layer and a == na - 1:
                break  # the final 1x1 feeds nothing that reaches the output
            # residual: this layer's input plus the 1x1 of its activation, into the
            # next layer's history (or, after an array's last layer, into resid)
            for o in range(ch):
                src, b = _U(o) * bst + upos, res_b[l, o]
                if last_layer:
                    d = _U(o) * sst
                    for t in range(un):
                        rf[d + t] = bf[src + t] + b
                else:
                    nf = bufs[l + 1].ravel()
                    for t in range(un):
                        nf[src + t] = bf[src + t] + b
            if last_layer:
                _matmul_add(res_w[l], ch, ch, z, 0, resid, 0, n)
            else:
                _matmul_add(res_w[l], ch, ch, z, 0, bufs[l + 1], pos, n)
        hs = arrays[a, WA_HEAD]
        _fill_rows(hout, 0, n, head_b[a], hs)
        _matmul_add(head_w[a], hs, ch, head, 0, hout, 0, n)
    for t in range(un):
        out[t] = head_scale * of[t]
    return pos + n


@njit(**_JIT)
def _gates_add(wf, w0, v, v0, nin, rows, g, g0):
    """``g[g0 + r] += sum_j wf[w0 + j * rows + r] * v[v0 + j]`` for ``j < nin``, ``r < rows``: one
    pass per four inputs, so each gate is loaded and stored once for four products, not four times."""
    ur = _U(rows)
    j = 0
    while j + 4 <= nin:
        a0, a1, a2, a3 = v[v0 + j], v[v0 + j + 1], v[v0 + j + 2], v[v0 + j + 3]
        p0 = _U(w0) + _U(j) * ur
        p1 = p0 + ur
        p2 = p1 + ur
        p3 = p2 + ur
        for r in range(ur):
            g[g0 + r] += (wf[p0 + r] * a0 + wf[p1 + r] * a1) + (wf[p2 + r] * a2 + wf[p3 + r] * a3)
        j += 4
    while j < nin:
        a0, p0 = v[v0 + j], _U(w0) + _U(j) * ur
        for r in range(ur):
            g[g0 + r] += wf[p0 + r] * a0
        j += 1


def lstm_layout(layers: int, hidden: int) -> dict[str, tuple[int, int]]:
    """Where each weight sits in :func:`lstm_block`'s one flat parameter array: name -> (start, size).

    ``w_in`` is the first layer's input weights (its input is the sample), ``act`` the
    activation's scales (see :func:`lstm_block`), ``head`` the head's weights, its bias
    and the skip gain; ``w_hh`` and ``w_ih`` (the layers above the first) are transposed,
    ``(hidden, 4 * hidden)`` per layer. Gate rows are in PyTorch's order i, f, g, o.
    """
    rows = 4 * hidden
    sizes = (("w_in", rows), ("bias", layers * rows), ("act", 2 * rows), ("head", hidden + 2),
             ("w_hh", layers * hidden * rows), ("w_ih", (layers - 1) * hidden * rows))
    out, start = {}, 0
    for name, size in sizes:
        out[name] = (start, size)
        start += size
    return out


@njit(**_JIT)
def lstm_block(x, out, params, state, gates):
    """One block through stacked LSTM layers and a linear head, plus a skip gain times the input.

    ``params`` holds every weight (:func:`lstm_layout` says where, and in which gate
    order); ``state`` is ``(2 * layers, hidden)``: each layer's ``h``, then each layer's
    ``c``; ``gates`` is work space for ``4 * hidden`` gates. Few arrays rather than ten,
    because each array argument costs about 0.1 us to pass, about a tenth of the work
    of a 64-sample block of a 16-unit LSTM. The gates are an array of their own: in the same
    array as the state the compiler cannot tell that the cell's loop writes no gate, and
    leaves it scalar (1.3x slower).

    The recurrent weights are transposed, one row per input ``v[j]``: adding ``v[j]``
    times its row to all gates is one contiguous, vectorized pass. Gate row ``r`` becomes
    ``act[r] * tanh(act[r] * v) + act[4 * hidden + r]``: the sigmoid of the i, f and o
    gates as 0.5 tanh(0.5 v) + 0.5 and the cell gate's tanh as 1 tanh(1 v) + 0, both exact
    scalings, in one in-place pass that the compiler vectorizes. With the gates, the cell
    and the output in one loop per unit it left them scalar (measured 1.5x slower for 16
    units). Flat arrays and offsets throughout: a row view (``h[l]``) costs a reference
    count update per sample.
    """
    hidden = state.shape[1]
    layers = state.shape[0] // 2
    rows = 4 * hidden
    us, ur = _U(hidden), _U(rows)
    wsize = hidden * rows
    # the offsets of lstm_layout, in its order
    p_bias = rows
    p_act = p_bias + layers * rows
    p_head = p_act + 2 * rows
    p_hh = p_head + hidden + 2
    p_ih = p_hh + layers * wsize
    head_b, skip = params[p_head + hidden], params[p_head + hidden + 1]
    sf = state.ravel()
    c0 = _U(layers * hidden)
    top = _U((layers - 1) * hidden)
    for t in range(x.size):
        xt = x[t]
        xg = guard(xt)
        for l in range(layers):
            pb = _U(p_bias) + _U(l) * ur
            ph = _U(l) * us
            if l == 0 and hidden >= 4:
                # the bias, the sample and the first four recurrent inputs in one pass
                h0, h1, h2, h3 = sf[ph], sf[ph + 1], sf[ph + 2], sf[ph + 3]
                q0 = _U(p_hh)
                q1 = q0 + ur
                q2 = q1 + ur
                q3 = q2 + ur
                for r in range(ur):
                    gates[r] = (params[pb + r] + params[r] * xg) + (
                        (params[q0 + r] * h0 + params[q1 + r] * h1) + (params[q2 + r] * h2 + params[q3 + r] * h3))
                _gates_add(params, p_hh + 4 * rows, sf, 4, hidden - 4, rows, gates, 0)
            else:
                if l == 0:
                    for r in range(ur):
                        gates[r] = params[pb + r] + params[r] * xg
                else:
                    for r in range(ur):
                        gates[r] = params[pb + r]
                    _gates_add(params, p_ih + (l - 1) * wsize, sf, (l - 1) * hidden, hidden, rows, gates, 0)
                _gates_add(params, p_hh + l * wsize, sf, l * hidden, hidden, rows, gates, 0)
            pa = _U(p_act)
            for r in range(ur):
                a = params[pa + r]
                gates[r] = a * tanh(a * gates[r]) + params[pa + ur + r]
            for j in range(us):
                cj = gates[us + j] * sf[c0 + ph + j] + gates[j] * gates[2 * us + j]
                sf[c0 + ph + j] = cj
                sf[ph + j] = gates[3 * us + j] * tanh(cj)
        y = head_b
        for j in range(us):
            y += params[_U(p_head) + j] * sf[top + j]
        out[t] = y + skip * xt


@njit(**_JIT)
def fir_block(buf, pos, n, taps_rev, out):
    """Causal FIR on the block at ``pos``: ``out[t] = sum_m taps_rev[m] * buf[pos + t - K + 1 + m]``."""
    k = taps_rev.size
    for t in range(n):
        s = _U(pos + t - k + 1)
        acc = 0.0
        for m in range(_U(k)):
            acc += taps_rev[m] * buf[s + m]
        out[t] = acc


@njit(**_JIT)
def polyphase_block(buf, first, count, stride, kernel, out):
    """A bank of FIR filters with a stride (a resampler):
    ``out[c * R + r] = sum_j kernel[r, j] * buf[first + c * stride + j]`` (``R`` rows).

    Upsampling by F is F rows and stride 1, downsampling one row and stride F.
    Accumulates in float64.
    """
    rows, ntaps = kernel.shape
    kf = kernel.ravel()
    for c in range(count):
        s = _U(first + c * stride)
        for r in range(rows):
            kr = _U(r * ntaps)
            acc = 0.0
            for j in range(_U(ntaps)):
                acc += kf[kr + j] * buf[s + j]
            out[c * rows + r] = acc
