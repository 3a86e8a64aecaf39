"""ConvLSTMNet: a stack of convolutional recurrent layers (ConvLSTM, Shi et al. 2015).

A ConvLSTM keeps a spatial hidden state, so it can both look at a still image for ``steps``
recurrent iterations (iterative refinement over the same feature map) and, unchanged, read a
video frame by frame: a 5-D input ``(B, T, C, H, W)`` runs one step per frame. Any cell name of
``seqvision.nets.cells`` works (default ``vanilla``: the paper's peephole ConvLSTM).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from seqvision.constraints import NonNegativeInt, OddPositiveInt, PositiveInt, Probability
from seqvision.errors import InvalidArgument

from .blocks import ConvStem, Norm
from .cells import Cell
from .conv_recurrent import ConvRecurrentLayer
from .convlstm_forecaster import EncoderForecaster
from .family import Family


class ConvLSTMNet(nn.Module):
    """Optional ConvStem -> ``num_layers`` ConvRecurrentLayers -> last hidden state -> pool -> linear."""

    def __init__(self, input_shape: Sequence[int], num_classes: int, num_layers: PositiveInt = 2,
                 hidden_channels: PositiveInt | Sequence[PositiveInt] | Sequence[int] = 64, kernel_size: OddPositiveInt = 3, cell: Cell = "vanilla",
                 peephole: bool | None = None, peephole_shape: Literal["position", "channel"] = "position", steps: PositiveInt = 3,
                 stem_layers: NonNegativeInt = 2, stem_width: PositiveInt = 32, norm: Norm = "batch", dropout: Probability = 0.1):
        super().__init__()
        if num_layers < 1:
            raise InvalidArgument(f"num_layers must be >= 1, got {num_layers}; e.g. num_layers=2")
        if steps < 1:
            raise InvalidArgument(f"steps must be >= 1, got {steps}; e.g. steps=3")
        widths = [hidden_channels] * num_layers if isinstance(hidden_channels, int) else [int(c) for c in hidden_channels]
        if len(widths) != num_layers:
            raise InvalidArgument(f"hidden_channels has {len(widths)} entries but num_layers={num_layers}; "
                             f"give one int or one entry per layer; e.g. hidden_channels=[32, 64]")
        c, h, w = input_shape[-3:]
        self.steps = steps
        self.stem = ConvStem(c, (h, w), stem_layers, stem_width, norm=norm)
        layers, c_in = [], self.stem.out_channels
        for c_h in widths:
            layers.append(ConvRecurrentLayer(c_in, c_h, kernel_size, cell, peephole, peephole_shape,
                                             self.stem.out_size))
            c_in = c_h
        self.layers = nn.ModuleList(layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout),
                                  nn.Linear(c_in, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` (a still image, ``steps`` iterations) or ``(B, T, C, H, W)`` (video)."""
        if x.dim() == 5:
            seq, steps = self.stem(x.flatten(0, 1)).unflatten(0, x.shape[:2]), None
        else:
            seq, steps = self.stem(x), self.steps  # the first layer projects the frame once
        for layer in self.layers:
            seq, _ = layer(seq, steps=steps)
            steps = None
        return self.head(seq[:, -1])


# A ConvLSTM reads (B, T, C, H, W) clips itself, one step per frame: the same class classifies both.
family = Family("convlstm", image_classifier=ConvLSTMNet, clip_classifier=ConvLSTMNet, frame_predictor=EncoderForecaster)
