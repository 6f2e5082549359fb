"""Reading Neural Amp Modeler ``.nam`` files into guneamp's torch models (notebook 11_beyond_the_seed).

Reading is JSON only: nothing in a file is ever executed. Both layouts NAM has written
are understood: format 0.5.x (every NAM up to 0.12) and 0.7.x (NAM 0.13, and ours; see
:mod:`guneamp_lib.models.nam` for the layout).

A WaveNet that fits our :class:`~guneamp_lib.models.wavenet.WaveNet` (NAM's presets, and
every 0.5.x file) is rebuilt as it, weights in file order, so it renders through our fast
engines too. Anything else NAM 0.13 trains (per-layer kernel sizes and activations,
LeakyReLU, a bottleneck, head 1x1s, gated or blended layers, a long head rechannel) is
rebuilt as :class:`~guneamp_lib.models.nam_wavenet.NamWaveNet`; FiLM, grouped convolutions
and a head network are refused by name, never run approximately. A ``SlimmableContainer``
(what NAM 0.13's trainer writes: one amp at several sizes) gives the submodel the plugin
plays by default, the largest. An LSTM is rebuilt as
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
from .nam_wavenet import NamWaveNet, array_config
from .wavenet import ACTIVATIONS, WaveNet, preset_of

READABLE_VERSIONS = ("0.5", "0.7")  # 0.6 was never a released file format
# Format 0.7's per-layer FiLM switches (written switched off by guneamp).
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
    """``(B, T) -> (B, T)`` from the model's start state, with silence before ``x`` as NAM pads it.

    Notebook: 11
    """
    rf = model.receptive_field
    pad = int(rf) - 1 if math.isfinite(rf) else 0
    xp = torch.nn.functional.pad(x, (pad, 0))[:, None]
    with torch.no_grad():
        return model(xp)[:, 0, pad:]


def _load_flat(params, flat: torch.Tensor) -> None:
    i = 0
    with torch.no_grad():
        for p in params:
            p.copy_(flat[i : i + p.numel()].view_as(p))
            i += p.numel()


def _as_our_layers(arrays: list[dict]) -> list[dict] | None:
    """The arrays in :class:`WaveNet`'s vocabulary, or None where our WaveNet cannot hold them."""
    layers = []
    for lc in arrays:
        acts = {json.dumps(a, sort_keys=True) for a in lc["activations"]}
        act = lc["activations"][0]
        plain = set(act) == {"type"} or act == {"type": "Hardtanh", "min_val": -1.0, "max_val": 1.0}
        modes, gates = set(lc["gating_modes"]), {json.dumps(g) for g in lc["secondary_activations"]}
        fits = (len(acts) == 1 and plain and act["type"] in ACTIVATIONS and len(set(lc["kernel_sizes"])) == 1
                and (modes == {"none"} or (modes == {"gated"} and gates == {json.dumps({"type": GATE_SECONDARY})}))
                and lc["bottleneck"] == lc["channels"] and lc["layer1x1"] and not lc["head1x1_out"]
                and lc["head_kernel"] == 1)
        if not fits:
            return None
        layers.append({"input_size": lc["input_size"], "condition_size": lc["condition_size"],
                       "head_size": lc["head_out"], "channels": lc["channels"], "kernel_size": lc["kernel_sizes"][0],
                       "dilations": lc["dilations"], "activation": act["type"], "gated": modes == {"gated"},
                       "head_bias": lc["head_bias"]})
    return layers


def _build_wavenet(config: dict, weights: torch.Tensor) -> torch.nn.Module:
    if config.get("head") is not None or config.get("condition_dsp") is not None:
        raise ValueError("a head network or condition DSP after the layer arrays, which guneamp does not implement")
    arrays = [array_config(lc) for lc in config["layers"]]
    layers = _as_our_layers(arrays)
    head_scale = float(weights[-1])  # NAM's C++ takes head_scale from the last weight
    # Built on the meta device first: a config's size is checked before any memory is spent on it.
    with torch.device("meta"):
        shape = NamWaveNet(arrays, head_scale) if layers is None else WaveNet(preset_of(layers), layers, head_scale)
    want = sum(p.numel() for p in shape.parameters()) + 1
    if weights.numel() != want:
        raise ValueError(f"{weights.numel()} weights where its config needs {want}")
    model = NamWaveNet(arrays, head_scale) if layers is None else WaveNet(preset_of(layers), layers, head_scale)
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
    """The torch network of a file's ``architecture``, ``config`` and flat ``weights``; ValueError says what is wrong.

    Notebook: 11
    """
    flat = torch.tensor(weights, dtype=torch.float64)
    if flat.ndim != 1 or not bool(torch.isfinite(flat).all()):
        raise ValueError("weights that are not a flat list of finite numbers")
    model = {"WaveNet": _build_wavenet, "LSTM": _build_lstm}[architecture](config, flat).eval()
    with torch.no_grad():
        model(torch.zeros(1, 1, 8))  # channel counts that do not chain fail here, not in a render
    return model


def _network(payload, path: Path) -> tuple[torch.nn.Module, str, float | None]:
    """The network of one model in a file, its format version and its sample rate."""
    if not isinstance(payload, dict) or not isinstance(payload.get("config"), dict):
        raise GuneampError(f"{path} is not a .nam file (no model config)")
    version, architecture = payload.get("version"), payload.get("architecture")
    if not isinstance(version, str) or ".".join(version.split(".")[:2]) not in READABLE_VERSIONS:
        raise GuneampError(f"{path} is in .nam format {version!r}; guneamp reads formats "
                           f"{' and '.join(v + '.x' for v in READABLE_VERSIONS)}")
    if architecture not in ("WaveNet", "LSTM"):
        raise GuneampError(f"{path} holds a {architecture!r} model; guneamp reads WaveNet and LSTM .nam files "
                           "(and NAM's containers of them)")
    rate = payload.get("sample_rate")
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, numbers.Real)
                             or not (math.isfinite(rate) and rate > 0)):
        raise GuneampError(f"{path} has sample_rate {rate!r}; it must be a positive number of Hz")
    try:
        model = build_network(architecture, payload["config"], payload.get("weights"))
    except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as exc:
        detail = f"lacks {exc}" if isinstance(exc, KeyError) else f"has {exc}"
        raise GuneampError(f"{path} cannot be read as a {architecture}: its config {detail}") from None
    return model, version, None if rate is None else float(rate)


def _container_choice(payload: dict, path: Path) -> dict:
    """The model NAM's plugin plays from a ``SlimmableContainer`` by default: the one with the highest ``max_value``.

    NAM 0.13's trainer writes its models this way: the same amp at several sizes, picked
    by a CPU slider; the default (and the container's metadata) is the largest.
    """
    try:
        best = max(payload["config"]["submodels"], key=lambda s: float(s["max_value"]))
        model = dict(best["model"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise GuneampError(f"{path} holds a SlimmableContainer without readable submodels ({exc!r})") from None
    if model.get("architecture") == "SlimmableContainer":
        raise GuneampError(f"{path} nests one SlimmableContainer in another; NAM does not write such files")
    if "sample_rate" in payload:
        model["sample_rate"] = payload["sample_rate"]
    return model


def load_nam(path: str | os.PathLike) -> NamFile:
    """Rebuild the network of a ``.nam`` file (ours, or NAM's own: format 0.5.x or 0.7.x, WaveNet, LSTM or a container).

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
    meta = payload.get("metadata") if isinstance(payload, dict) else None
    if isinstance(payload, dict) and payload.get("architecture") == "SlimmableContainer":
        payload = _container_choice(payload, path)
    model, version, rate = _network(payload, path)
    return NamFile(model, rate, version, meta if isinstance(meta, dict) else {})
