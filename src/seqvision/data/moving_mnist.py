"""``data=moving_mnist`` (frame prediction) and ``data=moving_mnist_labels`` (video classification).

Frames come from ``seqvision.data.moving_digits``. The three splits draw from disjoint digits:
training sequences (a fresh draw each epoch) from MNIST training digits, validation sequences
from a seeded ``val_fraction`` of the training digits that training never uses, test sequences
from MNIST test digits only; model selection never looks at a test digit. Validation and test
sequences are fixed by ``split_seed``. ``test_file`` points the test at the standard
``mnist_test_seq.npy`` (uint8, 20 x 10000 x 64 x 64, the file torchvision's ``MovingMNIST``
reads), memory-mapped so its 820 MB never sit in RAM. ``source=digits`` draws from
scikit-learn's bundled digits instead of MNIST, which needs no files at all.

Batches are uint8 on the host and become floats in [0, 1] on the device; there is no
mean/std normalization, because prediction targets are frames in [0, 1] (BCE needs that).
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch

from seqvision.data.batches import TensorBatchLoader
from seqvision.data.moving_digits import MovingDigits
from seqvision.errors import ConfigError, DataError
from seqvision.files import resolve_path

log = logging.getLogger(__name__)

SOURCES = ("auto", "mnist", "digits")
MNIST_FILES = ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte")


def load_digit_bank(source: str, root: Path, train: bool, download: bool = False) -> tuple[torch.Tensor, torch.Tensor, str]:
    """``(digits uint8 (N, 28, 28), labels, name)`` from MNIST under ``root`` or the bundled digits.

    ``auto`` takes MNIST when its files are under ``root/MNIST/raw`` and otherwise the bundled
    digits, saying so in one line, so that the default command trains offline.
    """
    if source not in SOURCES:
        raise ConfigError(f"data.source={source!r} is unknown; valid: {', '.join(SOURCES)}; e.g. data.source=digits")
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


class MovingMNISTDataModule(pl.LightningDataModule):
    """Two digits bouncing in 64x64 frames: the first ``input_frames`` in, the next ``output_frames`` out.

    ``input_shape`` is ``(input_frames, 1, H, W)``, ``num_classes`` is 0 and ``output_frames``
    tells a predictive net how many frames to produce.
    """

    input_kind, target_kind = "clip", "frames"
    num_classes = 0

    def __init__(self, root: str = "data", source: str = "auto", download: bool = False, num_digits: int = 2,
                 image_size: int = 64, input_frames: int = 10, output_frames: int = 10, speed: float = 3.6,
                 train_size: int = 10000, val_size: int = 1000, test_size: int = 3000, test_file: str | None = None,
                 batch_size: int = 16, eval_batch_size: int | None = None, split_seed: int = 0,
                 val_fraction: float = 0.1, limit: int | None = None, augment=None):
        super().__init__()
        for name, v in (("num_digits", num_digits), ("input_frames", input_frames), ("train_size", train_size),
                        ("val_size", val_size), ("test_size", test_size), ("batch_size", batch_size)):
            if not isinstance(v, int) or v < 1:
                raise ConfigError(f"data.{name}={v!r} must be an integer >= 1; e.g. data.{name}=2")
        if not isinstance(output_frames, int) or output_frames < self.min_output_frames:
            raise ConfigError(f"data.output_frames={output_frames!r} must be an integer >= {self.min_output_frames}; "
                              f"e.g. data.output_frames=10")
        if not isinstance(image_size, int) or image_size < 28:
            raise ConfigError(f"data.image_size={image_size!r} must be >= 28 (a digit is 28x28); e.g. data.image_size=64")
        if not (isinstance(val_fraction, (int, float)) and 0 < val_fraction < 1):
            raise ConfigError(f"data.val_fraction={val_fraction!r} must lie in (0, 1) (the share of training digits "
                              f"held out for validation sequences); e.g. data.val_fraction=0.1")
        if not (isinstance(speed, (int, float)) and speed >= 0):
            raise ConfigError(f"data.speed={speed!r} must be a number >= 0 (pixels per frame); e.g. data.speed=3.6")
        self.root, self.source, self.download = resolve_path(root), source, download
        self.num_digits, self.image_size, self.speed = num_digits, image_size, float(speed)
        self.input_frames, self.output_frames = input_frames, output_frames
        self.sizes = {"train": min(train_size, limit or train_size), "val": val_size, "test": test_size}
        self.test_file = resolve_path(test_file) if test_file else None
        if self.test_file is not None and not self.test_file.is_file():
            raise DataError(f"moving_mnist: data.test_file={self.test_file} does not exist; the standard file is "
                            f"mnist_test_seq.npy (torchvision MovingMNIST's root/MovingMNIST/); or data.test_file=null")
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size or batch_size
        self.split_seed, self.limit, self.val_fraction = split_seed, limit, float(val_fraction)
        if augment is not None and self.target_kind == "frames":
            raise ConfigError("augmentation is not applied to frame prediction (input and target frames would need "
                              "one joint transform, and fresh sequences every epoch already avoid overfitting); "
                              "use augmentation=none")
        self.augment = augment
        self.input_shape = (input_frames, 1, image_size, image_size)
        self.splits: dict = {}
        self.rows: dict[str, torch.Tensor] = {}  # data.limit: the sequences of a fixed split that are used
        self.digit_source = None
        self.digit_ids: dict[str, torch.Tensor] = {}  # which digits of the source set each split draws from
        self.report: dict = {}
        self._mean_frame: torch.Tensor | None = None
        if source not in SOURCES:
            raise ConfigError(f"data.source={source!r} is unknown; valid: {', '.join(SOURCES)}; e.g. data.source=digits")

    min_output_frames = 1

    @property
    def num_frames(self) -> int:
        return self.input_frames + self.output_frames

    def prepare_data(self) -> None:
        if self.source == "mnist" and self.download:
            load_digit_bank("mnist", self.root, True, download=True)

    def _split(self, split: str, bank, labels, epoch_fn=None) -> MovingDigits:
        seed = {"train": int(os.environ.get("PL_GLOBAL_SEED", 0)), "val": 2 * self.split_seed + 1,
                "test": 2 * self.split_seed + 2}[split]
        return MovingDigits(bank, labels, self.sizes[split], self.num_digits, self.num_frames, self.image_size,
                            self.speed, seed, epoch_fn)

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        train_bank, train_labels, name = load_digit_bank(self.source, self.root, True)
        test_bank, test_labels, _ = load_digit_bank(name, self.root, False)
        self.digit_source = name
        order = torch.randperm(len(train_bank), generator=torch.Generator().manual_seed(self.split_seed))
        n_val = max(1, int(round(len(order) * self.val_fraction)))
        self.digit_ids = {"train": order[n_val:].sort().values, "val": order[:n_val].sort().values,
                          "test": torch.arange(len(test_bank))}
        banks = {"train": (train_bank, train_labels), "val": (train_bank, train_labels), "test": (test_bank, test_labels)}
        trainer = getattr(self, "trainer", None)
        epoch_fn = (lambda: trainer.current_epoch) if trainer is not None else None
        self.splits = {}
        for split, (bank, labels) in banks.items():
            ids = self.digit_ids[split]
            self.splits[split] = self._split(split, bank[ids], labels[ids], epoch_fn if split == "train" else None)
        if self.test_file is not None:
            self.splits["test"] = NpySequences(self.test_file, self.num_frames, self.image_size)
        if self.limit:
            self.rows = {split: self._limited_rows(split) for split in ("val", "test")
                         if len(self.splits[split]) > self.limit}
        self._report(name)
        log.info("moving_mnist: digits from %s (train %d, val %d held out of the training digits, test %d); "
                 "train %d sequences per epoch, val %d, test %d%s", name, len(self.digit_ids["train"]),
                 len(self.digit_ids["val"]), len(self.digit_ids["test"]), self.sizes["train"],
                 self._used("val"), self._used("test"), f" from {self.test_file}" if self.test_file else "")

    def _limited_rows(self, split: str) -> torch.Tensor:
        """``data.limit`` on a fixed split: a seeded subset, stratified by the class of each
        sequence's first digit (the test file has no labels: a seeded random subset)."""
        from seqvision.data.subset import stratified_subset

        data = self.splits[split]
        if isinstance(data, MovingDigits):
            return stratified_subset(data.labels()[torch.arange(len(data))], self.limit, self.split_seed)
        g = torch.Generator().manual_seed(self.split_seed)
        return torch.randperm(len(data), generator=g)[: self.limit].sort().values

    def _used(self, split: str) -> int:
        return len(self.rows[split]) if split in self.rows else len(self.splits[split])

    def _report(self, name: str) -> None:
        from seqvision.data.subset import describe

        test_from = str(self.test_file) if self.test_file else f"{name} test digits"
        self.report = {
            "available": {"train": self.sizes["train"], "val": len(self.splits["val"]), "test": len(self.splits["test"])},
            "used": {split: self._used(split) for split in ("train", "val", "test")},
            "sources": {"train": f"fresh sequences each epoch from {len(self.digit_ids['train'])} {name} training digits",
                        "val": f"{len(self.digit_ids['val'])} {name} training digits held out from training "
                               f"(data.val_fraction={self.val_fraction}, data.split_seed={self.split_seed})",
                        "test": test_from},
        }
        if self.limit:
            self.report["limit"] = {**describe(self.limit, self.split_seed),
                                    "train": "fresh draws per epoch, capped at data.limit"}

    def mean_frame(self) -> torch.Tensor:
        """The per-pixel mean of every frame of the training sequences (epoch 0's draw), in [0, 1],
        ``(1, H, W)``: the forecast of the mean-frame baseline."""
        if self._mean_frame is None:
            self.setup()
            train = self.splits["train"]
            first = MovingDigits(train.bank, train.bank_labels, train.size, train.num_digits, train.num_frames,
                                 train.image_size, train.speed, train.seed)
            total = torch.zeros(1, self.image_size, self.image_size, dtype=torch.float64)
            for start in range(0, len(first), 512):
                frames = first[torch.arange(start, min(start + 512, len(first)))]
                total += frames.double().sum(dim=(0, 1))
            self._mean_frame = (total / (len(first) * self.num_frames * 255.0)).float()
        return self._mean_frame

    def tensors(self, split: str) -> tuple:
        return (self._rows_of(self.splits[split], split),)

    def _rows_of(self, data, split: str):
        return _Rows(data, self.rows[split]) if split in self.rows else data

    def _loader(self, split: str, train: bool) -> TensorBatchLoader:
        # shuffle=False: training sequences are fresh random draws already
        return TensorBatchLoader.for_trainer(getattr(self, "trainer", None), self.tensors(split),
                                             self.batch_size if train else self.eval_batch_size, train, shuffle=False)

    def train_dataloader(self):
        return self._loader("train", True)

    def val_dataloader(self):
        return self._loader("val", False)

    def test_dataloader(self):
        return self._loader("test", False)

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        """uint8 ``(B, T, 1, H, W)`` -> floats in [0, 1], split into (input frames, target frames)."""
        frames = batch[0].float().div_(255.0)
        return frames[:, : self.input_frames], frames[:, self.input_frames:]


class _Rows:
    """The rows ``rows`` of an indexable split, indexed like a tensor (``data.limit``)."""

    device = torch.device("cpu")

    def __init__(self, inner, rows: torch.Tensor):
        self.inner, self.rows = inner, rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index):
        return self.inner[self.rows[torch.as_tensor(index).cpu()]]


class LabelledMovingMNISTDataModule(MovingMNISTDataModule):
    """One digit bouncing for ``input_frames`` frames, labelled by its class: video classification offline.

    The still frames alone would give the class away, so this is a smoke test of the video
    pipeline and of sequence models on (B, T, C, H, W), not a benchmark of motion understanding.
    """

    target_kind = "label"
    num_classes = 10
    min_output_frames = 0

    def __init__(self, num_digits: int = 1, input_frames: int = 10, output_frames: int = 0, **kwargs):
        if num_digits != 1:
            raise ConfigError(f"data.num_digits={num_digits}: the labelled variant has one digit per sequence "
                              f"(its label); e.g. data.num_digits=1")
        if output_frames:
            raise ConfigError(f"data.output_frames={output_frames}: a labelled sequence has no target frames; "
                              f"e.g. data.output_frames=0")
        if kwargs.get("test_file"):
            raise ConfigError("data.test_file: mnist_test_seq.npy has no labels; use data=moving_mnist to test on it")
        super().__init__(num_digits=1, input_frames=input_frames, output_frames=0, **kwargs)
        if self.augment is not None and hasattr(self.augment, "without_flips"):
            self.augment = self.augment.without_flips()  # digits: a mirrored digit is another digit

    def tensors(self, split: str) -> tuple:
        data = self.splits[split]
        return self._rows_of(data, split), self._rows_of(data.labels(), split)

    @property
    def class_names(self) -> list[str]:
        return [str(i) for i in range(10)]

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x * 0.3081 + 0.1307).clamp(0, 1)

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        """uint8 -> [0, 1] -> augmentation (training only; one draw per clip) -> MNIST normalization."""
        x, y = batch
        x = x.float().div_(255.0)
        trainer = getattr(self, "trainer", None)
        if self.augment is not None and trainer is not None and trainer.training:
            x, y = self.augment(x, y, self.num_classes)
        return (x - 0.1307) / 0.3081, y
