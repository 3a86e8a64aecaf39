"""RowRNN: an image read as a sequence of rows, one row per time step.

The classic "sequential MNIST by rows" setup: T = H steps of C*W features each. It is the
simplest way to put every recurrent cell variant (``seqvision.nets.cells``) on the same image
task, so the variants differ only in their gating.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seqvision.constraints import PositiveInt, Probability

from .cells import Cell, Impl
from .family import Family
from .readout import Readout, check_readout, read_out, rows_as_sequence
from .recurrent import RecurrentStack


class RowRNN(nn.Module):
    """Recurrent stack over image rows, then a linear classifier on the readout."""

    def __init__(self, input_shape: Sequence[int], num_classes: int, num_layers: PositiveInt = 2,
                 hidden_size: PositiveInt = 128, cell: Cell = "lstm", bidirectional: bool = False,
                 dropout: Probability = 0.0, readout: Readout = "last", peephole: bool | None = None,
                 impl: Impl = "auto"):
        super().__init__()
        c, h, w = input_shape[-3:]
        self.readout, self.hidden_size, self.bidirectional = check_readout(readout), hidden_size, bidirectional
        self.rnn = RecurrentStack(c * w, hidden_size, num_layers, cell, bidirectional, dropout,
                                  peephole=peephole, impl=impl)
        self.head = nn.Linear(self.rnn.output_size, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(rows_as_sequence(x))
        return self.head(read_out(out, self.readout, self.hidden_size, self.bidirectional))


family = Family("row_lstm", image_classifier=RowRNN, unsupported={
    "clip_classifier": "it reads one image row per time step, so its time axis is the image height; a clip "
                       "already has a time axis, and the recurrent models for clips are cnn_lstm and convlstm (any cell)",
    "frame_predictor": "its time axis is the rows of one image, not frames; the recurrent frame predictors are "
                       "convlstm and cnn_lstm (any cell)"})
