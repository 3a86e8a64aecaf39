"""Stops a run at the first non-finite loss or weight, naming the step, before it is saved.

Lightning's ``detect_anomaly`` is far too slow to leave on; this checks the loss (one scalar)
and, after the optimizer step, the weights (one fused norm over all parameters: a learning rate
that is far too high can turn the weights to inf while the loss that produced the update was
still finite). The exception is raised from ``on_train_batch_end``, which Lightning runs before
the checkpoint callbacks' hook of the same step, so no checkpoint is written after a fault and
``last.ckpt`` holds the last good weights. With 16-bit mixed precision the gradient scaler
skips steps with inf gradients by design; those leave the weights unchanged and pass here.
"""

from __future__ import annotations

import math

import pytorch_lightning as pl
import torch

from seqvision.errors import TrainingError


class NonFiniteLossError(TrainingError, RuntimeError):
    """The loss or the weights became NaN or infinite; the run stops (exit status 3) and the
    trial is marked failed."""


def _first_non_finite_parameter(module: torch.nn.Module) -> str | None:
    named = [(n, p) for n, p in module.named_parameters() if p.is_floating_point()]
    if not named:
        return None
    norms = torch._foreach_norm([p.detach() for _, p in named])
    if bool(torch.isfinite(torch.stack(norms)).all()):
        return None
    return next(n for (n, _), v in zip(named, norms) if not torch.isfinite(v))


class StopOnNonFiniteLoss(pl.Callback):
    def __init__(self, check_weights: bool = True):
        self.check_weights = check_weights

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        where = f"global step {trainer.global_step} (epoch {trainer.current_epoch}, batch {batch_idx})"
        advice = "the last good checkpoint is kept. Try a lower optimizer.lr or trainer.gradient_clip_val=1.0"
        if loss is not None:
            value = float(loss.detach())
            if not math.isfinite(value):
                raise NonFiniteLossError(f"non-finite loss ({value}) at {where}; {advice}")
        if self.check_weights and (name := _first_non_finite_parameter(pl_module)) is not None:
            raise NonFiniteLossError(f"non-finite weights ({name}) after the update of {where}; {advice}")
