"""Reading Neural Amp Modeler ``.nam`` files into guneamp's torch models (notebook 11_beyond_the_seed).

Reading is JSON only: nothing in a file is ever executed. Both layouts NAM has written
are understood: format 0.5.x (every NAM up to 0.12) and 0.7.x (NAM 0.13, and ours; see
:mod:`guneamp_lib.models.nam` for the layout).

A WaveNet is rebuilt as our :class:`~guneamp_lib.models.wavenet.WaveNet`, which is NAM's
network made causal and same-length: the weights go in unchanged, in file order. Format
0.7 can switch on features our WaveNet does not have (a bottleneck, a head 1x1, FiLM,
groups, per-layer kernel sizes or activations, a head network); such a file is refused
with the feature named, never run approximately. An LSTM is rebuilt as
:class:`~guneamp_lib.models.nam_lstm.NamLSTM`, NAM's own layout: per layer the
``(4H, input + H)`` matrix of gate weights (rows input, forget, cell, output), the summed
biases, the start hidden and cell states; then the head's weights and bias.

Every count is checked against the config before a network is built, so a malformed file
gets one line saying what is wrong with it.
"""

from __future__ import annotations

import json
import math
import numbers
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import GuneampError
from .nam_lstm import NamLSTM
from .wavenet import ACTIVATIONS, WaveNet, preset_of

READABLE_VERSIONS = ("0.5", "0.7")  # 0.6 was never a released file format
# Format 0.7's per-layer FiLM switches, all off in files guneamp can read.
FILM_SLOTS = ("conv_pre_film", "conv_post_film", "input_mixin_pre_film", "input_mixin_post_film",
              "activation_pre_film", "activation_post_film", "layer1x1_post_film", "head1x1_post_film")
GATE_SECONDARY = "Sigmoid"  # our gated layers multiply by the sigmoid of the second half


@dataclass
class NamFile:
    model: torch.nn.Module
    sample_rate: float | None
    version: str
    metadata: dict = field(default_factory=dict)


def run_from_silence(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``(B, T) -> (B, T)`` from the model's start state, with silence before ``x`` as NAM pads it."""
    rf = model.receptive_field
    pad = int(rf) - 1 if math.isfinite(rf) else 0
    xp = torch.nn.functional.pad(x, (pad, 0))[:, None]
    with torch.no_grad():
        return model(xp)[:, 0, pad:]


def _one(values: list, what: str):
    if not values or any(v != values[0] for v in values):
        raise ValueError(f"layers with different {what} in one array, which guneamp's WaveNet does not have")
    return values[0]


def _activation_name(a) -> str:
    if isinstance(a, dict):
        if set(a) - {"type", "name"}:
            raise ValueError(f"activation {a} has parameters, which guneamp's WaveNet does not have")
        a = a.get("type", a.get("name"))
    if a not in ACTIVATIONS:
        raise ValueError(f"activation {a!r} (guneamp's WaveNet has {', '.join(ACTIVATIONS)})")
    return a


def _our_array(lc: dict) -> dict:
    """A layer array of either file layout, as :class:`WaveNet` spells it; ValueError names what does not fit."""
    if "head" not in lc:  # 0.5.x
        gated = bool(lc.get("gated", False))
        return {"input_size": lc["input_size"], "condition_size": lc["condition_size"], "head_size": lc["head_size"],
                "channels": lc["channels"], "kernel_size": lc["kernel_size"], "dilations": lc["dilations"],
                "activation": _activation_name(lc["activation"]), "gated": gated, "head_bias": lc["head_bias"]}
    n = len(lc["dilations"])
    head = lc["head"]
    if head.get("kernel_size", 1) != 1:
        raise ValueError(f"a head rechannel of kernel size {head['kernel_size']}, which guneamp's WaveNet does not have")
    kernels = lc["kernel_sizes"] if "kernel_sizes" in lc else lc["kernel_size"]
    kernels = [kernels] * n if isinstance(kernels, int) else list(kernels)
    acts = lc["activation"] if isinstance(lc["activation"], list) else [lc["activation"]] * n
    modes = lc.get("gating_mode", ["none"] * n)
    modes = [modes] * n if isinstance(modes, str) else list(modes)
    mode = _one(modes, "gating modes")
    if mode not in ("none", "gated"):
        raise ValueError(f"gating mode {mode!r}, which guneamp's WaveNet does not have")
    if mode == "gated":
        seconds = lc.get("secondary_activation")
        seconds = [seconds] * n if not isinstance(seconds, list) else seconds
        if any(_activation_name(s) != GATE_SECONDARY for s in seconds):
            raise ValueError("a gate other than a sigmoid, which guneamp's WaveNet does not have")
    switched_on = [s for s in FILM_SLOTS if (lc.get(s) or {}).get("active", False)]
    if lc.get("bottleneck", lc["channels"]) != lc["channels"]:
        switched_on.append("a bottleneck")
    if (lc.get("head1x1") or {}).get("active", False):
        switched_on.append("a head 1x1")
    if not (lc.get("layer1x1") or {"active": True}).get("active", True) or (lc.get("layer1x1") or {}).get("groups", 1) != 1:
        switched_on.append("a missing or grouped layer 1x1")
    if lc.get("groups_input", 1) != 1 or lc.get("groups_input_mixin", 1) != 1:
        switched_on.append("grouped convolutions")
    if lc.get("slimmable"):
        switched_on.append("slimmable layers")
    if switched_on:
        raise ValueError(f"{', '.join(switched_on)}, which guneamp's WaveNet does not have")
    return {"input_size": lc["input_size"], "condition_size": lc["condition_size"], "head_size": head["out_channels"],
            "channels": lc["channels"], "kernel_size": _one(kernels, "kernel sizes"), "dilations": lc["dilations"],
            "activation": _one([_activation_name(a) for a in acts], "activations"), "gated": mode == "gated",
            "head_bias": head["bias"]}


def _wavenet_weight_count(layers: list[dict]) -> int:
    total = 1  # head_scale
    for lc in layers:
        c, k, mid = lc["channels"], lc["kernel_size"], (2 if lc["gated"] else 1) * lc["channels"]
        per_layer = c * mid * k + mid + lc["condition_size"] * mid + c * c + c
        total += lc["input_size"] * c + len(lc["dilations"]) * per_layer + c * lc["head_size"]
        total += lc["head_size"] if lc["head_bias"] else 0
    return total


def _load_flat(params, flat: torch.Tensor) -> None:
    i = 0
    with torch.no_grad():
        for p in params:
            p.copy_(flat[i : i + p.numel()].view_as(p))
            i += p.numel()


def _build_wavenet(config: dict, weights: torch.Tensor) -> WaveNet:
    if config.get("head") is not None or config.get("condition_dsp") is not None:
        raise ValueError("a head network or condition DSP after the layer arrays, which guneamp's WaveNet does not have")
    layers = [_our_array(lc) for lc in config["layers"]]
    want = _wavenet_weight_count(layers)
    if weights.numel() != want:
        raise ValueError(f"{weights.numel()} weights where its config needs {want}")
    model = WaveNet(preset=preset_of(layers), layers=layers, head_scale=float(weights[-1]))
    _load_flat(model.parameters(), weights[:-1].float())
    return model


def _build_lstm(config: dict, weights: torch.Tensor) -> NamLSTM:
    if config.get("input_size", 1) != 1:
        raise ValueError(f"input_size {config['input_size']}; guneamp's models take one (mono) input")
    hidden, layers = config["hidden_size"], config.get("num_layers", 1)
    want = sum(4 * hidden * ((1 if i == 0 else hidden) + hidden) + 6 * hidden for i in range(layers)) + hidden + 1
    if weights.numel() != want:
        raise ValueError(f"{weights.numel()} weights where its config needs {want}")
    model = NamLSTM(hidden, layers)
    w, i = weights.float(), 0
    with torch.no_grad():
        for layer in range(layers):
            n_in = 1 if layer == 0 else hidden
            block = w[i : i + 4 * hidden * (n_in + hidden)].view(4 * hidden, n_in + hidden)
            i += block.numel()
            getattr(model.lstm, f"weight_ih_l{layer}").copy_(block[:, :n_in])
            getattr(model.lstm, f"weight_hh_l{layer}").copy_(block[:, n_in:])
            getattr(model.lstm, f"bias_ih_l{layer}").copy_(w[i : i + 4 * hidden])
            getattr(model.lstm, f"bias_hh_l{layer}").zero_()  # the file keeps the two biases' sum
            i += 4 * hidden
            model.initial_hidden[layer].copy_(w[i : i + hidden])
            model.initial_cell[layer].copy_(w[i + hidden : i + 2 * hidden])
            i += 2 * hidden
        model.head.weight.copy_(w[i : i + hidden].view(1, hidden))
        model.head.bias.copy_(w[i + hidden :])
    return model


def build_network(architecture: str, config: dict, weights) -> torch.nn.Module:
    flat = torch.tensor(weights, dtype=torch.float64)
    if flat.ndim != 1 or not bool(torch.isfinite(flat).all()):
        raise ValueError("weights that are not a flat list of finite numbers")
    builder = {"WaveNet": _build_wavenet, "LSTM": _build_lstm}[architecture]
    return builder(config, flat).eval()


def load_nam(path: str | os.PathLike) -> NamFile:
    """Rebuild the network of a ``.nam`` file (ours, or NAM's own: format 0.5.x or 0.7.x, WaveNet or LSTM).

    Reading is JSON only: nothing in the file is ever executed.

    Notebook: 11
    """
    path = Path(path)
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GuneampError(f".nam file not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GuneampError(f"{path} is not a .nam file (not JSON: {exc})") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("config"), dict):
        raise GuneampError(f"{path} is not a .nam file (no model config)")
    version, architecture = payload.get("version"), payload.get("architecture")
    if not isinstance(version, str) or ".".join(version.split(".")[:2]) not in READABLE_VERSIONS:
        raise GuneampError(f"{path} is in .nam format {version!r}; guneamp reads formats "
                           f"{' and '.join(v + '.x' for v in READABLE_VERSIONS)}")
    if architecture not in ("WaveNet", "LSTM"):
        raise GuneampError(f"{path} holds a {architecture!r} model; guneamp reads WaveNet and LSTM .nam files")
    rate = payload.get("sample_rate")
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, numbers.Real)
                             or not (math.isfinite(rate) and rate > 0)):
        raise GuneampError(f"{path} has sample_rate {rate!r}; it must be a positive number of Hz")
    try:
        model = build_network(architecture, payload["config"], payload.get("weights"))
    except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as exc:
        detail = f"lacks {exc}" if isinstance(exc, KeyError) else f"has {exc}"
        raise GuneampError(f"{path} cannot be read as a {architecture}: its config {detail}") from None
    meta = payload.get("metadata")
    return NamFile(model, None if rate is None else float(rate), version, meta if isinstance(meta, dict) else {})
