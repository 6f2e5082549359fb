"""Neural Amp Modeler ``.nam`` files: writing them, and one loader for every model file (notebook 11_beyond_the_seed).

A ``.nam`` file is JSON: ``version`` (the file format), ``architecture`` (``"WaveNet"``,
``"LSTM"``, ...), ``config`` (the network's shape), ``weights`` (every number of the
network in one flat list), ``sample_rate`` (the rate the network runs at) and free-form
``metadata``. We write format ``0.7.0``, the layout of the newest ``neural-amp-modeler``
(0.13); its Python package and the plugin's C++ core (0.5.5, which reads 0.5.0 to 0.7.x)
both load these files as written and play them as we do (ESR 1e-13 against our render in
NAM 0.13, and in NAM core with its exact ``tanh``). :mod:`guneamp_lib.models.nam_read`
reads every file NAM core reads (formats 0.5.x to 0.7.x, every architecture); :func:`load_model_file` is the one door
through which ``render``, ``score`` and the notebooks open either a checkpoint or a ``.nam``.

**WaveNet.** :mod:`guneamp_lib.models.wavenet` keeps its modules in NAM's order, so the
flat list is ``model.parameters()`` flattened one after the other (row-major,
``(out, in, kernel)``), then ``head_scale``; NAM's C++ takes ``head_scale`` from that
last number. Format 0.7 spells the same network with more words: per layer array, a
``head`` object instead of ``head_size``/``head_bias``, per-layer ``kernel_sizes``,
``activation`` and ``gating_mode`` lists, and switches for features our WaveNet does not
have (bottleneck, head 1x1, FiLM, groups), written switched off. Reading maps a file onto
our WaveNet where it fits, and onto :class:`~guneamp_lib.models.nam_wavenet.NamWaveNet` where not.

**A2.** The ``wavenet:a2-lite`` and ``wavenet:a2-full`` presets (NAM 0.13's default shapes,
:mod:`guneamp_lib.models.wavenet_a2`) train a :class:`NamWaveNet`. It is written as NAM
0.13 writes A2: a ``SlimmableContainer`` whose one submodel (``max_value`` 1.0: every
slider position plays it) is the WaveNet file, its layer arrays key for key those NAM
writes for its own A2 of that size. NAM core plays the container; NAM 0.13's Python
reader (``init_from_nam``) has no container entry, for NAM's own A2 files too, and reads
the submodel as written.

**LSTM.** NAM's LSTM has no skip connection and starts from a stored state, so a file
is rebuilt as :class:`~guneamp_lib.models.nam_lstm.NamLSTM`. Ours adds the input to its
output; to export it, we add one hidden unit that carries the input through: its gates
are held open (input, output) and shut (forget) by large biases, its cell input is
``tanh(a x)`` with a tiny ``a``, so the unit outputs ``tanh(tanh(a x)) = a x`` to within
``(2/3)(a x)^2`` of itself, and the head weighs it by ``1/a``. The stored start state
is the one the network reaches after NAM's second of silence, as NAM's exporter does.
The plugin's default fast ``tanh`` has slope 1.0043 at zero, so there the unit plays the
dry signal 0.9% loud: ESR 7e-5 between NAM core's fast and exact ``tanh`` on an exported
LSTM, 3e-8 with the unit muted (measured; WaveNets: 3e-8 to 1e-6). No weight serves both.

**Levels.** A checkpoint was trained on ``input_gain x DI`` and ``output_gain x target``.
The export folds both gains into the weights (the WaveNet's input convolutions and
``head_scale``; the LSTM's input weights and head) so that the plugin at unity gain
plays the DI the way ``guneamp render`` does. ``loudness`` and ``gain`` are then
measured on the file as written (:mod:`guneamp_lib.models.nam_levels`).

**Oversampled models** are exported, with a warning. Their network runs at the
recording's rate times the factor, and the file says so in ``sample_rate``. NAM's plugin
resamples the host's audio to a model's rate and back (its ``ResamplingNAM`` wrapper), so
it plays them as trained, for that factor times the CPU of a plain model; players without
a resampler (the bare C++ core, the LV2 port) would feed them audio at the wrong rate.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import warnings
from datetime import datetime
from pathlib import Path

import numpy as np
import torch

from .. import paths
from ..errors import GuneampError, GuneampWarning
from ..vocabulary import GEAR_TYPES, LEVEL_DBU_RANGE, NAM_FORMAT_VERSION, TONE_TYPES
from .checkpoint import Checkpoint, load_checkpoint
from .lstm import LSTMModel
from .nam_levels import loudness_and_gain, loudness_probe
from .nam_read import FILM_SLOTS, GATE_SECONDARY, build_network, load_nam, run_from_silence
from .nam_wavenet import NamWaveNet
from .wavenet import WaveNet

# The sample rate NAM's plugin assumes for files that do not state one.
NAM_DEFAULT_RATE = 48_000
# NAM's exporter runs an LSTM through this many samples of silence to find its start state.
NAM_LSTM_BURN_IN = 48_000
# The skip unit of an exported LSTM: input scale (relative error (2/3)(a x)^2 = 7e-7 at
# full scale) and the gate bias that makes sigmoid exactly 1 (or 1e-13) in float32.
SKIP_UNIT_SCALE = 1e-3
SKIP_UNIT_GATE = 30.0
# Window recorded for a model read from a .nam file: the training default, as for our checkpoints.
IMPORTED_WINDOW = 256

USER_FIELDS = ("name", "modeled_by", "gear_type", "gear_make", "gear_model", "tone_type", "input_level_dbu",
               "output_level_dbu")


def check_user_metadata(meta: dict) -> dict:
    """The metadata a user gives (``USER_FIELDS``), checked; every field present, ``None`` where not given.

    Notebook: 11
    """
    unknown = sorted(set(meta) - set(USER_FIELDS))
    if unknown:
        raise GuneampError(f"unknown .nam metadata field(s) {', '.join(unknown)}; use {', '.join(USER_FIELDS)}")
    out = {k: meta.get(k) for k in USER_FIELDS}
    for k, choices in (("gear_type", GEAR_TYPES), ("tone_type", TONE_TYPES)):
        if out[k] is not None and out[k] not in choices:
            raise GuneampError(f"{k} must be one of {', '.join(choices)}, got {out[k]!r}")
    for k in ("input_level_dbu", "output_level_dbu"):
        v = out[k]
        if v is None:
            continue
        lo, hi = LEVEL_DBU_RANGE
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not (math.isfinite(v) and lo <= v <= hi):
            raise GuneampError(f"{k} must be a number of dBu from {lo:g} to {hi:g} (the analog level of 0 dBFS), "
                               f"got {v!r}")
        out[k] = float(v)
    for k in ("name", "modeled_by", "gear_make", "gear_model"):
        if out[k] is not None and (not isinstance(out[k], str) or not out[k].strip()):
            raise GuneampError(f"{k} must be a non-empty text, got {out[k]!r}")
    return out


# ---------------------------------------------------------------- writing


def _f32(values) -> list[float]:
    """Numbers as the float32 values the player will hold, so reading the file back is exact."""
    return np.asarray(values, dtype=np.float32).astype(np.float64).ravel().tolist()


def _activation_spec(name: str) -> dict:
    # NAM writes Hardtanh with its limits (torch's defaults are ours).
    return {"type": name, "min_val": -1.0, "max_val": 1.0} if name == "Hardtanh" else {"type": name}


def _wavenet_array(lc: dict) -> dict:
    n = len(lc["dilations"])
    return {
        "input_size": lc["input_size"], "condition_size": lc["condition_size"],
        "head": {"out_channels": lc["head_size"], "kernel_size": 1, "bias": lc["head_bias"]},
        "channels": lc["channels"], "kernel_sizes": [lc["kernel_size"]] * n, "dilations": list(lc["dilations"]),
        "activation": [_activation_spec(lc["activation"])] * n, "bottleneck": lc["channels"],
        "head1x1": {"active": False, "out_channels": 1, "groups": 1}, "layer1x1": {"active": True, "groups": 1},
        "groups_input": 1, "groups_input_mixin": 1,
        **{slot: {"active": False, "shift": True, "groups": 1} for slot in FILM_SLOTS},
        "gating_mode": ["gated" if lc["gated"] else "none"] * n,
        "secondary_activation": [{"type": GATE_SECONDARY} if lc["gated"] else None] * n,
        "slimmable": None,
    }


def _nam_wavenet_array(lc: dict) -> dict:
    """A :class:`NamWaveNet` array (its checked vocabulary) as NAM 0.13 writes it into a file."""
    head = {"out_channels": lc["head_out"], "kernel_size": lc["head_kernel"], "bias": lc["head_bias"]}
    if lc["head_dilation"] != 1:
        head["head_dilation"] = lc["head_dilation"]
    acts = [_activation_spec(a["type"]) if a["type"] == "Hardtanh" else dict(a) for a in lc["activations"]]
    return {
        "input_size": lc["input_size"], "condition_size": lc["condition_size"], "head": head,
        "channels": lc["channels"], "kernel_sizes": list(lc["kernel_sizes"]), "dilations": list(lc["dilations"]),
        "activation": acts, "bottleneck": lc["bottleneck"],
        "head1x1": {"active": bool(lc["head1x1_out"]), "out_channels": lc["head1x1_out"] or 1,
                    "groups": lc["head1x1_groups"]},
        "layer1x1": {"active": lc["layer1x1"], "groups": lc["layer1x1_groups"]},
        "groups_input": lc["groups_input"], "groups_input_mixin": lc["groups_input_mixin"],
        **{slot: {"active": False, "shift": True, "groups": 1} for slot in FILM_SLOTS},
        "gating_mode": list(lc["gating_modes"]), "secondary_activation": [None if s is None else dict(s)
                                                                           for s in lc["secondary_activations"]],
        "slimmable": None,
    }


def _wavenet_section(model: WaveNet | NamWaveNet, gain_in: float, gain_out: float) -> tuple[dict, list[float]]:
    if isinstance(model, NamWaveNet):
        # what our A2 presets train (models/wavenet_a2.py); NAM's further options are read, never trained here
        if model.condition is not None or model.head is not None or any(lc["films"] for lc in model.config["arrays"]):
            raise GuneampError("this NAM WaveNet has a condition DSP, a post-stack head or FiLM, which guneamp "
                               "reads but does not export; export the .nam file it came from instead")
        layers = [_nam_wavenet_array(lc) for lc in model.config["arrays"]]
    else:
        layers = [_wavenet_array(lc) for lc in model.config["layers"]]
    weights = []
    for name, p in model.named_parameters():
        w = p.detach().double().cpu()
        # The input reaches the network through the first rechannel and every input mixer (no biases).
        if name == "arrays.0.rechannel.weight" or name.endswith("input_mixer.weight"):
            w = w * gain_in
        weights += _f32(w)
    head_scale = _f32([model.head_scale / gain_out])[0]
    config = {"layers": layers, "head": None, "head_scale": head_scale}
    return config, weights + [head_scale]


def _container(payload: dict) -> dict:
    """A WaveNet payload as the one size of a ``SlimmableContainer``, the layout NAM 0.13 exports A2 in.

    The submodel keeps its own metadata and rate, as NAM's exporter writes it; the container
    holds the date, the submodel's ``loudness`` and ``gain`` (NAM copies the largest
    size's) and, added by the caller, the user's fields.
    """
    meta = payload["metadata"]
    top = {"date": dict(meta["date"]), "loudness": meta["loudness"], "gain": meta["gain"]}
    return {"version": payload["version"], "metadata": top, "architecture": "SlimmableContainer",
            "config": {"submodels": [{"max_value": 1.0, "model": payload}]}, "weights": [],
            "sample_rate": payload["sample_rate"]}


@torch.no_grad()
def _lstm_section(model: LSTMModel, gain_in: float, gain_out: float) -> tuple[dict, list[float]]:
    lstm, hidden = model.lstm, model.config["hidden_size"]
    n = hidden + 1  # one more unit: the skip connection
    w = torch.zeros(4 * n, 1 + n, dtype=torch.float64)
    b = torch.zeros(4 * n, dtype=torch.float64)
    bias = (lstm.bias_ih_l0 + lstm.bias_hh_l0).double()
    for gate in range(4):  # input, forget, cell, output
        src, dst = slice(gate * hidden, (gate + 1) * hidden), slice(gate * n, gate * n + hidden)
        w[dst, 0] = lstm.weight_ih_l0[src, 0].double() * gain_in
        w[dst, 1 : 1 + hidden] = lstm.weight_hh_l0[src].double()
        b[dst] = bias[src]
    skip = hidden
    b[0 * n + skip], b[1 * n + skip], b[3 * n + skip] = SKIP_UNIT_GATE, -SKIP_UNIT_GATE, SKIP_UNIT_GATE
    w[2 * n + skip, 0] = SKIP_UNIT_SCALE
    # The state after NAM's second of silence (silence never reaches the skip unit: it stays 0).
    _, (h0, c0) = lstm(torch.zeros(1, NAM_LSTM_BURN_IN, 1, dtype=lstm.weight_ih_l0.dtype))
    zero = torch.zeros(1, dtype=torch.float64)
    head_w = torch.cat([model.head.weight[0].double() / gain_out, zero + gain_in / (gain_out * SKIP_UNIT_SCALE)])
    head_b = model.head.bias.double() / gain_out
    weights = (_f32(w) + _f32(b) + _f32(torch.cat([h0.flatten().double(), zero]))
               + _f32(torch.cat([c0.flatten().double(), zero])) + _f32(head_w) + _f32(head_b))
    return {"input_size": 1, "hidden_size": n, "num_layers": 1}, weights


def nam_payload(ckpt: Checkpoint, metadata: dict | None = None) -> dict:
    """The ``.nam`` JSON of a checkpoint, gains folded in and ``loudness``/``gain`` measured.

    Notebook: 11
    """
    model = ckpt.model
    if model.num_knobs:
        raise GuneampError("a .nam plays one setting: bake the knob model at one first "
                           "(guneamp export --knob NAME=VALUE ..., models.bake.bake_knobs)")
    gain_in, gain_out = float(ckpt.input_gain), float(ckpt.output_gain)
    for what, g in (("input_gain", gain_in), ("output_gain", gain_out)):
        if not (math.isfinite(g) and g > 0):
            raise GuneampError(f"the checkpoint's {what} is {g!r}; it must be a positive number")
    if isinstance(model, (WaveNet, NamWaveNet)):
        architecture, (config, weights) = "WaveNet", _wavenet_section(model, gain_in, gain_out)
    elif isinstance(model, LSTMModel):
        architecture, (config, weights) = "LSTM", _lstm_section(model, gain_in, gain_out)
    else:
        raise GuneampError(f"a {ckpt.model_name} model has no .nam layout; NAM plays WaveNet and LSTM models "
                           "(train with --model wavenet:<preset> or lstm:<units>)")
    if not all(math.isfinite(v) for v in weights):
        raise GuneampError("the model holds NaN or infinite weights; it cannot be exported (was training unstable?)")
    rate = ckpt.sample_rate * ckpt.oversample
    if ckpt.oversample > 1:
        warnings.warn(
            f"this model was trained {ckpt.oversample}x oversampled, so the file runs at {rate} Hz: NAM's plugin "
            f"resamples {ckpt.sample_rate} Hz audio to that rate and back and needs {ckpt.oversample}x the CPU of a "
            f"{ckpt.sample_rate} Hz model; players that do not resample will play it wrongly", GuneampWarning,
            stacklevel=2)
    t = datetime.now()
    meta = {"date": {"year": t.year, "month": t.month, "day": t.day, "hour": t.hour, "minute": t.minute,
                     "second": t.second}}
    payload = {"version": NAM_FORMAT_VERSION, "metadata": meta, "architecture": architecture, "config": config,
               "weights": weights, "sample_rate": float(rate)}
    # Measured on the network exactly as a player will rebuild it from the file.
    written = build_network(architecture, config, weights)
    meta["loudness"], meta["gain"] = loudness_and_gain(lambda x: run_from_silence(written, x), loudness_probe(rate))
    if isinstance(model, NamWaveNet):
        payload = _container(payload)
        meta = payload["metadata"]
    meta.update(check_user_metadata(metadata or {}))
    meta["training"] = {"guneamp": {"model": ckpt.model_name, "input_gain": gain_in, "output_gain": gain_out,
                                    "oversample": int(ckpt.oversample), "target_kind": ckpt.target_kind}}
    return payload


def export_nam(ckpt: Checkpoint, path: str | os.PathLike, metadata: dict | None = None) -> Path:
    """Write a WaveNet or LSTM checkpoint as a ``.nam`` file (atomically: a crash never leaves half a file).

    Notebook: 11
    """
    text = json.dumps(nam_payload(ckpt, metadata), allow_nan=False)
    return paths.write_text_atomic(path, text)


def load_model_file(path: str | os.PathLike, slim: float | None = None) -> Checkpoint:
    """A trained model from a guneamp checkpoint (``.pt``) or a ``.nam`` file, as a :class:`Checkpoint`.

    A ``.nam`` model works at the level of the audio it is given: its gains are 1 (ours
    were folded into its weights on export), it is not oversampled and it has no cabinet.
    A file without a sample rate is taken to be at 48 kHz, as NAM's plugin takes it.
    ``slim`` (0 to 1) picks a smaller size of a file that holds several (the plugin's CPU
    slider; see :func:`~guneamp_lib.models.nam_read.load_nam`).

    Notebook: 11
    """
    path = Path(path)
    if path.suffix.lower() != ".nam":
        if slim is not None:
            raise GuneampError(f"{path}: only a NAM .nam file holds several sizes to pick with slim")
        return load_checkpoint(path)
    nam = load_nam(path, slim)
    rate = NAM_DEFAULT_RATE if nam.sample_rate is None else nam.sample_rate
    if rate != int(rate):
        raise GuneampError(f"{path} runs at {rate} Hz; guneamp needs a whole number of Hz")
    gear = nam.metadata.get("gear_type")
    return Checkpoint(
        model=nam.model, model_name=nam.model.name, sample_rate=int(rate), oversample=1, window=IMPORTED_WINDOW,
        ir=None, target_kind="amp_with_cab" if gear in ("amp_cab", "amp_pedal_cab") else "amp_direct",
        meta={"nam_version": nam.version, "nam_metadata": nam.metadata, "source": str(path)},
        input_gain=1.0, output_gain=1.0,
    )
