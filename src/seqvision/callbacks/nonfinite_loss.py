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


def _floating_parameters(module: torch.nn.Module) -> list[tuple[str, torch.Tensor]]:
    return [(n, p.detach()) for n, p in module.named_parameters() if p.is_floating_point()]


class StopOnNonFiniteLoss(pl.Callback):
    def __init__(self, check_weights: bool = True):
        self.check_weights = check_weights

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        """One device-to-host sync per step: the loss and every weight norm are checked together;
        the message (which names the culprit) is only built on the rare failing step."""
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        named = _floating_parameters(pl_module) if self.check_weights else []
        norms = torch._foreach_norm([p for _, p in named]) if named else []
        values = ([loss.detach().float().reshape(1)] if loss is not None else []) + [n.float().reshape(1) for n in norms]
        if not values or bool(torch.isfinite(torch.cat(values)).all()):
            return
        where = f"global step {trainer.global_step} (epoch {trainer.current_epoch}, batch {batch_idx})"
        advice = "the last good checkpoint is kept. Try a lower optimizer.lr or trainer.gradient_clip_val=1.0"
        if loss is not None and not math.isfinite(value := float(loss.detach())):
            raise NonFiniteLossError(f"non-finite loss ({value}) at {where}; {advice}")
        name = next(n for (n, _), v in zip(named, norms) if not torch.isfinite(v))
        raise NonFiniteLossError(f"non-finite weights ({name}) after the update of {where}; {advice}")
