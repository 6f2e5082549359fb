"""What the compiled streaming engines share: block and ring-buffer sizes, and priming with silence (notebook 07).

The engines of :mod:`~guneamp_lib.render.engines` and :mod:`~guneamp_lib.render.nam_engines`
keep every history in ring buffers of these sizes and start from the state silence
leaves (:func:`prime`), as the offline path's zero padding does.
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
