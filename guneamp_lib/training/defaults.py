"""Per-model training set-up and the way models are named on the command line (notebooks 06 and 11).

One table, :data:`TRAINING`, says how each architecture trains (oversampling factor,
segment length, batch size, learning rate); ``guneamp train`` (and the library's
:class:`~guneamp_lib.training.train.TrainConfig`), ``guneamp evaluate`` and the course all read it, so the same
model trains the same way whichever door it came through. :class:`ModelSpec` reads a
model written as text, ``name[:arg][@Nx]`` (``seed_cnn@8x``, ``wavenet:lite``, ``lstm:24``).

Both import without torch (the models are imported when one is built), so that the
``guneamp`` command can check ``--model`` and print these defaults in its help before
it spends seconds importing torch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..errors import GuneampError

if TYPE_CHECKING:
    import torch

@dataclass(frozen=True)
class TrainingDefaults:
    """How one architecture trains when nobody says otherwise (file-rate samples, Adam's rate).

    Notebook: 06, 11
    """

    oversample: int
    segment_with_cabinet: int  # scored samples per segment with the cabinet IR inside the loss
    segment_direct: int  # ... and without one
    batch_size: int
    learning_rate: float
    # Knob models: each setting's error counted over its own power (TrainConfig.balance_settings).
    balance_settings: bool = False

    def segment(self, has_ir: bool) -> int:
        return self.segment_with_cabinet if has_ir else self.segment_direct


# Per-architecture training set-up: THE table (nothing else in the library sets these).
# * seed_cnn keeps the course's design (notebook 06): 8x, 8 segments of 2,048. Without a
#   cabinet in the loss, 1,024-sample segments keep a step's working set closer to the
#   caches: about 1.3 times the targets per second (benchmarks/run.py, section 1), and a
#   test ESR of 0.29 against 0.34 in a 150 s run on amp_direct.wav. With the cabinet,
#   every segment carries the IR's ~840 samples of context, so longer segments pay.
# * wavenet needs 4,092 samples of context before every scored one, so it scores long
#   segments: at 8,192 scored samples a step it learns from about twice as many samples
#   per second of CPU as at 2,048 (measured on 2 cores). It trains at 1x: it hears 93 ms
#   there, and every doubling of the rate halves that and doubles the work.
# * lstm: 8 segments of 2,048, the set-up behind its figures in docs/evaluation.md.
TRAINING: dict[str, TrainingDefaults] = {
    "seed_cnn": TrainingDefaults(oversample=8, segment_with_cabinet=2048, segment_direct=1024, batch_size=8,
                                 learning_rate=3e-3),
    "wavenet": TrainingDefaults(oversample=1, segment_with_cabinet=8192, segment_direct=8192, batch_size=4,
                                learning_rate=3e-3),
    "lstm": TrainingDefaults(oversample=1, segment_with_cabinet=2048, segment_direct=2048, batch_size=8,
                             learning_rate=3e-3),
    # gru: AIDA-X's other cell (knob models, notebook 13), trained as the LSTM is.
    "gru": TrainingDefaults(oversample=1, segment_with_cabinet=2048, segment_direct=2048, batch_size=8,
                            learning_rate=3e-3),
}


# The models that take knobs (notebook 13): NAM's WaveNet through its input mixer, the
# recurrent ones as extra inputs beside the sample.
KNOB_MODELS = ("wavenet", "lstm", "gru")

# The same for a knob model, trained on many captures at once (notebook 13: `guneamp train
# --manifest`, `guneamp evaluate --datasets knobs`, ``TrainConfig(knob_recipe=True)``).
# benchmarks/knob_convergence.py screened the WaveNet's row at 900 CPU-s on one thread
# (docs/evaluation.md, "Knob models"; held-out median / worst ESR): the snapshot's row
# (4 x 8,192 at 3e-3) 0.0185 / 0.031; batch 2 0.0135 / 0.020; batch 1 0.016 / 0.021; the lite
# preset 0.017 / 0.022 (batch 4) and 0.0145 / 0.020 (batch 2); batch 2 with every setting's
# error over its own power (balance_settings) 0.0098 / 0.018, and so at 5e-3 0.0195 / 0.032.
# Twice the steps of half the batch beat a larger batch on this budget; the balance matters
# because the capture keeps one level, and its settings' powers span 77 times.
# The LSTM 16 keeps its snapshot row with the balance: 0.0071 / 0.013 against 0.0116 / 0.017.
# The knob WaveNet also takes FiLM (training.train.knob_config): 0.0072 to 0.0078 / <= 0.017
# over three seeds, against 0.0090 to 0.0129 / <= 0.027 with this row alone.
KNOB_TRAINING: dict[str, TrainingDefaults] = {
    **{name: replace(TRAINING[name], balance_settings=True) for name in KNOB_MODELS},
    "wavenet": TrainingDefaults(oversample=1, segment_with_cabinet=8192, segment_direct=8192, batch_size=2,
                                learning_rate=3e-3, balance_settings=True),
}


def training_defaults(model: str, knob_recipe: bool = False) -> TrainingDefaults:
    """The row of :data:`TRAINING` for ``model`` (an architecture name such as ``"wavenet"``),
    or with ``knob_recipe`` its row of :data:`KNOB_TRAINING`.

    Notebook: 06, 13
    """
    table = KNOB_TRAINING if knob_recipe else TRAINING
    try:
        return table[model]
    except KeyError:
        if knob_recipe and model in TRAINING:
            raise GuneampError(f"a {model} model takes no knobs; train a knob model as one of "
                               f"{', '.join(KNOB_MODELS)}") from None
        raise GuneampError(f"no training defaults for {model!r}; known models: {', '.join(TRAINING)}") from None


@dataclass(frozen=True)
class ModelSpec:
    """One entry of the comparison: an architecture, its size and the rate it runs at.

    Written as text ``name[:arg][@Nx]``: ``seed_cnn@8x``, ``wavenet:lite``, ``lstm:24``.
    ``arg`` is the WaveNet preset (``a2-lite`` and ``a2-full`` are NAM 0.13's A2,
    :mod:`guneamp_lib.models.wavenet_a2`) or the LSTM's hidden size; without ``@Nx`` the rate is
    the model's default from :data:`TRAINING` (8x for the seed CNN, 1x for the others).

    Notebook: 06, 11
    """

    model: str
    arg: str | None = None
    oversample: int = 1

    @classmethod
    def parse(cls, text: "str | ModelSpec") -> "ModelSpec":
        """The spec ``text`` names, with the model built once to check its size (a preset, a hidden size)."""
        spec = cls.read(text)
        spec.build()  # fail now, with the reason, rather than after other models have trained
        return spec

    @classmethod
    def read(cls, text: "str | ModelSpec") -> "ModelSpec":
        """The spec ``text`` names, checked as far as it can be without building the model (no torch)."""
        if isinstance(text, ModelSpec):
            return text
        m = re.fullmatch(r"\s*([a-z_]+)(?::([\w.-]+))?(?:@(\d+)x?)?\s*", str(text))
        if not m:
            raise GuneampError(f"cannot read the model {text!r}: write name[:arg][@Nx], e.g. wavenet:lite or seed_cnn@8x")
        name = m.group(1)
        if name not in TRAINING:
            raise GuneampError(f"unknown model {str(text).strip()!r}; choose one of: {', '.join(TRAINING)}")
        # No rate given: the one the model trains at by default (the table above).
        rate = int(m.group(3)) if m.group(3) else TRAINING[name].oversample
        spec = cls(name, m.group(2), rate)
        if spec.oversample < 1:
            raise GuneampError(f"{text!r}: the rate must be 1x or more")
        spec.kwargs()  # an LSTM's size is a whole number; the seed CNN takes none
        return spec

    def kwargs(self) -> dict:
        if self.model == "wavenet":
            return {"preset": self.arg or "standard"}
        if self.model in ("lstm", "gru"):
            try:
                return {} if self.arg is None else {"hidden_size": int(self.arg)}
            except ValueError:
                raise GuneampError(f"{self.model}:{self.arg}: the argument is the hidden size, a whole number") from None
        if self.arg is not None:
            raise GuneampError(f"{self.model} takes no argument (got {self.model}:{self.arg})")
        return {}

    @property
    def label(self) -> str:
        return f"{self.model}{'' if self.arg is None else ':' + self.arg} @{self.oversample}x"

    def build(self) -> torch.nn.Module:
        # Here, not at the top: reading a spec must not cost torch's import (see the module's docstring).
        from ..models import build_model

        kwargs = self.kwargs()
        try:
            return build_model(self.model, **kwargs)
        except ValueError as exc:
            raise GuneampError(f"{self.label}: {exc}") from None

