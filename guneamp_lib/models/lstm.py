"""A one-layer LSTM amp model with a skip connection (notebook 11_beyond_the_seed).

A recurrent network remembers through its state ``(h, c)`` instead of a window, so
its receptive field is unbounded (``math.inf``): the training loop gives every segment
``TrainConfig.burn_in`` samples to warm the state up before it scores anything, and
:func:`guneamp_lib.render.inference.process` carries the state from one chunk to the next
through :meth:`LSTMModel.forward_stateful`.

The output is ``head(h_t) + x_t``: the skip connection lets the network start out as
a wire and learn only what the amp adds to the input.

Training uses truncated backpropagation through time: the sequence is run in chunks
of ``tbptt`` samples, and the state passed from one chunk to the next is detached, so
gradients never reach further back than the start of their own chunk. The forward
values are exactly those of one pass over the whole sequence; only the gradient is cut,
which bounds the cost of a step and keeps long-range gradients from exploding.
"""

from __future__ import annotations

import operator

import torch
from torch import nn

from .base import AmpModel

# Brackets NAM's one-layer LSTM presets (12 to 24 units); beyond 32 the sample-by-sample
# recurrence makes training on a CPU slow.
MIN_HIDDEN, MAX_HIDDEN = 8, 32

State = tuple[torch.Tensor, torch.Tensor]


def _as_int(value, what: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{what} must be an integer, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise ValueError(f"{what} must be an integer, got {value!r}") from None


class LSTMModel(AmpModel):
    """``(B, 1, T) -> (B, 1, T)``: one LSTM layer, a linear head, plus the input.

    Notebook: 11
    """

    name = "lstm"

    def __init__(self, hidden_size: int = 16, tbptt: int = 2048):
        super().__init__()
        hidden_size, tbptt = _as_int(hidden_size, "hidden_size"), _as_int(tbptt, "tbptt")
        if not MIN_HIDDEN <= hidden_size <= MAX_HIDDEN:
            raise ValueError(f"hidden_size must be from {MIN_HIDDEN} to {MAX_HIDDEN}, got {hidden_size}")
        if tbptt < 1:
            raise ValueError(f"tbptt must be a positive number of samples, got {tbptt}")
        self.config = {"hidden_size": hidden_size, "tbptt": tbptt}
        self.lstm = nn.LSTM(1, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 1)

    def _run(self, x: torch.Tensor, state: State | None) -> tuple[torch.Tensor, State]:
        seq = x.transpose(1, 2)  # (B, T, 1): nn.LSTM wants time in the middle
        if self.training and torch.is_grad_enabled():
            chunk = self.config["tbptt"]
            outs = []
            for s in range(0, seq.shape[1], chunk):
                if state is not None:
                    state = (state[0].detach(), state[1].detach())
                h, state = self.lstm(seq[:, s : s + chunk], state)
                outs.append(h)
            h = torch.cat(outs, dim=1)
        else:
            h, state = self.lstm(seq, state)
        return (self.head(h) + seq).transpose(1, 2), state

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The whole signal from silence (zero state)."""
        return self._run(x, None)[0]

    def forward_stateful(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """Continue from ``state`` (``None``: silence) and return the state after ``x``."""
        return self._run(x, state)
