"""The ``cnn`` family: a plain VGG-style CNN, the convolutional baseline every sequence model is
compared with, and its clip and frame-prediction members.

Every net in ``seqvision.nets`` follows one contract so that the run driver can build any of
them from a config alone: the constructor takes what the data fills in (``input_shape``,
``num_classes`` or ``output_frames``), then the architecture's own knobs. ``num_layers`` is
always the depth of the main stack (here: conv blocks), so one sweep over
``model.net.num_layers`` spans every model.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seqvision.constraints import PositiveFloat, PositiveInt, Probability

from .blocks import ConvStem, Norm
from .family import Family
from .stacked_frames import StackedFramesPredictor
from .video_cnn import FrameAveragingCNN


class CNN(nn.Module):
    """Conv blocks, global average pooling, dropout, linear classifier."""

    def __init__(self, input_shape: Sequence[int], num_classes: int, num_layers: PositiveInt = 3,
                 width: PositiveInt = 32, width_mult: PositiveFloat = 2.0, norm: Norm = "batch",
                 dropout: Probability = 0.1, convs_per_block: PositiveInt = 1):
        super().__init__()
        c, h, w = input_shape[-3:]
        self.stem = ConvStem(c, (h, w), num_layers, width, width_mult, norm, convs_per_block=convs_per_block)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout),
                                  nn.Linear(self.stem.out_channels, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stem(x))


family = Family("cnn", image_classifier=CNN, clip_classifier=FrameAveragingCNN,
                frame_predictor=StackedFramesPredictor)
