"""The compiled per-block kernel of NAM's WaveNet as NAM 0.13 trains it (A2 and its variants; notebook 07).

:func:`nam_wavenet_block` runs a whole block of a
:class:`~guneamp_lib.models.nam_wavenet.NamWaveNet` in one compiled call, as
:func:`~guneamp_lib.render.kernels.wavenet_block` does for our own WaveNet, with what
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
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .kernels import JIT_OPTIONS, U64, NoAliasCompiler, compact, product, tanh

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


@njit(**JIT_OPTIONS)
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


@njit(pipeline_class=NoAliasCompiler, **JIT_OPTIONS)
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


@njit(**JIT_OPTIONS)
def _mm(wf, w0, wtap, wrow, taps, shift, cout, cin, xs, sst, s0, ac, ast, a0, n, bias, b0, init):
    """The product, by :func:`_product3` where the sizes are small enough for it."""
    if cout <= 3 and cin <= 3:
        _product3(wf, w0, wtap, wrow, taps, shift, cout, cin, xs, sst, s0, ac, ast, a0, n, bias, b0, init)
    else:
        product(wf, w0, wtap, wrow, taps, shift, cout, cin, xs, sst, s0, ac, ast, a0, n, bias, b0, init)


@njit(**JIT_OPTIONS)
def _layer3(zf, sst, x, wts, mix, code, p, bf, h0, bst, s0, dst, d0, dstride, l1w, l1b, n, residual):
    """What follows the convolution in a plain 3-channel layer with a layer 1x1 (A2 Lite), as one pass.

    ``a = act(z + mixer * x)``; the head rows at ``h0`` gain ``a``; where ``residual``, the
    next layer's input rows at ``d0`` get the input rows at ``s0`` plus ``layer1x1(a)``. The
    general path takes ten passes over the block for this, each as dear as its arithmetic
    at these sizes.
    """
    m0, m1, m2 = wts[mix], wts[mix + 1], wts[mix + 2]
    w00, w01, w02 = wts[l1w], wts[l1w + 1], wts[l1w + 2]
    w10, w11, w12 = wts[l1w + 3], wts[l1w + 4], wts[l1w + 5]
    w20, w21, w22 = wts[l1w + 6], wts[l1w + 7], wts[l1w + 8]
    b0, b1, b2 = wts[l1b], wts[l1b + 1], wts[l1b + 2]
    z0, z1, z2 = U64(0), U64(sst), U64(2 * sst)
    hs, ss, ds = U64(bst), U64(bst), U64(dstride)
    h0, s0, d0 = U64(h0), U64(s0), U64(d0)
    slope = p[0]
    for t in range(n):
        xt = x[t]
        u0, u1, u2 = zf[z0 + t] + m0 * xt, zf[z1 + t] + m1 * xt, zf[z2 + t] + m2 * xt
        if code == ACT_LEAKY:
            a0 = u0 if u0 > 0.0 else slope * u0
            a1 = u1 if u1 > 0.0 else slope * u1
            a2 = u2 if u2 > 0.0 else slope * u2
        else:
            a0, a1, a2 = _act(u0, code, p), _act(u1, code, p), _act(u2, code, p)
        bf[h0 + t] += a0
        bf[h0 + hs + t] += a1
        bf[h0 + 2 * hs + t] += a2
        if residual:
            dst[d0 + t] = bf[s0 + t] + b0 + (w00 * a0 + w01 * a1 + w02 * a2)
            dst[d0 + ds + t] = bf[s0 + ss + t] + b1 + (w10 * a0 + w11 * a1 + w12 * a2)
            dst[d0 + 2 * ds + t] = bf[s0 + 2 * ss + t] + b2 + (w20 * a0 + w21 * a1 + w22 * a2)


@njit(inline="always", **JIT_OPTIONS)
def _offset_copy(dst, d, src, s, n, e):
    """``dst[d + t] = src[s + t] + e`` for ``t < n`` (a residual row and its bias)."""
    for t in range(n):
        dst[d + t] = src[s + t] + e


@njit(**JIT_OPTIONS)
def nam_wavenet_block(x, out, pos, bufs, wts, layers, acts, arrays, head_scale, scratch):
    """One block through a NAM WaveNet; returns the new write position.

    ``bufs[l]`` holds layer ``l``'s input history (layers numbered across the arrays);
    ``bufs[L + a]`` holds array ``a``'s head input (the skip sum), read by its head
    rechannel's taps. ``scratch`` rows: ``[0]`` the layer's pre-activation ``z``
    (``2B`` rows), ``[1]`` the gate, ``[2]`` the last residual, ``[3]`` the head output,
    ``[4]`` zeros (read, never written).
    """
    n = x.size
    un = U64(n)
    if pos + n > bufs.shape[2]:
        pos = compact(bufs, pos, layers[:, NL_HISTORY].copy())
    upos = U64(pos)
    nl = layers.shape[0] - arrays.shape[0]  # the last rows are the head inputs' histories
    cmax, bst = bufs.shape[1], bufs.shape[2]
    lsize = cmax * bst
    bf = bufs.ravel()
    zf, gf, rf, of = scratch[0].ravel(), scratch[1].ravel(), scratch[2].ravel(), scratch[3].ravel()
    sst = scratch.shape[2]
    zeros = scratch[4].ravel()  # a fifth area nothing writes: no allocation in the audio callback
    na = arrays.shape[0]
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
            _mm(wts, layers[l, NL_CONV_W], mid * c, c, layers[l, NL_KERNEL], layers[l, NL_DILATION], mid, c, bf,
                    bst, lb + pos, zf, sst, 0, n, wts, layers[l, NL_CONV_B], True)
            mix = layers[l, NL_MIX]
            last = j == count - 1
            if mode == MODE_NONE and c == 3 and b == 3 and h1 == 0 and arrays[a, NA_LAYER1X1] != 0:
                # A2 Lite's layer: everything after the convolution in one pass
                if last:
                    _layer3(zf, sst, x, wts, mix, layers[l, NL_ACT], acts[l, 0], bf, hb + pos, bst, lb + pos, rf, 0,
                            sst, layers[l, NL_L1_W], layers[l, NL_L1_B], un, a < na - 1)
                else:
                    _layer3(zf, sst, x, wts, mix, layers[l, NL_ACT], acts[l, 0], bf, hb + pos, bst, lb + pos, bf,
                            lb + lsize + pos, bst, layers[l, NL_L1_W], layers[l, NL_L1_B], un, True)
                continue
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
