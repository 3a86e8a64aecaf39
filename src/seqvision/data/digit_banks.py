"""The handwritten digits Moving MNIST draws its sequences from: MNIST when its files are there,
else scikit-learn's bundled digits, so that the default command trains offline."""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Literal

import torch

from seqvision.errors import DataError

log = logging.getLogger(__name__)

Source = Literal["auto", "mnist", "digits"]
MNIST_FILES = ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte")


def load_digit_bank(source: Source, root: Path, train: bool, download: bool = False) -> tuple[torch.Tensor, torch.Tensor, str]:
    """``(digits uint8 (N, 28, 28), labels, name)`` from MNIST under ``root`` or the bundled digits.

    ``auto`` takes MNIST when its files are under ``root/MNIST/raw`` and otherwise the bundled
    digits, saying so in one line, so that the default command trains offline.
    """
    have_mnist = all((root / "MNIST" / "raw" / f).is_file() for f in MNIST_FILES)
    if source == "auto" and not have_mnist:
        log.warning("moving_mnist: no MNIST under %s; drawing digits from the bundled scikit-learn digits. "
                    "For the standard data set: data.root=<folder holding MNIST/raw> or data.source=mnist "
                    "data.download=true", root / "MNIST" / "raw")
        source = "digits"
    if source == "digits":
        from seqvision.data.digits import SPLIT_SEED, TEST_FRACTION

        x, y = _bundled_digits()
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(SPLIT_SEED))
        n_test = int(len(x) * TEST_FRACTION)
        idx = order[n_test:] if train else order[:n_test]
        return x[idx, 0], y[idx], "digits"
    from torchvision.datasets import MNIST

    try:
        ds = MNIST(str(root), train=train, download=download and not have_mnist)
    except Exception as err:
        raise DataError(f"moving_mnist: MNIST not found or unreadable under {root / 'MNIST' / 'raw'} ({err}); "
                        f"fix: data.root=<folder holding MNIST/raw>, data.download=true with network access, "
                        f"or data.source=digits to run offline") from err
    return ds.data.to(torch.uint8), ds.targets.long(), "mnist"


@functools.lru_cache(maxsize=1)
def _bundled_digits() -> tuple[torch.Tensor, torch.Tensor]:
    from seqvision.data.digits import load_digits_28

    return load_digits_28()
