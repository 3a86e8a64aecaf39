"""The Moving MNIST generator of Srivastava et al. (2015), vectorised over whole batches.

Each digit starts at a uniform random position inside the canvas, moves in a uniform random
direction at a fixed speed (pixels per frame) and bounces off the edges (specular reflection);
digits are combined by a pixelwise max. Torchvision's ``MovingMNIST`` only reads the fixed
test file; this module draws new sequences, so training sees a fresh draw every epoch.

A split is described by its *spec* (digit ids and trajectories: a few numbers per sequence),
drawn up front from one seeded generator; frames are rendered only for the batch asked for.
The spec of sequence ``i`` does not depend on the batch size, so validation and test sets are
identical across runs and machines with the same seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class MotionSpec:
    """``digit`` (N, D) ids into the digit bank; ``pos`` (N, D, T, 2) integer top-left (y, x)."""

    digit: torch.Tensor
    pos: torch.Tensor


def reflect(p: torch.Tensor, extent: float) -> torch.Tensor:
    """Unfolded coordinate -> position in ``[0, extent]`` after bouncing off both walls."""
    if extent <= 0:
        return torch.zeros_like(p)
    period = 2 * extent
    q = torch.remainder(p, period)
    return torch.where(q > extent, period - q, q)


def draw_motion(n: int, num_digits: int, num_frames: int, bank_size: int, image_size: int, digit_size: int,
                speed: float, generator: torch.Generator) -> MotionSpec:
    """Random digits, start points and directions for ``n`` sequences; exact reflection at the edges."""
    extent = float(image_size - digit_size)
    digit = torch.randint(0, bank_size, (n, num_digits), generator=generator)
    start = torch.rand(n, num_digits, 1, 2, generator=generator) * extent
    theta = torch.rand(n, num_digits, 1, generator=generator) * (2 * math.pi)
    velocity = torch.stack([torch.sin(theta), torch.cos(theta)], dim=-1) * speed  # (n, D, 1, 2)
    t = torch.arange(num_frames, dtype=torch.float32).view(1, 1, -1, 1)
    pos = reflect(start + velocity * t, extent).floor().clamp_(0, extent).long()
    return MotionSpec(digit, pos)


def render(bank: torch.Tensor, spec: MotionSpec, index: torch.Tensor, image_size: int) -> torch.Tensor:
    """Frames of sequences ``index``: uint8 ``(B, T, 1, S, S)``, digits merged by pixelwise max."""
    digit, pos = spec.digit[index], spec.pos[index]
    b, d, t, _ = pos.shape
    size = bank.shape[-1]
    canvas = torch.zeros(b, t, image_size, image_size, dtype=torch.uint8)
    ar = torch.arange(size)
    bi, ti = torch.arange(b).view(b, 1, 1, 1), torch.arange(t).view(1, t, 1, 1)
    for k in range(d):
        rows = (pos[:, k, :, 0, None] + ar).unsqueeze(-1)  # (B, T, s, 1)
        cols = (pos[:, k, :, 1, None] + ar).unsqueeze(-2)  # (B, T, 1, s)
        patch = bank[digit[:, k]].unsqueeze(1)  # (B, 1, s, s)
        canvas[bi, ti, rows, cols] = torch.maximum(canvas[bi, ti, rows, cols], patch)
    return canvas.unsqueeze(2)


class MovingDigits:
    """A lazily rendered split that ``TensorBatchLoader`` indexes like a tensor.

    ``epoch_fn`` makes it a training split: each epoch draws a new spec from
    ``seed`` and the epoch number (so a resumed run sees the same sequences). Without it the spec
    is drawn once: a fixed validation or test set. ``labels`` gives the class of the first digit
    of each sequence (the labelled variant).
    """

    device = torch.device("cpu")

    def __init__(self, bank: torch.Tensor, bank_labels: torch.Tensor | None, size: int, num_digits: int,
                 num_frames: int, image_size: int, speed: float, seed: int,
                 epoch_fn: Callable[[], int] | None = None):
        if bank.shape[-1] > image_size:
            raise ValueError(f"digits of {bank.shape[-1]} px do not fit a {image_size} px frame")
        self.bank, self.bank_labels = bank.reshape(-1, bank.shape[-2], bank.shape[-1]), bank_labels
        self.size, self.num_digits, self.num_frames = int(size), int(num_digits), int(num_frames)
        self.image_size, self.speed, self.seed, self.epoch_fn = int(image_size), float(speed), int(seed), epoch_fn
        self._epoch, self._spec = None, None

    def __len__(self) -> int:
        return self.size

    def spec(self) -> MotionSpec:
        epoch = self.epoch_fn() if self.epoch_fn else 0
        if self._spec is None or epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._spec = draw_motion(self.size, self.num_digits, self.num_frames, len(self.bank), self.image_size,
                                     self.bank.shape[-1], self.speed, g)
            self._epoch = epoch
        return self._spec

    def __getitem__(self, index: torch.Tensor) -> torch.Tensor:
        return render(self.bank, self.spec(), torch.as_tensor(index).cpu(), self.image_size)

    def labels(self) -> "SequenceLabels":
        if self.bank_labels is None:
            raise ValueError("this digit bank has no labels")
        return SequenceLabels(self)


class SequenceLabels:
    """The class of each sequence's first digit, following its parent's current spec."""

    device = torch.device("cpu")

    def __init__(self, parent: MovingDigits):
        self.parent = parent

    def __len__(self) -> int:
        return len(self.parent)

    def __getitem__(self, index: torch.Tensor) -> torch.Tensor:
        return self.parent.bank_labels[self.parent.spec().digit[torch.as_tensor(index).cpu(), 0]]
