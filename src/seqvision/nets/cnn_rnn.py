"""CNNRNN (config ``cnn_lstm``): conv features read row by row by a recurrent stack.

The conv stem does local feature extraction and downsampling; the recurrent stack then
integrates the rows of the feature map (T = H', C'*W' features per step), as in CNN+LSTM
hybrids for text lines and scenes. ``num_layers`` is the recurrent depth, ``stem_layers`` the
conv depth (at least 1; ``model=row_lstm`` is the model without a stem).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seqvision.constraints import PositiveInt, Probability

from .blocks import ConvStem, Norm
from .cells import Cell, Impl
from .cnn_rnn_predictor import CNNRNNPredictor
from .family import Family
from .lrcn import LRCN
from .readout import Readout, check_readout, read_out, rows_as_sequence
from .recurrent import RecurrentStack


class CNNRNN(nn.Module):
    """ConvStem -> RecurrentStack over feature-map rows -> dropout -> linear."""

    def __init__(self, input_shape: Sequence[int], num_classes: int, num_layers: PositiveInt = 1,
                 hidden_size: PositiveInt = 128, cell: Cell = "lstm", bidirectional: bool = False,
                 dropout: Probability = 0.1, readout: Readout = "last", stem_layers: PositiveInt = 2, stem_width: PositiveInt = 32,
                 norm: Norm = "batch", peephole: bool | None = None, impl: Impl = "auto"):
        super().__init__()
        c, h, w = input_shape[-3:]
        self.stem = ConvStem(c, (h, w), stem_layers, stem_width, norm=norm)
        fc = self.stem.out_channels * self.stem.out_size[1]
        self.readout, self.hidden_size, self.bidirectional = check_readout(readout), hidden_size, bidirectional
        self.rnn = RecurrentStack(fc, hidden_size, num_layers, cell, bidirectional, dropout,
                                  peephole=peephole, impl=impl)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.rnn.output_size, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(rows_as_sequence(self.stem(x)))
        return self.head(read_out(out, self.readout, self.hidden_size, self.bidirectional))


family = Family("cnn_lstm", image_classifier=CNNRNN, clip_classifier=LRCN, frame_predictor=CNNRNNPredictor)
