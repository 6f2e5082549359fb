"""NAM 0.13's default model, A2, as two presets trained here: ``wavenet:a2-lite`` and ``wavenet:a2-full`` (notebook 11_beyond_the_seed).

NAM 0.13's trainer makes "A2" unless told otherwise (its ``config_model_packed.json``):
two WaveNets of one layer array each, 3 channels (Lite) and 8 (Full), trained together
packed into one block-diagonal network and exported as one ``SlimmableContainer`` (the
plugin's CPU slider plays Lite below 0.5, Full above). Each array has 23 layers: three
runs of dilations 1, 3, 7, 17, 41, 101, 239 with kernel size 6, and between the second
and the third two layers of kernel size 15 (dilations 1 and 13); LeakyReLU (slope 0.01),
no gating, a layer 1x1, and a head rechannel of 16 taps with a bias; ``head_scale``
0.01. It hears 6,347 samples (132 ms at 48 kHz), half as much again as NAM's older presets.

Here each size is a preset of its own, trained alone (``guneamp train --model
wavenet:a2-lite``). Our :class:`~guneamp_lib.models.wavenet.WaveNet` keeps one kernel
size per array and a 1-tap head, so an A2 preset is built as
:class:`~guneamp_lib.models.nam_wavenet.NamWaveNet`, the class that plays NAM's own
files and has a compiled streaming engine, from exactly the layer-array config NAM writes
into a ``.nam`` file, read through the reader's own checks (:func:`array_config`). Its
checkpoint is a ``nam_wavenet`` one; ``guneamp export`` writes it as the
``SlimmableContainer`` NAM's exporter writes, holding the one size trained
(:mod:`guneamp_lib.models.nam`).
"""

from __future__ import annotations

from .nam_wavenet import FILM_SLOTS, NamWaveNet
from .nam_wavenet_config import array_config

# NAM 0.13's A2 layer array (nam/train/_resources/config_model_packed.json).
_RUN = [1, 3, 7, 17, 41, 101, 239]
A2_DILATIONS = _RUN + _RUN + [1, 13] + _RUN
A2_KERNEL_SIZES = [6] * 14 + [15, 15] + [6] * 7
A2_HEAD_TAPS = 16
A2_HEAD_SCALE = 0.01
A2_ACTIVATION = {"type": "LeakyReLU", "negative_slope": 0.01}
# Preset name -> channels: NAM's Lite and Full submodels.
A2_PRESETS = {"a2-lite": 3, "a2-full": 8}


def a2_layer_array(channels: int) -> dict:
    """One A2 layer array in the ``.nam`` file's vocabulary, key for key as NAM 0.13's exporter writes it.

    Notebook: 11
    """
    n = len(A2_DILATIONS)
    return {
        "input_size": 1, "condition_size": 1,
        "head": {"out_channels": 1, "kernel_size": A2_HEAD_TAPS, "bias": True},
        "channels": channels, "kernel_sizes": list(A2_KERNEL_SIZES), "dilations": list(A2_DILATIONS),
        "activation": [dict(A2_ACTIVATION) for _ in range(n)], "bottleneck": channels,
        "head1x1": {"active": False, "out_channels": 1, "groups": 1}, "layer1x1": {"active": True, "groups": 1},
        "groups_input": 1, "groups_input_mixin": 1,
        **{slot: {"active": False, "shift": True, "groups": 1} for slot in FILM_SLOTS},
        "gating_mode": ["none"] * n, "secondary_activation": [None] * n, "slimmable": None,
    }


def a2_wavenet(preset: str, num_knobs: int = 0) -> NamWaveNet:
    """The untrained A2 network of ``preset`` (``a2-lite`` or ``a2-full``), ``(B, 1, T) -> (B, 1, T)``.

    Notebook: 11
    """
    if preset not in A2_PRESETS:
        raise ValueError(f"unknown A2 preset {preset!r}; choose one of: {', '.join(A2_PRESETS)}")
    if num_knobs:
        # NAM's A2 has one input; knobs would change the very shape a NAM file can hold
        raise ValueError(f"{preset} is NAM's snapshot model and takes no knobs; train a knob model as wavenet:<A1 "
                         "preset>, lstm or gru")
    arrays = [array_config(a2_layer_array(A2_PRESETS[preset]), f"{preset}.layers[0]")]
    return NamWaveNet(arrays, A2_HEAD_SCALE)
