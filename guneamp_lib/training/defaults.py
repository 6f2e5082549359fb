"""Per-model training set-up and the way models are named on the command line (notebooks 06 and 11).

One table, :data:`TRAINING`, says how each architecture trains (segment length, batch
size); ``guneamp train``, ``guneamp evaluate`` and the course all read it, so the same
model trains the same way whichever door it came through. :class:`ModelSpec` reads a
model written as text, ``name[:arg][@Nx]`` (``seed_cnn@8x``, ``wavenet:lite``, ``lstm:24``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from ..errors import GuneampError
from ..models import build_model

# Per-architecture training set-up. The seed CNN keeps the course's (notebook 06).
# The WaveNet needs 4,092 samples of context before every scored one, so it scores
# long segments: at 8,192 scored samples a step it learns from about twice as many
# samples per second of CPU as at 2,048 (measured on 2 cores).
TRAINING = {
    "seed_cnn": {"segment": 2048, "batch_size": 8},
    "wavenet": {"segment": 8192, "batch_size": 4},
    "lstm": {"segment": 2048, "batch_size": 8},
}


@dataclass(frozen=True)
class ModelSpec:
    """One entry of the comparison: an architecture, its size and the rate it runs at.

    Written as text ``name[:arg][@Nx]``: ``seed_cnn@8x``, ``wavenet:lite``, ``lstm:24``.
    ``arg`` is the WaveNet preset or the LSTM's hidden size; the rate defaults to 1x.
    """

    model: str
    arg: str | None = None
    oversample: int = 1

    @classmethod
    def parse(cls, text: "str | ModelSpec") -> "ModelSpec":
        if isinstance(text, ModelSpec):
            return text
        m = re.fullmatch(r"\s*([a-z_]+)(?::([\w.]+))?(?:@(\d+)x?)?\s*", str(text))
        if not m:
            raise GuneampError(f"cannot read the model {text!r}: write name[:arg][@Nx], e.g. wavenet:lite or seed_cnn@8x")
        spec = cls(m.group(1), m.group(2), int(m.group(3) or 1))
        if spec.oversample < 1:
            raise GuneampError(f"{text!r}: the rate must be 1x or more")
        spec.build()  # fail now, with the reason, rather than after other models have trained
        return spec

    def kwargs(self) -> dict:
        if self.model == "wavenet":
            return {"preset": self.arg or "standard"}
        if self.model == "lstm":
            try:
                return {} if self.arg is None else {"hidden_size": int(self.arg)}
            except ValueError:
                raise GuneampError(f"lstm:{self.arg}: the argument is the hidden size, a whole number") from None
        if self.arg is not None:
            raise GuneampError(f"{self.model} takes no argument (got {self.model}:{self.arg})")
        return {}

    @property
    def label(self) -> str:
        return f"{self.model}{'' if self.arg is None else ':' + self.arg} @{self.oversample}x"

    def build(self) -> torch.nn.Module:
        kwargs = self.kwargs()
        try:
            return build_model(self.model, **kwargs)
        except ValueError as exc:
            raise GuneampError(f"{self.label}: {exc}") from None


# The designed CNN as designed (8x) and at the file rate, then the two larger families.
# WaveNet lite and LSTM 16 did best of their families in a 60 s budget on 2 CPU cores,
# on the default data and on the RAT (docs/evaluation.md has the numbers).
