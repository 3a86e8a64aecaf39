"""MNIST, Fashion-MNIST, CIFAR-10 and CIFAR-100, read and downloaded through torchvision.

torchvision owns the file formats, mirrors and checksums; this module only turns its decoded
arrays into uint8 tensors once and explains, in one message, what to do when files are
missing (no network, wrong ``data.root``) or corrupt (a bad IDX header, a truncated batch).

torchvision's own errors do not say which file is broken (an empty ``AssertionError`` for a
wrong IDX magic number, "Dataset not found or corrupted" for a CIFAR batch that fails its
MD5), so when reading fails and every expected file exists, ``diagnose`` checks each file
(IDX header and length; CIFAR MD5 or pickle) and the DataError names the first bad one.
"""

from __future__ import annotations

import os
import pickle
import struct
from pathlib import Path

import numpy as np
import torch

from seqvision.data.image_datamodule import ImageDataModule
from seqvision.errors import DataError


class TorchvisionDataModule(ImageDataModule):
    """Shared logic; subclasses name the torchvision class and the files it expects."""

    dataset_name = ""
    folder = ""  # where torchvision keeps the files, under data.root
    files: tuple[str, ...] = ()

    def tv_class(self):
        raise NotImplementedError

    def _missing_message(self, reason: str) -> str:
        return (f"{self.dataset_name} not found under {self.root / self.folder} ({reason}); expected files: "
                f"{', '.join(self.files)}. Fix: run once with network access so torchvision downloads it "
                f"(data.download=true), point data.root=... at a folder that holds {self.folder}/, "
                f"or train offline on the bundled digits with data=digits")

    def diagnose(self) -> str | None:
        """Why the files cannot be read, naming the file, or None when no file looks broken."""
        return None

    def _corrupt(self, err: Exception) -> DataError:
        reason = self.diagnose() or (f"cannot read the files under {self.root / self.folder}: "
                                     f"{type(err).__name__}: {err}".rstrip(": "))
        return DataError(f"{self.dataset_name}: {reason}. Fix: delete the bad file and download it again "
                         f"(data.download=true), or point data.root=... at a good copy")

    def fetch(self) -> None:
        if all(p.is_file() for p in expected_paths(self)):
            return  # present; whether they parse is found out (with the bad file named) in setup
        if not self.download:
            raise DataError(self._missing_message("data.download=false"))
        cls = self.tv_class()
        try:
            for train in (True, False):
                cls(str(self.root), train=train, download=True)
        except Exception as err:
            raise DataError(self._missing_message(f"download failed: {type(err).__name__}: {err}")) from err

    def load_split(self, split: str):
        missing = [p for p in expected_paths(self) if not p.is_file()]
        if missing:
            raise DataError(self._missing_message(f"missing {missing[0]}"))
        try:
            ds = self.tv_class()(str(self.root), train=split == "train", download=False)
        except Exception as err:  # every file is there, so one of them is broken
            raise self._corrupt(err) from err
        self.classes = list(getattr(ds, "classes", []) or [])
        return self.to_tensors(ds)

    @staticmethod
    def to_tensors(ds) -> tuple[torch.Tensor, torch.Tensor]:
        data = ds.data
        x = torch.as_tensor(np.asarray(data)) if not isinstance(data, torch.Tensor) else data
        x = x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2)  # (N,H,W) or (N,H,W,C) -> NCHW
        return x.contiguous().to(torch.uint8), torch.as_tensor(ds.targets, dtype=torch.long)


class MNISTDataModule(TorchvisionDataModule):
    dataset_name, folder = "MNIST", "MNIST/raw"
    files = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    input_shape, num_classes, mean, std = (1, 28, 28), 10, (0.1307,), (0.3081,)
    mirror_symmetric = False  # a mirrored digit is another digit or none

    def tv_class(self):
        from torchvision.datasets import MNIST

        return MNIST

    def diagnose(self) -> str | None:
        for path in expected_paths(self):
            if problem := idx_problem(path):
                return problem
        return None


class FashionMNISTDataModule(MNISTDataModule):
    dataset_name, folder = "FashionMNIST", "FashionMNIST/raw"
    mirror_symmetric = True  # a mirrored shirt is a shirt
    mean, std = (0.2860,), (0.3530,)

    def tv_class(self):
        from torchvision.datasets import FashionMNIST

        return FashionMNIST


class CIFAR10DataModule(TorchvisionDataModule):
    dataset_name, folder = "CIFAR-10", "cifar-10-batches-py"
    files = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta")
    input_shape, num_classes = (3, 32, 32), 10
    mean, std = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)

    def __init__(self, *args, verify: bool = True, **kwargs):
        """``verify=false`` skips torchvision's MD5 checks, for a re-packed copy of the batches."""
        self.verify = verify
        super().__init__(*args, **kwargs)

    def tv_class(self):
        from torchvision.datasets import CIFAR10

        return CIFAR10 if self.verify else unverified(CIFAR10)

    def diagnose(self) -> str | None:
        from torchvision.datasets.utils import check_integrity

        cls = self.tv_class()
        folder = self.root / self.folder
        entries = [*cls.train_list, *cls.test_list, [cls.meta["filename"], cls.meta["md5"]]]
        for name, md5 in entries:
            path = folder / name
            if self.verify and not check_integrity(str(path), md5):
                return (f"{path} fails its MD5 check (truncated or altered; {path.stat().st_size} bytes). "
                        f"A deliberately re-packed copy can be read with data.verify=false")
            if problem := pickle_problem(path, required=() if name == cls.meta["filename"] else ("data",)):
                return problem
        return None


class CIFAR100DataModule(CIFAR10DataModule):
    dataset_name, folder = "CIFAR-100", "cifar-100-python"
    files = ("train", "test", "meta")
    num_classes = 100
    mean, std = (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)

    def tv_class(self):
        from torchvision.datasets import CIFAR100

        return CIFAR100 if self.verify else unverified(CIFAR100)


def unverified(cls):
    """A torchvision CIFAR class that reads the batches without comparing their MD5s."""

    def _load_meta(self):
        path = os.path.join(self.root, self.base_folder, self.meta["filename"])
        with open(path, "rb") as f:
            data = pickle.load(f, encoding="latin1")
        self.classes = data[self.meta["key"]]
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    return type(f"Unverified{cls.__name__}", (cls,), {"_check_integrity": lambda self: True, "_load_meta": _load_meta})


IDX_MAGIC = {"images": 2051, "labels": 2049}  # big-endian uint8 data with 3 and 1 dimensions


def idx_problem(path: Path) -> str | None:
    """What is wrong with an (uncompressed) IDX file: the magic number, the header, the length."""
    expected = IDX_MAGIC["labels" if "labels" in path.name else "images"]
    ndim = expected & 0xFF
    size = path.stat().st_size
    with open(path, "rb") as f:
        header = f.read(4 + 4 * ndim)
    if len(header) < 4:
        return f"{path} is truncated: {size} bytes, shorter than an IDX header"
    magic = struct.unpack(">I", header[:4])[0]
    if magic != expected:
        return f"{path} has the wrong IDX magic number {magic} (expected {expected}); it is not an MNIST-format file"
    if len(header) < 4 + 4 * ndim:
        return f"{path} is truncated: {size} bytes, shorter than its {4 + 4 * ndim}-byte IDX header"
    dims = struct.unpack(f">{ndim}I", header[4:])
    want = 4 + 4 * ndim + int(np.prod(dims))
    if size != want:
        return f"{path} is {'truncated' if size < want else 'too long'}: {size} bytes, its header {dims} says {want}"
    return None


def pickle_problem(path: Path, required: tuple[str, ...] = ()) -> str | None:
    """Whether a CIFAR file unpickles into a dict with the ``required`` keys."""
    try:
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="latin1")
    except Exception as err:
        return f"{path} cannot be unpickled ({type(err).__name__}: {err}); it is truncated or not a CIFAR batch"
    if not isinstance(batch, dict):
        return f"{path} unpickles to a {type(batch).__name__}, not a CIFAR batch dict"
    if missing := [k for k in required if k not in batch]:
        return f"{path} is not a CIFAR batch: it has no {missing[0]!r} entry (keys: {', '.join(map(str, batch))})"
    return None


def expected_paths(module: TorchvisionDataModule) -> list[Path]:
    """The files a data module reads; tests and error messages use the same list."""
    return [module.root / module.folder / f for f in module.files]
