"""Tiny datasets written in the real on-disk formats, so tests read them through torchvision."""

from __future__ import annotations

import hashlib
import pickle
import struct
from pathlib import Path

import numpy as np

MNIST_FILES = {
    "train-images-idx3-ubyte": "train_images", "train-labels-idx1-ubyte": "train_labels",
    "t10k-images-idx3-ubyte": "test_images", "t10k-labels-idx1-ubyte": "test_labels",
}


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX format (LeCun): magic = 0x0000 0x08 (uint8) ndim, then big-endian dims, then data."""
    header = struct.pack(">I", 0x0800 + array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def separable_images(n: int, size: int, channels: int, classes: int, rng: np.random.Generator):
    """Images whose class is a bright block at a class-specific place: learnable in one epoch."""
    labels = rng.integers(0, classes, n)
    images = rng.integers(0, 40, (n, size, size, channels), dtype=np.uint8)
    cells = int(np.ceil(np.sqrt(classes)))
    step = size // cells
    for i, c in enumerate(labels):
        r, k = divmod(int(c), cells)
        images[i, r * step : (r + 1) * step, k * step : (k + 1) * step, :] = 255
    return images, labels


def write_mnist(root: Path, n_train: int = 640, n_test: int = 128, folder: str = "MNIST", seed: int = 0) -> Path:
    raw = Path(root) / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    xs, ys = separable_images(n_train + n_test, 28, 1, 10, rng)
    arrays = {"train_images": xs[:n_train, :, :, 0], "train_labels": ys[:n_train],
              "test_images": xs[n_train:, :, :, 0], "test_labels": ys[n_train:]}
    for name, key in MNIST_FILES.items():
        (raw / name).write_bytes(idx_bytes(arrays[key]))
    return raw


def write_cifar10(root: Path, n_per_batch: int = 40, n_test: int = 80, seed: int = 0) -> dict[str, str]:
    """The five pickled training batches, the test batch and batches.meta, as in the tarball.

    Returns each file's md5: torchvision checks them against the real files' sums, so tests
    patch ``CIFAR10.train_list``/``test_list`` with these.
    """
    folder = Path(root) / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    md5 = {}
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        n = n_test if name == "test_batch" else n_per_batch
        x, y = separable_images(n, 32, 3, 10, rng)
        batch = {"batch_label": name, "labels": [int(v) for v in y],
                 "data": x.transpose(0, 3, 1, 2).reshape(n, -1), "filenames": ["x.png"] * n}
        (folder / name).write_bytes(pickle.dumps(batch))
        md5[name] = hashlib.md5((folder / name).read_bytes()).hexdigest()
    meta = {"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta))
    md5["batches.meta"] = hashlib.md5((folder / "batches.meta").read_bytes()).hexdigest()
    return md5


def write_cifar100(root: Path, n_train: int = 200, n_test: int = 100, seed: int = 0) -> Path:
    """``cifar-100-python/{train,test,meta}`` as in the tarball (fine and coarse labels)."""
    folder = Path(root) / "cifar-100-python"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name, n in (("train", n_train), ("test", n_test)):
        x, y = separable_images(n, 32, 3, 100, rng)
        entry = {"filenames": ["x.png"] * n, "batch_label": name, "fine_labels": [int(v) for v in y],
                 "coarse_labels": [int(v) // 5 for v in y], "data": x.transpose(0, 3, 1, 2).reshape(n, -1)}
        (folder / name).write_bytes(pickle.dumps(entry))
    meta = {"fine_label_names": [f"class{i}" for i in range(100)], "coarse_label_names": [f"super{i}" for i in range(20)]}
    (folder / "meta").write_bytes(pickle.dumps(meta))
    return folder
