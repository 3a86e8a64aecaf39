"""Carries the running epoch metrics of training across a mid-epoch checkpoint.

Lightning checkpoints weights and loop counters but not the accumulators behind epoch-level
metrics such as ``train/acc``: after a mid-epoch resume they would average only the batches
seen since the restart. A task calls these two functions from its ``on_save_checkpoint`` /
``on_load_checkpoint`` so the resumed epoch reports what an uninterrupted one would. States
are stored only while an epoch is in progress; a checkpoint from an epoch's end holds none,
so a resumed run starts its next epoch from empty accumulators, as an uninterrupted one does.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
from torchmetrics import Metric

KEY = "seqvision_epoch_metrics"


def _metrics(module: pl.LightningModule, prefix: str) -> dict[str, Metric]:
    return {name: m for name, m in module.named_children() if isinstance(m, Metric) and name.startswith(prefix)}


def save(module: pl.LightningModule, checkpoint: dict[str, Any], prefix: str = "train_") -> None:
    trainer = module._trainer
    if trainer is None or not trainer.training:
        return
    if trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
        return  # the epoch is complete; its accumulators are about to be reset
    checkpoint[KEY] = {
        name: {"state": {k: v.detach().clone() if hasattr(v, "detach") else v for k, v in m.metric_state.items()},
               "updates": m._update_count}
        for name, m in _metrics(module, prefix).items()
    }


def load(module: pl.LightningModule, checkpoint: dict[str, Any]) -> None:
    saved = checkpoint.get(KEY)
    if not saved:
        return
    metrics = dict(module.named_children())
    for name, entry in saved.items():
        metric = metrics.get(name)
        if not isinstance(metric, Metric):
            continue
        for key, value in entry["state"].items():
            setattr(metric, key, value.to(module.device) if hasattr(value, "to") else value)
        metric._update_count = entry["updates"]
        metric._computed = None
