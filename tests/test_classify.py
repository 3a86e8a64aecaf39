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
    from seqvision.tasks.classification_media import (confusion_figure, misclassified_figure, mistakes_canvas,
                                                      per_class_accuracy)

    confusion = torch.tensor([[3, 1], [0, 4]])
    assert per_class_accuracy(confusion).tolist() == [0.75, 1.0]
    images = torch.rand(10, 3, 8, 8)
    true, pred = torch.tensor([0, 1] * 5), torch.tensor([1, 0] * 5)
    fig = misclassified_figure(images, true, pred, ["cat", "dog"], torch.full((10,), 0.75))
    assert [t.get_text() for t in fig.axes[0].texts] == ["cat -> dog (75%)", "dog -> cat (75%)"] * 5
    canvas, corners = mistakes_canvas(images)
    assert len(corners) == 10 and len(set(corners)) == 10  # 8 to a row, then a second row
    for k in (0, 7, 9):
        top, left = corners[k]
        assert torch.equal(canvas[:, top:top + 8, left:left + 8], images[k])
    shown = torch.as_tensor(fig.axes[0].images[0].get_array())
    assert torch.equal(shown, canvas.permute(1, 2, 0))
    labels = [t.get_text() for t in confusion_figure(confusion, ["cat", "dog"]).axes[0].get_yticklabels()]
    assert labels == ["cat (75%)", "dog (100%)"]


def test_flip_shift_tta_weighs_the_mirror_pair_one_half_and_each_shifted_pair_one_quarter():
    x = torch.rand(2, 1, 6, 6)
    net = nn.Sequential(nn.Flatten(), nn.Linear(36, 3))
    task = ClassificationTask(net, 3, optimizer=None, tta="flip_shift")
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1), mode="reflect")
    up, down = padded[..., :6, :6], padded[..., 2:, 2:]
    both = lambda v: net(v) + net(v.flip(-1))  # noqa: E731
    expect = 0.25 * both(x) + 0.125 * both(up) + 0.125 * both(down)
    assert torch.allclose(task._logits(x, "test"), expect, atol=1e-6)
    assert torch.allclose(task._logits(x, "train"), net(x))
    assert torch.allclose(task._logits(x, "val"), net(x))  # validation ranks checkpoints without TTA


def test_norm_lr_scale_puts_normalization_parameters_in_a_faster_less_decayed_group():
    from omegaconf import OmegaConf

    from seqvision.tasks.optim import parameter_groups

    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.LazyLinear(2))
    net(torch.zeros(1, 1, 5, 5))
    cfg = OmegaConf.create({"lr": 0.1, "weight_decay": 0.01})
    one = parameter_groups(net, cfg, 1.0)
    assert len(one) == 1 and len(one[0]["params"]) == 6
    plain, norm = parameter_groups(net, cfg, 64.0)
    assert {id(p) for p in norm["params"]} == {id(net[1].weight), id(net[1].bias)}
    assert len(plain["params"]) == 4 and "lr" not in plain
    assert norm["lr"] == pytest.approx(6.4) and norm["weight_decay"] == pytest.approx(0.01 / 64)


def test_the_mistakes_shown_come_from_every_class_the_most_confident_first():
    """A class-sorted test set (an image folder) makes its mistakes class by class: the grid takes
    each class's most confident mistake in turn, not the first mistakes in test order."""
    from seqvision.tasks.mistakes import MistakeGallery

    gallery = MistakeGallery(per_class=3)
    true = torch.tensor([0] * 5 + [1] * 5 + [2] * 5)  # test order: every mistake of class 0 first
    confidence = torch.tensor([0.3, 0.9, 0.5, 0.2, 0.4, 0.6, 0.55, 0.1, 0.2, 0.3, 0.95, 0.1, 0.1, 0.1, 0.1])
    pictures = torch.arange(15).float().view(15, 1, 1, 1).expand(15, 1, 2, 2) / 20
    for start in range(0, 15, 4):  # four batches, as a test loop hands them over
        part = slice(start, start + 4)
        gallery.add(pictures[part], true[part], (true[part] + 1) % 3, confidence[part])
    shown = gallery.selected(5)
    assert shown["true"].tolist() == [2, 0, 1, 1, 0]  # each class's first mistake, then each class's second
    assert shown["confidence"].tolist() == pytest.approx([0.95, 0.9, 0.6, 0.55, 0.5])
    assert shown["images"][0].flatten()[0].item() == pytest.approx(10 / 20, abs=1 / 255)  # sample 10 itself
    assert len(gallery) == 9  # three kept per class


def _fit_and_test(task, train, test, tmp_path, steps: int = 300) -> dict:
    """Lightning's loop on in-memory tensors: ``steps`` SGD steps of batch 4, then the test."""
    import pytorch_lightning as pl
    from torch.utils.data import DataLoader, TensorDataset

    pl.seed_everything(0, verbose=False)
    trainer = pl.Trainer(max_steps=steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=tmp_path, limit_val_batches=0,
                         accelerator="cpu", num_sanity_val_steps=0)
    trainer.fit(task, DataLoader(TensorDataset(*train), batch_size=4, shuffle=True))
    trainer.test(task, DataLoader(TensorDataset(*test), batch_size=1000), verbose=False)
    return {k: float(v) for k, v in trainer.callback_metrics.items()}


def _noisy_halfplane(n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g)
    return x, ((x @ torch.tensor([1.0, -0.5]) + 0.5 * torch.randn(n, generator=g)) > 0).long()


def test_ema_tests_better_weights_where_sgd_ends_on_a_noisy_step(tmp_path):
    """A large constant learning rate on noisy labels: the last SGD step lands anywhere around the
    optimum, the average of the last steps near it. With task.ema the test scores the average, and
    its loss is lower than that of the same run without it."""
    from omegaconf import OmegaConf

    sgd = OmegaConf.create({"_target_": "torch.optim.SGD", "_partial_": True, "lr": 3.0})
    train, test = _noisy_halfplane(1200, 0), _noisy_halfplane(4000, 1)
    torch.manual_seed(0)
    last = _fit_and_test(ClassificationTask(nn.Linear(2, 2), 2, sgd), train, test, tmp_path / "last")
    torch.manual_seed(0)
    averaged = _fit_and_test(ClassificationTask(nn.Linear(2, 2), 2, sgd, ema=0.98), train, test, tmp_path / "ema")
    assert averaged["test/loss"] < last["test/loss"] - 0.02, (averaged, last)


class LeftEyed(nn.Module):
    """Sees only the left half of an image: class 1 when it is bright, else class 0."""

    def forward(self, x):
        left = x[..., : x.shape[-1] // 2].mean((1, 2, 3))
        return torch.stack([torch.zeros_like(left), 10 * left.relu() - 1], 1)


def test_flip_tta_scores_the_mirror_a_net_only_knows_on_the_other_side(tmp_path):
    """Test images whose evidence sits on the right, for a net that looks only left: plain logits
    score chance, flip TTA averages in the mirror image and gets every one right."""
    import pytorch_lightning as pl
    from torch.utils.data import DataLoader, TensorDataset

    x = torch.zeros(40, 1, 8, 8) - 1
    y = torch.arange(40) % 2
    x[y == 1, ..., 4:] = 1.0  # class 1: bright on the right (the net's blind half)
    scores = {}
    for tta in ("none", "flip"):
        trainer = pl.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
                             default_root_dir=tmp_path / tta)
        trainer.test(ClassificationTask(LeftEyed(), 2, optimizer=None, tta=tta), DataLoader(TensorDataset(x, y), batch_size=16),
                     verbose=False)
        scores[tta] = float(trainer.callback_metrics["test/acc"])
    assert scores["none"] == pytest.approx(0.5) and scores["flip"] == pytest.approx(1.0), scores
