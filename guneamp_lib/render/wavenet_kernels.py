"""The compiled per-block kernel of our WaveNet (non-gated tanh layers, notebook 07).

:func:`wavenet_block` runs a whole block of a :class:`~guneamp_lib.models.wavenet.WaveNet`
(and of NAM's standard and lite files, which load as one) in one compiled call, in the
layout of :mod:`~guneamp_lib.render.kernels`: channel-major rows over contiguous time,
flat arrays addressed by unsigned offsets, matrix products by
:func:`~guneamp_lib.render.kernels.product`. Its engine is
:class:`~guneamp_lib.render.engines.FastWaveNet`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .kernels import LEAF_OPTIONS, U64, compact, product, tanh

# Columns of wavenet_block's per-layer and per-array integer tables.
WL_KERNEL, WL_DILATION, WL_HISTORY = range(3)
WA_FIRST, WA_COUNT, WA_CHANNELS, WA_INPUT, WA_HEAD = range(5)


@njit(**LEAF_OPTIONS)
def wavenet_block(x, out, pos, bf, cmax, bst, kmax, wf, layers, arrays, head_scale, sf, ramp):
    """One block through NAM's WaveNet (non-gated tanh layers).

    ``bf`` holds one history buffer per layer (layers numbered across the arrays), each
    ``cmax`` rows (channels padded to the widest) of ``bst`` columns, flat. The condition
    is the raw input block ``x``. ``sf`` holds five work areas of ``cmax`` rows: the
    layer's activation, the skip sum, the last residual, the head output, and zeros
    (read, never written). ``wf`` holds every weight, flat, in this order: the
    convolutions ``(L, kmax, C, C)``, mixers ``(L, C)``, 1x1s ``(L, C, C)`` and their biases
    ``(L, C)``, the rechannels and heads ``(A, C, C)``, the head biases ``(A, C)``, then the
    convolutions' biases and their ramps (below), the same size each. Every array is used
    flat, through offsets (see :func:`_product`), and nothing is reference-counted
    (``LEAF_OPTIONS``): each array argument of the call from Python costs the audio
    callback its unboxing. Returns the new write position.

    ``ramp`` (a knob gliding, notebook 13): sample ``t`` of layer ``l``'s channel ``o`` adds
    ``(t + 1) * ramp_b[l * C + o]`` to its bias, one multiply-add per channel and sample
    beside the convolution's ``kernel x channels``: the knobs move linearly per sample
    through the block, which runs whole.

    A FiLM knob model has biases (and ramps) twice as long: each channel's scale after
    the biases, at ``L * C + l * C + o``. The convolution then runs without its bias, and
    channel ``o``'s pre-activation is ``conv * scale + conv_b`` (the bias already scaled:
    the engine folds both from the knobs), the scale moving ``(t + 1)`` times its ramp in a
    glide.
    """
    n = x.size
    un = U64(n)
    nl, na = layers.shape[0], arrays.shape[0]
    if pos + n > bst:
        pos = compact(bf, nl, cmax, bst, pos, layers, WL_HISTORY)
    upos = U64(pos)
    lsize, msize = cmax * bst, cmax * cmax
    # separate flat views (made once per block): the loops below see separate arrays
    area = sf.size // 5
    sst = area // cmax
    zf, hf, rf, of = sf[:area], sf[area : 2 * area], sf[2 * area : 3 * area], sf[3 * area : 4 * area]
    zeros = sf[4 * area :]  # a fifth area nothing writes: no allocation in the audio callback
    nlc = nl * cmax
    o_mw = nl * kmax * msize
    o_rw = o_mw + nlc
    o_rb = o_rw + nl * msize
    o_chw = o_rb + nlc
    o_hw = o_chw + na * msize
    o_hb = o_hw + na * msize
    o_cb = o_hb + na * cmax
    bsize = (wf.size - o_cb) // 2
    cw, mw, rw, rb = wf[:o_mw], wf[o_mw:o_rw], wf[o_rw:o_rb], wf[o_rb:o_chw]
    chw, hw, hb = wf[o_chw:o_hw], wf[o_hw:o_hb], wf[o_hb:o_cb]
    cb, ramp_b = wf[o_cb : o_cb + bsize], wf[o_cb + bsize :]
    film = bsize > nlc  # the scales follow the biases
    for a in range(na):
        first, count, ch = arrays[a, WA_FIRST], arrays[a, WA_COUNT], arrays[a, WA_CHANNELS]
        # the first array's input is x itself, later ones take the previous residual
        if a == 0:
            product(chw, a * msize, 0, cmax, 1, 0, ch, 1, x, n, 0, bf, bst, first * lsize + pos, n, zeros, 0, True)
        else:
            product(chw, a * msize, 0, cmax, 1, 0, ch, arrays[a, WA_INPUT], rf, sst, 0, bf, bst,
                     first * lsize + pos, n, zeros, 0, True)
        # the skip sum starts from the previous array's head output, or from nothing
        for o in range(ch):
            p = U64(o * sst)
            for t in range(un):
                hf[p + t] = 0.0 if a == 0 else of[p + t]
        for j in range(count):
            l = first + j
            lb = l * lsize  # this layer's history
            if film:
                product(cw, l * kmax * msize, msize, cmax, layers[l, WL_KERNEL], layers[l, WL_DILATION], ch,
                         ch, bf, bst, lb + pos, zf, sst, 0, n, zeros, 0, True)
            else:
                product(cw, l * kmax * msize, msize, cmax, layers[l, WL_KERNEL], layers[l, WL_DILATION], ch,
                         ch, bf, bst, lb + pos, zf, sst, 0, n, cb, l * cmax, True)
            # a plain layer with a next layer in its array also starts that layer's input
            # (its own input plus the 1x1's bias) in the activation's loop: a pass less per
            # channel (measured 0.98, 0.92 and 0.95 of the time at blocks 16, 64 and 256)
            merged = not film and not ramp and j < count - 1
            for o in range(ch):
                p, mo = U64(o * sst), mw[l * cmax + o]
                if film:
                    sc, b = cb[nlc + l * cmax + o], cb[l * cmax + o]
                    if ramp:
                        d, ds = ramp_b[l * cmax + o], ramp_b[nlc + l * cmax + o]
                        for t in range(un):
                            c = np.float32(t + 1)
                            v = tanh(zf[p + t] * (sc + ds * c) + b + mo * x[t] + d * c)
                            zf[p + t] = v
                            hf[p + t] += v
                    else:
                        for t in range(un):
                            v = tanh(zf[p + t] * sc + b + mo * x[t])
                            zf[p + t] = v
                            hf[p + t] += v
                elif ramp:
                    d = ramp_b[l * cmax + o]
                    for t in range(un):
                        v = tanh(zf[p + t] + mo * x[t] + d * np.float32(t + 1))
                        zf[p + t] = v
                        hf[p + t] += v
                elif merged:
                    src, e = U64(lb + o * bst) + upos, rb[l * cmax + o]
                    nxt = src + U64(lsize)
                    for t in range(un):
                        v = tanh(zf[p + t] + mo * x[t])
                        zf[p + t] = v
                        hf[p + t] += v
                        bf[nxt + t] = bf[src + t] + e
                else:
                    for t in range(un):
                        v = tanh(zf[p + t] + mo * x[t])
                        zf[p + t] = v
                        hf[p + t] += v
            last_layer = j == count - 1
            if last_layer and a == na - 1:
                break  # the final 1x1 feeds nothing that reaches the output
            # residual: this layer's input plus the 1x1 of its activation, into the
            # next layer's history (or, after an array's last layer, into resid)
            for o in range(0 if merged else ch):
                src, b = U64(lb + o * bst) + upos, rb[l * cmax + o]
                if last_layer:
                    d = U64(o * sst)
                    for t in range(un):
                        rf[d + t] = bf[src + t] + b
                else:
                    d = src + U64(lsize)
                    for t in range(un):
                        bf[d + t] = bf[src + t] + b
            if last_layer:
                product(rw, l * msize, 0, cmax, 1, 0, ch, ch, zf, sst, 0, rf, sst, 0, n, zeros, 0, False)
            else:
                product(rw, l * msize, 0, cmax, 1, 0, ch, ch, zf, sst, 0, bf, bst, lb + lsize + pos, n, zeros, 0,
                         False)
        product(hw, a * msize, 0, cmax, 1, 0, arrays[a, WA_HEAD], ch, hf, sst, 0, of, sst, 0, n, hb,
                 a * cmax, True)
    for t in range(un):
        out[t] = head_scale * of[t]
    return pos + n
