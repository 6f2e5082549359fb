"""Matrix products over several taps of a dilated convolution per pass, and what every compiled kernel shares.

At the small host blocks plugins use (16 to 64 samples), a compiled kernel's time goes
as much into the fixed cost of each pass over the block (setting up the loop, its
overlap tests, the loads and stores of the accumulator rows) as into its arithmetic.
:func:`~guneamp_lib.render.kernels.product` makes one pass per tap for four outputs by
four inputs; :func:`product_taps` makes one pass per three taps, so a kernel-3 layer
(the standard WaveNet) is one pass per four-by-four block instead of three, A2 Full's
6- and 15-tap layers two and five instead of six and fifteen, and each accumulator row
is loaded and stored once for 48 multiply-adds instead of 16. (Measured in
``docs/benchmarks.md``, NAM's files, issue 21.)

``JIT_OPTIONS``, ``U64`` and :class:`NoAliasCompiler` are the compile options, index type
and compiler pipeline of every kernel module here (``kernels.py`` re-exports them).
"""

from __future__ import annotations

import numpy as np
from numba import njit, uint64
from numba.core.compiler import Compiler

JIT_OPTIONS = dict(cache=True, fastmath=True, nogil=True, error_model="numpy")
U64 = uint64


class NoAliasCompiler(Compiler):
    """Numba's own pipeline, with every array argument of the function marked ``noalias``:
    no two of them share memory while it runs.

    Otherwise the compiler must assume that a store to the accumulators may change the
    inputs, and guards every vectorized pass with run-time overlap tests. Only for
    functions whose array arguments never touch the same memory: distinct arrays, or
    one buffer passed as several arguments of which each touches its own rows (what
    ``noalias`` promises is about the memory accessed, not the array object). Measured
    on the standard WaveNet at a block of 64: 1.15 to 1.2 times faster.
    """

    def define_pipelines(self):
        self.state.flags.noalias = True
        return super().define_pipelines()


@njit(inline="always", **JIT_OPTIONS)
def _w4(wf, at, on):
    """Four consecutive weights from ``at``, or four zeros (a tap beyond the last)."""
    if on:
        return wf[at], wf[at + 1], wf[at + 2], wf[at + 3]
    z = np.float32(0.0)
    return z, z, z, z


@njit(pipeline_class=NoAliasCompiler, **JIT_OPTIONS)
def product_taps(wf, w0, wtap, wrow, taps, shift, cout, cin, xs, sst, s0, ac, ast, a0, n, bias, b0, init):
    """:func:`~guneamp_lib.render.kernels.product` (same arguments, same sums) for ``cout`` and
    ``cin`` multiples of four and several taps: four outputs by four inputs by three taps per pass.

    A last group of one or two taps runs as a group of three whose missing taps weigh
    zero and read a row that exists. Every group adds into the same accumulators; the
    first starts from the bias where ``init``.
    """
    un, usst, uast, ush = U64(n), U64(sst), U64(ast), U64(shift)
    wr, wt = U64(wrow), U64(wtap)
    for o in range(0, cout, 4):
        q0 = U64(a0 + o * ast)
        q1 = q0 + uast
        q2 = q1 + uast
        q3 = q2 + uast
        e0, e1, e2, e3 = bias[b0 + o], bias[b0 + o + 1], bias[b0 + o + 2], bias[b0 + o + 3]
        first = init
        for k in range(0, taps, 3):
            g = min(3, taps - k)
            s = U64(s0 - (taps - 1 - k) * shift)
            for i in range(0, cin, 4):
                p0 = U64(i) * usst + s
                p1 = p0 + usst
                p2 = p1 + usst
                p3 = p2 + usst
                # rows of taps k (p), k + 1 (r, one shift later) and k + 2 (f); a missing tap rereads p
                r0, r1, r2, r3 = (p0 + ush, p1 + ush, p2 + ush, p3 + ush) if g > 1 else (p0, p1, p2, p3)
                f0, f1, f2, f3 = (r0 + ush, r1 + ush, r2 + ush, r3 + ush) if g > 2 else (p0, p1, p2, p3)
                m0 = U64(w0 + k * wtap + o * wrow + i)
                m1 = m0 + wr
                m2 = m1 + wr
                m3 = m2 + wr
                w000, w001, w002, w003 = _w4(wf, m0, True)
                w010, w011, w012, w013 = _w4(wf, m0 + wt, g > 1)
                w020, w021, w022, w023 = _w4(wf, m0 + U64(2) * wt, g > 2)
                w100, w101, w102, w103 = _w4(wf, m1, True)
                w110, w111, w112, w113 = _w4(wf, m1 + wt, g > 1)
                w120, w121, w122, w123 = _w4(wf, m1 + U64(2) * wt, g > 2)
                w200, w201, w202, w203 = _w4(wf, m2, True)
                w210, w211, w212, w213 = _w4(wf, m2 + wt, g > 1)
                w220, w221, w222, w223 = _w4(wf, m2 + U64(2) * wt, g > 2)
                w300, w301, w302, w303 = _w4(wf, m3, True)
                w310, w311, w312, w313 = _w4(wf, m3 + wt, g > 1)
                w320, w321, w322, w323 = _w4(wf, m3 + U64(2) * wt, g > 2)
                if first:
                    for t in range(un):
                        v0, v1, v2, v3 = xs[p0 + t], xs[p1 + t], xs[p2 + t], xs[p3 + t]
                        u0, u1, u2, u3 = xs[r0 + t], xs[r1 + t], xs[r2 + t], xs[r3 + t]
                        y0, y1, y2, y3 = xs[f0 + t], xs[f1 + t], xs[f2 + t], xs[f3 + t]
                        ac[q0 + t] = e0 + ((w000 * v0 + w001 * v1 + w002 * v2 + w003 * v3)
                                           + (w010 * u0 + w011 * u1 + w012 * u2 + w013 * u3)
                                           + (w020 * y0 + w021 * y1 + w022 * y2 + w023 * y3))
                        ac[q1 + t] = e1 + ((w100 * v0 + w101 * v1 + w102 * v2 + w103 * v3)
                                           + (w110 * u0 + w111 * u1 + w112 * u2 + w113 * u3)
                                           + (w120 * y0 + w121 * y1 + w122 * y2 + w123 * y3))
                        ac[q2 + t] = e2 + ((w200 * v0 + w201 * v1 + w202 * v2 + w203 * v3)
                                           + (w210 * u0 + w211 * u1 + w212 * u2 + w213 * u3)
                                           + (w220 * y0 + w221 * y1 + w222 * y2 + w223 * y3))
                        ac[q3 + t] = e3 + ((w300 * v0 + w301 * v1 + w302 * v2 + w303 * v3)
                                           + (w310 * u0 + w311 * u1 + w312 * u2 + w313 * u3)
                                           + (w320 * y0 + w321 * y1 + w322 * y2 + w323 * y3))
                else:
                    for t in range(un):
                        v0, v1, v2, v3 = xs[p0 + t], xs[p1 + t], xs[p2 + t], xs[p3 + t]
                        u0, u1, u2, u3 = xs[r0 + t], xs[r1 + t], xs[r2 + t], xs[r3 + t]
                        y0, y1, y2, y3 = xs[f0 + t], xs[f1 + t], xs[f2 + t], xs[f3 + t]
                        ac[q0 + t] += ((w000 * v0 + w001 * v1 + w002 * v2 + w003 * v3)
                                       + (w010 * u0 + w011 * u1 + w012 * u2 + w013 * u3)
                                       + (w020 * y0 + w021 * y1 + w022 * y2 + w023 * y3))
                        ac[q1 + t] += ((w100 * v0 + w101 * v1 + w102 * v2 + w103 * v3)
                                       + (w110 * u0 + w111 * u1 + w112 * u2 + w113 * u3)
                                       + (w120 * y0 + w121 * y1 + w122 * y2 + w123 * y3))
                        ac[q2 + t] += ((w200 * v0 + w201 * v1 + w202 * v2 + w203 * v3)
                                       + (w210 * u0 + w211 * u1 + w212 * u2 + w213 * u3)
                                       + (w220 * y0 + w221 * y1 + w222 * y2 + w223 * y3))
                        ac[q3 + t] += ((w300 * v0 + w301 * v1 + w302 * v2 + w303 * v3)
                                       + (w310 * u0 + w311 * u1 + w312 * u2 + w313 * u3)
                                       + (w320 * y0 + w321 * y1 + w322 * y2 + w323 * y3))
                first = False
