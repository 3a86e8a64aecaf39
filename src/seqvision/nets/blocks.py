"""Convolutional building blocks shared by the families: normalisation by name, the conv block
that ``num_layers`` counts, and the conv stem of the CNN, the CNN-RNN and the hybrids."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from seqvision.errors import InvalidArgument

NORMS = ("batch", "group", "layer", "none")
Norm = Literal["batch", "group", "layer", "none"]


def make_norm(kind: str, channels: int) -> nn.Module:
    """Normalization by name; ``layer`` is GroupNorm with one group (LayerNorm over C, H, W)."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(min(32, channels), channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise InvalidArgument(f"unknown norm {kind!r}; valid: {', '.join(NORMS)}")


def conv_block(c_in: int, c_out: int, norm: str, pool: bool, convs: int = 1) -> nn.Sequential:
    """``convs`` 3x3 convs then an optional 2x2 max-pool: the unit that ``num_layers`` counts."""
    layers: list[nn.Module] = []
    for c in (c_in, *[c_out] * (convs - 1)):
        layers += [nn.Conv2d(c, c_out, 3, padding=1, bias=norm == "none"), make_norm(norm, c_out), nn.ReLU(inplace=True)]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class ConvStem(nn.Module):
    """A stack of ``num_layers`` conv blocks; also the feature extractor of cnn_lstm and hybrids.

    Spatial size halves after each block while it is at least ``min_size * 2``, so the same
    depth works on 28x28 and 32x32 inputs (and on 8x8 without pooling to nothing). With
    ``num_layers=0`` it passes the input through (a ConvLSTM on raw pixels).
    """

    def __init__(self, in_channels: int, image_size: Sequence[int], num_layers: int = 3,
                 width: int = 32, width_mult: float = 2.0, norm: str = "batch", min_size: int = 4,
                 convs_per_block: int = 1):
        super().__init__()
        if num_layers < 0:
            raise InvalidArgument(f"num_layers={num_layers} must be >= 0 (e.g. num_layers=3)")
        blocks, c, h, w = [], in_channels, int(image_size[0]), int(image_size[1])
        for i in range(num_layers):
            c_out = int(round(width * width_mult**i))
            pool = min(h, w) >= 2 * min_size
            blocks.append(conv_block(c, c_out, norm, pool, convs_per_block))
            c = c_out
            if pool:
                h, w = h // 2, w // 2
        self.blocks = nn.Sequential(*blocks)
        self.out_channels, self.out_size = c, (h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)
