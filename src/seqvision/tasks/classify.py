"""Image and clip classification around any net that maps a batch to logits."""

from __future__ import annotations

from typing import Any, Literal

import pytorch_lightning as pl
import torch
from torch import nn
from torch.nn import functional as F
from torchmetrics import MaxMetric, MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from seqvision.constraints import Probability
from seqvision.tasks import epoch_metrics
from seqvision.tasks.optim import configure_optimizers
from seqvision.tasks.sample_counts import SampleCounts


class ClassificationTask(pl.LightningModule):
    """Cross-entropy training; logs ``{train,val,test}/{loss,acc}``, ``val/acc_best``, and
    ``*/acc_top5`` when there are more than 10 classes (where top-1 alone says too little).
    Losses are means over samples (each batch weighted by its size), not over batches.

    Switches that buy accuracy in short runs, each usable with any net:

    * ``label_smoothing``: train on ``(1 - e)`` one-hot plus ``e`` uniform targets;
    * ``ema``: evaluate and checkpoint an exponential moving average of the weights with this
      decay (Lightning's ``EMAWeightAveraging``, buffers included), e.g. ``0.99``;
    * ``tta``: test-time augmentation, ``flip`` averages the logits of each input and its
      horizontal mirror (not for digits or text, whose mirror is another class).

    Batches whose targets are class probabilities ``(B, C)`` rather than labels (mixup, cutmix)
    are trained with the soft cross-entropy; accuracy then counts the most probable class."""

    # What the task takes and asks for (read by config validation and the run driver):
    target_kind = "label"  # batches are (inputs, class labels)
    roles = {"image": "image_classifier", "clip": "clip_classifier"}  # the net, by input kind
    net_inputs = ("input_shape", "num_classes")  # filled in from the data module
    task_inputs = ("num_classes",)
    monitor, monitor_mode, best_metric = "val/acc", "max", "val/acc_best"

    def __init__(self, net: nn.Module, num_classes: int, optimizer: Any, scheduler: Any | None = None,
                 label_smoothing: Probability = 0.0, ema: Probability | None = None,
                 tta: Literal["none", "flip"] = "none"):
        super().__init__()
        self.net = net
        self.optimizer_cfg, self.scheduler_cfg = optimizer, scheduler
        self.label_smoothing, self.ema, self.tta = label_smoothing, ema, tta
        self.top5 = num_classes > 10
        for stage in ("train", "val", "test"):
            setattr(self, f"{stage}_acc", MulticlassAccuracy(num_classes, average="micro"))
            setattr(self, f"{stage}_loss", MeanMetric())
            if self.top5:
                setattr(self, f"{stage}_acc_top5", MulticlassAccuracy(num_classes, top_k=5, average="micro"))
        self.val_acc_best = MaxMetric()
        self.val_acc_best.persistent(True)  # survives a resume, so "best so far" stays true
        self.samples = SampleCounts()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def _logits(self, x: torch.Tensor, stage: str) -> torch.Tensor:
        if stage == "train" or self.tta == "none":
            return self(x)
        return (self(x) + self(x.flip(-1))) / 2

    def _step(self, batch, stage: str) -> torch.Tensor:
        x, y = batch
        logits = self._logits(x, stage)
        loss = F.cross_entropy(logits, y, label_smoothing=self.label_smoothing if stage == "train" else 0.0)
        if y.dim() == 2:  # class probabilities (mixup, cutmix): the metrics count the most probable class
            y = y.argmax(1)
        on_step = stage == "train"
        getattr(self, f"{stage}_loss")(loss.detach(), weight=y.shape[0])
        if stage != "train":
            self.samples.update(stage, y.shape[0])
        getattr(self, f"{stage}_acc")(logits.detach(), y)
        self.log(f"{stage}/loss", getattr(self, f"{stage}_loss"), on_step=on_step, on_epoch=True, prog_bar=True)
        self.log(f"{stage}/acc", getattr(self, f"{stage}_acc"), on_step=False, on_epoch=True, prog_bar=True)
        if self.top5:
            getattr(self, f"{stage}_acc_top5")(logits.detach(), y)
            self.log(f"{stage}/acc_top5", getattr(self, f"{stage}_acc_top5"), on_step=False, on_epoch=True)
        return loss

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx: int) -> None:
        self._step(batch, "val")

    def on_validation_epoch_end(self) -> None:
        self.samples.close("val")
        if self.trainer.sanity_checking:
            return
        self.val_acc_best(self.val_acc.compute())
        self.log("val/acc_best", self.val_acc_best.compute(), sync_dist=True)

    def test_step(self, batch, batch_idx: int) -> None:
        self._step(batch, "test")

    def on_test_epoch_end(self) -> None:
        self.samples.close("test")

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        epoch_metrics.save(self, checkpoint)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        epoch_metrics.load(self, checkpoint)

    def configure_optimizers(self):
        return configure_optimizers(self, self.optimizer_cfg, self.scheduler_cfg)

    def configure_callbacks(self) -> list:
        if not self.ema:
            return []
        from pytorch_lightning.callbacks import EMAWeightAveraging

        return [EMAWeightAveraging(decay=float(self.ema))]
