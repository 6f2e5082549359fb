"""The compiled interpreter of a ``.nam`` network's operations, for every option NAM core plays (notebook 07).

:mod:`~guneamp_lib.render.nam_kernels` runs the WaveNets NAM's trainer writes (A2 and its
kin) as one fixed loop. The rest of what NAM core plays (FiLM at any of its eight
slots, grouped convolutions, a per-channel PReLU, a condition DSP feeding the layers, a
post-stack head, and the older ConvNet and Linear models) is a longer list of the same
few steps, in an order the file decides. :func:`run_ops` runs such a list, one row of
an integer table per step, over one block: the list is written once by
:mod:`~guneamp_lib.render.nam_program` when the model loads.

Every signal is a row of one float32 array ``mem``, ``(rows, 1, span)``: row ``r`` at
block sample ``t`` is ``mem[r, 0, pos + t]``, a signal of several channels a run of
rows. A row that a convolution reads back in time keeps that history before ``pos``
(``hist[r]`` samples); when the block would run past the end, every row's history is
moved to the front at once (:func:`~guneamp_lib.render.kernels.compact`). Other rows
are work space for the block. The kernel takes ``mem`` flat, with its ``span``, and runs
without reference counts (:data:`~guneamp_lib.render.kernels.LEAF_OPTIONS`). The table's columns are in
:mod:`~guneamp_lib.render.nam_table`. Weights sit in one flat float32 array, matrix
products run through :func:`~guneamp_lib.render.kernels.product`, activations through
:func:`~guneamp_lib.render.nam_kernels.activation_row` with four parameters per row (so a
PReLU may give each channel its own slope). A grouped convolution is stored as the
dense matrix with the blocks off its diagonal zero: the same sums, in the same order
for each output, as the grouped one.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .kernels import LEAF_OPTIONS, U64, compact, product
from .nam_kernels import activation_row
from .nam_table import (
    C_B, C_CIN, C_DIL, C_DST, C_FLAG, C_OP, C_ROWS, C_SRC, C_SRC2, C_TAPS, C_W, OP_ACT, OP_ADD, OP_AFFINE, OP_BLEND,
    OP_CONV, OP_COPY, OP_FILM, OP_INPUT, OP_MUL, OP_OUTPUT, OP_SCALE, OP_SUM, OP_ZERO,
)



@njit(**LEAF_OPTIONS)
def run_ops(x, conds, out, pos, mf, span, hist, ops, wts, acts):
    """One block ``x`` through the operations ``ops`` (see the module docstring); returns the new position.

    ``conds[k]`` is the block of the ``k``-th LSTM condition DSP's output (computed before
    the call: a recurrent network is not a list of convolutions); an input operation reads
    ``x`` when its flag is 0 and ``conds[flag - 1]`` otherwise.
    """
    n = x.size
    un = U64(n)
    if pos + n > span:
        pos = compact(mf, hist.shape[0], 1, span, pos, hist, 0)
    for i in range(ops.shape[0]):
        op = ops[i, C_OP]
        d = ops[i, C_DST] * span + pos
        s = ops[i, C_SRC] * span + pos
        rows = ops[i, C_ROWS]
        if op == OP_CONV:
            cout, cin = rows, ops[i, C_CIN]
            product(wts, ops[i, C_W], cout * cin, cin, ops[i, C_TAPS], ops[i, C_DIL], cout, cin, mf, span, s, mf,
                    span, d, n, wts, ops[i, C_B], ops[i, C_FLAG] == 0)
        elif op == OP_ACT:  # row r's four parameters at C_B + 4 r
            p0 = ops[i, C_B]
            for r in range(rows):
                q = U64(d + r * span)
                activation_row(mf, q, q, un, ops[i, C_TAPS], acts[p0 + 4 * r : p0 + 4 * r + 4])
        elif op == OP_INPUT:
            q, f = U64(d), ops[i, C_FLAG]
            if f == 0:
                for t in range(un):
                    mf[q + t] = x[t]
            else:
                for t in range(un):
                    mf[q + t] = conds[f - 1, t]
        elif op == OP_OUTPUT:
            q = U64(s)
            for t in range(un):
                out[t] = mf[q + t]
        elif op == OP_SCALE:
            e = wts[ops[i, C_W]]
            for r in range(rows):
                q, p = U64(d + r * span), U64(s + r * span)
                for t in range(un):
                    mf[q + t] = e * mf[p + t]
        elif op == OP_AFFINE:  # a folded batch norm: row r times its scale plus its offset
            w0, b0 = ops[i, C_W], ops[i, C_B]
            for r in range(rows):
                q, e, f = U64(d + r * span), wts[w0 + r], wts[b0 + r]
                for t in range(un):
                    mf[q + t] = mf[q + t] * e + f
        elif op == OP_ZERO:
            for r in range(rows):
                q = U64(d + r * span)
                for t in range(un):
                    mf[q + t] = 0.0
        else:
            for r in range(rows):
                q, p = U64(d + r * span), U64(s + r * span)
                if op == OP_COPY:
                    for t in range(un):
                        mf[q + t] = mf[p + t]
                elif op == OP_ADD:
                    for t in range(un):
                        mf[q + t] += mf[p + t]
                elif op == OP_MUL:
                    for t in range(un):
                        mf[q + t] *= mf[p + t]
                elif op == OP_SUM:  # dst = src + src2
                    g = U64((ops[i, C_SRC2] + r) * span + pos)
                    for t in range(un):
                        mf[q + t] = mf[p + t] + mf[g + t]
                elif op == OP_BLEND:  # dst = g * dst + (1 - g) * src2, g the source
                    g = U64((ops[i, C_SRC2] + r) * span + pos)
                    for t in range(un):
                        a = mf[p + t]
                        mf[q + t] = a * mf[q + t] + (np.float32(1.0) - a) * mf[g + t]
                elif op == OP_FILM:  # dst = dst * scale (+ shift): the source's rows r and rows + r
                    if ops[i, C_FLAG]:
                        h = p + U64(rows * span)
                        for t in range(un):
                            mf[q + t] = mf[q + t] * mf[p + t] + mf[h + t]
                    else:
                        for t in range(un):
                            mf[q + t] *= mf[p + t]
    return pos + n
