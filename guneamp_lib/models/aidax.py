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

AIDA-X's keys beside RTNeural's: ``in_skip``, ``in_gain`` and ``out_gain``. What the plugin
does with them, read in AIDA-X's own source (AidaDSP/AIDA-X, ``src/aidadsp-plugin.cpp`` at
commit ea59c896): ``loadModelFromStream`` reads ``in_gain`` and ``out_gain`` as **dB** and
turns each into a factor with ``DB_CO`` (defined near line 34: ``10^(g/20)`` above -90 dB,
0 at or below it; a key that is missing or not a number is a factor of 1), and ``in_skip``
as 0 or 1 (above 1 is refused). ``applyModel`` (from near line 184; line numbers counted by
hand in the stored copy) then, per block: multiplies the input by the input factor, **before
the network and before the skip** (in place, so the skip adds the scaled input); with
``in_skip`` 1 adds the network's output to that scaled input and multiplies **the sum** by
the output factor (its last loop, near line 264); with ``in_skip`` 0 multiplies the
network's output alone. The knob inputs (``param1``/``param2``, smoothed parameter values)
go in beside the scaled sample, not scaled themselves. :class:`AidaxLevels` is that
formula, and ``tests/test_knob_models.py`` applies it to RTNeural's own network output
(``benchmarks/rtneural_driver.cpp``, RTNeural's parser) and finds ``guneamp render``'s file.

Our export follows it: ``in_skip`` 1 (our skip connection adds the model's input to its
output), ``in_gain`` = ``20 log10(input_gain)`` and ``out_gain`` = ``-20 log10(output_gain)``
(our training levels), so the plugin at unity plays the DI as ``guneamp render`` does. A level
at or below -90 dB would be silence in the plugin, so it is refused. ``metadata`` names the
knobs and their dial ranges. The plugin also plays 2,048 samples of silence through a model
when it loads one (to settle its state, in ``loadModelFromStream`` and ``activate``); a
render starts from a zero state, so the two differ at the start of a file while that state
settles.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
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
# AIDA-X's DB_CO: a gain at or below this many dB is a factor of 0 (silence), not 10^(g/20).
AIDAX_SILENT_DB = -90.0


def db_factor(db: float) -> float:
    """A gain in dB as AIDA-X turns it into a factor (its ``DB_CO``): 0 at or below -90 dB.

    Notebook: 13
    """
    return 10.0 ** (db / 20.0) if db > AIDAX_SILENT_DB else 0.0


@dataclass(frozen=True)
class AidaxLevels:
    """What AIDA-X does around the network of a model file: its input and output factors and skip.

    Notebook: 13
    """

    input_gain: float  # factor (from in_gain, dB)
    output_gain: float  # factor (from out_gain, dB)
    skip: bool

    @classmethod
    def of(cls, payload: dict) -> "AidaxLevels":
        """The levels of an AIDA-X JSON payload, as the plugin's loader reads them."""
        def number(key):
            v = payload.get(key)
            return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None

        skip = number("in_skip")
        if skip is not None and skip > 1:
            raise GuneampError(f"in_skip is {skip}; AIDA-X takes 0 or 1")
        gains = [number(k) for k in ("in_gain", "out_gain")]
        return cls(*(1.0 if g is None else db_factor(float(g)) for g in gains), skip=bool(skip))

    def play(self, x: np.ndarray, network) -> np.ndarray:
        """AIDA-X's output for input ``x``: ``network`` maps the scaled input to the network's output.

        In float32, as the plugin: the input times its factor, the network on that, the scaled
        input added when the model skips, and the sum (or the network's output alone) times
        the output factor.
        """
        u = np.asarray(x, dtype=np.float32) * np.float32(self.input_gain)
        n = np.asarray(network(u), dtype=np.float32)
        return ((u + n) if self.skip else n) * np.float32(self.output_gain)


def read_aidax(path: str | os.PathLike) -> dict:
    """An AIDA-X model file's JSON payload; a file that is not one is a :class:`GuneampError`.

    Notebook: 13
    """
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GuneampError(f"cannot read {path} as an AIDA-X model: {exc}") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("layers"), list):
        raise GuneampError(f"{path} is not an AIDA-X model (no 'layers' list)")
    return payload


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
    in_gain, out_gain = 20.0 * math.log10(ckpt.input_gain), -20.0 * math.log10(ckpt.output_gain)
    for what, db in (("in_gain", in_gain), ("out_gain", out_gain)):
        if db <= AIDAX_SILENT_DB:
            raise GuneampError(f"the model's {what} would be {db:.1f} dB; AIDA-X plays {AIDAX_SILENT_DB:g} dB or less "
                               "as silence, so it cannot play this model at its trained level")
    weights = [v for layer in layers for v in np.ravel(np.asarray(layer["weights"][0]))]
    if not all(math.isfinite(v) for v in weights):
        raise GuneampError("the model holds NaN or infinite weights; it cannot be exported (was training unstable?)")
    knobs = [] if ckpt.knobs is None else ckpt.knobs.to_json()
    return {
        "in_shape": [None, None, inputs],
        "in_skip": 1,
        "in_gain": in_gain,
        "out_gain": out_gain,
        "layers": layers,
        "metadata": {"name": name, "samplerate": ckpt.sample_rate, "knobs": knobs,
                     "guneamp": {"model": ckpt.model_name, "hidden_size": hidden, "target_kind": ckpt.target_kind}},
    }


def export_aidax(ckpt: Checkpoint, path: str | os.PathLike, name: str | None = None) -> Path:
    """Write an LSTM or GRU checkpoint as an AIDA-X model (``.json``, atomically).

    Notebook: 13
    """
    return paths.write_text_atomic(path, json.dumps(aidax_payload(ckpt, name or Path(path).stem), allow_nan=False))
