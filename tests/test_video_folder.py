"""``data=video_folder``: real clips written with PyAV load, cache, train; bad inputs are handled."""

import logging

import pytest
import torch

from seqvision.data.video_folder import VideoFolderDataModule
from seqvision.errors import DataError


def _dm(root, **kw):
    kw = {"num_frames": 6, "stride": 2, "image_size": 16, "batch_size": 4, "num_workers": 0,
          "cache_dir": str(root.parent / "cache"), **kw}
    return VideoFolderDataModule(root=str(root), **kw)


def test_clips_load_as_uint8_T_C_H_W_and_are_cached(clip_folder, monkeypatch):
    dm = _dm(clip_folder)
    dm.setup()
    assert dm.classes == ["left", "right"] and dm.num_classes == 2 and dm.input_shape == (6, 3, 16, 16)
    sizes = {k: len(v) for k, v in dm.datasets.items()}
    assert sum(sizes.values()) == 10 and sizes["test"] == 2 and sizes["val"] >= 1
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape[1:] == (6, 3, 16, 16) and x.dtype == torch.uint8 and x.max() > 200
    for _ in dm.train_dataloader():
        pass
    cached = list(dm.cache_folder.glob("*.pt"))
    assert len(cached) == sizes["train"]

    def no_decoding(*a, **k):
        raise AssertionError("decoded a clip that was cached")

    monkeypatch.setattr("seqvision.data.video_io.read_clip", no_decoding)
    again = _dm(clip_folder)
    again.setup()
    xs = torch.cat([b[0] for b in again.train_dataloader()])
    assert len(xs) == sizes["train"]


def test_frames_are_sampled_at_the_stride_around_the_middle(clip_folder):
    from seqvision.data.video_io import read_clip, sample_window

    assert sample_window(24, 6, 2) == [6, 8, 10, 12, 14, 16]
    clip = read_clip(next((clip_folder / "right").glob("*.avi")), 6, 2, 32)
    # in frame t the square covers columns x..x+5 with x = 2t mod 26 (see moving_square_clip)
    profile = torch.from_numpy(clip[:, 0]).float().mean(1)  # (T, W): brightness per column
    centre = [float((p > 20).nonzero().float().mean()) for p in profile]
    expect = [(2 * t) % 26 + 2.5 for t in sample_window(24, 6, 2)]
    assert all(abs(c - e) <= 1.5 for c, e in zip(centre, expect)), (centre, expect)


def test_official_split_lists_are_used(clip_folder, tmp_path):
    files = sorted(p.relative_to(clip_folder).as_posix() for p in clip_folder.rglob("*.*"))
    (tmp_path / "trainlist01.txt").write_text("".join(f"{f} {1 + f.startswith('right')}\n" for f in files[:-2]))
    (tmp_path / "testlist01.txt").write_text("".join(f"{f}\n" for f in files[-2:]))
    dm = _dm(clip_folder, train_list=str(tmp_path / "trainlist01.txt"), test_list=str(tmp_path / "testlist01.txt"))
    dm.setup()
    assert sorted(str(p.relative_to(clip_folder)) for p, _, _ in dm.datasets["test"].items) == files[-2:]
    (tmp_path / "testlist01.txt").write_text("right/nope.avi\n")
    with pytest.raises(DataError, match="not under"):
        _dm(clip_folder, train_list=str(tmp_path / "trainlist01.txt"),
            test_list=str(tmp_path / "testlist01.txt")).setup()


def test_corrupt_and_short_clips_are_skipped_and_counted(clip_folder, caplog):
    from conftest import moving_square_clip

    from seqvision.videos import write_video

    (clip_folder / "left" / "broken.avi").write_bytes(b"RIFF" + b"\x00garbage" * 200)
    write_video(clip_folder / "right" / "short.avi", moving_square_clip(5, 32, 1))
    with caplog.at_level(logging.WARNING):
        dm = _dm(clip_folder, test_fraction=0.01)
        dm.setup()
    assert dm.skipped == {"corrupt": 1, "short": 1}
    assert "skipped 2 of 12 clips" in caplog.text and "broken.avi" in caplog.text and "short.avi" in caplog.text
    assert sum(len(d) for d in dm.datasets.values()) == 10


def test_an_empty_class_folder_is_an_error(clip_folder):
    (clip_folder / "jump").mkdir()
    with pytest.raises(DataError, match="jump"):
        _dm(clip_folder)


def test_no_folder_is_an_error(tmp_path):
    with pytest.raises(DataError, match="data.root"):
        _dm(tmp_path / "nothing")


def test_all_clips_too_short_is_an_error_with_the_fix(clip_folder):
    with pytest.raises(DataError, match="num_frames"):
        _dm(clip_folder, num_frames=20, stride=2).setup()


def test_hmdb51_split_files_are_used(clip_folder, tmp_path):
    splits = tmp_path / "testTrainMulti_7030_splits"
    splits.mkdir()
    for cls in ("left", "right"):
        names = sorted(p.name for p in (clip_folder / cls).iterdir())
        ids = ["1", "1", "0", "2", "1"]  # 1 train, 2 test, 0 unused
        (splits / f"{cls}_test_split1.txt").write_text("".join(f"{n} {i} \n" for n, i in zip(names, ids)))
    dm = _dm(clip_folder, hmdb51_splits=str(splits), split_index=1)
    dm.setup()
    sizes = {k: len(v) for k, v in dm.datasets.items()}
    assert sizes["test"] == 2 and sizes["train"] + sizes["val"] == 6  # the two "0" clips are unused
    with pytest.raises(DataError, match="split2"):
        _dm(clip_folder, hmdb51_splits=str(splits), split_index=2).setup()


def test_kth_split_is_by_person(tmp_path):
    from conftest import moving_square_clip

    from seqvision.videos import write_video

    root = tmp_path / "kth"
    for action in ("boxing", "walking"):
        (root / action).mkdir(parents=True)
        for person in (1, 2, 11, 12):
            write_video(root / action / f"person{person:02d}_{action}_d1_uncomp.avi", moving_square_clip(24, 32, 1))
    dm = _dm(root, kth_split=True, channels=1)
    dm.setup()
    persons = {k: sorted({p.name[:8] for p, _, _ in v.items}) for k, v in dm.datasets.items()}
    assert persons == {"train": ["person11", "person12"], "val": ["person01"], "test": ["person02"]}
    x, _ = next(iter(dm.train_dataloader()))
    assert x.shape[2] == 1  # grey


def test_two_official_splits_at_once_is_a_config_error(clip_folder, tmp_path):
    from seqvision.errors import ConfigError

    with pytest.raises(ConfigError, match="more than one official split is set"):
        _dm(clip_folder, kth_split=True, hmdb51_splits=str(tmp_path))
