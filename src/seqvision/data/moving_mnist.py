"""``data=moving_mnist``: frame prediction on Moving MNIST (``data=moving_mnist_labels``, its
labelled variant for video classification, lives in ``moving_mnist_labels.py``).

Frames come from ``seqvision.data.moving_digits``. The three splits draw from disjoint digits:
training sequences (a fresh draw each epoch) from MNIST training digits, validation sequences
from a seeded ``val_fraction`` of the training digits that training never uses, test sequences
from MNIST test digits only; model selection never looks at a test digit. Validation and test
sequences are fixed by ``split_seed``. ``test_file`` points the test at the standard
``mnist_test_seq.npy`` (uint8, 20 x 10000 x 64 x 64, the file torchvision's ``MovingMNIST``
reads; ``sequence_files.py``). ``source=digits`` draws from
scikit-learn's bundled digits instead of MNIST, which needs no files at all.

Batches are uint8 on the host and become floats in [0, 1] on the device; there is no
mean/std normalization, because prediction targets are frames in [0, 1] (BCE needs that).
"""

from __future__ import annotations

import logging
import os
from typing import Annotated

import pytorch_lightning as pl
import torch
from annotated_types import Ge

from seqvision.constraints import Fraction, NonNegativeFloat, NonNegativeInt, PositiveInt
from seqvision.data.batches import TensorBatchLoader
from seqvision.data.digit_banks import Source, load_digit_bank
from seqvision.data.moving_digits import MovingDigits
from seqvision.data.sequence_files import NpySequences, Rows
from seqvision.errors import ConfigError, DataError
from seqvision.files import resolve_path

log = logging.getLogger(__name__)


class MovingMNISTDataModule(pl.LightningDataModule):
    """Two digits bouncing in 64x64 frames: the first ``input_frames`` in, the next ``output_frames`` out.

    ``input_shape`` is ``(input_frames, 1, H, W)``, ``num_classes`` is 0 and ``output_frames``
    tells a predictive net how many frames to produce.
    """

    input_kind, target_kind = "clip", "frames"
    num_classes = 0

    def __init__(self, root: str = "data", source: Source = "auto", download: bool = False, num_digits: PositiveInt = 2,
                 image_size: Annotated[int, Ge(28)] = 64, input_frames: PositiveInt = 10, output_frames: PositiveInt = 10,
                 speed: NonNegativeFloat = 3.6, train_size: PositiveInt = 10000, val_size: PositiveInt = 1000,
                 test_size: PositiveInt = 3000, test_file: str | None = None, batch_size: PositiveInt = 16,
                 eval_batch_size: PositiveInt | None = None, split_seed: NonNegativeInt = 0, val_fraction: Fraction = 0.1,
                 limit: PositiveInt | None = None, augment=None):
        """``image_size``: at least 28 (a digit is 28x28); ``speed``: pixels per frame."""
        super().__init__()
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
                              "valid: augmentation=none; e.g. augmentation=none")
        self.augment = augment
        self.input_shape = (input_frames, 1, image_size, image_size)
        self.splits: dict = {}
        self.rows: dict[str, torch.Tensor] = {}  # data.limit: the sequences of a fixed split that are used
        self.digit_source = None
        self.digit_ids: dict[str, torch.Tensor] = {}  # which digits of the source set each split draws from
        self.report: dict = {}
        self._mean_frame: torch.Tensor | None = None

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
        return Rows(data, self.rows[split]) if split in self.rows else data

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
