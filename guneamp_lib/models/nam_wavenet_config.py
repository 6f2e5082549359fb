"""Reading a ``.nam`` file's WaveNet: every key NAM core 0.5.5 reads, checked, then built (notebook 11_beyond_the_seed).

NAM core's parser (``parse_config_json`` in ``NAM/wavenet/model.cpp``) is the rule: the
same keys, the same defaults, the same refusals. Per layer array: ``input_size``,
``condition_size``, ``channels``, ``bottleneck`` (default: channels), ``kernel_size`` or
per-layer ``kernel_sizes`` (never both), ``dilations``, ``activation`` (one or one per
layer), ``gating_mode`` (``none``/``gated``/``blended``, one or per layer; older files:
``gated``) with its ``secondary_activation`` (default Sigmoid), ``groups_input``,
``groups_input_mixin``, ``layer1x1`` and ``head1x1`` (active, groups, out channels), the
eight FiLM switches, and the head rechannel as a ``head`` object (out channels, kernel
size, bias, dilation) or, in 0.5 files, ``head_size`` and ``head_bias``. Then the
WaveNet's ``head_scale``, an optional post-stack ``head`` and an optional
``condition_dsp`` (a whole ``.nam`` model run on the input to make the condition; an
LSTM there makes the whole network recurrent, as in NAM core).

Everything is checked before a tensor exists: each number's type and range (see
:mod:`~guneamp_lib.models.nam_fields`), that the arrays chain, and the weight count the
config implies, computed in integers, against the weights the file holds, and the
history the dilations ask for against the budget. A hostile file is refused, by field,
before any memory is spent on it.

**Slimmable WaveNets.** An array may carry ``slimmable: {"method":
"slice_channels_uniform", "kwargs": {"allowed_channels": [...]}}``. The plugin plays it
at full size unless its CPU slider is turned down; then every array runs with the first
``n`` of its channels (:func:`slim_config`, NAM core's ``slimmable.cpp``). A file that
fits our own :class:`~guneamp_lib.models.wavenet.WaveNet` with plain tanh layers is built as
it (its fast engine covers it); anything else as :class:`~guneamp_lib.models.nam_wavenet.NamWaveNet`.
"""

from __future__ import annotations

import math

import torch

from .nam_activations import activation_spec, check_width
from .nam_fields import (
    MAX_HISTORY_VALUES, MAX_KERNEL, MAX_LAYERS, MAX_RECEPTIVE_FIELD, NamFieldError, field, flag, items, number,
    per_layer, text, whole,
)
from .nam_wavenet import FILM_SLOTS, GATING_MODES, NamWaveNet
from .wavenet import WaveNet, preset_of

SLIM_METHOD = "slice_channels_uniform"  # the one slimming NAM core implements
MAX_DILATION = MAX_RECEPTIVE_FIELD


def _groups(lc: dict, key: str, where: str) -> int:
    return whole(field(lc, key, where, 1), f"{where}.{key}")


def _head_rechannel(lc: dict, w: str) -> tuple[int, int, int, bool]:
    if lc.get("head") is not None:
        h = lc["head"]
        if not isinstance(h, dict):
            raise NamFieldError(f"{w}.head is {h!r}; it must be an object")
        return (whole(field(h, "out_channels", f"{w}.head"), f"{w}.head.out_channels"),
                whole(field(h, "kernel_size", f"{w}.head"), f"{w}.head.kernel_size", hi=MAX_KERNEL),
                whole(h.get("head_dilation", 1), f"{w}.head.head_dilation", hi=MAX_DILATION),
                flag(field(h, "bias", f"{w}.head"), f"{w}.head.bias"))
    if "head_size" in lc:
        return (whole(lc["head_size"], f"{w}.head_size"), 1, 1, flag(field(lc, "head_bias", w), f"{w}.head_bias"))
    raise NamFieldError(f"{w} has neither a head object nor a head_size")


def _gating(lc: dict, n: int, w: str) -> tuple[list[str], list[dict | None]]:
    if "gating_mode" in lc:
        modes = [text(m, f"{w}.gating_mode") for m in per_layer(lc["gating_mode"], n, f"{w}.gating_mode")]
    elif "gated" in lc:
        modes = ["gated" if flag(lc["gated"], f"{w}.gated") else "none"] * n
    else:
        modes = ["none"] * n
    for m in modes:
        if m not in GATING_MODES:
            raise NamFieldError(f"{w}.gating_mode is {m!r}; NAM knows {', '.join(GATING_MODES)}")
    second = lc.get("secondary_activation")
    if "gating_mode" in lc and isinstance(second, list):
        items(second, f"{w}.secondary_activation", n)
    seconds = per_layer(second, n, f"{w}.secondary_activation") if second is not None else [None] * n
    return modes, [None if m == "none" else activation_spec(s if s is not None else "Sigmoid",
                                                            f"{w}.secondary_activation")
                   for m, s in zip(modes, seconds)]


def _film(lc: dict, slot: str, w: str) -> dict | None:
    f = lc.get(slot)
    if f is None or f is False:
        return None
    if not isinstance(f, dict):
        raise NamFieldError(f"{w}.{slot} is {f!r}; it must be an object or false")
    if not flag(f.get("active", True), f"{w}.{slot}.active"):
        return None
    return {"shift": flag(f.get("shift", True), f"{w}.{slot}.shift"), "groups": whole(f.get("groups", 1),
                                                                                      f"{w}.{slot}.groups")}


def _slimmable(lc: dict, channels: int, w: str) -> list[int] | None:
    s = lc.get("slimmable")
    if not isinstance(s, dict):
        return None
    method = s.get("method", "")
    if method != SLIM_METHOD:
        raise NamFieldError(f"{w}.slimmable.method is {method!r}; NAM slims by {SLIM_METHOD!r} only")
    kwargs = s.get("kwargs") or {}
    if "allowed_channels" not in kwargs:
        return list(range(1, channels + 1))
    allowed = [whole(c, f"{w}.slimmable.kwargs.allowed_channels")
               for c in items(kwargs["allowed_channels"], f"{w}.slimmable.kwargs.allowed_channels")]
    if not allowed or any(b <= a for a, b in zip(allowed, allowed[1:])) or allowed[-1] != channels:
        raise NamFieldError(f"{w}.slimmable.kwargs.allowed_channels is {allowed}; it must rise and end at the "
                            f"array's {channels} channels")
    return allowed


def array_config(lc, w: str) -> dict:
    """One layer array of a file (format 0.5 to 0.7 keys), checked, in :class:`NamWaveNet`'s vocabulary.

    Notebook: 11
    """
    field(lc, "dilations", w)
    dilations = [whole(d, f"{w}.dilations[{i}]", hi=MAX_DILATION)
                 for i, d in enumerate(items(lc["dilations"], f"{w}.dilations"))]
    n = len(dilations)
    if n == 0:
        raise NamFieldError(f"{w}.dilations is empty; an array needs at least one layer")
    channels = whole(field(lc, "channels", w), f"{w}.channels")
    if "kernel_size" in lc and "kernel_sizes" in lc:
        raise NamFieldError(f"{w} gives both kernel_size and kernel_sizes; NAM reads only one")
    if "kernel_sizes" in lc:
        kernels = [whole(k, f"{w}.kernel_sizes[{i}]", hi=MAX_KERNEL)
                   for i, k in enumerate(items(lc["kernel_sizes"], f"{w}.kernel_sizes", n))]
    else:
        kernels = [whole(field(lc, "kernel_size", w), f"{w}.kernel_size", hi=MAX_KERNEL)] * n
    acts = [activation_spec(a, f"{w}.activation") for a in per_layer(field(lc, "activation", w), n, f"{w}.activation")]
    modes, seconds = _gating(lc, n, w)
    layer1x1 = lc.get("layer1x1") or {"active": True, "groups": 1}
    head1x1 = lc.get("head1x1") or {"active": False, "out_channels": channels, "groups": 1}
    out = {
        "input_size": whole(field(lc, "input_size", w), f"{w}.input_size"),
        "condition_size": whole(field(lc, "condition_size", w), f"{w}.condition_size"),
        "channels": channels, "bottleneck": whole(lc.get("bottleneck", channels), f"{w}.bottleneck"),
        "kernel_sizes": kernels, "dilations": dilations, "activations": acts, "gating_modes": modes,
        "secondary_activations": seconds,
        "groups_input": _groups(lc, "groups_input", w), "groups_input_mixin": _groups(lc, "groups_input_mixin", w),
        "layer1x1": flag(field(layer1x1, "active", f"{w}.layer1x1"), f"{w}.layer1x1.active"),
        "layer1x1_groups": whole(field(layer1x1, "groups", f"{w}.layer1x1"), f"{w}.layer1x1.groups"),
        "head1x1_out": 0, "head1x1_groups": 1,
        "films": {s: f for s in FILM_SLOTS if (f := _film(lc, s, w)) is not None},
    }
    if flag(field(head1x1, "active", f"{w}.head1x1"), f"{w}.head1x1.active"):
        out["head1x1_out"] = whole(field(head1x1, "out_channels", f"{w}.head1x1"), f"{w}.head1x1.out_channels")
        out["head1x1_groups"] = whole(field(head1x1, "groups", f"{w}.head1x1"), f"{w}.head1x1.groups")
    out["head_out"], out["head_kernel"], out["head_dilation"], out["head_bias"] = _head_rechannel(lc, w)
    out["slimmable"] = _slimmable(lc, channels, w)
    _check_array(out, w)
    return out


def _divides(g: int, sizes: tuple[int, ...], what: str) -> None:
    if any(s % g for s in sizes):
        raise NamFieldError(f"{what} is {g}, which does not divide the channels {sizes}")


def _check_array(lc: dict, w: str) -> None:
    c, b, cond = lc["channels"], lc["bottleneck"], lc["condition_size"]
    if not lc["layer1x1"] and b != c:
        raise NamFieldError(f"{w}.bottleneck is {b}; without a layer 1x1 it must equal the {c} channels")
    if not lc["layer1x1"] and "layer1x1_post_film" in lc["films"]:
        raise NamFieldError(f"{w}.layer1x1_post_film is active while the layer 1x1 is not")
    if not lc["head1x1_out"] and "head1x1_post_film" in lc["films"]:
        raise NamFieldError(f"{w}.head1x1_post_film is active while the head 1x1 is not")
    for i, m in enumerate(lc["gating_modes"]):
        mid = b if m == "none" else 2 * b
        _divides(lc["groups_input"], (c, mid), f"{w}.groups_input")
        _divides(lc["groups_input_mixin"], (cond, mid), f"{w}.groups_input_mixin")
        check_width(lc["activations"][i], b, f"{w}.activation")
        if lc["secondary_activations"][i] is not None:
            check_width(lc["secondary_activations"][i], b, f"{w}.secondary_activation")
    if lc["layer1x1"]:
        _divides(lc["layer1x1_groups"], (b, c), f"{w}.layer1x1.groups")
    if lc["head1x1_out"]:
        _divides(lc["head1x1_groups"], (b, lc["head1x1_out"]), f"{w}.head1x1.groups")
    for slot, f in lc["films"].items():
        _divides(f["groups"], (cond,), f"{w}.{slot}.groups")


def _film_dims(lc: dict, mid: int) -> dict:
    return {"conv_pre_film": lc["channels"], "conv_post_film": mid, "input_mixin_pre_film": lc["condition_size"],
            "input_mixin_post_film": mid, "activation_pre_film": mid, "activation_post_film": lc["bottleneck"],
            "layer1x1_post_film": lc["channels"], "head1x1_post_film": lc["head1x1_out"]}


def weight_count(arrays: list[dict], head: dict | None) -> int:
    """The weights a WaveNet of this shape reads, head_scale included: integers only, nothing allocated."""
    total = 1
    for lc in arrays:
        c, b, cond = lc["channels"], lc["bottleneck"], lc["condition_size"]
        total += lc["input_size"] * c
        for m, k in zip(lc["gating_modes"], lc["kernel_sizes"]):
            mid = b if m == "none" else 2 * b
            total += mid * (c // lc["groups_input"]) * k + mid + mid * (cond // lc["groups_input_mixin"])
            if lc["layer1x1"]:
                total += c * (b // lc["layer1x1_groups"]) + c
            if lc["head1x1_out"]:
                total += lc["head1x1_out"] * (b // lc["head1x1_groups"]) + lc["head1x1_out"]
            dims = _film_dims(lc, mid)
            for slot, f in lc["films"].items():
                rows = (2 if f["shift"] else 1) * dims[slot]
                total += rows * (cond // f["groups"]) + rows
        head_in = lc["head1x1_out"] or b
        total += lc["head_out"] * head_in * lc["head_kernel"] + (lc["head_out"] if lc["head_bias"] else 0)
    if head is not None:
        sizes = [head["in_channels"]] + [head["channels"]] * (len(head["kernel_sizes"]) - 1) + [head["out_channels"]]
        total += sum(sizes[i + 1] * sizes[i] * k + sizes[i + 1] for i, k in enumerate(head["kernel_sizes"]))
    return total


def check_budget(arrays: list[dict], head: dict | None, where: str) -> None:
    """Refuse a shape whose look-back or history would not fit (see :mod:`~guneamp_lib.models.nam_fields`)."""
    rf, history = 1, 0
    for lc in arrays:
        for k, d in zip(lc["kernel_sizes"], lc["dilations"]):
            rf += (k - 1) * d
            history += lc["channels"] * (k - 1) * d
        rf += (lc["head_kernel"] - 1) * lc["head_dilation"]
        history += (lc["head1x1_out"] or lc["bottleneck"]) * (lc["head_kernel"] - 1) * lc["head_dilation"]
    if head is not None:
        rf += sum(k - 1 for k in head["kernel_sizes"])
    if rf > MAX_RECEPTIVE_FIELD:
        raise NamFieldError(f"{where}.layers declare a receptive field of {rf} samples (from their dilations and "
                            f"kernel sizes); guneamp plays at most {MAX_RECEPTIVE_FIELD}")
    if history > MAX_HISTORY_VALUES:
        raise NamFieldError(f"{where}.layers would keep {history} values of history; guneamp allows at most "
                            f"{MAX_HISTORY_VALUES}")


def _post_head(h, in_channels: int, w: str) -> dict:
    kernels = [whole(k, f"{w}.kernel_sizes[{i}]", hi=MAX_KERNEL)
               for i, k in enumerate(items(field(h, "kernel_sizes", w), f"{w}.kernel_sizes"))]
    if not kernels:
        raise NamFieldError(f"{w}.kernel_sizes is empty")
    if h.get("in_channels") is not None and whole(h["in_channels"], f"{w}.in_channels") != in_channels:
        raise NamFieldError(f"{w}.in_channels is {h['in_channels']}; it must be the last array's head size "
                            f"{in_channels}")
    return {"in_channels": in_channels, "channels": whole(field(h, "channels", w), f"{w}.channels"),
            "out_channels": whole(field(h, "out_channels", w), f"{w}.out_channels"), "kernel_sizes": kernels,
            "activation": activation_spec(field(h, "activation", w), f"{w}.activation")}


def wavenet_shape(config, where: str = "config") -> tuple[list[dict], dict | None]:
    """The checked layer arrays and post-stack head of a WaveNet config.

    Notebook: 11
    """
    layers = items(field(config, "layers", where), f"{where}.layers")
    if not layers:
        raise NamFieldError(f"{where}.layers is empty; a WaveNet needs at least one layer array")
    arrays = [array_config(lc, f"{where}.layers[{i}]") for i, lc in enumerate(layers)]
    if sum(len(lc["dilations"]) for lc in arrays) > MAX_LAYERS:
        raise NamFieldError(f"{where}.layers hold more than {MAX_LAYERS} layers")
    whole(config.get("in_channels", 1), f"{where}.in_channels", hi=1)
    if arrays[0]["input_size"] != 1:
        raise NamFieldError(f"{where}.layers[0].input_size is {arrays[0]['input_size']}; guneamp plays one input")
    for i in range(1, len(arrays)):
        prev, lc, w = arrays[i - 1], arrays[i], f"{where}.layers[{i}]"
        if lc["channels"] != prev["head_out"]:
            raise NamFieldError(f"{w}.channels is {lc['channels']}; NAM needs the previous array's head size "
                                f"{prev['head_out']}")
        if lc["input_size"] != prev["channels"]:
            raise NamFieldError(f"{w}.input_size is {lc['input_size']}; it must be the previous array's "
                                f"{prev['channels']} channels")
        if (lc["head1x1_out"] or lc["bottleneck"]) != prev["head_out"]:
            raise NamFieldError(f"{w}'s head takes {lc['head1x1_out'] or lc['bottleneck']} channels where the "
                                f"previous array's head gives {prev['head_out']}")
    number(field(config, "head_scale", where), f"{where}.head_scale")
    head = config.get("head")
    head = None if head is None else _post_head(head, arrays[-1]["head_out"], f"{where}.head")
    check_budget(arrays, head, where)
    return arrays, head


def slim_config(arrays: list[dict], slim: float) -> list[dict]:
    """The arrays NAM core runs at CPU-slider position ``slim`` (0 to 1): the first ``n`` channels of each.

    Notebook: 11
    """
    chosen = [lc["channels"] if lc["slimmable"] is None
              else lc["slimmable"][min(math.floor(slim * len(lc["slimmable"])), len(lc["slimmable"]) - 1)]
              for lc in arrays]
    out = []
    for i, (lc, ch) in enumerate(zip(arrays, chosen)):
        b = ch if not lc["layer1x1"] else max(1, lc["bottleneck"] * ch // lc["channels"])
        out.append(dict(lc, channels=ch, bottleneck=b, input_size=lc["input_size"] if i == 0 else chosen[i - 1],
                        head_out=chosen[i + 1] if i + 1 < len(arrays) else lc["head_out"]))
    return out


def _as_ours(arrays: list[dict]) -> list[dict] | None:
    """The arrays in :class:`WaveNet`'s vocabulary, or None where our WaveNet cannot hold them."""
    layers = []
    for lc in arrays:
        act = lc["activations"][0]
        # Only plain tanh layers: what our WaveNet's compiled engine plays. A gated or other
        # activation reads as NamWaveNet, whose compiled engines cover every option.
        fits = (all(a == {"type": "Tanh"} for a in lc["activations"])
                and len(set(lc["kernel_sizes"])) == 1 and lc["condition_size"] == 1
                and set(lc["gating_modes"]) == {"none"}
                and lc["bottleneck"] == lc["channels"] and lc["layer1x1"] and not lc["head1x1_out"]
                and lc["head_kernel"] == 1 and not lc["films"] and lc["layer1x1_groups"] == 1
                and lc["groups_input"] == 1 and lc["groups_input_mixin"] == 1)
        if not fits:
            return None
        layers.append({"input_size": lc["input_size"], "condition_size": 1, "head_size": lc["head_out"],
                       "channels": lc["channels"], "kernel_size": lc["kernel_sizes"][0], "dilations": lc["dilations"],
                       "activation": act["type"], "gated": False,
                       "head_bias": lc["head_bias"]})
    return layers


def _load_flat(params, flat: torch.Tensor) -> None:
    i = 0
    with torch.no_grad():
        for p in params:
            p.copy_(flat[i : i + p.numel()].view_as(p))
            i += p.numel()


def build_wavenet(arrays: list[dict], head: dict | None, weights: torch.Tensor, condition=None,
                  slim: float | None = None) -> torch.nn.Module:
    """The network of checked arrays and their flat ``weights`` (count checked by the caller).

    ``condition`` is the condition DSP's model (already built from its own weights).
    ``slim`` (0 to 1) picks the slimmed network a slimmable file plays at that slider
    position; None plays it at full size, as the plugin does by default.

    Notebook: 11
    """
    head_scale = float(weights[-1])  # NAM core takes head_scale from the last weight, not from the config
    ours = _as_ours(arrays) if head is None and condition is None else None
    if ours is not None and slim is None:
        model = WaveNet(preset_of(ours), ours, head_scale)
    else:
        cond_cfg = None if condition is None else {"name": condition.name, "config": condition.config}
        model = NamWaveNet(arrays, head_scale, head, cond_cfg)
        if condition is not None:
            model.condition.load_state_dict(condition.state_dict())
    # the condition DSP's weights are its own (set above); the file's list is the rest, in order
    _load_flat([p for n, p in model.named_parameters() if not n.startswith("condition.")], weights[:-1].float())
    if slim is None:
        return model
    small = NamWaveNet(slim_config(arrays, slim), head_scale, None, model.config["condition"])
    with torch.no_grad():
        big = dict(model.named_parameters())
        for name, p in small.named_parameters():
            p.copy_(big[name][tuple(slice(0, s) for s in p.shape)])
        # the condition DSP is not slimmed: an LSTM there keeps its stored start state
        for (name, b), (_, full) in zip(small.named_buffers(), model.named_buffers()):
            b.copy_(full)
    return small
