"""CNNRNN (config ``cnn_lstm``): conv features read row by row by a recurrent stack.

The conv stem does local feature extraction and downsampling; the recurrent stack then
integrates the rows of the feature map (T = H', C'*W' features per step), as in CNN+LSTM
hybrids for text lines and scenes. ``num_layers`` is the recurrent depth, ``stem_layers`` the
conv depth (0 = no stem, which makes it a RowRNN).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .cells import RecurrentStack
from .cnn import ConvStem
from .row_rnn import check_readout, read_out, rows_as_sequence

from seqvision.errors import InvalidArgument


class CNNRNN(nn.Module):
    """ConvStem -> RecurrentStack over feature-map rows -> dropout -> linear."""

    def __init__(self, input_shape: Sequence[int], num_classes: int, num_layers: int = 1,
                 hidden_size: int = 128, cell: str = "lstm", bidirectional: bool = False,
                 dropout: float = 0.1, readout: str = "last", stem_layers: int = 2, stem_width: int = 32,
                 norm: str = "batch", peephole: bool | None = None, compile: bool = False):
        super().__init__()
        if stem_layers < 0:
            raise InvalidArgument(f"stem_layers must be >= 0, got {stem_layers}; example: stem_layers: 2")
        c, h, w = input_shape[-3:]
        self.stem = ConvStem(c, (h, w), stem_layers, stem_width, norm=norm)
        fc = self.stem.out_channels * self.stem.out_size[1]
        self.readout, self.hidden_size, self.bidirectional = check_readout(readout), hidden_size, bidirectional
        self.rnn = RecurrentStack(fc, hidden_size, num_layers, cell, bidirectional, dropout,
                                  peephole=peephole, compile=compile)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.rnn.output_size, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(rows_as_sequence(self.stem(x)))
        return self.head(read_out(out, self.readout, self.hidden_size, self.bidirectional))
