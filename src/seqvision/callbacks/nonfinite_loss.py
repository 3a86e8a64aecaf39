"""Stops a run at the first non-finite loss, naming the step, before the bad update is saved.

Lightning's ``detect_anomaly`` is far too slow to leave on; this checks one scalar per step.
The exception is raised from ``on_train_batch_end``, so no checkpoint is written after it and
``last.ckpt`` holds the last good weights.
"""

from __future__ import annotations

import math

import pytorch_lightning as pl

from seqvision.errors import TrainingError


class NonFiniteLossError(TrainingError, RuntimeError):
    """The loss became NaN or infinite; the run stops (exit status 3) and the trial is marked failed."""


class StopOnNonFiniteLoss(pl.Callback):
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is None:
            return
        value = float(loss.detach())
        if not math.isfinite(value):
            raise NonFiniteLossError(
                f"non-finite loss ({value}) at global step {trainer.global_step} (epoch {trainer.current_epoch}, "
                f"batch {batch_idx}); the last good checkpoint is kept. Try a lower optimizer.lr or "
                f"trainer.gradient_clip_val=1.0")
