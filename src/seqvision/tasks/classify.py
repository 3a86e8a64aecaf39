"""Image and clip classification around any net that maps a batch to logits."""

from __future__ import annotations

from typing import Any, Literal

import pytorch_lightning as pl
import torch
from torch import nn
from torch.nn import functional as F
from torchmetrics import MaxMetric, MeanMetric
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix

from seqvision.constraints import NonNegativeInt, PositiveFloat, Probability
from seqvision.tasks import epoch_metrics
from seqvision.tasks.classification_media import per_class_accuracy, publish
from seqvision.tasks.mistakes import MistakeGallery
from seqvision.tasks.optim import configure_optimizers, lr_scheduler_step
from seqvision.tasks.sample_counts import SampleCounts


class ClassificationTask(pl.LightningModule):
    """Cross-entropy training; logs ``{train,val,test}/{loss,acc}``, ``val/acc_best``, and
    ``*/acc_top5`` when there are more than 10 classes (where top-1 alone says too little).
    Losses are means over samples (each batch weighted by its size), not over batches.

    Switches that buy accuracy in short runs, each usable with any net:

    * ``label_smoothing``: train on ``(1 - e)`` one-hot plus ``e`` uniform targets;
    * ``ema``: evaluate and checkpoint an exponential moving average of the weights with this
      decay (Lightning's ``EMAWeightAveraging``, buffers included), e.g. ``0.99``;
    * ``tta``: test-time augmentation (at test; validation scores plain logits), ``flip`` averages the logits of each input and its
      horizontal mirror (not for digits or text, whose mirror is another class); ``flip_shift``
      adds the two 1-pixel diagonal shifts (reflect-padded) and their mirrors, weighted as in
      airbench (the mirror pair 1/2, each shifted pair 1/4);
    * ``norm_lr_scale``: normalization layers' parameters train with this multiple of the
      learning rate and this fraction of the weight decay (airbench: 64).

    A net with ``init_from_data(images)`` (a data-dependent initialisation, such as airbench's
    whitening stem) gets the first training images before the first step of a fresh run.

    Batches whose targets are class probabilities ``(B, C)`` rather than labels (mixup, cutmix)
    are trained with the soft cross-entropy; accuracy then counts the most probable class.

    At test, and every ``media_every_n_epochs``-th validation (0: test only), a confusion matrix,
    per-class accuracy and a grid of misclassified images (every class's most confident mistakes
    in turn, ``tasks/mistakes.py``) go to the loggers and the run folder
    (``tasks/classification_media.py``); the test's per-class accuracy also to ``results.json``."""

    MISCLASSIFIED_SHOWN = 32

    # What the task takes and asks for (read by config validation and the run driver):
    target_kind = "label"  # batches are (inputs, class labels)
    roles = {"image": "image_classifier", "clip": "clip_classifier"}  # the net, by input kind
    net_inputs = ("input_shape", "num_classes")  # filled in from the data module
    task_inputs = ("num_classes",)
    monitor, monitor_mode, best_metric = "val/acc", "max", "val/acc_best"
    metric_modes = {"loss": "min", "acc": "max", "acc_top5": "max", "val/acc_best": "max"}  # see tasks/directions.py

    def __init__(self, net: nn.Module, num_classes: int, optimizer: Any, scheduler: Any | None = None,
                 label_smoothing: Probability = 0.0, ema: Probability | None = None,
                 tta: Literal["none", "flip", "flip_shift"] = "none", norm_lr_scale: PositiveFloat = 1.0,
                 media_every_n_epochs: NonNegativeInt = 0):
        super().__init__()
        self.net = net
        self.optimizer_cfg, self.scheduler_cfg = optimizer, scheduler
        self.label_smoothing, self.ema, self.tta = label_smoothing, ema, tta
        self.media_every_n_epochs, self.norm_lr_scale = media_every_n_epochs, norm_lr_scale
        self.confusion = nn.ModuleDict({s: MulticlassConfusionMatrix(num_classes) for s in ("val", "test")})
        self.wrong: dict[str, MistakeGallery] = {}
        self.per_class_accuracy: dict[str, float] = {}
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
        # Test only: validation ranks checkpoints by the plain logits, which order them as the
        # averaged ones do at a sixth (flip_shift) or half (flip) of the cost per epoch.
        if stage != "test" or self.tta == "none":
            return self(x)
        mirror = (self(x) + self(x.flip(-1))) / 2
        if self.tta == "flip":
            return mirror
        padded = F.pad(x.flatten(0, -4) if x.dim() == 5 else x, (1, 1, 1, 1), mode="reflect").view(
            *x.shape[:-2], x.shape[-2] + 2, x.shape[-1] + 2)
        h, w = x.shape[-2:]
        shifted = [padded[..., :h, :w], padded[..., 2:, 2:]]
        return 0.5 * mirror + sum(0.125 * (self(s) + self(s.flip(-1))) for s in shifted)

    def on_fit_start(self) -> None:
        init = getattr(self.net, "init_from_data", None)
        datamodule = getattr(self.trainer, "datamodule", None)
        if init is not None and not self.trainer.ckpt_path and hasattr(datamodule, "sample_inputs"):
            init(datamodule.sample_inputs(5000).to(self.device))

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
        if stage != "train" and self._media_due(stage):
            self._collect(stage, x, y, logits.detach())
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
        if self._media_due("val"):
            self._publish("val")
        if self.trainer.sanity_checking:
            return
        self.val_acc_best(self.val_acc.compute())
        self.log("val/acc_best", self.val_acc_best.compute(), sync_dist=True)

    def test_step(self, batch, batch_idx: int) -> None:
        self._step(batch, "test")

    def on_test_epoch_end(self) -> None:
        self.samples.close("test")
        confusion = self._publish("test")
        names = self._class_names(len(confusion))
        self.per_class_accuracy = dict(zip(names, per_class_accuracy(confusion).tolist()))

    # -- pictures -------------------------------------------------------------------------------
    def _media_due(self, stage: str) -> bool:
        if stage == "test":
            return True
        if self._trainer is None or self.trainer.sanity_checking or not self.media_every_n_epochs:
            return False
        return self.current_epoch % self.media_every_n_epochs == 0

    def _collect(self, stage: str, x: torch.Tensor, y: torch.Tensor, logits: torch.Tensor) -> None:
        probs = logits.float().softmax(1)
        confidence, pred = probs.max(1)
        self.confusion[stage].update(pred, y)
        miss = (pred != y).nonzero().flatten()
        if len(miss) and x.dim() in (4, 5):  # pictures of images or clips; other inputs have none
            datamodule = getattr(self.trainer, "datamodule", None)
            images = x[miss].float()
            images = images[:, images.shape[1] // 2] if images.dim() == 5 else images  # a clip: its middle frame
            images = datamodule.denormalize(images) if hasattr(datamodule, "denormalize") else images.clamp(0, 1)
            gallery = self.wrong.setdefault(stage, MistakeGallery(self.MISCLASSIFIED_SHOWN))
            gallery.add(images, y[miss], pred[miss], confidence[miss])

    def _class_names(self, n: int) -> list[str]:
        names = getattr(getattr(self.trainer, "datamodule", None), "class_names", None)
        return list(names) if names and len(names) == n else [str(i) for i in range(n)]

    def _publish(self, stage: str) -> torch.Tensor:
        """Confusion matrix (synced over ranks) and this rank's mistakes to the loggers and files."""
        confusion = self.confusion[stage].compute()
        gallery = self.wrong.pop(stage, None)
        wrong = gallery.selected(self.MISCLASSIFIED_SHOWN) if gallery is not None else {}
        publish(self, stage, confusion, self._class_names(len(confusion)), wrong)
        self.confusion[stage].reset()
        return confusion

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        epoch_metrics.save(self, checkpoint)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        epoch_metrics.load(self, checkpoint)

    def lr_scheduler_step(self, scheduler, metric) -> None:
        lr_scheduler_step(self, scheduler, metric)  # paced by a budget of seconds

    def configure_optimizers(self):
        return configure_optimizers(self, self.optimizer_cfg, self.scheduler_cfg, self.norm_lr_scale)

    def configure_callbacks(self) -> list:
        if not self.ema:
            return []
        from pytorch_lightning.callbacks import EMAWeightAveraging

        return [EMAWeightAveraging(decay=float(self.ema))]
