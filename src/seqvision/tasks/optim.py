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

from seqvision.schedules import pace_of, schedule_length, step_scheduler
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


def parameter_groups(module: pl.LightningModule, optimizer_cfg: Any, norm_lr_scale: float) -> list[dict]:
    """One group, or, with ``norm_lr_scale != 1``, a second one for the parameters of normalization
    layers with ``lr * scale`` and ``weight_decay / scale`` (airbench gives BatchNorm shifts a 64x
    learning rate and 1/64 the decay)."""
    from torch import nn

    trainable = [p for p in module.parameters() if p.requires_grad]
    if norm_lr_scale == 1:
        return [{"params": trainable}]
    kinds = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)
    norm_ids = {id(p) for m in module.modules() if isinstance(m, kinds) for p in m.parameters() if p.requires_grad}
    lr, wd = float(optimizer_cfg.lr), float(optimizer_cfg.get("weight_decay", 0.0) or 0.0)
    groups = [{"params": [p for p in trainable if id(p) not in norm_ids]},
              {"params": [p for p in trainable if id(p) in norm_ids], "lr": lr * norm_lr_scale,
               "weight_decay": wd / norm_lr_scale}]
    return [g for g in groups if g["params"]]


def configure_optimizers(module: pl.LightningModule, optimizer_cfg: Any, scheduler_cfg: Any | None,
                         norm_lr_scale: float = 1.0) -> Any:
    groups = parameter_groups(module, optimizer_cfg, norm_lr_scale)
    optimizer = instantiate(optimizer_cfg)(params=groups)
    if not scheduler_cfg or scheduler_cfg.get("scheduler") is None:
        return optimizer
    interval = scheduler_cfg.get("interval", "epoch")
    if spans_run(scheduler_cfg) and pace_of(module.trainer) is not None:
        interval = "step"  # a budget's length is steps (or ticks of its seconds), whatever the epochs
    kwargs = {}
    if spans_run(scheduler_cfg):
        kwargs[scheduler_cfg.total_steps_arg] = schedule_length(module.trainer, interval)
    factory = instantiate(scheduler_cfg.scheduler)
    max_lr = getattr(factory, "keywords", {}).get("max_lr")
    if isinstance(max_lr, (int, float)) and len(optimizer.param_groups) > 1:  # one-cycle: keep each group's ratio
        base = float(optimizer_cfg.lr)
        kwargs["max_lr"] = [max_lr * g["lr"] / base for g in optimizer.param_groups]
    scheduler = factory(optimizer=optimizer, **kwargs)
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": interval}}


def spans_run(scheduler_cfg: Any | None) -> bool:
    """A schedule built for the run's length (its config names the length argument, e.g.
    one-cycle's ``total_steps``): the one a budget paces."""
    return bool(scheduler_cfg and scheduler_cfg.get("total_steps_arg"))


def lr_scheduler_step(module: pl.LightningModule, scheduler, metric) -> None:
    """Every task's ``lr_scheduler_step``: Lightning's step, or under a budget of seconds the steps
    that bring a run-length schedule to the elapsed fraction of the budget."""
    step_scheduler(module.trainer, scheduler, metric, spans_run=spans_run(module.scheduler_cfg))
