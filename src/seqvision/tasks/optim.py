"""Optimizer and LR-scheduler wiring shared by every task.

``conf/optimizer`` and ``conf/scheduler`` hold ``_partial_`` targets, so any torch optimizer or
scheduler works. A scheduler that needs the run's length names the argument in
``total_steps_arg`` (``T_max`` for cosine, ``total_steps`` for one-cycle); the task fills it
with the trainer's estimated number of steps, which only exists once training starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from hydra.utils import instantiate

from seqvision.validate import Target

if TYPE_CHECKING:
    import pytorch_lightning as pl


@dataclass
class Schedule:
    """``conf/scheduler``: a ``torch.optim.lr_scheduler`` (``_partial_``), when it steps, and
    which of its arguments takes the run's length (filled in when training starts)."""

    scheduler: Target | None = None
    interval: Literal["step", "epoch"] = "epoch"
    total_steps_arg: str | None = None


def configure_optimizers(module: pl.LightningModule, optimizer_cfg: Any, scheduler_cfg: Any | None) -> Any:
    params = [p for p in module.parameters() if p.requires_grad]
    optimizer = instantiate(optimizer_cfg)(params=params)
    if not scheduler_cfg or scheduler_cfg.get("scheduler") is None:
        return optimizer
    interval = scheduler_cfg.get("interval", "epoch")
    kwargs = {}
    if scheduler_cfg.get("total_steps_arg"):
        trainer = module.trainer
        total = trainer.estimated_stepping_batches if interval == "step" else trainer.max_epochs
        # At least 10: one-cycle divides by its warm-up length, which is empty on a 4-step smoke run.
        kwargs[scheduler_cfg.total_steps_arg] = max(int(total), 10)
    scheduler = instantiate(scheduler_cfg.scheduler)(optimizer=optimizer, **kwargs)
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": interval}}
