"""ViT: a Vision Transformer (Dosovitskiy et al. 2021), optionally a conv-stem hybrid.

Non-overlapping patches become tokens (a strided conv), plus learned position embeddings and an
optional class token; ``num_layers`` pre-norm transformer blocks mix them with
``scaled_dot_product_attention`` (fused / flash kernels where available). ``stem_layers > 0``
first runs a ConvStem and patches its feature map (the paper's "hybrid"), which helps on small
data sets where a pure ViT lacks the convolutional inductive bias.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from seqvision.constraints import NonNegativeInt, PositiveFloat, PositiveInt, Probability
from seqvision.errors import InvalidArgument

from .blocks import ConvStem, Norm
from .family import Family
from .spacetime_attention import SpaceTimeClassifier, SpaceTimePredictor
from .transformer import Block

POOLS = ("cls", "mean")


class ViT(nn.Module):
    """Patch embedding -> position embedding (+ class token) -> blocks -> LayerNorm -> pool -> linear."""

    def __init__(self, input_shape: Sequence[int], num_classes: int, num_layers: PositiveInt = 6, dim: PositiveInt = 128,
                 heads: PositiveInt = 4, mlp_ratio: PositiveFloat = 2.0, patch_size: PositiveInt = 4, pool: Literal["cls", "mean"] = "cls",
                 dropout: Probability = 0.1, attn_dropout: Probability = 0.0, stem_layers: NonNegativeInt = 0,
                 stem_width: PositiveInt = 32, norm: Norm = "batch"):
        super().__init__()
        if num_layers < 1:
            raise InvalidArgument(f"num_layers must be >= 1, got {num_layers}; e.g. num_layers=6")
        if pool not in POOLS:
            raise InvalidArgument(f"unknown pool {pool!r}; valid: {', '.join(POOLS)}; e.g. pool=cls")
        if dim % heads:
            raise InvalidArgument(f"dim={dim} is not divisible by heads={heads}; e.g. dim=128 heads=4")
        c, h, w = input_shape[-3:]
        self.stem = ConvStem(c, (h, w), stem_layers, stem_width, norm=norm) if stem_layers > 0 else None
        if self.stem is not None:
            c, (h, w) = self.stem.out_channels, self.stem.out_size
        if patch_size < 1 or h % patch_size or w % patch_size:
            ok = [p for p in range(1, min(h, w) + 1) if h % p == 0 and w % p == 0]
            where = f"the {h}x{w} feature map of the {stem_layers}-block stem" if self.stem else f"the {h}x{w} image"
            raise InvalidArgument(f"patch_size={patch_size} does not divide {where}; valid patch sizes: "
                             f"{', '.join(map(str, ok))}; e.g. patch_size={ok[len(ok) // 2]}")
        self.pool = pool
        self.patch = nn.Conv2d(c, dim, patch_size, stride=patch_size)
        n = (h // patch_size) * (w // patch_size) + (pool == "cls")
        self.cls = nn.Parameter(torch.zeros(1, 1, dim)) if pool == "cls" else None
        self.pos = nn.Parameter(torch.empty(1, n, dim))
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.Sequential(*(Block(dim, heads, mlp_ratio, dropout, attn_dropout) for _ in range(num_layers)))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stem is not None:
            x = self.stem(x)
        t = self.patch(x).flatten(2).transpose(1, 2)  # (B, N, dim)
        if self.cls is not None:
            t = torch.cat([self.cls.expand(t.shape[0], -1, -1), t], dim=1)
        t = self.norm(self.blocks(self.drop(t + self.pos)))
        return self.head(t[:, 0] if self.pool == "cls" else t.mean(1))


family = Family("attention", image_classifier=ViT, clip_classifier=SpaceTimeClassifier,
                frame_predictor=SpaceTimePredictor)
