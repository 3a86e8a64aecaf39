"""Splits that do not leak and limits that keep every class: what a reported number rests on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from seqvision.data.subset import stratified_subset


def test_stratified_subset_keeps_each_class_share_and_is_seeded():
    labels = torch.tensor([0] * 500 + [1] * 300 + [2] * 200)  # sorted by class, as folders are
    idx = stratified_subset(labels, 100, seed=0)
    assert len(idx) == 100 and len(set(idx.tolist())) == 100
    assert torch.bincount(labels[idx]).tolist() == [50, 30, 20]
    assert torch.equal(idx, stratified_subset(labels, 100, seed=0))
    assert not torch.equal(idx, stratified_subset(labels, 100, seed=1))
    rare = torch.tensor([0] * 995 + [1] * 5)
    assert set(rare[stratified_subset(rare, 10, seed=0)].tolist()) == {0, 1}  # a rare class is kept
    assert len(stratified_subset(labels, 5000, seed=0)) == 1000


def _image_folder(root: Path, classes=("ant", "bee", "cat", "dog"), per_class=12) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for c in classes:
            (root / split / c).mkdir(parents=True)
            for k in range(per_class):
                Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(root / split / c / f"{k}.png")
    return root


def test_limit_on_a_class_sorted_folder_keeps_every_class(tmp_path):
    from seqvision.data.image_folder import ImageFolderDataModule

    dm = ImageFolderDataModule(root=str(_image_folder(tmp_path / "images")), image_size=8, limit=8, val_fraction=0.25)
    dm.setup()
    for split, (_, y) in dm.splits.items():
        assert len(y) == 8 and sorted(y.unique().tolist()) == [0, 1, 2, 3], split
    assert dm.report["limit"]["method"] == "seeded class-stratified subset"
    assert dm.report["classes"] == {"train": 4, "val": 4, "test": 4}
    assert dm.report["available"]["test"] == 48 and dm.report["used"]["test"] == 8


def _ucf_folder(root: Path) -> Path:
    """UCF101 names: 3 source groups per class, 3 clips each."""
    from conftest import moving_square_clip

    from seqvision.videos import write_video

    for cls, direction in (("Left", -1), ("Right", 1)):
        (root / cls).mkdir(parents=True)
        for g in range(1, 4):
            for c in range(1, 4):
                write_video(root / cls / f"v_{cls}_g{g:02d}_c{c:02d}.avi", moving_square_clip(12, 16, direction))
    return root


def test_video_splits_hold_out_whole_source_groups(tmp_path):
    from seqvision.data.video_folder import VideoFolderDataModule
    from seqvision.data.video_splits import source_of

    dm = VideoFolderDataModule(root=str(_ucf_folder(tmp_path / "ucf")), num_frames=4, stride=1, image_size=8,
                               num_workers=0, test_fraction=0.34, val_fraction=0.5, cache_dir=str(tmp_path / "c"))
    dm.setup()
    groups = {k: {source_of(p, p.parent.name) for p, _, _ in d.items} for k, d in dm.datasets.items()}
    assert groups["train"] and groups["val"] and groups["test"]
    assert not (groups["train"] & groups["val"]) and not (groups["train"] & groups["test"]) and not (groups["val"] & groups["test"])
    assert all(len({p.parent.name for p, _, _ in d.items}) == 2 for d in dm.datasets.values())  # both classes everywhere
    assert "ucf101 (18 clips)" in dm.report["grouping"]


def test_source_groups_of_ucf101_hmdb51_and_kth_names():
    from seqvision.data.video_splits import source_of

    assert source_of(Path("v_ApplyEyeMakeup_g08_c01.avi"), "ApplyEyeMakeup") == "ucf101:ApplyEyeMakeup_g08"
    assert source_of(Path("v_ApplyEyeMakeup_g08_c04.avi"), "ApplyEyeMakeup") == "ucf101:ApplyEyeMakeup_g08"
    assert source_of(Path("April_09_brush_hair_u_nm_np1_ba_goo_0.avi"), "brush_hair") == "hmdb51:April_09"
    assert source_of(Path("April_09_brush_hair_u_nm_np1_ba_goo_2.avi"), "brush_hair") == "hmdb51:April_09"
    assert source_of(Path("person07_boxing_d3_uncomp.avi"), "boxing") == "kth:person07"
    assert source_of(Path("holiday.mp4"), "misc") == "clip:misc/holiday"


def test_video_limit_keeps_every_class(clip_folder, tmp_path):
    from seqvision.data.video_folder import VideoFolderDataModule

    dm = VideoFolderDataModule(root=str(clip_folder), num_frames=4, stride=2, image_size=8, num_workers=0,
                               test_fraction=0.4, limit=2, cache_dir=str(tmp_path / "c"))
    dm.setup()
    assert sorted(lab for _, lab, _ in dm.datasets["test"].items) == [0, 1]  # the folder is sorted by class
    assert dm.report["limit"]["per_split"] == 2


def test_moving_mnist_splits_draw_from_disjoint_digits():
    from seqvision.data.moving_mnist import MovingMNISTDataModule

    dm = MovingMNISTDataModule(root="/nonexistent", source="digits", train_size=8, val_size=20, test_size=20,
                               batch_size=4, val_fraction=0.2)
    dm.setup()
    train, val = set(dm.digit_ids["train"].tolist()), set(dm.digit_ids["val"].tolist())
    assert train and val and not (train & val)  # validation digits are training digits that training never sees
    bank = {k: dm.splits[k].bank for k in ("train", "val", "test")}
    from seqvision.data.digits import SPLIT_SEED, TEST_FRACTION, load_digits_28

    x, _ = load_digits_28()
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(SPLIT_SEED))
    test_digits = x[order[: int(len(x) * TEST_FRACTION)], 0]
    assert torch.equal(bank["test"], test_digits)  # test sequences from test digits only
    flat = {k: {bytes(d.numpy()) for d in b} for k, b in bank.items()}
    assert not (flat["val"] & flat["test"]) and not (flat["train"] & flat["test"])
    assert "held out from training" in dm.report["sources"]["val"]


def test_moving_mnist_limit_is_a_stratified_subset_of_the_fixed_splits():
    from seqvision.data.moving_mnist_labels import LabelledMovingMNISTDataModule

    dm = LabelledMovingMNISTDataModule(root="/nonexistent", source="digits", train_size=50, val_size=200,
                                       test_size=200, batch_size=10, input_frames=3, limit=20)
    dm.setup()
    _, labels = dm.tensors("test")
    y = labels[torch.arange(len(labels))]
    assert len(y) == 20 and y.unique().numel() == 10
    assert dm.report["used"] == {"train": 20, "val": 20, "test": 20}
    full = LabelledMovingMNISTDataModule(root="/nonexistent", source="digits", train_size=50, val_size=200,
                                         test_size=200, batch_size=10, input_frames=3)
    full.setup()
    clips, _ = dm.tensors("test")
    assert torch.equal(clips[torch.arange(20)], full.splits["test"][dm.rows["test"]])  # a subset of the full split


def test_mean_frame_is_the_mean_of_the_training_frames():
    from seqvision.data.moving_mnist import MovingMNISTDataModule

    dm = MovingMNISTDataModule(root="/nonexistent", source="digits", train_size=6, val_size=2, test_size=2,
                               input_frames=2, output_frames=2)
    dm.setup()
    frames = dm.splits["train"][torch.arange(6)].float() / 255
    assert torch.allclose(dm.mean_frame(), frames.mean(dim=(0, 1)), atol=1e-6)
