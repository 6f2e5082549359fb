"""Reading the fields of a ``.nam`` config safely: typed, bounded, and named when wrong (notebook 11_beyond_the_seed).

A ``.nam`` file is JSON that anyone can write, so every number the readers use passes
through :func:`whole`, :func:`flag` or :func:`number` first. Each checks the type (JSON
``true`` is not the number 1, ``3.0`` is not a channel count), the range, and on failure
raises :class:`NamFieldError`, whose message names the field by its path in the file
(``config.layers[0].dilations[3]``), so the user learns which number is wrong, not
where in our code it broke.

The ranges are the budget that keeps a hostile file from making the reader allocate
what it cannot hold: a file's declared sizes are checked against them, and against the
number of weights it actually holds, before any tensor is built.
"""

from __future__ import annotations

import math
import re

import numpy as np

# Channels of one layer. NAM's largest published WaveNets use 32; a thousand is far
# beyond anything trained, and keeps one 1x1 convolution's weights at a few MB.
MAX_CHANNELS = 1024
# Taps of one convolution (NAM's A2 uses 15, a Linear IR a few thousand).
MAX_KERNEL = 1 << 16
# Samples one file's network may look back: about 22 s at 48 kHz. NAM's models look
# back 0.1 s at most; a dilation of 1e12 (a hostile file's) stops here.
MAX_RECEPTIVE_FIELD = 1 << 20
# Float32 values of history every layer together may keep (64 MB): channels times
# look-back, summed over layers, so that absurd dilations on wide layers stop too.
MAX_HISTORY_VALUES = 1 << 24
# Nesting of the JSON document. A container of WaveNets with a condition DSP nests
# about 15 levels; Python's parser overflows its stack at about a thousand.
MAX_JSON_DEPTH = 64
# Layers of one array, and layer arrays of one WaveNet.
MAX_LAYERS = 4096


class NamFieldError(ValueError):
    """A field of a ``.nam`` file that is missing, of the wrong type or out of range; the message names it."""


MISSING = object()
# A JSON string, escapes included.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def field(d, key: str, where: str, default=MISSING):
    """``d[key]``, or ``default``; a missing required field (or ``d`` not an object) names the path."""
    if not isinstance(d, dict):
        raise NamFieldError(f"{where} must be a JSON object, got {_show(d)}")
    if key in d:
        return d[key]
    if default is MISSING:
        raise NamFieldError(f"{where} lacks the field {key!r}")
    return default


def _show(v) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def whole(v, where: str, lo: int = 1, hi: int = MAX_CHANNELS) -> int:
    """A JSON integer from ``lo`` to ``hi``."""
    if isinstance(v, bool) or not isinstance(v, int):
        raise NamFieldError(f"{where} is {_show(v)}; it must be a whole number from {lo} to {hi}")
    if not lo <= v <= hi:
        raise NamFieldError(f"{where} is {v}; it must be a whole number from {lo} to {hi}")
    return v


def flag(v, where: str) -> bool:
    if not isinstance(v, bool):
        raise NamFieldError(f"{where} is {_show(v)}; it must be true or false")
    return v


def number(v, where: str) -> float:
    """A finite JSON number (integers too, but not ``true``/``false``)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise NamFieldError(f"{where} is {_show(v)}; it must be a finite number")
    return float(v)


def text(v, where: str) -> str:
    if not isinstance(v, str):
        raise NamFieldError(f"{where} is {_show(v)}; it must be a text")
    return v


def items(v, where: str, n: int | None = None, hi: int = MAX_LAYERS) -> list:
    """A JSON array (of ``n`` entries, when given)."""
    if not isinstance(v, list):
        raise NamFieldError(f"{where} is {_show(v)}; it must be a list")
    if n is not None and len(v) != n:
        raise NamFieldError(f"{where} has {len(v)} entries where {n} are needed")
    if len(v) > hi:
        raise NamFieldError(f"{where} has {len(v)} entries; at most {hi} are read")
    return v


def per_layer(v, n: int, where: str) -> list:
    """A value given once for every layer, or a list of one per layer (NAM core accepts both)."""
    return items(v, where, n) if isinstance(v, list) else [v] * n


def weight_list(weights, where: str = "weights") -> list[float]:
    """The flat list of finite numbers a file's ``weights`` must be."""
    values = items(weights, where, hi=1 << 31)
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise NamFieldError(f"{where}[{i}] is {_show(v)}; weights must be numbers")
        if not math.isfinite(v):
            raise NamFieldError(f"{where}[{i}] is {v}; weights must be finite (was training unstable?)")
    return values


def json_depth(text_: str) -> int:
    """How deeply the arrays and objects of a JSON text nest, found without parsing it.

    Brackets inside strings do not count. Nothing here recurses, so it is safe on a file
    built to exhaust the parser (which Python's ``json`` would answer with a traceback).
    """
    codes = np.frombuffer(_STRING.sub("", text_).encode("utf-8", "replace"), np.uint8)
    opens = (codes == ord("[")) | (codes == ord("{"))
    where = np.flatnonzero(opens | (codes == ord("]")) | (codes == ord("}")))
    if where.size == 0:
        return 0
    return int(np.cumsum(np.where(opens[where], 1, -1)).max())
