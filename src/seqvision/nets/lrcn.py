"""``model=cnn_lstm`` for video classification: LRCN (Donahue et al. 2015).

The image CNN-RNN reads the rows of one image; on a clip the natural sequence is time: the
conv stem (``stem_layers`` blocks) encodes each frame to a pooled feature vector and the
recurrent stack (``num_layers``, any ``cell``, optionally bidirectional) reads the frames in
order; the readout (last step or mean) is classified. Same knobs as ``CNNRNN``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seqvision.constraints import PositiveInt, Probability
from seqvision.errors import InvalidArgument

from .blocks import ConvStem, Norm
from .cells import Cell, Impl
from .readout import Readout, check_readout, read_out
from .recurrent import RecurrentStack


class LRCN(nn.Module):
    def __init__(self, input_shape: Sequence[int], num_classes: int, num_layers: PositiveInt = 1, hidden_size: PositiveInt = 128,
                 cell: Cell = "lstm", bidirectional: bool = False, dropout: Probability = 0.1, readout: Readout = "last",
                 stem_layers: PositiveInt = 3, stem_width: PositiveInt = 32, norm: Norm = "batch", peephole: bool | None = None,
                 impl: Impl = "auto"):
        super().__init__()
        if len(input_shape) != 4:
            raise InvalidArgument(f"input_shape must be (T, C, H, W), got {tuple(input_shape)}")
        if stem_layers < 1:
            raise InvalidArgument(f"stem_layers={stem_layers}: LRCN needs a conv stem (>= 1) to encode frames")
        _, c, h, w = input_shape
        self.stem = ConvStem(c, (h, w), stem_layers, stem_width, norm=norm)
        self.readout, self.hidden_size, self.bidirectional = check_readout(readout), hidden_size, bidirectional
        self.rnn = RecurrentStack(self.stem.out_channels, hidden_size, num_layers, cell, bidirectional, dropout,
                                  peephole=peephole, impl=impl)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.rnn.output_size, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t = x.shape[:2]
        feats = self.stem(x.flatten(0, 1)).mean(dim=(-2, -1)).view(b, t, -1)
        out, _ = self.rnn(feats)
        return self.head(read_out(out, self.readout, self.hidden_size, self.bidirectional))
