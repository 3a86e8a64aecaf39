"""Numerical and data faults: each stops the run with a message that names the step or the file.

Numerical: a NaN loss (injected at a known step) and a real divergence (a learning rate of
1e30) stop training with exit status 3, name the step, and leave only checkpoints with finite
weights. Data: truncated or corrupt files in the real on-disk formats (IDX for MNIST, pickled
batches for CIFAR, an image, a video clip) raise a DataError that names the file.
"""

from __future__ import annotations

import pickle
import struct

import numpy as np
import pytest
import torch
from conftest import TINY, results, run_train, run_train_here

from seqvision.data.batches import TensorBatchLoader
from seqvision.data.read_errors import reading
from seqvision.data.torchvision_sets import CIFAR10DataModule, MNISTDataModule
from seqvision.errors import DataError


def _finite(ckpt) -> bool:
    """The net's weights (metric states such as MaxMetric's -inf start are not weights)."""
    state = torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]
    weights = [v for k, v in state.items() if k.startswith("net.") and v.is_floating_point()]
    return bool(weights) and all(bool(torch.isfinite(v).all()) for v in weights)


def _assert_one_error_line(proc, status: int, fragment: str) -> str:
    assert proc.returncode == status, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and fragment in last, last
    return last


# -- numerical faults -----------------------------------------------------------------------
@pytest.mark.slow  # a training subprocess (its loss is made NaN by tests/fault_injection.py)
def test_nan_loss_stops_at_that_step_and_keeps_the_last_good_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    proc = run_train([*TINY, "trainer.max_epochs=1", "callbacks.mid_epoch_checkpoint.every_n_train_steps=1",
                      f"hydra.run.dir={run_dir}"], script="tests/fault_injection.py", SV_NAN_AT_STEP="4")
    _assert_one_error_line(proc, 3, "non-finite loss (nan) at global step 4 (epoch 0, batch 3)")
    last = run_dir / "checkpoints" / "last.ckpt"
    assert torch.load(last, map_location="cpu", weights_only=True)["global_step"] == 3
    assert _finite(last)
    record = results(run_dir)
    assert record["status"] == "failed" and "global step 4" in record["error"]
    assert record["last_checkpoint"] == str(last)


def test_divergence_is_caught_before_bad_weights_are_saved(tmp_path):
    run_dir = tmp_path / "run"
    proc = run_train_here([*TINY, "trainer.max_epochs=1", "optimizer=sgd", "optimizer.lr=1e30", "scheduler=none",
                           "model.net.norm=none", "callbacks.mid_epoch_checkpoint.every_n_train_steps=1",
                           f"hydra.run.dir={run_dir}"])
    _assert_one_error_line(proc, 3, "non-finite")
    assert all(_finite(p) for p in run_dir.rglob("*.ckpt"))


def test_gradient_clipping_is_a_config_option(compose_cfg):
    from seqvision.run import _trainer

    cfg = compose_cfg(["trainer.gradient_clip_val=0.5", "trainer.gradient_clip_algorithm=value"])
    trainer = _trainer(cfg, [], [], [])
    assert trainer.gradient_clip_val == 0.5 and trainer.gradient_clip_algorithm == "value"


# -- data faults: MNIST (IDX) -----------------------------------------------------------------
def _write_idx(path, n=12, magic=None, labels=False):
    rng = np.random.default_rng(0)
    with open(path, "wb") as f:
        if labels:
            f.write(struct.pack(">II", magic or 2049, n) + rng.integers(0, 10, n, dtype=np.uint8).tobytes())
        else:
            f.write(struct.pack(">IIII", magic or 2051, n, 28, 28) + rng.integers(0, 256, (n, 28, 28), dtype=np.uint8).tobytes())


def _mnist(root):
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split in ("train", "t10k"):
        _write_idx(raw / f"{split}-images-idx3-ubyte")
        _write_idx(raw / f"{split}-labels-idx1-ubyte", labels=True)
    return raw


def _damage(path, how):
    if how == "magic":
        _write_idx(path, magic=1234, labels="labels" in path.name)
    elif how == "short":
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    elif how == "header":
        path.write_bytes(path.read_bytes()[:6])


@pytest.mark.parametrize("file,how,fragment", [
    ("train-images-idx3-ubyte", "magic", "wrong IDX magic number 1234 (expected 2051)"),
    ("train-labels-idx1-ubyte", "magic", "wrong IDX magic number 1234 (expected 2049)"),
    ("train-images-idx3-ubyte", "short", "is truncated"),
    ("t10k-images-idx3-ubyte", "header", "shorter than its 16-byte IDX header"),
])
def test_corrupt_idx_file_is_named(tmp_path, file, how, fragment):
    raw = _mnist(tmp_path)
    assert MNISTDataModule(root=str(tmp_path), download=False).load_split("train")[0].shape == (12, 1, 28, 28)
    _damage(raw / file, how)
    dm = MNISTDataModule(root=str(tmp_path), download=False)
    with pytest.raises(DataError) as info:
        dm.setup()
    assert str(raw / file) in str(info.value) and fragment in str(info.value)


def test_corrupt_idx_file_through_the_cli(tmp_path):
    raw = _mnist(tmp_path / "data")
    _damage(raw / "train-images-idx3-ubyte", "magic")
    proc = run_train_here([*TINY, "data=mnist", f"data.root={tmp_path / 'data'}", "data.download=false",
                           f"hydra.run.dir={tmp_path / 'run'}"])
    line = _assert_one_error_line(proc, 2, "wrong IDX magic number")
    assert str(raw / "train-images-idx3-ubyte") in line


# -- data faults: CIFAR (pickled batches) ------------------------------------------------------
def _cifar(root):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), "labels": [0, 1, 2, 3]}
        (folder / name).write_bytes(pickle.dumps(batch))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": [str(i) for i in range(10)]}))
    return folder


def test_cifar_checksum_mismatch_names_the_file(tmp_path):
    folder = _cifar(tmp_path)
    with pytest.raises(DataError) as info:
        CIFAR10DataModule(root=str(tmp_path), download=False).setup()
    assert f"{folder / 'data_batch_1'} fails its MD5 check" in str(info.value)
    assert "data.verify=false" in str(info.value)


def test_cifar_unpicklable_batch_names_the_file(tmp_path):
    folder = _cifar(tmp_path)
    dm = CIFAR10DataModule(root=str(tmp_path), download=False, verify=False)
    assert dm.load_split("train")[0].shape == (20, 3, 32, 32)  # the tiny files are in the real format
    (folder / "data_batch_3").write_bytes(pickle.dumps({"x": 1})[:-3])
    with pytest.raises(DataError) as info:
        CIFAR10DataModule(root=str(tmp_path), download=False, verify=False).setup()
    assert f"{folder / 'data_batch_3'} cannot be unpickled" in str(info.value)


# -- data faults: images and clips ---------------------------------------------------------------
def test_image_folder_undecodable_image_is_named_and_non_images_are_counted(tmp_path):
    from torchvision.io import write_png

    from seqvision.data.image_folder import ImageFolderDataModule

    for split in ("train", "test"):
        for cls in ("a", "b"):
            (tmp_path / split / cls).mkdir(parents=True)
            write_png(torch.zeros(3, 8, 8, dtype=torch.uint8), str(tmp_path / split / cls / "x.png"))
    (tmp_path / "train" / "a" / "notes.txt").write_text("not an image")
    dm = ImageFolderDataModule(root=str(tmp_path), image_size=8, limit=None)
    dm.setup()
    assert dm.report["skipped"] == {"non-image files": 1}
    assert dm.report["used"] == {"train": 1, "val": 1, "test": 2}

    bad = tmp_path / "test" / "b" / "y.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(DataError) as info:
        ImageFolderDataModule(root=str(tmp_path), image_size=8).setup()
    assert str(bad) in str(info.value) and "cannot decode image" in str(info.value)


def test_undecodable_clip_is_named(tmp_path):
    av = pytest.importorskip("av")
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    with pytest.raises(DataError) as info, reading(clip, "clip"):
        with av.open(str(clip)) as container:
            next(container.decode(video=0))
    assert f"cannot decode clip {clip}" in str(info.value)


# -- the data order a mid-epoch checkpoint restores --------------------------------------------
def test_loader_position_is_the_consumers_not_the_prefetchers():
    x = torch.arange(10)
    consumed = [0]
    loader = TensorBatchLoader([x], batch_size=2, shuffle=True, seed=3, progress_fn=lambda: consumed[0])
    it = iter(loader)
    seen = [next(it)[0], next(it)[0], next(it)[0]]  # three fetched...
    consumed[0] = 2  # ...but only two trained on when the checkpoint is taken
    state = loader.state_dict()
    resumed = TensorBatchLoader([x], batch_size=2, shuffle=True, seed=3)
    resumed.load_state_dict(state)
    rest = [b[0] for b in resumed]
    assert torch.equal(rest[0], seen[2]) and len(rest) == 3
    assert torch.equal(torch.cat(seen[:2] + rest).sort().values, x)
    # a checkpoint from the end of an epoch skips nothing in the next one
    consumed[0] = len(loader)
    resumed.load_state_dict(loader.state_dict())
    assert len(list(resumed)) == len(loader)
