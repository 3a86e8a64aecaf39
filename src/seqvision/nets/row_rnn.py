"""RowRNN: an image read as a sequence of rows, one row per time step.

The classic "sequential MNIST by rows" setup: T = H steps of C*W features each. It is the
simplest way to put every recurrent cell variant (``seqvision.nets.cells``) on the same image
task, so the variants differ only in their gating.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .cells import RecurrentStack

from seqvision.errors import InvalidArgument

READOUTS = ("last", "mean")


def check_readout(readout: str) -> str:
    if readout not in READOUTS:
        raise InvalidArgument(f"unknown readout {readout!r}; valid: {', '.join(READOUTS)}. Example: readout: last")
    return readout


def rows_as_sequence(x: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W)`` -> ``(B, H, C*W)``: time runs down the image."""
    return x.permute(0, 2, 1, 3).flatten(2)


def read_out(out: torch.Tensor, readout: str, hidden_size: int, bidirectional: bool) -> torch.Tensor:
    """``last``: final state of each direction (the backward one ends at t = 0); ``mean``: pool."""
    if readout == "mean":
        return out.mean(1)
    if bidirectional:
        return torch.cat([out[:, -1, :hidden_size], out[:, 0, hidden_size:]], dim=1)
    return out[:, -1]


class RowRNN(nn.Module):
    """Recurrent stack over image rows, then a linear classifier on the readout."""

    def __init__(self, input_shape: Sequence[int], num_classes: int, num_layers: int = 2,
                 hidden_size: int = 128, cell: str = "lstm", bidirectional: bool = False,
                 dropout: float = 0.0, readout: str = "last", peephole: bool | None = None,
                 compile: bool = False):
        super().__init__()
        c, h, w = input_shape[-3:]
        self.readout, self.hidden_size, self.bidirectional = check_readout(readout), hidden_size, bidirectional
        self.rnn = RecurrentStack(c * w, hidden_size, num_layers, cell, bidirectional, dropout,
                                  peephole=peephole, compile=compile)
        self.head = nn.Linear(self.rnn.output_size, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(rows_as_sequence(x))
        return self.head(read_out(out, self.readout, self.hidden_size, self.bidirectional))
