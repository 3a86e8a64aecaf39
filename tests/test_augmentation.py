"""Every augmentation option: per-sample randomness, outputs in [0, 1], composition, soft labels."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate

from conftest import CONF

SINGLE = ["crop", "flip", "cutout", "rotate", "color_jitter", "randaugment", "trivialaugment"]


def _augmentation(*names: str):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=[f"augmentation=[{','.join(names)}]", "paths.output_dir=/tmp/x"])
    return instantiate(cfg.augmentation)


def _images(n=32, seed=0):
    """Images with structure (a bright off-centre square on noise): every op changes them."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, 16, 16, generator=g) * 0.3
    x[:, :, 2:8, 3:11] = 0.9
    return x


@pytest.mark.parametrize("name", SINGLE)
def test_each_option_draws_per_sample_and_stays_in_range(name):
    torch.manual_seed(0)
    x = _images()
    same = x[:1].expand(32, -1, -1, -1).clone()  # one image 32 times: different outputs = per-sample draws
    aug = _augmentation(name)
    out, y = aug(same, torch.zeros(32, dtype=torch.long), 10)
    assert out.shape == same.shape and out.dtype == same.dtype and torch.equal(y, torch.zeros(32, dtype=torch.long))
    assert out.min() >= 0 and out.max() <= 1
    distinct = {tuple(o.flatten().round(decimals=4).tolist()) for o in out}
    assert len(distinct) > 1, f"{name} gave every sample the same draw"
    changed = (out - same).abs().flatten(1).amax(1) > 1e-4
    assert changed.any(), f"{name} changed nothing"


@pytest.mark.parametrize("name", ["crop", "rotate", "color_jitter", "trivialaugment"])
def test_a_clip_gets_one_draw_for_all_its_frames(name):
    torch.manual_seed(1)
    frame = _images(4)
    clip = frame.unsqueeze(1).expand(-1, 5, -1, -1, -1).clone()  # 4 clips of 5 identical frames
    out, _ = _augmentation(name)(clip)
    assert out.shape == clip.shape
    assert torch.allclose(out, out[:, :1].expand_as(out), atol=1e-6)  # motion (here: none) stays coherent


def test_options_compose_in_the_order_given():
    aug = _augmentation("flip_crop", "trivialaugment", "cutmix")
    assert list(aug.ops) == ["crop", "flip", "trivialaugment", "cutmix"]
    with pytest.raises(Exception, match="mixes labels twice"):
        _augmentation("mixup", "cutmix")


@pytest.mark.parametrize("name", ["mixup", "cutmix"])
def test_mixing_blends_images_and_labels_alike(name):
    """Each image is one grey level = its class / 10: a mixed image's mean is then the mean of
    its soft label's classes / 10, which checks that labels follow the images."""
    torch.manual_seed(2)
    labels = torch.arange(16) % 10
    x = (labels.float() / 10).view(-1, 1, 1, 1).expand(-1, 1, 16, 16).clone()
    out, soft = _augmentation(name)(x, labels, 10)
    assert soft.shape == (16, 10) and torch.allclose(soft.sum(1), torch.ones(16))
    assert out.min() >= 0 and out.max() <= 1
    expect = (soft * torch.arange(10).float() / 10).sum(1)
    assert torch.allclose(out.mean((1, 2, 3)), expect, atol=1e-4)
    assert (soft.max(1).values < 1).any(), "no sample was mixed"


def test_digits_are_never_flipped():
    from seqvision.data.digits import DigitsDataModule

    dm = DigitsDataModule(augment=_augmentation("flip_crop"))
    assert list(dm.augment.ops) == ["crop"]
    from seqvision.data.torchvision_sets import CIFAR10DataModule

    assert list(CIFAR10DataModule(augment=_augmentation("flip_crop")).augment.ops) == ["crop", "flip"]


def test_a_mixed_batch_is_trained_on_its_soft_targets():
    """The loss of a batch mixed by mixup is the cross-entropy against the blended labels, not
    against the label of either image."""
    from torch import nn

    from seqvision.tasks.classify import ClassificationTask

    torch.manual_seed(3)
    labels = torch.arange(16) % 4
    x, soft = _augmentation("mixup")(torch.rand(16, 4, 1, 1), labels, 4)
    task = ClassificationTask(nn.Flatten(), 4, optimizer=None)
    task.log = lambda *a, **k: None
    loss = task._step((x, soft), "train")
    logp = torch.log_softmax(x.flatten(1), 1)
    assert torch.allclose(loss, -(soft * logp).sum(1).mean())
    hard = torch.nn.functional.nll_loss(logp, soft.argmax(1))
    assert not torch.allclose(loss, hard)  # a batch that mixed something: the soft loss is another number


def test_mixed_batches_train_the_classifier(tmp_path):
    from conftest import train_in_process
    from fixtures import write_mnist

    write_mnist(tmp_path / "data")
    _, res = train_in_process(["data=mnist", f"data.root={tmp_path / 'data'}", "data.download=false",
                               "data.batch_size=32", "trainer.max_epochs=3", "augmentation=[crop,mixup]"], tmp_path / "run")
    assert res["status"] == "completed"
    assert res["metrics"]["test/acc"] >= 0.5, res["metrics"]  # separable classes: it learned through the mixing
