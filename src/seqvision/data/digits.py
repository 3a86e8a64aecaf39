"""scikit-learn's bundled handwritten digits, shaped like MNIST so every MNIST config runs offline.

The 1,797 8x8 scans (UCI "optdigits") are upsampled to 28x28 and rescaled to 0..255, then
split once with a fixed seed: 20% test, the rest train (validation carved from train).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from seqvision.data.image_datamodule import ImageDataModule

TEST_FRACTION = 0.2
SPLIT_SEED = 1797


def load_digits_28() -> tuple[torch.Tensor, torch.Tensor]:
    """All digits as ``(N, 1, 28, 28)`` uint8 and their labels."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.from_numpy(bunch.images).float().unsqueeze(1) / 16.0
    x = F.interpolate(x, size=(28, 28), mode="bilinear", align_corners=False)
    x = (x.clamp(0, 1) * 255).round().to(torch.uint8)
    return x, torch.from_numpy(bunch.target).long()


class DigitsDataModule(ImageDataModule):
    input_shape = (1, 28, 28)
    num_classes = 10
    mirror_symmetric = False  # a mirrored digit is another digit or none
    mean, std = (0.305,), (0.325,)

    def load_split(self, split: str):
        x, y = load_digits_28()
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(SPLIT_SEED))
        n_test = int(len(x) * TEST_FRACTION)
        idx = order[:n_test] if split == "test" else order[n_test:]
        return x[idx], y[idx]
