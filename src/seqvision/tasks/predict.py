"""Frame prediction: given ``T_in`` frames, predict the next ``T_out`` (Moving MNIST and the like).

The net maps ``(B, T_in, C, H, W)`` to ``(B, T_out, C, H, W)`` and says how many frames it
predicts in ``net.output_frames``. Its outputs are logits, and the predicted frames their sigmoid,
unless the net says ``net.frame_head == "linear"``: then the outputs are the frames themselves, read
clamped to [0, 1] (OpenSTL's heads). Losses: ``mse`` (on the predicted frames; unclamped for a
linear head, so the gradient never vanishes) or ``bce`` (per-pixel binary cross-entropy on the
logits, the loss of the ConvLSTM paper, Shi et al. 2015; sigmoid heads only).

Every validation and test batch also scores three trivial forecasts on the same sequences:
copy the last input frame (``{val,test}/baseline_last_*``), all-zero frames
(``baseline_zero_*``) and the training set's mean frame (``baseline_mean_*``, when the data
module provides ``mean_frame()``). On Moving MNIST the black background makes the zero and mean
frames score close to a blurry model, so a model is only worth reporting if it beats all
three. ``val/mse`` is what checkpoints and sweeps watch (``val/mse_best`` for sweepers).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pytorch_lightning as pl
import torch
from torch import nn
from torch.nn import functional as F
from torchmetrics import MeanMetric, MinMetric

from seqvision.constraints import NonNegativeInt
from seqvision.errors import ConfigError
from seqvision.frame_heads import FRAME_HEADS, to_frames
from seqvision.tasks import epoch_metrics
from seqvision.tasks.frame_metrics import FrameMetrics
from seqvision.tasks.media import log_strip
from seqvision.tasks.optim import configure_optimizers, lr_scheduler_step
from seqvision.tasks.sample_counts import SampleCounts

BASELINES = ("last", "zero", "mean")


def copy_last_frame(inputs: torch.Tensor, output_frames: int) -> torch.Tensor:
    """The naive forecast: the last input frame, repeated ``output_frames`` times."""
    return inputs[:, -1:].expand(-1, output_frames, *inputs.shape[2:])


def constant_frames(frame: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``frame`` ``(C, H, W)`` repeated for every sequence and step of ``like`` ``(B, T, C, H, W)``."""
    return frame.to(like).expand_as(like)


class FramePredictionTask(pl.LightningModule):
    """Logs ``{train,val,test}/loss``, ``{val,test}/{mse,mae,ssim,psnr}`` and the same for each
    baseline (``baseline_{last,zero,mean}_*``), ``test/mse_t<k>`` (error at the k-th predicted
    frame) and ``val/mse_best``. Losses are means over samples, not over batches."""

    target_kind = "frames"  # batches are (input frames, the frames that follow)
    roles = {"clip": "frame_predictor"}
    net_inputs = ("input_shape", "output_frames")
    task_inputs = ()
    monitor, monitor_mode, best_metric = "val/mse", "min", "val/mse_best"
    metric_modes = {"loss": "min", "mse": "min", "mae": "min", "ssim": "max", "psnr": "max",  # see tasks/directions.py
                    "val/mse_best": "min"}

    def __init__(self, net: nn.Module, optimizer: Any, scheduler: Any | None = None,
                 loss: Literal["mse", "bce"] = "mse", media_every_n_epochs: NonNegativeInt = 1):
        super().__init__()
        output_frames = getattr(net, "output_frames", None)
        if not isinstance(output_frames, int):
            raise TypeError(f"{type(net).__name__} does not say how many frames it predicts (net.output_frames)")
        head = getattr(net, "frame_head", "sigmoid")
        if head not in FRAME_HEADS:
            raise TypeError(f"{type(net).__name__}.frame_head is {head!r}; it must be one of {', '.join(FRAME_HEADS)}")
        if loss == "bce" and head == "linear":
            raise ConfigError("task.loss=bce needs logits, but model.net.head=linear predicts the frames themselves; "
                              "e.g. task.loss=mse (or model.net.head=sigmoid)")
        self.net, self.loss_name, self.output_frames, self.frame_head = net, loss, output_frames, head
        self.optimizer_cfg, self.scheduler_cfg = optimizer, scheduler
        self.media_every_n_epochs = media_every_n_epochs
        for stage in ("train", "val", "test"):
            setattr(self, f"{stage}_loss", MeanMetric())
        for stage in ("val", "test"):
            setattr(self, f"{stage}_metrics", FrameMetrics(output_frames))
            setattr(self, f"{stage}_baselines", nn.ModuleDict({b: FrameMetrics(output_frames) for b in BASELINES}))
        self.val_mse_best = MinMetric()
        self.val_mse_best.persistent(True)
        self.samples = SampleCounts()
        self.register_buffer("mean_frame", torch.zeros(0), persistent=False)

    def setup(self, stage: str) -> None:
        """The mean-frame baseline needs the training set's mean frame, which only the data knows."""
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        if datamodule is not None and hasattr(datamodule, "mean_frame"):
            self.mean_frame = datamodule.mean_frame().to(self.mean_frame.device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predicted frames in [0, 1]."""
        return self._frames(self.net(x))

    def _frames(self, out: torch.Tensor) -> torch.Tensor:
        return to_frames(out, self.frame_head)

    def _loss(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if out.shape != target.shape:
            raise ValueError(f"net predicts {tuple(out.shape)}, the target is {tuple(target.shape)}")
        if self.loss_name == "bce":
            return F.binary_cross_entropy_with_logits(out, target)
        return F.mse_loss(torch.sigmoid(out) if self.frame_head == "sigmoid" else out, target)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = self._loss(self.net(x), y)
        self.train_loss(loss.detach(), weight=x.shape[0])
        self.log("train/loss", self.train_loss, on_step=True, on_epoch=True, prog_bar=True)
        return loss

    def _eval_step(self, batch, batch_idx: int, stage: str) -> None:
        x, y = batch
        out = self.net(x)
        loss = self._loss(out, y)
        pred = self._frames(out)
        getattr(self, f"{stage}_loss")(loss, weight=x.shape[0])
        self.samples.update(stage, x.shape[0])
        self.log(f"{stage}/loss", getattr(self, f"{stage}_loss"), on_step=False, on_epoch=True, prog_bar=True)
        forecasts = [(f"{stage}/", getattr(self, f"{stage}_metrics"), pred)]
        for name, metrics in getattr(self, f"{stage}_baselines").items():
            forecast = self._baseline(name, x, y)
            if forecast is not None:
                forecasts.append((f"{stage}/baseline_{name}_", metrics, forecast))
        for prefix, metrics, p in forecasts:
            metrics.update(p, y)
            for name, metric in metrics.items():
                self.log(prefix + name, metric, on_step=False, on_epoch=True, prog_bar=prefix == f"{stage}/" and name == "mse")
        if batch_idx == 0 and self._media_due(stage):
            log_strip(self, f"{stage}/frames", x, y, pred, self._media_dir())

    def _baseline(self, name: str, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor | None:
        if name == "last":
            return copy_last_frame(inputs, self.output_frames)
        if name == "zero":
            return torch.zeros_like(target)
        return constant_frames(self.mean_frame, target) if self.mean_frame.numel() else None

    def _media_due(self, stage: str) -> bool:
        if self.trainer.sanity_checking or not self.media_every_n_epochs:
            return False
        return stage == "test" or self.current_epoch % self.media_every_n_epochs == 0

    def _media_dir(self) -> Path | None:
        root = getattr(self.trainer, "default_root_dir", None)
        return Path(root) / "media" if root else None

    def validation_step(self, batch, batch_idx: int) -> None:
        self._eval_step(batch, batch_idx, "val")

    def on_validation_epoch_end(self) -> None:
        self.samples.close("val")
        if self.trainer.sanity_checking:
            return
        self.val_mse_best(self.val_metrics.mse.compute())
        self.log(self.best_metric, self.val_mse_best.compute(), sync_dist=True)

    def test_step(self, batch, batch_idx: int) -> None:
        self._eval_step(batch, batch_idx, "test")

    def on_test_epoch_end(self) -> None:
        self.samples.close("test")
        for k, v in enumerate(self.test_metrics.mse.compute_per_step().tolist(), start=1):
            self.log(f"test/mse_t{k}", v)  # already over every rank's sequences

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        epoch_metrics.save(self, checkpoint)  # train/loss of a mid-epoch checkpoint's epoch so far

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        epoch_metrics.load(self, checkpoint)

    def lr_scheduler_step(self, scheduler, metric) -> None:
        lr_scheduler_step(self, scheduler, metric)  # paced by a budget of seconds

    def configure_optimizers(self):
        return configure_optimizers(self, self.optimizer_cfg, self.scheduler_cfg)
