"""Reading Neural Amp Modeler ``.nam`` files into guneamp's torch models (notebook 11_beyond_the_seed).

Reading is JSON only: nothing in a file is ever executed. We read what NAM core 0.5.5
(the plugin's engine) reads, and refuse what it refuses:

* format versions ``x.y.z`` from 0.5.0 up to 0.7.x (0.5 to 0.7: every NAM so far);
* architectures, one reader each (:data:`READERS`): ``WaveNet``
  (:mod:`~guneamp_lib.models.nam_wavenet_config`), ``LSTM``, ``ConvNet``, ``Linear``, and
  ``SlimmableContainer``, NAM 0.13's trainer's default: the same amp at several sizes,
  ``submodels`` sorted by ``max_value``, the plugin's CPU slider picking the first whose
  ``max_value`` exceeds its position; by default the last (the largest). ``slim`` (0 to
  1, the command line's ``--slim``) picks another, and so it does inside a slimmable
  WaveNet.

A file is hostile until checked. Its nesting depth is measured before the JSON parser
sees it; every field is type- and range-checked and named when wrong
(:mod:`~guneamp_lib.models.nam_fields`); the weight count the config implies is
compared, in integers, with the weights the file holds, and the look-back its dilations
ask for with a budget, before any tensor exists. So every malformed file gets one line
naming the field, and no file makes the reader allocate more than its own size.

An LSTM is rebuilt as :class:`~guneamp_lib.models.nam_lstm.NamLSTM`, NAM's own layout:
per layer the ``(4H, input + H)`` matrix of gate weights (rows input, forget, cell,
output), the summed biases, the start hidden and cell states; then the head's weights
and bias.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import GuneampError
from .nam_activations import activation_spec
from .nam_convnet import NamConvNet, NamLinear, batchnorm_affine
from .nam_fields import (
    MAX_JSON_DEPTH, MAX_LAYERS, MAX_RECEPTIVE_FIELD, NamFieldError, field as get, flag, items, json_depth, number,
    weight_list, whole,
)
from .nam_lstm import NamLSTM
from .nam_wavenet import FILM_SLOTS
from .nam_wavenet_config import build_wavenet, wavenet_shape, weight_count

# NAM core's EARLIEST_SUPPORTED and LATEST_FULLY_SUPPORTED file versions: a patch newer
# than 0.7.0 plays (NAM core warns); a newer minor or major version does not.
EARLIEST_VERSION = (0, 5, 0)
LATEST_VERSION = (0, 7, 0)
READABLE_VERSIONS = ("0.5", "0.6", "0.7")
GATE_SECONDARY = "Sigmoid"  # our gated layers multiply by the sigmoid of the second half
__all__ = ["FILM_SLOTS", "GATE_SECONDARY", "NamFile", "build_network", "load_nam", "read_payload", "run_from_silence"]


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


def _count(weights: torch.Tensor, want: int, where: str) -> None:
    """``where`` is the config's path; the weights sit beside it."""
    if weights.numel() != want:
        raise NamFieldError(f"{where.removesuffix('config')}weights holds {weights.numel()} numbers where the config "
                            f"needs {want}")


def _read_wavenet(config, weights, slim, where, nested):
    arrays, head = wavenet_shape(config, where)
    _count(weights, weight_count(arrays, head), where)
    condition = None
    if config.get("condition_dsp") is not None:
        condition, _ = nested(config["condition_dsp"], f"{where}.condition_dsp")
        outs = condition.config.get("out_channels") or 1
        if isinstance(condition, torch.nn.Module) and condition.name == "nam_wavenet":
            outs = condition.config["head"]["out_channels"] if condition.config["head"] else \
                condition.config["arrays"][-1]["head_out"]
        if any(lc["condition_size"] != outs for lc in arrays):
            raise NamFieldError(f"{where}.layers' condition_size must be the condition DSP's {outs} outputs")
    elif any(lc["condition_size"] != 1 for lc in arrays):
        raise NamFieldError(f"{where}.layers' condition_size must be 1 (the input) without a condition_dsp")
    slimmable = any(lc["slimmable"] for lc in arrays)
    if slim is not None and slimmable:
        if head is not None:
            raise NamFieldError(f"{where}.head: NAM does not slim a WaveNet with a post-stack head")
        for i, lc in enumerate(arrays):
            if lc["head_kernel"] != 1 or 1 != lc["groups_input"] or 1 != lc["groups_input_mixin"] or (
                    lc["layer1x1_groups"] != 1) or (lc["head1x1_out"] and lc["head1x1_groups"] != 1):
                raise NamFieldError(f"{where}.layers[{i}]: NAM slims only arrays without groups and with a 1-tap head")
    model = build_wavenet(arrays, head, weights, condition, slim if slimmable else None)
    return model, slimmable


def _read_lstm(config, weights, slim, where, nested):
    # NAM core's LSTM reads num_layers, input_size, hidden_size (and in/out channels) and
    # nothing else: a condition_dsp in its config plays as if absent, in the plugin and here
    layers = whole(get(config, "num_layers", where), f"{where}.num_layers", hi=MAX_LAYERS)
    whole(get(config, "input_size", where), f"{where}.input_size", hi=1)
    hidden = whole(get(config, "hidden_size", where), f"{where}.hidden_size")
    for key in ("in_channels", "out_channels"):
        whole(config.get(key, 1), f"{where}.{key}", hi=1)
    _count(weights, sum(4 * hidden * ((1 if i == 0 else hidden) + hidden) + 6 * hidden for i in range(layers))
           + hidden + 1, where)
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
    return model, False


def _read_convnet(config, weights, slim, where, nested):
    channels = whole(get(config, "channels", where), f"{where}.channels")
    dilations = [whole(d, f"{where}.dilations[{i}]", hi=MAX_RECEPTIVE_FIELD)
                 for i, d in enumerate(items(get(config, "dilations", where), f"{where}.dilations"))]
    if not dilations:
        raise NamFieldError(f"{where}.dilations is empty")
    if 1 + sum(dilations) > MAX_RECEPTIVE_FIELD:
        raise NamFieldError(f"{where}.dilations declare a receptive field of {1 + sum(dilations)} samples; guneamp "
                            f"plays at most {MAX_RECEPTIVE_FIELD}")
    batchnorm = flag(get(config, "batchnorm", where), f"{where}.batchnorm")
    act = activation_spec(get(config, "activation", where), f"{where}.activation")
    groups = whole(config.get("groups", 1), f"{where}.groups")
    cin = whole(config.get("in_channels", 1), f"{where}.in_channels", hi=1)
    cout = whole(config.get("out_channels", 1), f"{where}.out_channels")
    if channels % groups:
        raise NamFieldError(f"{where}.groups is {groups}, which does not divide the {channels} channels")
    per_block = [channels * ((cin if i == 0 else channels) // groups) * 2 + (4 * channels + 1 if batchnorm else channels)
                 for i in range(len(dilations))]
    _count(weights, sum(per_block) + channels * cout + cout, where)
    if cin % groups:
        raise NamFieldError(f"{where}.groups is {groups}, which does not divide the {cin} input channels")
    model = NamConvNet(channels, dilations, batchnorm, act, groups, cin, cout)
    w, i = weights.float(), 0
    with torch.no_grad():
        for block in model.blocks:
            conv = block.conv
            conv.weight.copy_(w[i : i + conv.weight.numel()].view_as(conv.weight))
            i += conv.weight.numel()
            if batchnorm:
                scale, loc = batchnorm_affine(weights[i : i + 4 * channels + 1], channels)
                block.scale.copy_(scale)
                block.loc.copy_(loc)
                i += 4 * channels + 1
            else:
                conv.bias.copy_(w[i : i + channels])
                i += channels
        model.head.weight.copy_(w[i : i + channels * cout].view_as(model.head.weight))
        model.head.bias.copy_(w[i + channels * cout :])
    return model, False


def _read_linear(config, weights, slim, where, nested):
    rf = whole(get(config, "receptive_field", where), f"{where}.receptive_field", hi=MAX_RECEPTIVE_FIELD)
    bias = flag(get(config, "bias", where), f"{where}.bias")
    for key in ("in_channels", "out_channels"):
        whole(config.get(key, 1), f"{where}.{key}", hi=1)
    _count(weights, rf + bias, where)
    model = NamLinear(rf, bias)
    with torch.no_grad():
        model.fir.weight.copy_(weights[:rf].flip(0).float().view(1, 1, rf))
        if bias:
            model.fir.bias.copy_(weights[rf:].float())
    return model, False


READERS = {"WaveNet": _read_wavenet, "LSTM": _read_lstm, "ConvNet": _read_convnet, "Linear": _read_linear}


def _version(payload: dict, top: str, where: str) -> str:
    version = get(payload, "version", top)
    if not isinstance(version, str) or not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise NamFieldError(f"{where}version is {version!r}; NAM files state a version like \"0.7.0\"")
    v = tuple(int(p) for p in version.split("."))
    if v < EARLIEST_VERSION or v[:2] > LATEST_VERSION[:2]:
        raise NamFieldError(f"{where}version is {version}; NAM's plugin (and guneamp) read formats "
                            f"{', '.join(r + '.x' for r in READABLE_VERSIONS)}")
    return version


def _container(config, slim: float | None, where: str, nested) -> tuple[torch.nn.Module, bool]:
    subs = items(get(config, "submodels", where), f"{where}.submodels")
    if not subs:
        raise NamFieldError(f"{where}.submodels is empty")
    values = [number(get(s, "max_value", f"{where}.submodels[{i}]"), f"{where}.submodels[{i}].max_value")
              for i, s in enumerate(subs)]
    if any(b <= a for a, b in zip(values, values[1:])) or values[-1] < 1.0:
        raise NamFieldError(f"{where}.submodels' max_value are {values}; NAM needs them rising, the last at least 1")
    pick = len(subs) - 1 if slim is None else next((i for i, v in enumerate(values) if slim < v), len(subs) - 1)
    model, _ = nested(get(subs[pick], "model", f"{where}.submodels[{pick}]"), f"{where}.submodels[{pick}].model")
    return model, True


def read_payload(payload, slim: float | None = None, where: str = "") -> tuple[torch.nn.Module, str, bool]:
    """The network of a parsed ``.nam`` model (checked), its version, and whether ``slim`` could apply to it.

    ``slim`` is the CPU slider's position (0 to 1) for a container or slimmable WaveNet;
    None plays the plugin's default, the full model. NamFieldError names what is wrong.

    Notebook: 11
    """
    top = where or "the file"
    where = f"{where}." if where else ""
    if not isinstance(payload, dict):
        raise NamFieldError(f"{top} is not a model (a JSON object with version, architecture, config, weights)")
    version = _version(payload, top, where)
    architecture = get(payload, "architecture", top)
    config = get(payload, "config", top)
    if not isinstance(config, dict):
        raise NamFieldError(f"{where}config must be a JSON object")

    def nested(p, w):
        model, _, slimmable = read_payload(p, slim, w)
        return model, slimmable

    if architecture == "SlimmableContainer":
        model, slimmable = _container(config, slim, f"{where}config", nested)
        return model, version, slimmable
    if architecture not in READERS:
        raise NamFieldError(f"{where}architecture is {architecture!r}; NAM's plugin (and guneamp) read "
                            f"{', '.join(READERS)} and SlimmableContainer")
    cond = config.get("condition_dsp") if architecture == "WaveNet" else None
    if isinstance(cond, dict) and cond.get("sample_rate", -1.0) != payload.get("sample_rate", -1.0):
        # NAM core refuses a condition DSP at another rate than the WaveNet it feeds
        raise NamFieldError(f"{where}config.condition_dsp.sample_rate is {cond.get('sample_rate')!r} where the "
                            f"WaveNet runs at {payload.get('sample_rate')!r}")
    weights = torch.tensor(weight_list(get(payload, "weights", top), f"{where}weights"), dtype=torch.float64)
    model, slimmable = READERS[architecture](config, weights, slim, f"{where}config", nested)
    return model.eval(), version, slimmable


def build_network(architecture: str, config: dict, weights) -> torch.nn.Module:
    """The torch network of a file's ``architecture``, ``config`` and flat ``weights``; ValueError says what is wrong.

    Notebook: 11
    """
    payload = {"version": "0.7.0", "architecture": architecture, "config": config, "weights": weights}
    return read_payload(payload)[0]


def _sample_rate(payload: dict, path: Path) -> float | None:
    rate = payload.get("sample_rate")
    if rate is None:
        return None
    try:
        rate = number(rate, "sample_rate")
    except NamFieldError:
        rate = -1.0
    if rate <= 0:
        raise GuneampError(f"{path} has sample_rate {payload['sample_rate']!r}; it must be a positive number of Hz")
    return rate


def load_nam(path: str | os.PathLike, slim: float | None = None) -> NamFile:
    """Rebuild the network of a ``.nam`` file (any NAM core plays; see the module docstring).

    ``slim`` (0 to 1) is the plugin's CPU slider for files that hold several sizes; a file
    that holds one refuses it. Reading is JSON only: nothing in the file is ever executed.

    Notebook: 11
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GuneampError(f".nam file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GuneampError(f"{path} is not a .nam file (not text: {exc})") from None
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise GuneampError(f"{path} is not a .nam file: its JSON nests {depth} levels deep (NAM's files nest about "
                           f"ten; guneamp reads at most {MAX_JSON_DEPTH})")
    try:
        payload = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise GuneampError(f"{path} is not a .nam file (not JSON: {exc})") from None
    if slim is not None and not (isinstance(slim, (int, float)) and 0.0 <= slim <= 1.0):
        raise GuneampError(f"--slim must be a number from 0 to 1 (the plugin's CPU slider), got {slim!r}")
    try:
        model, version, slimmable = read_payload(payload)
        if slim is not None:
            if not slimmable:
                raise GuneampError(f"{path} holds one model size; --slim applies to NAM's slimmable files only")
            model, version, _ = read_payload(payload, slim)
        with torch.no_grad():
            model(torch.zeros(1, 1, 8))  # a last check that the network runs, before any render
    except NamFieldError as exc:
        raise GuneampError(f"{path} cannot be read: {exc}") from None
    meta = payload.get("metadata")
    return NamFile(model, _sample_rate(payload, path), version, meta if isinstance(meta, dict) else {})
