"""``model=cnn`` for video classification: the per-frame CNN, averaged over time.

The baseline that every temporal model has to beat (Karpathy et al. 2014's "single frame"
model, with late fusion by averaging): the image CNN's conv stem runs on every frame, the
pooled features are averaged over the frames, one linear layer classifies. It ignores order,
so any gain of cnn_lstm, convlstm or attention over it is what they get from motion.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seqvision.constraints import PositiveFloat, PositiveInt, Probability
from seqvision.errors import InvalidArgument

from .blocks import ConvStem, Norm


class FrameAveragingCNN(nn.Module):
    def __init__(self, input_shape: Sequence[int], num_classes: int, num_layers: PositiveInt = 3, width: PositiveInt = 32,
                 width_mult: PositiveFloat = 2.0, norm: Norm = "batch", dropout: Probability = 0.1,
                 convs_per_block: PositiveInt = 1):
        super().__init__()
        if len(input_shape) != 4:
            raise InvalidArgument(f"input_shape must be (T, C, H, W), got {tuple(input_shape)}")
        _, c, h, w = input_shape
        self.stem = ConvStem(c, (h, w), num_layers, width, width_mult, norm, convs_per_block=convs_per_block)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.stem.out_channels, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t = x.shape[:2]
        feats = self.stem(x.flatten(0, 1)).mean(dim=(-2, -1)).view(b, t, -1)
        return self.head(feats.mean(dim=1))
