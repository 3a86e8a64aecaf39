"""The base of every image data module: uint8 tensors in memory, batched on-device transforms.

Subclasses only say how to read a split (``load_split``) and, if they can, how to fetch the
files (``download``). Everything else (the seeded validation split, DDP sharding, moving the
whole set onto the accelerator, augmentation and normalization on the batch's device) is
shared, so that every dataset trains at the same speed and with the same semantics.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

import pytorch_lightning as pl
import torch
from torch import nn

from seqvision.constraints import Fraction, NonNegativeInt, PositiveInt
from seqvision.data.batches import TensorBatchLoader
from seqvision.data.subset import describe as describe_limit
from seqvision.data.subset import stratified_subset
from seqvision.errors import ConfigError
from seqvision.files import resolve_path

log = logging.getLogger(__name__)


def _take(x: torch.Tensor, y: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return x[idx], y[idx]


class ImageDataModule(pl.LightningDataModule):
    """In-memory image classification data.

    ``on_device``: ``auto`` keeps the whole dataset on the accelerator when there is one (a
    batch is then an index into GPU memory, no host-to-device copy); ``true``/``false`` force it.
    """

    input_kind, target_kind = "image", "label"  # what a task can make of it (see tasks/)
    mirror_symmetric = True  # False where a mirrored sample is another class (digits): flips are left out
    input_shape: tuple[int, ...] = (1, 28, 28)
    num_classes: int = 10
    mean: Sequence[float] = (0.5,)
    std: Sequence[float] = (0.5,)
    has_val_split = False  # True when the dataset ships its own validation split

    def __init__(self, root: str = "data", batch_size: PositiveInt = 128, eval_batch_size: PositiveInt | None = None,
                 val_fraction: Fraction = 0.1, split_seed: NonNegativeInt = 0, download: bool = True,
                 on_device: bool | Literal["auto"] = "auto", augment: nn.Module | None = None,
                 limit: PositiveInt | None = None):
        super().__init__()
        self.root = resolve_path(root)
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size or max(batch_size, 256)
        self.val_fraction, self.split_seed, self.download = val_fraction, split_seed, download
        if augment is not None and not self.mirror_symmetric and hasattr(augment, "without_flips"):
            augment = augment.without_flips()
        self.on_device, self.augment, self.limit = on_device, augment, limit
        self.splits: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        # what was read, used and deliberately left out; run.py puts it in results.json
        self.report: dict = {"skipped": {}}
        self.register_buffer_stats()

    # -- what subclasses provide ------------------------------------------------------------
    def load_split(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns ``(images uint8 (N, C, H, W), labels int64 (N,))`` for train, val or test."""
        raise NotImplementedError

    def fetch(self) -> None:
        """Downloads the files if they are missing; raises DataError with the fixes if it cannot."""

    # -- Lightning hooks ----------------------------------------------------------------------
    def register_buffer_stats(self) -> None:
        c = self.input_shape[-3]
        mean, std = list(self.mean), list(self.std)
        if len(mean) != c:
            mean, std = mean[:1] * c, std[:1] * c
        self._mean = torch.tensor(mean).view(1, c, 1, 1)
        self._std = torch.tensor(std).view(1, c, 1, 1)

    def prepare_data(self) -> None:
        self.fetch()

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        train = self.load_split("train")
        if self.has_val_split:
            val = self.load_split("val")
        else:
            train, val = self._carve_val(*train)
        self.splits = {"train": train, "val": val, "test": self.load_split("test")}
        self.report["available"] = {k: len(y) for k, (_, y) in self.splits.items()}
        if self.limit:
            self.splits = {k: _take(x, y, stratified_subset(y, self.limit, self.split_seed))
                           for k, (x, y) in self.splits.items()}
            self.report["limit"] = describe_limit(self.limit, self.split_seed)
        self.report["used"] = {k: len(y) for k, (_, y) in self.splits.items()}
        self.report["classes"] = {k: int(y.unique().numel()) for k, (_, y) in self.splits.items()}
        self._log_report()
        device = self._target_device()
        if device is not None:
            self.splits = {k: (x.to(device), y.to(device)) for k, (x, y) in self.splits.items()}

    def _log_report(self) -> None:
        """One line per run that says how many samples each split has and what was left out."""
        used, available = self.report["used"], self.report["available"]
        parts = [f"{k} {used[k]}" + (f" of {available[k]} (data.limit: class-stratified)" if used[k] < available[k] else "")
                 for k in used]
        skipped = ", ".join(f"{n} {why}" for why, n in self.report["skipped"].items() if n)
        log.info("data %s: %s samples%s", type(self).__name__, ", ".join(parts), f"; skipped: {skipped}" if skipped else "")

    def _carve_val(self, x: torch.Tensor, y: torch.Tensor):
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(f"data.val_fraction={self.val_fraction} must lie in (0, 1), e.g. data.val_fraction=0.1")
        g = torch.Generator().manual_seed(self.split_seed)
        order = torch.randperm(len(x), generator=g)
        n_val = max(1, int(round(len(x) * self.val_fraction)))
        val_idx, train_idx = order[:n_val].sort().values, order[n_val:].sort().values
        return (x[train_idx], y[train_idx]), (x[val_idx], y[val_idx])

    def _target_device(self) -> torch.device | None:
        trainer = getattr(self, "trainer", None)
        if trainer is None or self.on_device in (False, "false"):
            return None
        device = trainer.strategy.root_device
        if self.on_device == "auto" and device.type == "cpu":
            return None
        return device

    def _loader(self, split: str, train: bool) -> TensorBatchLoader:
        return TensorBatchLoader.for_trainer(getattr(self, "trainer", None), self.splits[split],
                                             self.batch_size if train else self.eval_batch_size, train)

    def train_dataloader(self):
        return self._loader("train", True)

    def val_dataloader(self):
        return self._loader("val", False)

    def test_dataloader(self):
        return self._loader("test", False)

    @property
    def class_names(self) -> list[str]:
        """The name of each class index, for confusion matrices and pictures."""
        names = getattr(self, "classes", None)
        return [str(c) for c in names] if names else [str(i) for i in range(self.num_classes)]

    def _stats(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, std = self._mean.to(x.device), self._std.to(x.device)
        return (mean.unsqueeze(1), std.unsqueeze(1)) if x.dim() == 5 else (mean, std)

    def sample_inputs(self, n: int) -> torch.Tensor:
        """The first ``n`` training images, normalized as the net sees them (no augmentation): what
        a net's data-dependent initialisation (``init_from_data``) is fitted to."""
        self.setup("fit")
        return self.normalize(self.splits["train"][0][:n].float().div(255.0))

    def normalize(self, x: torch.Tensor, inplace: bool = False) -> torch.Tensor:
        """[0, 1] pixels to what the net sees (the inverse of ``denormalize``); ``inplace`` saves
        a batch-sized allocation and a pass over it when the caller owns ``x``."""
        mean, std = self._stats(x)
        return x.sub_(mean).div_(std) if inplace else (x - mean) / std

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        """A normalized batch back to [0, 1] pixels (what a picture of it shows)."""
        mean, std = self._stats(x)
        return (x * std + mean).clamp(0, 1)

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        """uint8 -> float in [0, 1] -> augmentation (training only) -> normalization, on device."""
        x, y = batch
        x = x.float().div_(255.0)
        if self.augment is not None and self.trainer is not None and self.trainer.training:
            x, y = self.augment(x, y, self.num_classes)
        return self.normalize(x, inplace=True), y  # x is this batch's own float copy
