"""``model=attention`` on clips: divided space-time self-attention over frame patches.

Each frame is cut into ``patch_size`` patches (tokens, a strided conv as in ViT), tokens get a
learned spatial and a learned temporal position embedding, and every layer attends first
over time (the tokens at one patch position across frames) and then over space (the tokens of
one frame), as TimeSformer's "divided" attention (Bertasius et al. 2021). Joint attention over
all T*N tokens costs (T*N)^2; divided costs N*T^2 + T*N^2, which is what makes 20 frames of
256 patches fit on a CPU. Blocks are ``seqvision.nets.transformer.Block`` (pre-norm, SDPA).

``SpaceTimeClassifier`` mean-pools all tokens into a linear classifier. ``SpaceTimePredictor``
appends ``output_frames`` frames of learned "future" tokens (carrying only their positions),
lets the stack fill them in, and projects each back to a patch of logits (a masked-frame
predictor in the spirit of MaskViT, in one pass with no autoregression).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seqvision.constraints import PositiveFloat, PositiveInt, Probability
from seqvision.errors import InvalidArgument

from .transformer import Block


class DividedBlock(nn.Module):
    """Time attention (per patch position), then space attention (per frame); each with its MLP."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, dropout: float, attn_dropout: float):
        super().__init__()
        self.time = Block(dim, heads, mlp_ratio, dropout, attn_dropout)
        self.space = Block(dim, heads, mlp_ratio, dropout, attn_dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, n, d = x.shape
        x = self.time(x.transpose(1, 2).reshape(b * n, t, d)).view(b, n, t, d).transpose(1, 2)
        return self.space(x.reshape(b * t, n, d)).view(b, t, n, d)


class SpaceTimeTokens(nn.Module):
    """Patch embedding plus separate learned space and time position embeddings: ``(B, T, N, dim)``."""

    def __init__(self, channels: int, size: tuple[int, int], frames: int, dim: int, patch_size: int):
        super().__init__()
        h, w = size
        if patch_size < 1 or h % patch_size or w % patch_size:
            ok = [p for p in range(1, min(h, w) + 1) if h % p == 0 and w % p == 0]
            raise InvalidArgument(f"patch_size={patch_size} does not divide the {h}x{w} frames; valid: "
                             f"{', '.join(map(str, ok))}; e.g. patch_size={ok[len(ok) // 2]}")
        self.grid = (h // patch_size, w // patch_size)
        self.patch = nn.Conv2d(channels, dim, patch_size, stride=patch_size)
        self.space = nn.Parameter(torch.empty(1, 1, self.grid[0] * self.grid[1], dim))
        self.time = nn.Parameter(torch.empty(1, frames, 1, dim))
        nn.init.trunc_normal_(self.space, std=0.02)
        nn.init.trunc_normal_(self.time, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t = x.shape[:2]
        tok = self.patch(x.flatten(0, 1)).flatten(2).transpose(1, 2).unflatten(0, (b, t))
        return tok + self.space + self.time[:, :t]


def _check(input_shape, num_layers: int, dim: int, heads: int) -> None:
    if len(input_shape) != 4:
        raise InvalidArgument(f"input_shape must be (T, C, H, W), got {tuple(input_shape)}")
    if num_layers < 1:
        raise InvalidArgument(f"num_layers must be >= 1, got {num_layers}; e.g. num_layers=4")
    if dim % heads:
        raise InvalidArgument(f"dim={dim} is not divisible by heads={heads}; e.g. dim=128 heads=4")


def _init(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        nn.init.zeros_(m.bias)


class SpaceTimeClassifier(nn.Module):
    def __init__(self, input_shape: Sequence[int], num_classes: int, num_layers: PositiveInt = 4, dim: PositiveInt = 128,
                 heads: PositiveInt = 4, mlp_ratio: PositiveFloat = 2.0, patch_size: PositiveInt = 8, dropout: Probability = 0.1,
                 attn_dropout: Probability = 0.0):
        super().__init__()
        _check(input_shape, num_layers, dim, heads)
        t, c, h, w = (int(v) for v in input_shape)
        self.tokens = SpaceTimeTokens(c, (h, w), t, dim, patch_size)
        self.blocks = nn.Sequential(*(DividedBlock(dim, heads, mlp_ratio, dropout, attn_dropout)
                                      for _ in range(num_layers)))
        self.norm, self.head = nn.LayerNorm(dim), nn.Linear(dim, num_classes)
        self.apply(_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(self.blocks(self.tokens(x))).mean(dim=(1, 2)))


class SpaceTimePredictor(nn.Module):
    def __init__(self, input_shape: Sequence[int], output_frames: PositiveInt,
                 num_layers: PositiveInt = 4, dim: PositiveInt = 128, heads: PositiveInt = 4, mlp_ratio: PositiveFloat = 2.0, patch_size: PositiveInt = 8,
                 dropout: Probability = 0.0, attn_dropout: Probability = 0.0):
        super().__init__()
        _check(input_shape, num_layers, dim, heads)
        t, c, h, w = (int(v) for v in input_shape)
        self.output_frames, self.patch_size, self.channels = int(output_frames), int(patch_size), c
        self.tokens = SpaceTimeTokens(c, (h, w), t + self.output_frames, dim, patch_size)
        self.future = nn.Parameter(torch.zeros(1, 1, 1, dim))
        self.blocks = nn.Sequential(*(DividedBlock(dim, heads, mlp_ratio, dropout, attn_dropout)
                                      for _ in range(num_layers)))
        self.norm = nn.LayerNorm(dim)
        self.unpatch = nn.Linear(dim, c * patch_size**2)
        self.apply(_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T_in, C, H, W)`` -> logits ``(B, output_frames, C, H, W)``."""
        b, t = x.shape[:2]
        tok = self.tokens(x)
        n, d = tok.shape[2:]
        future = self.future + self.tokens.space + self.tokens.time[:, t:]
        z = self.blocks(torch.cat([tok, future.expand(b, -1, n, -1)], dim=1))[:, t:]
        patches = self.unpatch(self.norm(z))  # (B, T_out, N, C*p*p)
        gh, gw = self.tokens.grid
        maps = patches.transpose(2, 3).reshape(b * self.output_frames, -1, gh, gw)
        return F.pixel_shuffle(maps, self.patch_size).unflatten(0, (b, self.output_frames))
