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


def test_a_test_run_leaves_its_confusion_matrix_per_class_accuracy_and_mistakes(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    _, res = train_in_process([*TINY, "logger=tensorboard"], out)
    media = out / "media"
    for name in ("test_confusion_matrix.png", "test_misclassified.png", "test_per_class_accuracy.csv"):
        assert (media / name).is_file() and (media / name).stat().st_size > 0, name
    rows = (media / "test_per_class_accuracy.csv").read_text().splitlines()
    assert rows[0] == "class,samples,correct,accuracy" and len(rows) == 11
    assert sum(int(r.split(",")[1]) for r in rows[1:]) == res["data"]["used"]["test"]
    correct = sum(int(r.split(",")[2]) for r in rows[1:])
    assert correct / res["data"]["used"]["test"] == pytest.approx(res["metrics"]["test/acc"])
    assert set(res["data"]["per_class_accuracy"]) == {str(i) for i in range(10)}
    events = EventAccumulator(str(out / "tensorboard")).Reload()
    assert {"test/confusion_matrix", "test/misclassified"} <= set(events.Tags()["images"])


def test_mistakes_are_shown_as_pixels_with_true_and_predicted_names():
    from seqvision.tasks.classification_media import confusion_figure, misclassified_figure, per_class_accuracy

    confusion = torch.tensor([[3, 1], [0, 4]])
    assert per_class_accuracy(confusion).tolist() == [0.75, 1.0]
    fig = misclassified_figure(torch.rand(3, 3, 8, 8), torch.tensor([0, 1, 0]), torch.tensor([1, 0, 1]), ["cat", "dog"])
    assert [ax.get_title() for ax in fig.axes[:3]] == ["cat -> dog", "dog -> cat", "cat -> dog"]
    labels = [t.get_text() for t in confusion_figure(confusion, ["cat", "dog"]).axes[0].get_yticklabels()]
    assert labels == ["cat (75%)", "dog (100%)"]
