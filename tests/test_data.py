"""Data modules and the batched pipeline: what a user relies on without looking."""

from __future__ import annotations

import pytest
import torch

from seqvision.data.augment import Augmentation, Cutout, RandomCrop, RandomFlip
from seqvision.data.batches import TensorBatchLoader
from seqvision.data.digits import DigitsDataModule
from seqvision.errors import DataError


def _ids(loader):
    return torch.cat([b[0] for b in loader]).tolist()


def test_loader_serves_every_sample_once_in_a_seeded_order():
    x = torch.arange(103)
    epoch = {"n": 0}
    loader = TensorBatchLoader([x, x * 2], batch_size=10, shuffle=True, seed=7, epoch_fn=lambda: epoch["n"])
    first = _ids(loader)
    assert sorted(first) == list(range(103)) and len(loader) == 11
    assert _ids(loader) == first  # same epoch, same order
    epoch["n"] = 1
    assert _ids(loader) != first and sorted(_ids(loader)) == list(range(103))
    for xb, yb in loader:
        assert torch.equal(yb, xb * 2)  # tensors stay aligned


def test_loader_shards_disjointly_across_ranks_with_equal_lengths():
    x = torch.arange(50)
    shards = [_ids(TensorBatchLoader([x], 8, shuffle=True, seed=1, rank=r, world_size=3)) for r in range(3)]
    assert len({len(s) for s in shards}) == 1  # equal batch counts: DDP never waits on a rank
    assert set().union(*map(set, shards)) == set(range(50))


def test_loader_resumes_mid_epoch_after_the_served_batches():
    x = torch.arange(40)
    loader = TensorBatchLoader([x], 8, shuffle=True, seed=3)
    full = [b[0].tolist() for b in loader]
    it = iter(loader)
    next(it), next(it)
    state = loader.state_dict()
    fresh = TensorBatchLoader([x], 8, shuffle=True, seed=3)
    fresh.load_state_dict(state)
    assert [b[0].tolist() for b in fresh] == full[2:]


def test_augmentations_keep_shape_and_draw_per_sample():
    torch.manual_seed(0)
    x = torch.rand(64, 3, 16, 16)
    assert torch.equal(RandomCrop(0)(x), x)
    assert torch.equal(RandomFlip(p=1.0)(x), x.flip(-1))
    flipped = RandomFlip(p=0.5)(x)
    n_flipped = sum(torch.equal(flipped[i], x[i].flip(-1)) for i in range(64))
    assert 10 < n_flipped < 54
    cropped = RandomCrop(2)(x)
    assert cropped.shape == x.shape and not torch.equal(cropped, x)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    offsets = set()
    for i in range(64):  # each sample is one window of its zero-padded image, offsets vary
        hit = [(dy, dx) for dy in range(5) for dx in range(5) if torch.equal(cropped[i], padded[i, :, dy:dy + 16, dx:dx + 16])]
        assert len(hit) == 1, f"sample {i} is no window of its padded image"
        offsets.add(hit[0])
    assert len(offsets) > 10
    holes = (Cutout(4)(torch.ones(64, 1, 16, 16)) == 0).sum(dim=(1, 2, 3))
    assert holes.max() == 16 and holes.min() >= 4  # a 4x4 square, clipped at the border
    clip = torch.rand(4, 5, 1, 8, 8)
    out, _ = Augmentation({"crop": RandomCrop(2), "flip": RandomFlip()})(clip)
    assert out.shape == clip.shape


def test_digits_are_mnist_shaped_with_a_fixed_split():
    dm = DigitsDataModule(val_fraction=0.1)
    dm.setup("fit")
    (xtr, ytr), (xva, _), (xte, yte) = dm.splits["train"], dm.splits["val"], dm.splits["test"]
    assert xtr.shape[1:] == (1, 28, 28) and xtr.dtype == torch.uint8
    assert len(xtr) + len(xva) + len(xte) == 1797 and len(xte) == 359
    other = DigitsDataModule(val_fraction=0.1)
    other.setup("fit")
    assert torch.equal(other.splits["test"][1], yte) and torch.equal(other.splits["train"][1], ytr)


def _write_pngs(root, split, classes, n, size=12):
    from torchvision.io import write_png

    for k, name in enumerate(classes):
        folder = root / split / name
        folder.mkdir(parents=True)
        for i in range(n):
            img = torch.full((3, size, size), 40 * k, dtype=torch.uint8)
            img[:, i % size, :] = 255
            write_png(img, str(folder / f"{i}.png"))


def test_image_folder_decodes_once_and_caches(tmp_path, monkeypatch):
    from seqvision.data.image_folder import ImageFolderDataModule

    _write_pngs(tmp_path, "train", ["cat", "dog", "eel"], 6)
    _write_pngs(tmp_path, "test", ["cat", "dog", "eel"], 2)
    dm = ImageFolderDataModule(root=str(tmp_path), image_size=8, val_fraction=0.25)
    assert dm.num_classes == 3 and dm.input_shape == (3, 8, 8)
    dm.setup("fit")
    x, y = dm.splits["test"]
    assert x.shape == (6, 3, 8, 8) and x.dtype == torch.uint8 and sorted(y.tolist()) == [0, 0, 1, 1, 2, 2]
    assert len(list((tmp_path / ".seqvision_cache").glob("*.pt"))) == 2

    def no_decode(*_):
        raise AssertionError("decoded again although cached")

    monkeypatch.setattr(ImageFolderDataModule, "_decode", no_decode)
    again = ImageFolderDataModule(root=str(tmp_path), image_size=8, val_fraction=0.25)
    again.setup("fit")
    assert torch.equal(again.splits["test"][0], x)


def test_image_folder_reports_missing_layout_and_bad_images(tmp_path):
    from seqvision.data.image_folder import ImageFolderDataModule

    with pytest.raises(DataError, match="train"):
        ImageFolderDataModule(root=str(tmp_path))
    _write_pngs(tmp_path, "train", ["a", "b"], 2)
    _write_pngs(tmp_path, "test", ["a", "b"], 1)
    (tmp_path / "test" / "a" / "broken.png").write_bytes(b"\x89PNG not really")
    dm = ImageFolderDataModule(root=str(tmp_path), image_size=8)
    with pytest.raises(DataError, match="broken.png"):
        dm.setup("fit")
