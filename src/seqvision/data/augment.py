"""Batched augmentation that runs on whatever device the batch is on.

Each op draws its randomness per sample but works on the whole batch with tensor ops, so a
GPU augments a batch in microseconds and the CPU never runs a per-sample Python loop. Ops
accept ``(B, C, H, W)`` images and ``(B, T, C, H, W)`` clips; a clip gets one draw for all
its frames, so motion stays coherent. Inputs are floats in [0, 1], before normalization.

``conf/augmentation`` options compose (``'augmentation=[flip_crop,trivialaugment,cutmix]'``):
each adds named ops to one ``Augmentation``, applied in the order given. Rotation, colour
jitter, RandAugment, TrivialAugment, mixup and cutmix are Kornia's (``kornia.augmentation``
draws per-sample parameters on the batch's device). Flip, crop and cutout are written here
because they are a tensor index each where Kornia's are general warps: the same data module
with Kornia's crop and flip is measured against ours in the same run by
``benchmarks/data_pipeline.py`` (its ``kornia`` row; figures in BENCHMARKS.md). Mixing ops (mixup, cutmix) also mix the labels,
which become class probabilities ``(B, C)``; the classification task trains on them with the
soft cross-entropy.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import torch
from torch import nn

from seqvision.constraints import Chance, NonNegativeInt, PositiveInt

log = logging.getLogger(__name__)


def _as_4d(x: torch.Tensor) -> tuple[torch.Tensor, torch.Size]:
    """Folds every axis between batch and (H, W) into one, so ops see (B, K, H, W)."""
    return x.reshape(x.shape[0], -1, *x.shape[-2:]), x.shape


class RandomFlip(nn.Module):
    """Horizontal flip with probability ``p``, drawn per sample."""

    def __init__(self, p: Chance = 0.5):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flip = torch.rand(x.shape[0], device=x.device) < self.p
        return torch.where(flip.view(-1, *([1] * (x.dim() - 1))), x.flip(-1), x)


class RandomCrop(nn.Module):
    """Zero-pad by ``pad`` pixels, then crop back to the input size at a per-sample offset.

    Every possible window of the padded batch is a strided view (``unfold``), so the crop is one
    index over (sample, offset) that copies whole windows, where indexing batch, channel, row and
    column of every output element spends most of its time computing the indices."""

    def __init__(self, pad: NonNegativeInt = 4):
        super().__init__()
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad <= 0:
            return x
        x4, shape = _as_4d(x)
        b, _, h, w = x4.shape
        padded = nn.functional.pad(x4, (self.pad,) * 4)
        dy = torch.randint(0, 2 * self.pad + 1, (b,), device=x.device)
        dx = torch.randint(0, 2 * self.pad + 1, (b,), device=x.device)
        windows = padded.unfold(2, h, 1).unfold(3, w, 1)  # (B, K, offsets_y, offsets_x, H, W), a view
        return windows[torch.arange(b, device=x.device), :, dy, dx].reshape(shape)


class Cutout(nn.Module):
    """Zero a ``size`` x ``size`` square at a per-sample random centre (DeVries & Taylor 2017)."""

    def __init__(self, size: PositiveInt = 8, p: Chance = 1.0):
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


def _is_mixing(op: nn.Module) -> bool:
    from kornia.augmentation._2d.mix.base import MixAugmentationBaseV2

    return isinstance(op, MixAugmentationBaseV2)


def _is_ours(op: nn.Module) -> bool:
    return type(op).__module__ == __name__


class Augmentation(nn.Module):
    """Named ops in order; ``forward(x, y, num_classes) -> (x, y)``. Image ops see ``x`` only;
    a mixing op sees both and returns soft targets. Kornia's image ops run on a clip frame by
    frame with the parameters drawn for its first frame: one draw per clip."""

    def __init__(self, ops: Mapping[str, nn.Module | None] | None = None):
        super().__init__()
        self.ops = nn.ModuleDict({name: op for name, op in (ops or {}).items() if op is not None})
        mixing = [name for name, op in self.ops.items() if _is_mixing(op)]
        if len(mixing) > 1:
            from seqvision.errors import ConfigError

            raise ConfigError(f"augmentation mixes labels twice ({', '.join(mixing)}); valid: one of mixup, cutmix; "
                              f"e.g. 'augmentation=[flip_crop,cutmix]'")

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, num_classes: int | None = None):
        for op in self.ops.values():
            if _is_mixing(op):
                x, y = mix(op, x, y, num_classes)
            elif _is_ours(op) or x.dim() == 4:
                x = op(x)
            else:
                x = per_clip(op, x)
        return x, y

    def without_flips(self) -> "Augmentation":
        """The same ops but horizontal flips, for data whose mirror image is another class (digits)."""
        from kornia.augmentation import RandomHorizontalFlip

        kept = {n: op for n, op in self.ops.items() if not isinstance(op, (RandomFlip, RandomHorizontalFlip))}
        if len(kept) < len(self.ops):
            log.warning("augmentation: horizontal flips left out: this data is not mirror-symmetric (a mirrored digit "
                        "is another digit or none)")
        return Augmentation(kept)


def per_clip(op: nn.Module, clips: torch.Tensor) -> torch.Tensor:
    """A Kornia op on ``(B, T, C, H, W)``: parameters drawn per clip on its first frame, then the
    same parameters for every frame (``kornia.augmentation.VideoSequential`` cannot do this for
    policy containers such as TrivialAugment)."""
    first = op(clips[:, 0])
    params = op._params
    frames = [first] + [op(clips[:, t], params=params) for t in range(1, clips.shape[1])]
    return torch.stack(frames, 1)


def mix(op: nn.Module, x: torch.Tensor, y: torch.Tensor, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A Kornia mixing op on ``(x, labels)``; the labels come back as class probabilities
    ``(1 - lam) * onehot(a) + lam * onehot(b)`` from Kornia's ``(a, b, lam)`` rows."""
    if y is None or num_classes is None:
        raise ValueError("a mixing augmentation needs the labels and the number of classes")
    shape = x.shape
    x4 = x.flatten(1, 2) if x.dim() == 5 else x  # a clip is mixed as a whole: frames as channels
    mixed, rows = op(x4, y.float())
    rows = rows.reshape(-1, rows.shape[-1])[-len(y):]
    a, b, lam = rows[:, 0].long(), rows[:, 1].long(), rows[:, 2:3]
    eye = torch.eye(num_classes, device=x.device, dtype=x.dtype)
    return mixed.reshape(shape), (1 - lam) * eye[a] + lam * eye[b]


