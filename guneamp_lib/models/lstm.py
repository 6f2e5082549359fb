"""One-layer LSTM and GRU amp models with a skip connection (notebook 11_beyond_the_seed).

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

Knobs (notebook 13): a conditioned LSTM or GRU takes the knob vector as extra inputs
beside the sample (input size ``1 + K``), the way GuitarML's Proteus and AIDA-X do, so
its export to AIDA-X is the same network (:mod:`guneamp_lib.models.aidax`). The skip
connection carries the audio input only.
"""

from __future__ import annotations

import operator

import torch
from torch import nn

from .base import AmpModel, check_num_knobs, with_knobs

# From NAM's one-layer LSTM presets (12 to 24 units) up to the largest AIDA-X ships (80);
# beyond 32 the sample-by-sample recurrence makes training on a CPU slow.
MIN_HIDDEN, MAX_HIDDEN = 8, 80

State = tuple[torch.Tensor, torch.Tensor] | torch.Tensor


def _as_int(value, what: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{what} must be an integer, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise ValueError(f"{what} must be an integer, got {value!r}") from None


def _detach(state: State) -> State:
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


class _Recurrent(AmpModel):
    """``(B, 1, T) -> (B, 1, T)``: one recurrent layer (``cell``), a linear head, plus the input."""

    cell: type[nn.RNNBase] = nn.LSTM

    def __init__(self, hidden_size: int = 16, tbptt: int = 2048, num_knobs: int = 0):
        super().__init__()
        hidden_size, tbptt = _as_int(hidden_size, "hidden_size"), _as_int(tbptt, "tbptt")
        num_knobs = check_num_knobs(num_knobs)
        if not MIN_HIDDEN <= hidden_size <= MAX_HIDDEN:
            raise ValueError(f"hidden_size must be from {MIN_HIDDEN} to {MAX_HIDDEN}, got {hidden_size}")
        if tbptt < 1:
            raise ValueError(f"tbptt must be a positive number of samples, got {tbptt}")
        self.config = {"hidden_size": hidden_size, "tbptt": tbptt}
        if num_knobs:  # a snapshot model's config (and checkpoint) stays as it always was
            self.config["num_knobs"] = num_knobs
        # Registered under the model's name ("lstm", "gru"): the checkpoint's weight names.
        self.add_module(self.name, self.cell(1 + num_knobs, hidden_size, batch_first=True))
        self.head = nn.Linear(hidden_size, 1)

    @property
    def rnn_layer(self) -> nn.RNNBase:
        return self._modules[self.name]

    def _run(self, x: torch.Tensor, state: State | None, knobs: torch.Tensor | None) -> tuple[torch.Tensor, State]:
        seq = with_knobs(x, knobs, self.num_knobs).transpose(1, 2)  # (B, T, 1 + K): time in the middle
        if self.training and torch.is_grad_enabled():
            chunk = self.config["tbptt"]
            outs = []
            for s in range(0, seq.shape[1], chunk):
                if state is not None:
                    state = _detach(state)
                h, state = self.rnn_layer(seq[:, s : s + chunk], state)
                outs.append(h)
            h = torch.cat(outs, dim=1)
        else:
            h, state = self.rnn_layer(seq, state)
        return (self.head(h) + seq[..., :1]).transpose(1, 2), state

    def forward(self, x: torch.Tensor, knobs: torch.Tensor | None = None) -> torch.Tensor:
        """The whole signal from silence (zero state); ``knobs`` as in :func:`~guneamp_lib.models.base.with_knobs`."""
        return self._run(x, None, knobs)[0]

    def forward_stateful(self, x: torch.Tensor, state: State | None = None,
                         knobs: torch.Tensor | None = None) -> tuple[torch.Tensor, State]:
        """Continue from ``state`` (``None``: silence) and return the state after ``x``."""
        return self._run(x, state, knobs)


class LSTMModel(_Recurrent):
    """``(B, 1, T) -> (B, 1, T)``: one LSTM layer, a linear head, plus the input.

    Notebook: 11
    """

    name = "lstm"
    cell = nn.LSTM


class GRUModel(_Recurrent):
    """``(B, 1, T) -> (B, 1, T)``: one GRU layer, a linear head, plus the input (AIDA-X's other cell).

    Notebook: 13
    """

    name = "gru"
    cell = nn.GRU
