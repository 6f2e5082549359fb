"""The activations a ``.nam`` file may name, computed as NAM core computes them (notebook 11_beyond_the_seed).

NAM core 0.5.5 (the plugin's engine) knows eleven names (``NAM/activations.cpp``):
Tanh, Hardtanh, Fasttanh, ReLU, LeakyReLU, PReLU, Sigmoid, SiLU, Hardswish,
LeakyHardtanh (also spelled LeakyHardTanh) and Softsign. A file names one as a string or
as ``{"type": name, ...parameters}``; NAM's older Python package wrote ``"name"`` for
``"type"``. Anything else NAM core refuses, and so do we.

Two of them differ from PyTorch's namesakes, and we follow NAM core, which is what
the plugin plays: ``Fasttanh`` is NAM's rational approximation (within 1e-4 of tanh),
always, and ``Hardtanh`` clips at -1 and 1 whatever limits the file writes. A Hardtanh
with other limits would play differently in NAM's Python package and in its plugin, so
such a file is refused rather than played one way or the other.
"""

from __future__ import annotations

import functools

import torch
from torch.nn import functional as F

from .nam_fields import NamFieldError, field, items, number, text

NAM_ACTIVATIONS = ("Tanh", "Hardtanh", "Fasttanh", "ReLU", "LeakyReLU", "PReLU", "Sigmoid", "SiLU", "Hardswish",
                   "LeakyHardtanh", "Softsign")
_ALIASES = {"LeakyHardTanh": "LeakyHardtanh"}
# NAM core's defaults for the parameters a file may leave out.
DEFAULT_NEGATIVE_SLOPE = 0.01
DEFAULT_HARD_SLOPE = 0.01


def activation_spec(a, where: str) -> dict:
    """A file's activation in one vocabulary: ``{"type": name, ...parameters}``, checked against NAM core's list."""
    if isinstance(a, str):
        spec = {"type": a}
    elif isinstance(a, dict):
        spec = dict(a)
        if "type" not in spec and "name" in spec:
            spec["type"] = spec.pop("name")
        spec["type"] = text(field(spec, "type", where), f"{where}.type")
    else:
        raise NamFieldError(f"{where} is {a!r}; an activation is a name or an object with a type")
    name = _ALIASES.get(spec["type"], spec["type"])
    if name not in NAM_ACTIVATIONS:
        raise NamFieldError(f"{where} is the activation {spec['type']!r}, which NAM does not implement; "
                            f"it knows {', '.join(NAM_ACTIVATIONS)}")
    out = {"type": name}
    if name == "Hardtanh":
        for key, limit in (("min_val", -1.0), ("max_val", 1.0)):
            if key in spec and number(spec[key], f"{where}.{key}") != limit:
                raise NamFieldError(f"{where}.{key} is {spec[key]}; NAM's plugin clips Hardtanh at -1 and 1 "
                                    "whatever the file says, so other limits cannot be played as trained")
    elif name == "LeakyReLU":
        out["negative_slope"] = number(spec.get("negative_slope", DEFAULT_NEGATIVE_SLOPE), f"{where}.negative_slope")
    elif name == "PReLU":
        if "negative_slope" in spec:
            out["negative_slope"] = number(spec["negative_slope"], f"{where}.negative_slope")
        elif "negative_slopes" in spec:
            slopes = items(spec["negative_slopes"], f"{where}.negative_slopes")
            out["negative_slopes"] = [number(s, f"{where}.negative_slopes[{i}]") for i, s in enumerate(slopes)]
        else:
            out["negative_slope"] = DEFAULT_NEGATIVE_SLOPE
    elif name == "LeakyHardtanh":
        for key, default in (("min_val", -1.0), ("max_val", 1.0), ("min_slope", DEFAULT_HARD_SLOPE),
                             ("max_slope", DEFAULT_HARD_SLOPE)):
            out[key] = number(spec.get(key, default), f"{where}.{key}")
    return out


def check_width(spec: dict, channels: int, where: str) -> None:
    """A PReLU with one slope per channel must have as many slopes as the layer has channels."""
    slopes = spec.get("negative_slopes")
    if slopes is not None and len(slopes) != channels:
        raise NamFieldError(f"{where}.negative_slopes has {len(slopes)} slopes for {channels} channels")


def fast_tanh(x: torch.Tensor) -> torch.Tensor:
    """NAM's ``fast_tanh`` (``NAM/activations.h``), term for term."""
    ax, x2 = x.abs(), x * x
    num = x * (2.45550750702956 + 2.45550750702956 * ax + (0.893229853513558 + 0.821226666969744 * ax) * x2)
    return num / (2.44506634652299 + (2.44506634652299 + x2) * (x + 0.814642734961073 * x * ax).abs())


def _prelu(x: torch.Tensor, slopes: list[float]) -> torch.Tensor:
    s = x.new_tensor(slopes).view(1, -1, *([1] * (x.ndim - 2)))
    return torch.where(x > 0, x, s * x)


def _leaky_hardtanh(x, min_val, max_val, min_slope, max_slope):
    return torch.where(x < min_val, (x - min_val) * min_slope + min_val,
                       torch.where(x > max_val, (x - max_val) * max_slope + max_val, x))


def _hardswish(x):
    return x * (x + 3.0).clamp(0.0, 6.0) * (1.0 / 6.0)


def activation_function(spec: dict):
    """The torch function of a checked spec (:func:`activation_spec`), on ``(B, C, T)`` tensors."""
    name = spec["type"]
    simple = {"Tanh": torch.tanh, "Hardtanh": F.hardtanh, "Fasttanh": fast_tanh, "ReLU": F.relu,
              "Sigmoid": torch.sigmoid, "SiLU": F.silu, "Hardswish": _hardswish, "Softsign": F.softsign}
    if name in simple:
        return simple[name]
    if name == "LeakyReLU":
        return functools.partial(F.leaky_relu, negative_slope=spec.get("negative_slope", DEFAULT_NEGATIVE_SLOPE))
    if name == "PReLU":
        if "negative_slopes" in spec:
            return functools.partial(_prelu, slopes=spec["negative_slopes"])
        return functools.partial(F.leaky_relu, negative_slope=spec.get("negative_slope", DEFAULT_NEGATIVE_SLOPE))
    return functools.partial(_leaky_hardtanh, min_val=spec.get("min_val", -1.0), max_val=spec.get("max_val", 1.0),
                             min_slope=spec.get("min_slope", DEFAULT_HARD_SLOPE),
                             max_slope=spec.get("max_slope", DEFAULT_HARD_SLOPE))
