"""A user's own images in torchvision's ImageFolder layout: ``root/<split>/<class>/*.png|jpg``.

Images are decoded once, resized to ``image_size`` and cached as a uint8 tensor file next to
the data, so later runs start in a second. The cache is keyed by the split, the size and the
file list's modification times, and written atomically (no half-written cache after a kill).

Skipped by design, and counted in the run's data report (``results.json``): files whose
extension is not an image type torchvision reads (``README.txt``, ``.DS_Store``). A file with an
image extension that does not decode stops the run with its path (``data/read_errors.py``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

import torch

from seqvision.constraints import PositiveInt
from seqvision.data.image_datamodule import ImageDataModule, log
from seqvision.data.read_errors import reading
from seqvision.errors import ConfigError, DataError
from seqvision.files import torch_save_atomic


class ImageFolderDataModule(ImageDataModule):
    """``train/`` and ``test/`` are required; ``val/`` is used when present, else carved from train."""

    def __init__(self, root: str = "data/images", image_size: PositiveInt = 32, channels: Literal[1, 3] = 3,
                 num_classes: PositiveInt | None = None, **kwargs):
        """``image_size``: every image is resized to this square; ``channels``: 1 decodes grey, 3
        decodes RGB (what the nets' ``input_shape`` then says); ``num_classes``: a check against the
        class folders."""
        self.image_size, self.channels = int(image_size), int(channels)
        self.input_shape = (self.channels, self.image_size, self.image_size)
        super().__init__(root=root, **kwargs)
        self.has_val_split = (self.root / "val").is_dir()
        self.classes = self._classes()
        self.num_classes = len(self.classes)
        if num_classes is not None and num_classes != self.num_classes:
            raise ConfigError(f"data.num_classes={num_classes} but {self.root / 'train'} has "
                              f"{self.num_classes} class folders; drop data.num_classes or fix the folders")

    def _classes(self) -> list[str]:
        train = self.root / "train"
        if not train.is_dir():
            raise DataError(f"image_folder: {train} not found; expected root/<split>/<class>/*.png|jpg with "
                            f"splits train and test (val optional). Fix: data.root=<your folder>")
        classes = sorted(p.name for p in train.iterdir() if p.is_dir())
        if not classes:
            raise DataError(f"image_folder: no class folders under {train}")
        return classes

    def _cache_path(self, split: str, files: list[Path]) -> Path:
        h = hashlib.sha1()
        for f in files:
            h.update(f"{f}:{f.stat().st_mtime_ns}".encode())
        key = f"{split}_{self.channels}x{self.image_size}_{h.hexdigest()[:12]}.pt"
        return self.root / ".seqvision_cache" / key

    def load_split(self, split: str):
        from torchvision.datasets import ImageFolder

        folder = self.root / split
        if not folder.is_dir():
            raise DataError(f"image_folder: split folder {folder} not found (need train/ and test/)")
        try:
            ds = ImageFolder(str(folder))
        except FileNotFoundError as err:  # a class folder without a single image
            raise DataError(f"image_folder: {err}; every class folder under {folder} needs at least one image") from err
        self._count_ignored(folder, {Path(p) for p, _ in ds.samples})
        if ds.classes != self.classes:
            raise DataError(f"image_folder: {folder} has classes {ds.classes}, train has {self.classes}")
        files = [Path(p) for p, _ in ds.samples]
        cache = self._cache_path(split, files)
        if cache.exists():
            return tuple(torch.load(cache))
        x = torch.stack([self._decode(p) for p in files])
        y = torch.tensor([t for _, t in ds.samples], dtype=torch.long)
        torch_save_atomic(cache, (x, y))
        return x, y

    def _count_ignored(self, folder: Path, used: set[Path]) -> None:
        ignored = [p for p in folder.rglob("*") if p.is_file() and p not in used]
        if ignored:
            self.report["skipped"]["non-image files"] = self.report["skipped"].get("non-image files", 0) + len(ignored)
            log.warning("image_folder: ignored %d files without an image extension under %s (e.g. %s)",
                        len(ignored), folder, ignored[0])

    def _decode(self, path: Path) -> torch.Tensor:
        from torchvision.io import ImageReadMode, decode_image
        from torchvision.transforms.v2.functional import resize

        mode = ImageReadMode.GRAY if self.channels == 1 else ImageReadMode.RGB
        with reading(path, "image", "delete it, or replace it with a valid PNG/JPEG"):
            img = decode_image(str(path), mode=mode)
        return resize(img, [self.image_size, self.image_size], antialias=True)
