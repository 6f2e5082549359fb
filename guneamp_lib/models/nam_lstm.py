"""Neural Amp Modeler's LSTM as its plugin runs it, for ``.nam`` files read back (notebook 11_beyond_the_seed).

NAM's LSTM differs from :class:`~guneamp_lib.models.lstm.LSTMModel` in three ways that
change its output, so a ``.nam`` LSTM is rebuilt as this class rather than as ours:

* it may stack several LSTM layers;
* its output is ``head(h_t)`` alone: there is no skip connection adding the input;
* it starts from a stored state ``(h_0, c_0)``, not from zeros. NAM's exporter stores
  the state its network reaches after a second of silence, so the plugin starts
  settled instead of with a thump.

The file keeps one bias per gate (NAM adds PyTorch's two biases together), so
``bias_hh`` stays zero here. Gates are in PyTorch's (and NAM's C++) order: input,
forget, cell, output. Our own LSTM exports as this network with one extra unit that
carries the skip connection (see :mod:`guneamp_lib.models.nam`).
"""

from __future__ import annotations

import torch
from torch import nn

from .base import AmpModel
from .lstm import State


class NamLSTM(AmpModel):
    """``(B, 1, T) -> (B, 1, T)``: NAM's stacked LSTM and linear head, from its stored start state.

    Notebook: 11
    """

    name = "nam_lstm"

    def __init__(self, hidden_size: int, num_layers: int = 1):
        super().__init__()
        for what, v in (("hidden_size", hidden_size), ("num_layers", num_layers)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{what} must be a positive integer, got {v!r}")
        self.config = {"hidden_size": hidden_size, "num_layers": num_layers}
        self.lstm = nn.LSTM(1, hidden_size, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, 1)
        # Buffers, not parameters: they are the file's start state, saved with the weights.
        self.register_buffer("initial_hidden", torch.zeros(num_layers, hidden_size))
        self.register_buffer("initial_cell", torch.zeros(num_layers, hidden_size))

    def start_state(self, batch: int) -> State:
        """The stored ``(h_0, c_0)``, one copy per signal in the batch."""
        shape = (self.config["num_layers"], batch, self.config["hidden_size"])
        return (self.initial_hidden[:, None].expand(shape).contiguous(),
                self.initial_cell[:, None].expand(shape).contiguous())

    def forward_stateful(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """Continue from ``state`` (``None``: the stored start state) and return the state after ``x``."""
        if state is None:
            state = self.start_state(x.shape[0])
        h, state = self.lstm(x.transpose(1, 2), state)
        return self.head(h).transpose(1, 2), state

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The whole signal from the stored start state."""
        return self.forward_stateful(x)[0]
