"""Small ``.nam`` files written by NAM 0.13's own Python package, one per architecture NAM core plays.

Used by the tests (``tests/test_nam_core_files.py``) and by section 8 of the benchmarks
(A2 and a slimmable WaveNet, timed against NAM core).

Nothing here is NAM's data: each file is made on the spot from NAM's own model classes
and exporter, with random weights (perturbed so that every weight matters), so the
tests never commit a file of NAM's. Shapes are NAM's (A2 is its trainer's default
config, read from the installed package); sizes are small so the files build in
seconds.
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

import torch

RATE = 48000.0
# FiLM at every slot NAM offers, with and without the shift, grouped where the sizes allow.
FILM = {"conv_pre_film": {"active": True, "shift": True}, "conv_post_film": {"active": True, "shift": False},
        "input_mixin_pre_film": {"active": True}, "input_mixin_post_film": {"active": True, "shift": False},
        "activation_pre_film": {"active": True}, "activation_post_film": {"active": True},
        "layer1x1_post_film": {"active": True}, "head1x1_post_film": {"active": True}}


def _array(**kw) -> dict:
    lc = {"input_size": 1, "condition_size": 1, "channels": 4, "kernel_size": 3, "dilations": [1, 2, 4, 8],
          "activation": "Tanh", "head": {"out_channels": 1, "kernel_size": 1, "bias": True}}
    lc.update(kw)
    if "kernel_sizes" in lc:
        del lc["kernel_size"]
    return lc


def _wavenet(layers: list[dict], **kw) -> dict:
    return {"layers_configs": layers, "head": None, "head_scale": 0.05, "sample_rate": RATE, **kw}


def _perturbed(model, seed: int, scale: float):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g))
    return model


def _packed() -> dict:
    config = json.loads(files("nam.train._resources").joinpath("config_model_packed.json").read_text())
    return {**config["net"]["config"], "sample_rate": RATE}


def configs() -> dict[str, tuple[str, dict]]:
    """Name -> (NAM class name, its ``init_from_config`` config)."""
    gated = {"name": "PairMultiply", "primary": "Tanh", "secondary": "Sigmoid"}
    blended = {"name": "PairBlend", "primary": "LeakyReLU", "secondary": "Sigmoid"}
    return {
        "a2": ("PackedWaveNet", _packed()),
        "slimmable": ("WaveNet", _wavenet([
            _array(channels=8, activation="LeakyReLU", kernel_sizes=[3, 6, 3, 2],
                   slimmable={"method": "slice_channels_uniform", "kwargs": {"allowed_channels": [2, 4, 8]}})])),
        "gated": ("WaveNet", _wavenet([
            _array(activation=gated, head={"out_channels": 3, "kernel_size": 1, "bias": False}),
            _array(input_size=4, channels=3, activation=blended, dilations=[3, 9], bottleneck=2,
                   head_1x1_config={"active": True, "out_channels": 3, "groups": 1},
                   head={"out_channels": 1, "kernel_size": 4, "bias": True})])),
        "film": ("WaveNet", _wavenet([
            _array(activation=blended, bottleneck=2, film_params=FILM, groups_input=2,
                   head_1x1_config={"active": True, "out_channels": 2, "groups": 2},
                   layer_1x1_config={"active": True, "groups": 2})])),
        "condition": ("WaveNet", _wavenet(
            [_array(condition_size=2, activation="SiLU")],
            condition_dsp={"name": "WaveNet", "config": _wavenet([_array(
                channels=3, dilations=[1, 2], activation="Softsign",
                head={"out_channels": 2, "kernel_size": 1, "bias": True})])})),
        "convnet": ("ConvNet", {"channels": 4, "dilations": [1, 2, 4, 8], "batchnorm": True, "activation": "Tanh",
                                "sample_rate": RATE}),
        "lstm": ("LSTM", {"hidden_size": 6, "num_layers": 2, "sample_rate": RATE}),
        "linear": ("Linear", {"receptive_field": 64, "bias": True, "sample_rate": RATE}),
    }


def write(name: str, folder: Path, seed: int = 0, perturb: float = 0.3) -> Path:
    """Write the NAM-made file ``name`` (see :func:`configs`) into ``folder``; returns its path.

    ``perturb`` is the spread of the noise added to NAM's initial weights (so that every
    weight matters in a test); 0 keeps NAM's initialization (for timing).
    """
    torch.manual_seed(seed)

    cls, config = configs()[name]
    model = init_model(cls, config)
    _perturbed(model, seed, perturb).export(folder, basename=name)
    return folder / f"{name}.nam"


def init_model(cls: str, config: dict):
    """NAM's model class ``cls`` from its ``init_from_config`` config, in evaluation mode."""
    from nam.models.conv_net import ConvNet
    from nam.models.linear import Linear
    from nam.models.recurrent import LSTM
    from nam.models.wavenet import PackedWaveNet, WaveNet

    return {"WaveNet": WaveNet, "PackedWaveNet": PackedWaveNet, "ConvNet": ConvNet,
            "LSTM": LSTM, "Linear": Linear}[cls].init_from_config(json.loads(json.dumps(config))).eval()


def as_format_06(path: Path, out: Path) -> Path:
    """The same model labelled format 0.6.0 (a version NAM's tools wrote between 0.5 and 0.7)."""
    d = json.loads(path.read_text())
    d["version"] = "0.6.0"
    out.write_text(json.dumps(d))
    return out
