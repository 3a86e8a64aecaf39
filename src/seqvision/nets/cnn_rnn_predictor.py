"""``model=cnn_lstm`` for frame prediction: per-frame CNN encoder, an RNN over time, a deconv decoder.

The "LSTM autoencoder" family of Srivastava et al. (2015) with conv front and back ends: each
input frame is encoded to a vector (strided convs, then a linear layer), a recurrent stack
(any cell of ``seqvision.nets.cells``, ``num_layers`` deep) reads the vectors, and then keeps
running for ``output_frames`` steps fed with its own previous output; a transposed-conv decoder
turns every forecast vector into a frame. The bottleneck is one vector per frame, so it blurs
more than the convolutional-state models; that contrast is the point of the comparison.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seqvision.constraints import PositiveInt
from seqvision.errors import InvalidArgument

from .blocks import Norm, make_norm
from .cells import Cell, Impl
from .recurrent import RecurrentStack


class CNNRNNPredictor(nn.Module):
    def __init__(self, input_shape: Sequence[int], output_frames: PositiveInt,
                 num_layers: PositiveInt = 1, hidden_size: PositiveInt = 256, cell: Cell = "lstm", stem_layers: PositiveInt = 3,
                 stem_width: PositiveInt = 32, norm: Norm = "group", peephole: bool | None = None, impl: Impl = "auto"):
        super().__init__()
        if len(input_shape) != 4:
            raise InvalidArgument(f"input_shape must be (T, C, H, W), got {tuple(input_shape)}")
        _, c, h, w = (int(v) for v in input_shape)
        down = 0
        while down < stem_layers and h % 2 ** (down + 1) == 0 and w % 2 ** (down + 1) == 0 and min(h, w) >> (down + 1) >= 4:
            down += 1
        if down < 1:
            raise InvalidArgument(f"stem_layers={stem_layers}: need at least one 2x downsampling of {h}x{w} frames")
        self.output_frames, self.channels = int(output_frames), c
        widths = [stem_width * 2**i for i in range(down)]
        enc, c_in = [], c
        for c_out in widths:
            enc += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), make_norm(norm, c_out), nn.ReLU(inplace=True)]
            c_in = c_out
        self.encoder = nn.Sequential(*enc)
        self.map_shape = (c_in, h >> down, w >> down)
        flat = c_in * (h >> down) * (w >> down)
        self.embed = nn.Linear(flat, hidden_size)
        self.rnn = RecurrentStack(hidden_size, hidden_size, num_layers, cell, peephole=peephole, impl=impl)
        self.feedback = nn.Linear(self.rnn.output_size, hidden_size)
        self.unembed = nn.Linear(self.rnn.output_size, flat)
        dec, outs = [], list(reversed(widths[:-1])) + [c]
        for i, c_out in enumerate(outs):
            dec.append(nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1))
            if i < len(outs) - 1:  # no norm or ReLU on the output logits
                dec += [make_norm(norm, c_out), nn.ReLU(inplace=True)]
            c_in = c_out
        self.decoder = nn.Sequential(*dec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T_in, C, H, W)`` -> logits ``(B, output_frames, C, H, W)``."""
        b, t = x.shape[:2]
        z = self.embed(self.encoder(x.flatten(0, 1)).flatten(1)).view(b, t, -1)
        out, states = self.rnn(z)
        last, outs = out[:, -1:], []
        for _ in range(self.output_frames):
            last, states = self.rnn(self.feedback(last), states)
            outs.append(last)
        y = torch.cat(outs, dim=1)  # (B, T_out, H)
        frames = self.decoder(self.unembed(y).view(b * self.output_frames, *self.map_shape))
        return frames.view(b, self.output_frames, *frames.shape[1:])
