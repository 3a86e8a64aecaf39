"""ViT: a Vision Transformer (Dosovitskiy et al. 2021), optionally a conv-stem hybrid.

Non-overlapping patches become tokens (a strided conv), plus learned position embeddings and an
optional class token; ``num_layers`` pre-norm transformer blocks mix them with
``scaled_dot_product_attention`` (fused / flash kernels where available). ``stem_layers > 0``
first runs a ConvStem and patches its feature map (the paper's "hybrid"), which helps on small
data sets where a pure ViT lacks the convolutional inductive bias.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .cnn import ConvStem

from seqvision.errors import InvalidArgument

POOLS = ("cls", "mean")


class Block(nn.Module):
    """Pre-norm block: ``x + Attn(LN(x))``, then ``x + MLP(LN(x))``."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, dropout: float, attn_dropout: float):
        super().__init__()
        self.heads, self.attn_dropout = heads, attn_dropout
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, dim), nn.Dropout(dropout))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v, dropout_p=self.attn_dropout if self.training else 0.0)
        x = x + self.drop(self.proj(a.transpose(1, 2).reshape(b, n, d)))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    """Patch embedding -> position embedding (+ class token) -> blocks -> LayerNorm -> pool -> linear."""

    def __init__(self, input_shape: Sequence[int], num_classes: int, num_layers: int = 6, dim: int = 128,
                 heads: int = 4, mlp_ratio: float = 2.0, patch_size: int = 4, pool: str = "cls",
                 dropout: float = 0.1, attn_dropout: float = 0.0, stem_layers: int = 0,
                 stem_width: int = 32, norm: str = "batch"):
        super().__init__()
        if num_layers < 1:
            raise InvalidArgument(f"num_layers must be >= 1, got {num_layers}; example: num_layers: 6")
        if pool not in POOLS:
            raise InvalidArgument(f"unknown pool {pool!r}; valid: {', '.join(POOLS)}. Example: pool: cls")
        if dim % heads:
            raise InvalidArgument(f"dim={dim} is not divisible by heads={heads}; example: dim: 128, heads: 4")
        c, h, w = input_shape[-3:]
        self.stem = ConvStem(c, (h, w), stem_layers, stem_width, norm=norm) if stem_layers > 0 else None
        if self.stem is not None:
            c, (h, w) = self.stem.out_channels, self.stem.out_size
        if patch_size < 1 or h % patch_size or w % patch_size:
            ok = [p for p in range(1, min(h, w) + 1) if h % p == 0 and w % p == 0]
            where = f"the {h}x{w} feature map of the {stem_layers}-block stem" if self.stem else f"the {h}x{w} image"
            raise InvalidArgument(f"patch_size={patch_size} does not divide {where}; valid patch sizes: "
                             f"{', '.join(map(str, ok))}. Example: patch_size: {ok[len(ok) // 2]}")
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
