"""Sequences read from a file, and a fixed subset of a split, indexed like a tensor of clips.

``mnist_test_seq.npy`` (the standard Moving MNIST test set, uint8 ``(20, 10000, 64, 64)``, the
file torchvision's ``MovingMNIST`` reads) is memory-mapped, so its 820 MB never sit in RAM; the
batch loader indexes it like the in-memory splits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from seqvision.errors import ConfigError, DataError


class NpySequences:
    """``mnist_test_seq.npy`` (T, N, H, W) memory-mapped, indexed as uint8 ``(B, T, 1, H, W)``."""

    device = torch.device("cpu")

    def __init__(self, path: Path, num_frames: int, image_size: int):
        try:
            arr = np.load(path, mmap_mode="r")
        except Exception as err:
            raise DataError(f"moving_mnist: cannot read {path} as a .npy array: {err}") from err
        if arr.dtype != np.uint8 or arr.ndim != 4:
            raise DataError(f"moving_mnist: {path} holds {arr.dtype} {arr.shape}; expected uint8 (T, N, H, W) "
                            f"like mnist_test_seq.npy (20, 10000, 64, 64)")
        if arr.shape[0] < num_frames or arr.shape[2:] != (image_size, image_size):
            raise ConfigError(f"moving_mnist: {path} has {arr.shape[0]} frames of {arr.shape[2]}x{arr.shape[3]}, "
                              f"the config asks for {num_frames} frames of {image_size}x{image_size}; "
                              f"e.g. data.image_size={arr.shape[2]} data.input_frames=10 data.output_frames=10")
        self.arr, self.num_frames = arr, num_frames

    def __len__(self) -> int:
        return self.arr.shape[1]

    def __getitem__(self, index: torch.Tensor) -> torch.Tensor:
        idx = np.asarray(torch.as_tensor(index).cpu())
        order = np.argsort(idx)  # a memmap reads fastest in ascending order
        frames = np.empty((len(idx), self.num_frames) + self.arr.shape[2:], dtype=np.uint8)
        frames[order] = np.moveaxis(self.arr[: self.num_frames, idx[order]], 0, 1)
        return torch.from_numpy(frames).unsqueeze(2)


class Rows:
    """The rows ``rows`` of an indexable split, indexed like a tensor (``data.limit``)."""

    device = torch.device("cpu")

    def __init__(self, inner, rows: torch.Tensor):
        self.inner, self.rows = inner, rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index):
        return self.inner[self.rows[torch.as_tensor(index).cpu()]]
