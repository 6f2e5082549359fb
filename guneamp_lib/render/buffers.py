"""Sizes the streaming engines share, and priming a stream with silence (notebook 07).

A module of its own so that the engines for NAM's own architectures
(:mod:`guneamp_lib.render.nam_engines`) and ours (:mod:`guneamp_lib.render.engines`) can
share them without importing each other.
"""

from __future__ import annotations

import numpy as np

# Network samples per compiled call: a 32-channel activation of this length (256 KB)
# stays in the L2 cache; longer host blocks are cut into pieces of this size.
MAX_MODEL_BLOCK = 2048
# Room in each history buffer beyond the history itself: the buffer is compacted once
# per this many samples, instead of being shifted at every block.
COMPACT_SPAN = 4 * MAX_MODEL_BLOCK
# Extra columns per channel row of every work array. Rows a power-of-two bytes apart
# all fall into the same few L1 cache sets and evict each other; one cache line (16
# floats) more per row spreads them out (measured: the standard WaveNet runs 1.7x faster).
ROW_PAD = 16


def prime(stream, n: int) -> None:
    """Run ``n`` samples of silence through a freshly zeroed stream, as ``process`` does before a signal.

    Notebook: 07
    """
    zeros = np.zeros(MAX_MODEL_BLOCK, np.float32)
    while n > 0:
        m = min(n, MAX_MODEL_BLOCK)
        stream.push(zeros[:m])
        n -= m
