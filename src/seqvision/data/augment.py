"""Batched augmentation that runs on whatever device the batch is on.

Each op draws its randomness per sample but works on the whole batch with tensor ops, so a
GPU augments a batch in microseconds and the CPU never runs a per-sample Python loop. Ops
accept ``(B, C, H, W)`` images and ``(B, T, C, H, W)`` clips; a clip gets one draw for all
its frames, so motion stays coherent. Inputs are floats in [0, 1], before normalization.
"""

from __future__ import annotations

import torch
from torch import nn


def _as_4d(x: torch.Tensor) -> tuple[torch.Tensor, torch.Size]:
    """Folds every axis between batch and (H, W) into one, so ops see (B, K, H, W)."""
    return x.reshape(x.shape[0], -1, *x.shape[-2:]), x.shape


class RandomFlip(nn.Module):
    """Horizontal flip with probability ``p``, drawn per sample."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flip = torch.rand(x.shape[0], device=x.device) < self.p
        return torch.where(flip.view(-1, *([1] * (x.dim() - 1))), x.flip(-1), x)


class RandomCrop(nn.Module):
    """Zero-pad by ``pad`` pixels, then crop back to the input size at a per-sample offset."""

    def __init__(self, pad: int = 4):
        super().__init__()
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad <= 0:
            return x
        x4, shape = _as_4d(x)
        b, _, h, w = x4.shape
        padded = nn.functional.pad(x4, (self.pad,) * 4)
        dy = torch.randint(0, 2 * self.pad + 1, (b, 1), device=x.device)
        dx = torch.randint(0, 2 * self.pad + 1, (b, 1), device=x.device)
        rows = (dy + torch.arange(h, device=x.device)).view(b, 1, h, 1)
        cols = (dx + torch.arange(w, device=x.device)).view(b, 1, 1, w)
        batch = torch.arange(b, device=x.device).view(b, 1, 1, 1)
        chans = torch.arange(x4.shape[1], device=x.device).view(1, -1, 1, 1)
        return padded[batch, chans, rows, cols].reshape(shape)


class Cutout(nn.Module):
    """Zero a ``size`` x ``size`` square at a per-sample random centre (DeVries & Taylor 2017)."""

    def __init__(self, size: int = 8, p: float = 1.0):
        super().__init__()
        self.size, self.p = size, p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x4, shape = _as_4d(x)
        b, _, h, w = x4.shape
        cy = torch.randint(0, h, (b, 1, 1, 1), device=x.device)
        cx = torch.randint(0, w, (b, 1, 1, 1), device=x.device)
        ys = torch.arange(h, device=x.device).view(1, 1, h, 1)
        xs = torch.arange(w, device=x.device).view(1, 1, 1, w)
        half = self.size // 2
        hole = ((ys - cy).abs() <= half - (1 - self.size % 2) * (ys < cy)) & ((xs - cx).abs() <= half - (1 - self.size % 2) * (xs < cx))
        apply = (torch.rand(b, device=x.device) < self.p).view(b, 1, 1, 1)
        return x4.masked_fill(hole & apply, 0.0).reshape(shape)


class Augmentation(nn.Sequential):
    """An ordered list of batched ops; what ``conf/augmentation/*.yaml`` instantiates."""

    def __init__(self, *ops: nn.Module):
        super().__init__(*ops)


def flip_crop(flip: bool = True, pad: int = 4) -> Augmentation:
    """The standard CIFAR policy: random crop with padding, then horizontal flip."""
    return Augmentation(RandomCrop(pad), *([RandomFlip()] if flip else []))


def flip_crop_cutout(flip: bool = True, pad: int = 4, cutout: int = 8) -> Augmentation:
    """flip_crop followed by Cutout: the stronger policy for ablations."""
    return Augmentation(RandomCrop(pad), *([RandomFlip()] if flip else []), Cutout(cutout))
