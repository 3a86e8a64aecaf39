"""The classification task's switches: test-time flips, weight averaging, soft targets."""

from __future__ import annotations

import pytest
import torch
from conftest import TINY, train_in_process
from torch import nn

from seqvision.tasks.classify import ClassificationTask


class Asymmetric(nn.Module):
    """Logits that tell an image from its mirror: the left half's mean minus the right half's."""

    def forward(self, x):
        left, right = x[..., : x.shape[-1] // 2].mean((1, 2, 3)), x[..., x.shape[-1] // 2:].mean((1, 2, 3))
        return torch.stack([left - right, right - left], 1)


def test_flip_tta_averages_the_logits_of_an_image_and_its_mirror():
    x = torch.rand(4, 1, 8, 8)
    plain = ClassificationTask(Asymmetric(), 2, optimizer=None)
    tta = ClassificationTask(Asymmetric(), 2, optimizer=None, tta="flip")
    assert torch.allclose(plain._logits(x, "test"), Asymmetric()(x))
    assert torch.allclose(tta._logits(x, "test"), torch.zeros(4, 2), atol=1e-6)  # mirror cancels the asymmetry
    assert torch.allclose(tta._logits(x, "train"), Asymmetric()(x))  # training never averages


def test_soft_targets_train_with_the_soft_cross_entropy():
    task = ClassificationTask(nn.Flatten(), 4, optimizer=None)
    task.log = lambda *a, **k: None
    x = torch.randn(3, 4, 1, 1)
    y = torch.tensor([[0.7, 0.3, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.5, 0.5]])
    loss = task._step((x, y), "train")
    expect = -(y * torch.log_softmax(x.flatten(1), 1)).sum(1).mean()
    assert torch.allclose(loss, expect)


def test_ema_checkpoints_the_averaged_weights(tmp_path):
    _, res = train_in_process([*TINY, "trainer.max_epochs=2", "task.ema=0.5"], tmp_path / "run")
    ckpt = torch.load(res["best_checkpoint"], map_location="cpu", weights_only=False)
    averaged, current = ckpt["state_dict"], ckpt["current_model_state"]
    weight = next(k for k in averaged if k.endswith("weight") and averaged[k].dim() == 4)
    assert not torch.equal(averaged[weight], current[weight])  # the test ran on the average, not the last step
    assert res["status"] == "completed"


@pytest.mark.parametrize("bad", ["task.ema=1.0", "task.tta=rotate"])
def test_bad_switch_values_are_refused(bad, tmp_path):
    from seqvision.errors import ConfigError

    with pytest.raises(ConfigError, match=bad.split("=")[0]):
        train_in_process([*TINY, bad], tmp_path / "run")
