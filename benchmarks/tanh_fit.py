"""Fit the LSTM kernel's tanh: x P(x^2) / Q(x^2), degree 4 over 4, P(0) = Q(0) = 1.

``guneamp_lib.render.lstm_kernels`` keeps the coefficients this prints; the test suite refits
and compares. The fit is a near-minimax one by reweighted linear least squares (Loeb's
linearization: x P - tanh(x) Q = 0, each point weighted by 1 / |Q| of the last round, the
weights then raised where the error is large, so the error comes to ripple evenly). Fixing
P(0) = Q(0) = 1 makes tiny inputs come out as themselves.

    python benchmarks/tanh_fit.py
"""

from __future__ import annotations

import numpy as np

CLAMP = 8.0  # tanh(8) = 1 - 2.3e-7: beyond it the clamped value is as close as float32 gets


def fit(degree_p: int = 4, degree_q: int = 4, clamp: float = CLAMP, rounds: int = 80):
    """(P, Q) coefficients, lowest power first, and the largest error in exact arithmetic."""
    x = np.sort(np.concatenate([np.linspace(0.0, clamp, 8000)[1:], clamp - np.geomspace(1e-5, 1.0, 800)]))
    s, t = x * x, np.tanh(x)
    weight, q_last = np.ones_like(x), np.ones_like(x)
    for _ in range(rounds):
        a = np.concatenate([np.stack([x * s**k for k in range(1, degree_p + 1)], 1),
                            -np.stack([t * s**k for k in range(1, degree_q + 1)], 1)], 1)
        w = (weight / np.abs(q_last))[:, None]
        c, *_ = np.linalg.lstsq(a * w, (t - x) * w[:, 0], rcond=None)
        p, q = np.concatenate([[1.0], c[:degree_p]]), np.concatenate([[1.0], c[degree_p:]])
        q_last = np.polynomial.polynomial.polyval(s, q)
        err = x * np.polynomial.polynomial.polyval(s, p) / q_last - t
        weight = weight * np.sqrt(np.abs(err) / np.abs(err).mean())
        weight /= weight.mean()
    return p, q, float(np.abs(err).max())


if __name__ == "__main__":
    p, q, worst = fit()
    print(f"largest error on |x| <= {CLAMP} (exact arithmetic): {worst:.2e}")
    print("P:", ", ".join(repr(float(np.float32(v))) for v in p))
    print("Q:", ", ".join(repr(float(np.float32(v))) for v in q))
