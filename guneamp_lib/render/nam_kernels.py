"""The compiled per-block kernel of NAM's WaveNet as NAM 0.13 trains it (A2 and its variants; notebook 07).

:func:`nam_wavenet_block` runs a whole block of a
:class:`~guneamp_lib.models.nam_wavenet.NamWaveNet` in one compiled call, as
:func:`~guneamp_lib.render.wavenet_kernels.wavenet_block` does for our own WaveNet, with what
NAM's newer files add: a kernel size per layer (A2: 6 and 15), any activation NAM core
lists but the per-channel PReLU, ``none``/``gated``/``blended`` layers, a bottleneck,
layers with or without their 1x1s, and a head rechannel with its own taps and dilation
(A2: 16), whose input history lives in the same ring buffers as the layers'. FiLM,
grouped convolutions, a post-stack head and a condition DSP run on the general
compiled engine of :mod:`~guneamp_lib.render.nam_program`
(:meth:`~guneamp_lib.render.nam_engines.FastNamWaveNet.supports` says which).

Layout as in :mod:`~guneamp_lib.render.kernels`: channel-major rows over contiguous
time, flat arrays addressed by offsets, matrix products by :func:`~guneamp_lib.render.kernels.product`.
The weights of every layer sit in one flat float32 array; an integer table gives, per
layer, its sizes and where each weight starts (``NL_*`` columns), another per array
(``NA_*``). Activations are a code and four parameters (``ACT_*``), branched on once
per row, outside the loop over time, so each loop vectorizes.

A plain 3-channel layer with a layer 1x1 (A2 Lite's) has a fused path, :func:`_layer3`:
six taps for all three outputs per pass over the block, the last pass carrying
everything after the convolution, so the accumulators stay in registers. One tap per
pass, as the general products go, made every tap a pass of nine multiply-adds whose
loads and stores cost more than their arithmetic (A2 Lite at block 64: 13.5 us per
block against NAM core's 9.2; fused: 10.5 against 8.4, and at block 256 21.6 against
32.5, on this project's 2-core AVX-512 VM).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .kernels import JIT_OPTIONS, LEAF_OPTIONS, U64, NoAliasCompiler, compact, product, tanh

# Activation codes (NAM core's names; ReLU and a one-slope PReLU are LeakyReLU).
ACT_TANH, ACT_HARDTANH, ACT_FASTTANH, ACT_LEAKY, ACT_SIGMOID, ACT_SILU, ACT_HARDSWISH, ACT_LEAKY_HARDTANH, \
    ACT_SOFTSIGN = range(9)
MODE_NONE, MODE_GATED, MODE_BLENDED = range(3)
# Columns of the per-layer table.
(NL_KERNEL, NL_DILATION, NL_HISTORY, NL_MODE, NL_ACT, NL_GATE, NL_CONV_W, NL_CONV_B, NL_MIX, NL_L1_W, NL_L1_B,
 NL_H1_W, NL_H1_B) = range(13)
# Columns of the per-array table.
(NA_FIRST, NA_COUNT, NA_INPUT, NA_CHANNELS, NA_BOTTLENECK, NA_LAYER1X1, NA_HEAD1X1, NA_HEAD_OUT, NA_HEAD_KERNEL,
 NA_HEAD_DILATION, NA_RECH_W, NA_HEAD_W, NA_HEAD_B, NA_HEAD_BIAS) = range(14)


@njit(inline="always", **JIT_OPTIONS)
def _act(v, code, p):
    """One activation of ``v`` (float32); ``p`` its four parameters."""
    if code == ACT_TANH:
        return tanh(v)
    if code == ACT_HARDTANH:
        return v if -1.0 < v < 1.0 else (np.float32(1.0) if v >= 1.0 else np.float32(-1.0))
    if code == ACT_FASTTANH:
        ax, x2 = abs(v), v * v
        num = v * (np.float32(2.45550750702956) + np.float32(2.45550750702956) * ax
                   + (np.float32(0.893229853513558) + np.float32(0.821226666969744) * ax) * x2)
        return num / (np.float32(2.44506634652299)
                      + (np.float32(2.44506634652299) + x2) * abs(v + np.float32(0.814642734961073) * v * ax))
    if code == ACT_LEAKY:
        return v if v > 0.0 else p[0] * v
    if code == ACT_SIGMOID:
        return np.float32(1.0) / (np.float32(1.0) + np.exp(-v))
    if code == ACT_SILU:
        return v / (np.float32(1.0) + np.exp(-v))
    if code == ACT_HARDSWISH:
        s = v + np.float32(3.0)
        s = np.float32(0.0) if s < 0.0 else (np.float32(6.0) if s > 6.0 else s)
        return v * s * np.float32(1.0 / 6.0)
    if code == ACT_LEAKY_HARDTANH:
        if v < p[0]:
            return (v - p[0]) * p[2] + p[0]
        if v > p[1]:
            return (v - p[1]) * p[3] + p[1]
        return v
    return v / (np.float32(1.0) + abs(v))  # ACT_SOFTSIGN


@njit(**LEAF_OPTIONS)
def _act_row(zf, src, dst, n, code, p):
    """``zf[dst + t] = act(zf[src + t])`` for ``t < n``; one branch per code, so each loop vectorizes."""
    if code == ACT_TANH:
        for t in range(n):
            zf[dst + t] = tanh(zf[src + t])
    elif code == ACT_LEAKY:
        s = p[0]
        for t in range(n):
            v = zf[src + t]
            zf[dst + t] = v if v > 0.0 else s * v
    else:
        for t in range(n):
            zf[dst + t] = _act(zf[src + t], code, p)


activation_row = _act_row  # for the general interpreter of render/nam_ops.py


@njit(inline="always", **JIT_OPTIONS)
def _w3(wf, at, cin):
    """Three weights of a row from ``at``, zero beyond ``cin``."""
    z = np.float32(0.0)
    return wf[at], (wf[at + 1] if cin > 1 else z), (wf[at + 2] if cin > 2 else z)


@njit(pipeline_class=NoAliasCompiler, **LEAF_OPTIONS)
def _product3(wf, w0, wtap, wrow, taps, shift, cout, cin, xs, sst, s0, ac, ast, a0, n, bias, b0, init):
    """:func:`~guneamp_lib.render.kernels.product` for at most three outputs and three inputs (A2 Lite).

    The general product takes four outputs by four inputs per pass, and one at a time
    for what is left over: on three channels, every pass is a leftover. Here each tap is
    one pass over the block for all outputs and inputs, missing inputs weighted zero
    (and read from a row that exists).
    """
    un, usst, uast = U64(n), U64(sst), U64(ast)
    q0 = U64(a0)
    q1, q2 = q0 + (uast if cout > 1 else U64(0)), q0 + (U64(2) * uast if cout > 2 else U64(0))
    z = np.float32(0.0)
    for k in range(taps):
        s = U64(s0 - (taps - 1 - k) * shift)
        p0 = s
        p1 = s + (usst if cin > 1 else U64(0))
        p2 = s + (U64(2) * usst if cin > 2 else U64(0))
        wk = w0 + k * wtap
        a0_, a1, a2 = _w3(wf, wk, cin)
        b0_, b1, b2 = _w3(wf, wk + wrow, cin) if cout > 1 else (z, z, z)
        c0, c1, c2 = _w3(wf, wk + 2 * wrow, cin) if cout > 2 else (z, z, z)
        if init and k == 0:  # the first tap starts from the bias
            e0 = bias[b0]
            e1 = bias[b0 + 1] if cout > 1 else z
            e2 = bias[b0 + 2] if cout > 2 else z
            for t in range(un):  # highest row first: a missing row's offset is row 0's
                ac[q2 + t] = e2
                ac[q1 + t] = e1
                ac[q0 + t] = e0
        if cout == 3:
            for t in range(un):
                v0, v1, v2 = xs[p0 + t], xs[p1 + t], xs[p2 + t]
                ac[q0 + t] += a0_ * v0 + a1 * v1 + a2 * v2
                ac[q1 + t] += b0_ * v0 + b1 * v1 + b2 * v2
                ac[q2 + t] += c0 * v0 + c1 * v1 + c2 * v2
        elif cout == 2:
            for t in range(un):
                v0, v1, v2 = xs[p0 + t], xs[p1 + t], xs[p2 + t]
                ac[q0 + t] += a0_ * v0 + a1 * v1 + a2 * v2
                ac[q1 + t] += b0_ * v0 + b1 * v1 + b2 * v2
        else:
            for t in range(un):
                ac[q0 + t] += a0_ * xs[p0 + t] + a1 * xs[p1 + t] + a2 * xs[p2 + t]
    if taps == 0 and init:
        for o in range(cout):
            for t in range(un):
                ac[U64(a0 + o * ast) + t] = bias[b0 + o]


@njit(**LEAF_OPTIONS)
def _mm(wf, w0, wtap, wrow, taps, shift, cout, cin, xs, sst, s0, ac, ast, a0, n, bias, b0, init):
    """The product, by :func:`_product3` where the sizes are small enough for it."""
    if cout <= 3 and cin <= 3:
        _product3(wf, w0, wtap, wrow, taps, shift, cout, cin, xs, sst, s0, ac, ast, a0, n, bias, b0, init)
    else:
        product(wf, w0, wtap, wrow, taps, shift, cout, cin, xs, sst, s0, ac, ast, a0, n, bias, b0, init)


# Taps of a 3-channel convolution taken per pass over the block by :func:`_taps3_pass`.
TAPS_PER_PASS = 6
# Zeros at the end of the packed weights, at least a missing tap's nine (see _tap_at).
ZERO_WEIGHTS = 16
# Unsigned offsets for the fused path's weight indices: with a signed index numba tests
# every load for negative wrap-around, which took some 400 instructions per pass before
# its loop started (the 72 weights are loaded once per pass).
_1, _2, _3, _4, _5, _6, _7, _8 = (U64(i) for i in range(1, 9))


@njit(inline="always", **JIT_OPTIONS)
def _tap3(wts, w, hist, p, bs, t, z0, z1, z2):
    """``z += W @ hist[:, p + t]`` for one tap's 3x3 weights ``W`` (row-major from ``w``, unsigned)."""
    v0, v1, v2 = hist[p + t], hist[p + bs + t], hist[p + _2 * bs + t]
    return (z0 + wts[w] * v0 + wts[w + _1] * v1 + wts[w + _2] * v2,
            z1 + wts[w + _3] * v0 + wts[w + _4] * v1 + wts[w + _5] * v2,
            z2 + wts[w + _6] * v0 + wts[w + _7] * v1 + wts[w + _8] * v2)


@njit(inline="always", **JIT_OPTIONS)
def _six(wts, ws, hist, ps, bs, t, z0, z1, z2):
    """Six taps into ``z`` (``ws``, ``ps``: each tap's weights and history offset)."""
    z0, z1, z2 = _tap3(wts, ws[0], hist, ps[0], bs, t, z0, z1, z2)
    z0, z1, z2 = _tap3(wts, ws[1], hist, ps[1], bs, t, z0, z1, z2)
    z0, z1, z2 = _tap3(wts, ws[2], hist, ps[2], bs, t, z0, z1, z2)
    z0, z1, z2 = _tap3(wts, ws[3], hist, ps[3], bs, t, z0, z1, z2)
    z0, z1, z2 = _tap3(wts, ws[4], hist, ps[4], bs, t, z0, z1, z2)
    return _tap3(wts, ws[5], hist, ps[5], bs, t, z0, z1, z2)


@njit(pipeline_class=NoAliasCompiler, **LEAF_OPTIONS)
def _taps3_pass(wts, ws, ps, hist, bs, zf, sst, n, first, b):
    """A pass of up to six taps of a 3-channel convolution that is not the layer's last: into ``zf``.

    ``first``: the pass starts from the bias at ``b``; otherwise from ``zf`` itself.
    """
    z1_, z2_ = U64(sst), U64(2 * sst)
    if first:
        ub = U64(b)
        c0, c1, c2 = wts[ub], wts[ub + _1], wts[ub + _2]
        for t in range(U64(n)):
            z0, z1, z2 = _six(wts, ws, hist, ps, bs, t, c0, c1, c2)
            zf[t], zf[z1_ + t], zf[z2_ + t] = z0, z1, z2
    else:
        for t in range(U64(n)):
            z0, z1, z2 = _six(wts, ws, hist, ps, bs, t, zf[t], zf[z1_ + t], zf[z2_ + t])
            zf[t], zf[z1_ + t], zf[z2_ + t] = z0, z1, z2


@njit(inline="always", **JIT_OPTIONS)
def _tail3(a0, a1, a2, hd, h, hs, hist, s, bs, dst, d, ds, wts, l1w, l1b, t):
    """The head rows gain ``a``; ``dst`` gets the layer's input plus ``layer1x1(a)``."""
    hd[h + t] += a0
    hd[h + hs + t] += a1
    hd[h + U64(2) * hs + t] += a2
    dst[d + t] = hist[s + t] + wts[l1b] + (wts[l1w] * a0 + wts[l1w + _1] * a1 + wts[l1w + _2] * a2)
    dst[d + ds + t] = hist[s + bs + t] + wts[l1b + _1] + (wts[l1w + _3] * a0 + wts[l1w + _4] * a1
                                                          + wts[l1w + _5] * a2)
    dst[d + _2 * ds + t] = hist[s + _2 * bs + t] + wts[l1b + _2] + (
        wts[l1w + _6] * a0 + wts[l1w + _7] * a1 + wts[l1w + _8] * a2)


@njit(inline="always", **JIT_OPTIONS)
def _leaky(v, slope):
    return v if v > 0.0 else slope * v


@njit(pipeline_class=NoAliasCompiler, **LEAF_OPTIONS)
def _taps3_last(wts, ws, ps, hist, bs, zf, sst, n, first, b, x, mix, code, p, hd, h, dst, d, ds, l1w, l1b):
    """A 3-channel layer's last pass of taps, then all that follows the convolution (A2 Lite).

    ``u = conv + mixer * x``; ``a = act(u)``; the head rows at ``h`` (stride ``bs``) gain
    ``a``; ``dst`` rows at ``d`` (stride ``ds``) get the layer's input plus
    ``layer1x1(a)``: the next layer's input. ``hist``, ``hd`` and ``dst`` may be one array
    (the ring buffers) as long as the rows each touches are apart. LeakyReLU (A2's) has a
    loop per case, so nothing is decided inside it (a branch there stopped it vectorizing);
    the other activations share one loop.
    """
    um, ub, l1w, l1b = U64(mix), U64(b), U64(l1w), U64(l1b)
    m0, m1, m2 = wts[um], wts[um + _1], wts[um + _2]
    z1_, z2_ = U64(sst), U64(2 * sst)
    s = ps[5]  # the last tap reads the block itself: the layer's input
    h, d, ds, bs = U64(h), U64(d), U64(ds), U64(bs)
    c0, c1, c2 = wts[ub], wts[ub + _1], wts[ub + _2]
    slope = p[0]
    un = U64(n)
    if first and code == ACT_LEAKY:
        for t in range(un):
            xt = x[t]
            u0, u1, u2 = _six(wts, ws, hist, ps, bs, t, c0 + m0 * xt, c1 + m1 * xt, c2 + m2 * xt)
            _tail3(_leaky(u0, slope), _leaky(u1, slope), _leaky(u2, slope), hd, h, bs, hist, s, bs, dst, d, ds, wts,
                   l1w, l1b, t)
    elif code == ACT_LEAKY:
        for t in range(un):
            xt = x[t]
            u0, u1, u2 = _six(wts, ws, hist, ps, bs, t, zf[t] + m0 * xt, zf[z1_ + t] + m1 * xt, zf[z2_ + t] + m2 * xt)
            _tail3(_leaky(u0, slope), _leaky(u1, slope), _leaky(u2, slope), hd, h, bs, hist, s, bs, dst, d, ds, wts,
                   l1w, l1b, t)
    else:
        for t in range(un):
            xt = x[t]
            if first:
                u0, u1, u2 = _six(wts, ws, hist, ps, bs, t, c0 + m0 * xt, c1 + m1 * xt, c2 + m2 * xt)
            else:
                u0, u1, u2 = _six(wts, ws, hist, ps, bs, t, zf[t] + m0 * xt, zf[z1_ + t] + m1 * xt,
                                  zf[z2_ + t] + m2 * xt)
            _tail3(_act(u0, code, p), _act(u1, code, p), _act(u2, code, p), hd, h, bs, hist, s, bs, dst, d, ds, wts,
                   l1w, l1b, t)


@njit(inline="always", **JIT_OPTIONS)
def _tap_at(cw, s, k, taps, shift, zero):
    """Tap ``k``'s weights and history offset; a tap before the first is zero weights on tap 0's row."""
    if k < 0:
        return U64(zero), U64(s - (taps - 1) * shift)
    return U64(cw + 9 * k), U64(s - (taps - 1 - k) * shift)


@njit(inline="always", **JIT_OPTIONS)
def _layer3(wts, cw, cb, taps, shift, zero, bf, s, bst, zf, sst, n, x, mix, code, p, h, dst, d, ds, l1w, l1b):
    """One plain 3-channel layer with a layer 1x1 (A2 Lite's), in passes of six taps.

    ``s`` is where the layer's input block starts in ``bf``. Each pass reads six taps for
    the three outputs at once, so the accumulators stay in registers across them (one
    tap per pass took 1.5 times NAM core's time on A2 Lite); missing taps (``taps`` not a
    multiple of six) come first, as nine zero weights at ``zero`` on a row that exists.
    The last tap reads the block itself and is always in the last pass, with everything
    after the convolution.
    """
    passes = (taps + TAPS_PER_PASS - 1) // TAPS_PER_PASS
    lead = passes * TAPS_PER_PASS - taps
    for q in range(passes):
        k0 = q * TAPS_PER_PASS - lead
        w0, p0 = _tap_at(cw, s, k0, taps, shift, zero)
        w1, p1 = _tap_at(cw, s, k0 + 1, taps, shift, zero)
        w2, p2 = _tap_at(cw, s, k0 + 2, taps, shift, zero)
        w3, p3 = _tap_at(cw, s, k0 + 3, taps, shift, zero)
        w4, p4 = _tap_at(cw, s, k0 + 4, taps, shift, zero)
        w5, p5 = _tap_at(cw, s, k0 + 5, taps, shift, zero)
        ws, ps = (w0, w1, w2, w3, w4, w5), (p0, p1, p2, p3, p4, p5)
        if q < passes - 1:
            _taps3_pass(wts, ws, ps, bf, U64(bst), zf, sst, n, q == 0, cb)
        else:
            _taps3_last(wts, ws, ps, bf, bst, zf, sst, n, q == 0, cb, x, mix, code, p, bf, h, dst, d, ds, l1w, l1b)


@njit(inline="always", **JIT_OPTIONS)
def _offset_copy(dst, d, src, s, n, e):
    """``dst[d + t] = src[s + t] + e`` for ``t < n`` (a residual row and its bias)."""
    for t in range(n):
        dst[d + t] = src[s + t] + e


@njit(**LEAF_OPTIONS)
def nam_wavenet_block(x, out, pos, bf, cmax, bst, wts, layers, acts, arrays, head_scale, sf):
    """One block through a NAM WaveNet; returns the new write position.

    ``bf`` is the ring buffers, flat: one per row of ``layers``, each ``cmax`` rows of
    ``bst`` columns. Buffer ``l`` holds layer ``l``'s input history (layers numbered
    across the arrays); buffer ``L + a`` array ``a``'s head input (the skip sum), read by
    its head rechannel's taps. ``sf`` is five work areas of ``cmax`` rows, flat: the
    layer's pre-activation ``z`` (``2B`` rows), the gate, the last residual, the head
    output, and zeros (read, never written). Flat arrays and no reference counts
    (``LEAF_OPTIONS``): with counting, each array argument of a call from Python cost a
    counted wrapper and two atomic updates.
    """
    n = x.size
    un = U64(n)
    if pos + n > bst:
        pos = compact(bf, layers.shape[0], cmax, bst, pos, layers, NL_HISTORY)
    upos = U64(pos)
    nl = layers.shape[0] - arrays.shape[0]  # the last rows are the head inputs' histories
    lsize = cmax * bst
    area = sf.size // 5
    sst = area // cmax
    zf, gf, rf, of = sf[:area], sf[area:2 * area], sf[2 * area:3 * area], sf[3 * area:4 * area]
    zeros = sf[4 * area:]  # a fifth area nothing writes: no allocation in the audio callback
    na = arrays.shape[0]
    zero_w = wts.size - ZERO_WEIGHTS  # nine zero weights: a missing tap
    for a in range(na):
        first, count = arrays[a, NA_FIRST], arrays[a, NA_COUNT]
        c, b, cin = arrays[a, NA_CHANNELS], arrays[a, NA_BOTTLENECK], arrays[a, NA_INPUT]
        h1, hout = arrays[a, NA_HEAD1X1], arrays[a, NA_HEAD_OUT]
        hin = h1 if h1 > 0 else b
        hb = (nl + a) * lsize  # this array's head-input history
        if a == 0:
            _mm(wts, arrays[a, NA_RECH_W], 0, cin, 1, 0, c, cin, x, n, 0, bf, bst, first * lsize + pos, n, zeros,
                    0, True)
        else:
            _mm(wts, arrays[a, NA_RECH_W], 0, cin, 1, 0, c, cin, rf, sst, 0, bf, bst, first * lsize + pos, n,
                    zeros, 0, True)
        # the skip sum starts from the previous array's head output, or from nothing
        for o in range(hin):
            p, d = U64(o * sst), U64(hb + o * bst) + upos
            for t in range(un):
                bf[d + t] = 0.0 if a == 0 else of[p + t]
        for j in range(count):
            l = first + j
            lb = l * lsize
            mode = layers[l, NL_MODE]
            mid = b if mode == MODE_NONE else 2 * b
            mix = layers[l, NL_MIX]
            last = j == count - 1
            if mode == MODE_NONE and c == 3 and b == 3 and h1 == 0 and arrays[a, NA_LAYER1X1] != 0:
                # A2 Lite's layer: the convolution and all that follows it, six taps a pass;
                # an array's last layer leaves the residual in its scratch rows
                _layer3(wts, layers[l, NL_CONV_W], layers[l, NL_CONV_B], layers[l, NL_KERNEL],
                        layers[l, NL_DILATION], zero_w, bf, lb + pos, bst, zf, sst, n, x, mix, layers[l, NL_ACT],
                        acts[l, 0], hb + pos, rf if last else bf, 0 if last else lb + lsize + pos,
                        sst if last else bst, layers[l, NL_L1_W], layers[l, NL_L1_B])
                continue
            _mm(wts, layers[l, NL_CONV_W], mid * c, c, layers[l, NL_KERNEL], layers[l, NL_DILATION], mid, c, bf,
                    bst, lb + pos, zf, sst, 0, n, wts, layers[l, NL_CONV_B], True)
            for o in range(mid):
                p, m = U64(o * sst), wts[mix + o]
                for t in range(un):
                    zf[p + t] += m * x[t]
            pa, pg = acts[l, 0], acts[l, 1]
            for o in range(b):
                p, q = U64(o * sst), U64((o + b) * sst)
                if mode != MODE_NONE:
                    _act_row(zf, q, q, un, layers[l, NL_GATE], pg)  # the gate, in place
                    if mode == MODE_BLENDED:
                        for t in range(un):
                            gf[p + t] = zf[p + t]  # the pre-activation, blended back in
                _act_row(zf, p, p, un, layers[l, NL_ACT], pa)
                if mode == MODE_GATED:
                    for t in range(un):
                        zf[p + t] *= zf[q + t]
                elif mode == MODE_BLENDED:
                    for t in range(un):
                        g = zf[q + t]
                        zf[p + t] = g * zf[p + t] + (np.float32(1.0) - g) * gf[p + t]
            # head: += head1x1(a) + bias, or += a
            if h1 > 0:
                hbias = layers[l, NL_H1_B]
                for o in range(h1):
                    d, e = U64(hb + o * bst) + upos, wts[hbias + o]
                    for t in range(un):
                        bf[d + t] += e
                _mm(wts, layers[l, NL_H1_W], 0, b, 1, 0, h1, b, zf, sst, 0, bf, bst, hb + pos, n, zeros, 0,
                        False)
            else:
                for o in range(b):
                    p, d = U64(o * sst), U64(hb + o * bst) + upos
                    for t in range(un):
                        bf[d + t] += zf[p + t]
            # residual: input plus layer1x1(a) + bias (or the input alone), into the next layer's
            # history, or after an array's last layer into the residual scratch
            if last and a == na - 1:
                break  # the last residual feeds nothing that reaches the output
            l1 = arrays[a, NA_LAYER1X1] != 0
            for o in range(c):
                src = U64(lb + o * bst) + upos
                e = wts[layers[l, NL_L1_B] + o] if l1 else np.float32(0.0)
                if last:
                    _offset_copy(rf, U64(o * sst), bf, src, un, e)
                else:
                    _offset_copy(bf, src + U64(lsize), bf, src, un, e)
            if l1:
                if last:
                    _mm(wts, layers[l, NL_L1_W], 0, b, 1, 0, c, b, zf, sst, 0, rf, sst, 0, n, zeros, 0, False)
                else:
                    _mm(wts, layers[l, NL_L1_W], 0, b, 1, 0, c, b, zf, sst, 0, bf, bst, lb + lsize + pos, n, zeros,
                            0, False)
        hk = arrays[a, NA_HEAD_KERNEL]
        _mm(wts, arrays[a, NA_HEAD_W], hout * hin, hin, hk, arrays[a, NA_HEAD_DILATION], hout, hin, bf, bst,
                hb + pos, of, sst, 0, n, wts if arrays[a, NA_HEAD_BIAS] else zeros,
                arrays[a, NA_HEAD_B] if arrays[a, NA_HEAD_BIAS] else 0, True)
    for t in range(un):
        out[t] = head_scale * of[t]
    return pos + n
