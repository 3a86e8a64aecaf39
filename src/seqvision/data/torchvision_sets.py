"""MNIST, Fashion-MNIST, CIFAR-10 and CIFAR-100, read and downloaded through torchvision.

torchvision owns the file formats, mirrors and checksums; this module only turns its decoded
arrays into uint8 tensors once and explains, in one message, what to do when files are
missing (no network, wrong ``data.root``) or corrupt (a bad IDX header, a truncated batch).
"""

from __future__ import annotations

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

    def fetch(self) -> None:
        cls = self.tv_class()
        try:
            cls(str(self.root), train=True, download=False)
            return
        except RuntimeError:
            pass  # not there yet: download below
        except Exception as err:  # a file that exists but does not parse
            raise DataError(f"{self.dataset_name}: corrupt file under {self.root / self.folder}: {err}") from err
        if not self.download:
            raise DataError(self._missing_message("data.download=false"))
        try:
            for train in (True, False):
                cls(str(self.root), train=train, download=True)
        except Exception as err:
            raise DataError(self._missing_message(f"download failed: {type(err).__name__}: {err}")) from err

    def load_split(self, split: str):
        try:
            ds = self.tv_class()(str(self.root), train=split == "train", download=False)
        except RuntimeError as err:
            raise DataError(self._missing_message(str(err))) from err
        except Exception as err:
            raise DataError(f"{self.dataset_name}: cannot read files under {self.root / self.folder}: "
                            f"{type(err).__name__}: {err}. Delete them and download again.") from err
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

    def tv_class(self):
        from torchvision.datasets import MNIST

        return MNIST


class FashionMNISTDataModule(MNISTDataModule):
    dataset_name, folder = "FashionMNIST", "FashionMNIST/raw"
    mean, std = (0.2860,), (0.3530,)

    def tv_class(self):
        from torchvision.datasets import FashionMNIST

        return FashionMNIST


class CIFAR10DataModule(TorchvisionDataModule):
    dataset_name, folder = "CIFAR-10", "cifar-10-batches-py"
    files = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta")
    input_shape, num_classes = (3, 32, 32), 10
    mean, std = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)

    def tv_class(self):
        from torchvision.datasets import CIFAR10

        return CIFAR10


class CIFAR100DataModule(CIFAR10DataModule):
    dataset_name, folder = "CIFAR-100", "cifar-100-python"
    files = ("train", "test", "meta")
    num_classes = 100
    mean, std = (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)

    def tv_class(self):
        from torchvision.datasets import CIFAR100

        return CIFAR100


def expected_paths(module: TorchvisionDataModule) -> list[Path]:
    """The files a data module reads; tests and error messages use the same list."""
    return [module.root / module.folder / f for f in module.files]
