"""Knob models for AIDA-X: RTNeural's JSON, with AIDA-X's own keys (notebook 13).

AIDA-X (AidaDSP's plugin, LV2/VST3/CLAP, on MOD devices) and GuitarML's Proteus play one
recurrent layer (LSTM or GRU) of 8, 12, 16, 20, 24, 32, 40, 64 or 80 units and a dense layer
to one output, through RTNeural. The layer's inputs are the sample, then 0, 1 or 2 knob
values in 0..1: exactly our conditioned :class:`~guneamp_lib.models.lstm.LSTMModel` and
:class:`~guneamp_lib.models.lstm.GRUModel`, whose knobs are already normalized to 0..1
(:mod:`guneamp_lib.knobs`), so the file needs no knob scaling.

The file is Keras's layout as RTNeural's ``model_loader.h`` reads it: ``in_shape``
``[null, null, 1 + K]``, then ``layers``, each ``{type, activation, shape, weights}``.

* **LSTM** ``weights``: the kernel ``(inputs, 4H)`` (``W_ih`` transposed), the recurrent
  kernel ``(H, 4H)`` (``W_hh`` transposed) and one bias ``(4H)`` (``b_ih + b_hh``). RTNeural's
  gate order (input, forget, cell, output) is PyTorch's, so the columns go across as they are.
* **GRU** ``weights``: the same two kernels with ``3H`` columns and a bias ``(2, 3H)``: the
  input bias, then the recurrent one, kept apart because the reset gate multiplies only the
  recurrent part of the candidate. RTNeural orders the gates update (z), reset (r),
  candidate; PyTorch orders them reset, update, candidate: the first two blocks swap.
* **Dense**: ``(H, 1)`` (the head's weight transposed) and its bias.

AIDA-X's keys beside RTNeural's: ``in_skip`` 1 (our skip connection: the model's input is
added to its output), ``in_gain`` and ``out_gain`` in dB (the input is multiplied by
``in_gain`` before the network and its skip, the sum by ``out_gain``): our training levels,
``20 log10(input_gain)`` and ``-20 log10(output_gain)``, so the plugin at unity plays the DI
as ``guneamp render`` does. ``metadata`` names the knobs and their dial ranges.
``tests/test_knob_models.py`` loads every variant in RTNeural's own parser
(``benchmarks/rtneural_driver.cpp``) and finds its output equal to ours.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import torch

from .. import paths
from ..errors import GuneampError
from .checkpoint import Checkpoint
from .lstm import GRUModel, LSTMModel

# The layer sizes AIDA-X's model variants are compiled for, and its most knob inputs.
AIDAX_SIZES = (8, 12, 16, 20, 24, 32, 40, 64, 80)
AIDAX_MAX_KNOBS = 2


def _rows(w: torch.Tensor) -> list:
    return np.asarray(w.detach().cpu().double(), dtype=np.float32).astype(np.float64).tolist()


def _gru_order(w: torch.Tensor) -> torch.Tensor:
    """PyTorch's (reset, update, candidate) blocks -> RTNeural's (update, reset, candidate)."""
    r, z, n = w.chunk(3, dim=0)
    return torch.cat([z, r, n], dim=0)


def check_aidax(ckpt: Checkpoint) -> None:
    """Refuse, with the reason, a model AIDA-X cannot play.

    Notebook: 13
    """
    model = ckpt.model
    if type(model) not in (LSTMModel, GRUModel):
        raise GuneampError(f"AIDA-X plays one LSTM or GRU layer; a {ckpt.model_name} model has no AIDA-X form "
                           "(train with --model lstm:<units> or gru:<units>)")
    hidden = model.config["hidden_size"]
    if hidden not in AIDAX_SIZES:
        raise GuneampError(f"AIDA-X plays layers of {', '.join(map(str, AIDAX_SIZES))} units; this model has {hidden}")
    if model.num_knobs > AIDAX_MAX_KNOBS:
        raise GuneampError(f"AIDA-X takes at most {AIDAX_MAX_KNOBS} knobs; this model has {model.num_knobs} "
                           f"({ckpt.knobs.describe()})")
    if ckpt.oversample != 1:
        raise GuneampError(f"this model runs {ckpt.oversample}x oversampled; AIDA-X runs a model at the host's rate "
                           "(train at --oversample 1)")


@torch.no_grad()
def aidax_payload(ckpt: Checkpoint, name: str | None = None) -> dict:
    """The AIDA-X JSON of a conditioned (or snapshot) LSTM or GRU checkpoint.

    Notebook: 13
    """
    check_aidax(ckpt)
    model = ckpt.model
    rnn, hidden = model.rnn_layer, model.config["hidden_size"]
    w_ih, w_hh = rnn.weight_ih_l0, rnn.weight_hh_l0
    if isinstance(model, GRUModel):
        kind = "gru"
        w_ih, w_hh = _gru_order(w_ih), _gru_order(w_hh)
        bias = [_rows(_gru_order(rnn.bias_ih_l0)), _rows(_gru_order(rnn.bias_hh_l0))]
    else:
        kind = "lstm"
        bias = _rows(rnn.bias_ih_l0 + rnn.bias_hh_l0)
    inputs = 1 + model.num_knobs
    layers = [
        {"type": kind, "activation": "", "shape": [None, None, hidden], "weights": [_rows(w_ih.T), _rows(w_hh.T), bias]},
        {"type": "dense", "activation": "", "shape": [None, None, 1],
         "weights": [_rows(model.head.weight.T), _rows(model.head.bias)]},
    ]
    for what, g in (("input_gain", ckpt.input_gain), ("output_gain", ckpt.output_gain)):
        if not (math.isfinite(g) and g > 0):
            raise GuneampError(f"the checkpoint's {what} is {g!r}; it must be a positive number")
    weights = [v for layer in layers for v in np.ravel(np.asarray(layer["weights"][0]))]
    if not all(math.isfinite(v) for v in weights):
        raise GuneampError("the model holds NaN or infinite weights; it cannot be exported (was training unstable?)")
    knobs = [] if ckpt.knobs is None else ckpt.knobs.to_json()
    return {
        "in_shape": [None, None, inputs],
        "in_skip": 1,
        "in_gain": 20.0 * math.log10(ckpt.input_gain),
        "out_gain": -20.0 * math.log10(ckpt.output_gain),
        "layers": layers,
        "metadata": {"name": name, "samplerate": ckpt.sample_rate, "knobs": knobs,
                     "guneamp": {"model": ckpt.model_name, "hidden_size": hidden, "target_kind": ckpt.target_kind}},
    }


def export_aidax(ckpt: Checkpoint, path: str | os.PathLike, name: str | None = None) -> Path:
    """Write an LSTM or GRU checkpoint as an AIDA-X model (``.json``, atomically).

    Notebook: 13
    """
    return paths.write_text_atomic(path, json.dumps(aidax_payload(ckpt, name or Path(path).stem), allow_nan=False))
