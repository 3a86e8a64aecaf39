"""``model=cnn`` for frame prediction: input frames stacked as channels through a conv U-Net.

SimVP (Gao et al. 2022) showed that a plain conv encoder-decoder that sees all input frames
at once, as channels, is a strong frame predictor; this is its simplest form. ``(B, T, C, H, W)``
becomes ``(B, T*C, H, W)``, ``num_layers`` conv blocks halve the size (down to 8 px), the
decoder mirrors them with transposed convs and skip connections (positions of digits are kept
sharp), and a 1x1 conv emits all ``output_frames`` at once as ``T_out*C`` channels of logits.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seqvision.constraints import PositiveFloat, PositiveInt
from seqvision.errors import InvalidArgument

from .blocks import Norm, conv_block


class StackedFramesPredictor(nn.Module):
    def __init__(self, input_shape: Sequence[int], output_frames: PositiveInt, num_layers: PositiveInt = 3,
                 width: PositiveInt = 32, width_mult: PositiveFloat = 2.0, norm: Norm = "group",
                 convs_per_block: PositiveInt = 2):
        super().__init__()
        if len(input_shape) != 4:
            raise InvalidArgument(f"input_shape must be (T, C, H, W), got {tuple(input_shape)}")
        t, c, h, w = (int(v) for v in input_shape)
        self.output_frames, self.channels = int(output_frames), c
        widths = [int(round(width * width_mult**i)) for i in range(num_layers)]
        self.down, self.pool, self.up, self.merge = nn.ModuleList(), [], nn.ModuleList(), nn.ModuleList()
        c_in, size = t * c, min(h, w)
        for c_out in widths:
            self.down.append(conv_block(c_in, c_out, norm, pool=False, convs=convs_per_block))
            self.pool.append(size >= 16 and size % 2 == 0)
            size = size // 2 if self.pool[-1] else size
            c_in = c_out
        self.bottleneck = conv_block(c_in, c_in, norm, pool=False, convs=convs_per_block)
        for i in reversed(range(num_layers)):
            skip = widths[i]
            self.up.append(nn.ConvTranspose2d(c_in, skip, 2, stride=2) if self.pool[i] else nn.Conv2d(c_in, skip, 1))
            self.merge.append(conv_block(2 * skip, skip, norm, pool=False, convs=convs_per_block))
            c_in = skip
        self.head = nn.Conv2d(c_in, self.output_frames * c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c, h, w = x.shape
        z, skips = x.reshape(b, t * c, h, w), []
        for block, pool in zip(self.down, self.pool):
            z = block(z)
            skips.append(z)
            z = nn.functional.max_pool2d(z, 2) if pool else z
        z = self.bottleneck(z)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips)):
            z = merge(torch.cat([up(z), skip], dim=1))
        return self.head(z).view(b, self.output_frames, c, h, w)
