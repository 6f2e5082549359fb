"""The models, and the one table that names them (notebook 04 and 11).

``MODELS`` maps the name used on the command line and in checkpoints to the class.
Adding a model means writing a module here that subclasses :class:`AmpModel` and adding
one line to the table; nothing else in the library needs to know about it. Its
``.nam`` export and import, if it has one, live in :mod:`guneamp_lib.models.nam`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .base import AmpModel, CausalConv1d, count_parameters
from .lstm import GRUModel, LSTMModel
from .nam_convnet import NamConvNet, NamLinear
from .nam_lstm import NamLSTM
from .nam_wavenet import NamWaveNet
from .seed_cnn import SeedCNN, seed_cnn_parameter_breakdown
from .wavenet import PRESETS as WAVENET_PRESETS, WaveNet
from .wavenet_a2 import A2_PRESETS, a2_wavenet

MODELS: dict[str, type[AmpModel]] = {
    SeedCNN.name: SeedCNN,
    WaveNet.name: WaveNet,
    LSTMModel.name: LSTMModel,
    GRUModel.name: GRUModel,
    # NAM's own networks, for .nam files read back (models/nam_read.py); not offered for training.
    NamLSTM.name: NamLSTM,
    NamWaveNet.name: NamWaveNet,
    NamConvNet.name: NamConvNet,
    NamLinear.name: NamLinear,
}


def build_model(name: str, **kwargs) -> nn.Module:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(sorted(MODELS))}")
    if name == WaveNet.name:
        preset = kwargs.get("preset", "standard")
        if preset in A2_PRESETS:
            # NAM 0.13's A2 needs what our WaveNet lacks (kernel sizes per layer, a 16-tap head):
            # it is built as the class that plays NAM's files (models/wavenet_a2.py)
            return a2_wavenet(**kwargs)
        if preset is not None and preset not in WAVENET_PRESETS:
            raise ValueError(f"unknown WaveNet preset {preset!r}; choose one of: "
                             f"{', '.join([*WAVENET_PRESETS, *A2_PRESETS])}")
    return MODELS[name](**kwargs)


def model_config(model: AmpModel) -> dict:
    return dict(model.config)


def receptive_field(model: AmpModel) -> float:
    """Input samples that can affect one output sample (``math.inf`` for recurrent models).

    Notebook: 04
    """
    return model.receptive_field


def measure_receptive_field(model: nn.Module, length: int | None = None) -> int:
    """Measure, by back-propagating from the last output, how far back the input matters.

    Notebook: 04
    """
    rf = receptive_field(model)
    n = length or (int(rf) * 2 + 64 if math.isfinite(rf) else 8192)
    x = torch.randn(1, 1, n, dtype=torch.float64, requires_grad=True)
    was = model.training
    model.eval()
    model.double()
    try:
        y = model(x)
        y[0, 0, -1].backward()
    finally:
        model.float()
        model.train(was)
    nz = torch.nonzero(x.grad[0, 0].abs() > 0).flatten()
    return int(n - nz.min().item())


__all__ = [
    "AmpModel", "CausalConv1d", "GRUModel", "LSTMModel", "MODELS", "NamConvNet", "NamLSTM", "NamLinear", "NamWaveNet",
    "SeedCNN", "WaveNet", "build_model", "count_parameters",
    "measure_receptive_field", "model_config", "receptive_field", "seed_cnn_parameter_breakdown",
]
