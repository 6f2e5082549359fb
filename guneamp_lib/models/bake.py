"""One setting of a knob model, baked into a snapshot model (notebook 13).

Knobs held still are constants, and a constant input through a linear map is a bias. In a
conditioned WaveNet the input mixer's knob columns times the knob vector add to each
layer's dilated-convolution bias (and a FiLM scale, ``1 + film @ knobs``, multiplies that
convolution's weight and bias first); in a conditioned LSTM or GRU the input weights' knob
columns times the vector add to the input bias. :func:`bake_knobs` folds them in and
returns the same network with no knob inputs (``condition_size = 1``): a plain snapshot
that :func:`~guneamp_lib.models.nam.export_nam` writes as an ordinary ``.nam``, which NAM's
plugin plays (``guneamp export --knob drive=7``; ``tests/test_knob_models.py`` checks it in
NAM core against our model at those knobs).
"""

from __future__ import annotations

import copy
from dataclasses import replace

import torch

from ..errors import GuneampError
from . import build_model
from .checkpoint import Checkpoint
from .lstm import GRUModel, LSTMModel
from .wavenet import WaveNet


@torch.no_grad()
def bake_knobs(ckpt: Checkpoint, settings: dict, extrapolate: bool = False) -> Checkpoint:
    """The snapshot of ``ckpt``'s knob model at ``settings`` (dial units, every knob).

    Notebook: 13
    """
    model = ckpt.model
    if ckpt.knobs is None or not model.num_knobs:
        raise GuneampError("this is a snapshot model: it has no knobs to bake (drop --knob)")
    k = torch.from_numpy(ckpt.knobs.normalize(settings, extrapolate=extrapolate)).double()
    state = {name: v.clone() for name, v in model.state_dict().items()}
    if isinstance(model, WaveNet):
        plain = WaveNet(preset=None, layers=[{**lc, "condition_size": 1} for lc in model.config["layers"]],
                        head_scale=model.head_scale)
        # FiLM first: the scale 1 + film @ k multiplies the dilated conv's weight and bias
        for name in [n for n in state if n.endswith("film.weight")]:
            layer = name[: -len("film.weight")]
            scale = 1 + state.pop(name)[:, :, 0].double() @ k
            for part in ("conv.weight", "conv.bias"):
                w = state[layer + part]
                state[layer + part] = (w.double() * scale.reshape(-1, *[1] * (w.ndim - 1))).float()
        folds = [(name, name.replace("input_mixer.weight", "conv.bias")) for name in state
                 if name.endswith("input_mixer.weight")]
    elif type(model) in (LSTMModel, GRUModel):
        plain = build_model(model.name, hidden_size=model.config["hidden_size"], tbptt=model.config["tbptt"])
        folds = [(f"{model.name}.weight_ih_l0", f"{model.name}.bias_ih_l0")]
    else:
        raise GuneampError(f"a {ckpt.model_name} model cannot be baked")
    for weight, bias in folds:
        w = state[weight]  # (rows, 1 + K[, 1]): the input's column, then the knobs'
        cols = w.reshape(w.shape[0], w.shape[1])
        state[bias] = (state[bias].double() + cols[:, 1:].double() @ k).float()
        state[weight] = w[:, :1].clone()
    plain.load_state_dict(state)
    shown = ", ".join(f"{n}={v:g}" for n, v in ckpt.knobs.check(settings, extrapolate=extrapolate).items())
    return replace(ckpt, model=plain.eval(), knobs=None, training_state=None, history=copy.deepcopy(ckpt.history),
                   meta={**ckpt.meta, "baked_knobs": shown})
