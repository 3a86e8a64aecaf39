"""``data=moving_mnist``: splits, the standard test file, the labelled variant and config errors."""

import numpy as np
import pytest
import torch

from seqvision.data.moving_mnist import MovingMNISTDataModule
from seqvision.data.moving_mnist_labels import LabelledMovingMNISTDataModule
from seqvision.errors import ConfigError, DataError


def _batches(dm, split):
    loader = getattr(dm, f"{split}_dataloader")()
    return [dm.on_after_batch_transfer(b, 0) for b in loader]


def _dm(**kw):
    kw = {"root": "/nonexistent", "source": "digits", "train_size": 8, "val_size": 6, "test_size": 6,
          "batch_size": 4, **kw}
    dm = MovingMNISTDataModule(**kw)
    dm.setup()
    return dm


def test_batches_are_input_and_target_frames_in_unit_range():
    dm = _dm(input_frames=5, output_frames=3)
    x, y = _batches(dm, "train")[0]
    assert x.shape == (4, 5, 1, 64, 64) and y.shape == (4, 3, 1, 64, 64)
    assert x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1 and x.max() > 0.5
    assert dm.input_shape == (5, 1, 64, 64) and dm.output_frames == 3 and dm.target_kind == "frames"


def test_val_and_test_are_identical_across_runs_with_the_same_seed():
    a, b = _dm(eval_batch_size=4), _dm(eval_batch_size=5)
    for split in ("val", "test"):
        xa = torch.cat([x for x, _ in _batches(a, split)])
        xb = torch.cat([x for x, _ in _batches(b, split)])
        assert torch.equal(xa, xb)
    c = _dm(split_seed=1)
    assert not torch.equal(_batches(a, "test")[0][0], _batches(c, "test")[0][0])
    assert not torch.equal(_batches(a, "val")[0][0], _batches(a, "test")[0][0])


def test_the_standard_test_file_is_read_as_T_N_H_W(tmp_path):
    arr = np.random.default_rng(0).integers(0, 256, (20, 7, 64, 64), dtype=np.uint8)
    path = tmp_path / "mnist_test_seq.npy"
    np.save(path, arr)
    dm = _dm(test_file=str(path), eval_batch_size=3)
    x = torch.cat([torch.cat([x, y], 1) for x, y in _batches(dm, "test")])
    assert x.shape == (7, 20, 1, 64, 64)
    expect = torch.from_numpy(arr).permute(1, 0, 2, 3).unsqueeze(2).float() / 255
    assert torch.equal(x, expect)
    assert len(_dm(test_file=str(path), limit=4).test_dataloader().tensors[0]) == 4


def test_a_test_file_of_the_wrong_shape_is_a_clear_error(tmp_path):
    path = tmp_path / "seq.npy"
    np.save(path, np.zeros((20, 3, 32, 32), np.uint8))
    with pytest.raises(ConfigError, match="32x32"):
        _dm(test_file=str(path))
    np.save(path, np.zeros((20, 3, 64, 64), np.float32))
    with pytest.raises(DataError, match="uint8"):
        _dm(test_file=str(path))
    with pytest.raises(DataError, match="does not exist"):
        _dm(test_file=str(tmp_path / "missing.npy"))


@pytest.mark.parametrize("data,override,fragment", [
    ("moving_mnist", "data.source=imagenet", "data.source='imagenet' is not one of the choices; valid: auto, mnist or digits"),
    ("moving_mnist", "data.image_size=16", "data.image_size=16 is out of range; valid: an integer >= 28"),
    ("moving_mnist", "data.output_frames=0", "data.output_frames=0 is out of range"),
    ("moving_mnist", "data.speed=-1", "data.speed=-1"),
    ("moving_mnist", "data.val_fraction=1.0", "data.val_fraction=1.0"),
    ("moving_mnist_labels", "+data.num_digits=2", "data.num_digits=2 is not one of the choices; valid: 1"),
    ("moving_mnist_labels", "+data.output_frames=3", "data.output_frames=3 is not one of the choices; valid: 0"),
])
def test_bad_values_are_refused_before_any_data_is_read(data, override, fragment, compose_cfg):
    from seqvision.config import validate

    model = "convlstm" if data == "moving_mnist" else "cnn_lstm"
    with pytest.raises(ConfigError) as info:
        validate(compose_cfg([f"data={data}", f"model={model}", override]))
    assert fragment in str(info.value), str(info.value)


def test_frame_prediction_refuses_augmentation_and_labelled_clips_take_it():
    with pytest.raises(ConfigError, match="augmentation=none"):
        MovingMNISTDataModule(augment=torch.nn.Identity())
    LabelledMovingMNISTDataModule(augment=torch.nn.Identity())  # clips of one label can be augmented


def test_mnist_missing_is_a_data_error_with_the_fix(tmp_path):
    dm = MovingMNISTDataModule(root=str(tmp_path), source="mnist")
    with pytest.raises(DataError, match="data.source=digits"):
        dm.setup()


def test_labelled_variant_labels_each_clip_by_its_digit():
    dm = LabelledMovingMNISTDataModule(root="/nonexistent", source="digits", train_size=8, val_size=4,
                                       test_size=4, batch_size=8, input_frames=6)
    dm.setup()
    x, y = _batches(dm, "train")[0]
    assert x.shape == (8, 6, 1, 64, 64) and y.dtype == torch.long and dm.target_kind == "label"
    split = dm.splits["train"]
    assert torch.equal(y, split.bank_labels[split.spec().digit[:, 0]])
