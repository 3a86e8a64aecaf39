"""Makes a resumed run continue exactly where the killed one stopped, not merely "close".

Lightning checkpoints the weights, the optimizer, the schedulers and the loop counters. Two
things are missing for a resumed run to equal an uninterrupted one with the same seed:

* the RNGs that dropout and batched augmentation draw from. They are saved in every
  checkpoint and put back at ``on_train_start``, after the sanity check, so the first resumed
  step draws what the interrupted run would have drawn next;
* the position in the epoch's data order. Lightning saves the train loader's ``state_dict``,
  but restores it only while building the loader; when ``configure_optimizers`` asks for
  ``trainer.estimated_stepping_batches`` (one-cycle and cosine schedules do), the loader is
  built before the checkpoint is read and the saved position is silently dropped, so the
  resumed epoch would start again from its first batch. Here the position is applied at
  ``on_train_start`` if Lightning has not done so, and the batch iterator is recreated.

A schedule whose shape depends on the run's length (one-cycle, cosine) is restored with the
length it was built for; resuming with another ``trainer.max_epochs`` would fail steps later
("Tried to step N times") or silently bend the schedule, so it is refused at the start.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch


def capture() -> dict[str, Any]:
    """Tensors, ints and tuples only, so ``torch.load(weights_only=True)`` still reads the file."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    numpy_state = (kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(gauss))
    state = {"python": random.getstate(), "numpy": numpy_state, "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


_LENGTH_ATTRS = {"OneCycleLR": "total_steps", "CosineAnnealingLR": "T_max"}


def check_schedule_length(trainer: pl.Trainer) -> None:
    from seqvision.errors import ConfigError
    from seqvision.schedules import schedule_length

    for config in trainer.lr_scheduler_configs:
        attr = _LENGTH_ATTRS.get(type(config.scheduler).__name__)
        if attr is None:
            continue
        built = int(getattr(config.scheduler, attr))
        wanted = schedule_length(trainer, config.interval)
        if built != wanted:
            unit = "steps" if config.interval == "step" else "epochs"
            raise ConfigError(
                f"resume: the {type(config.scheduler).__name__} schedule in the checkpoint spans {built} {unit}, this run "
                f"{wanted}; a schedule's length cannot change on resume; valid: the run's own trainer.max_epochs "
                f"(resume=<run folder> replays it), or scheduler=step/none for runs to be extended; "
                f"e.g. drop the new trainer.max_epochs")


class ExactResume(pl.Callback):
    def __init__(self) -> None:
        self._pending: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        return capture()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._pending = state_dict

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._pending is not None:
            restore(self._pending)
            self._pending = None
        if trainer.ckpt_path:
            check_schedule_length(trainer)
        fit_loop = trainer.fit_loop
        if fit_loop.restarting and fit_loop._combined_loader_states_to_load and fit_loop._data_fetcher is not None:
            fit_loop._load_combined_loader_states()
            iter(fit_loop._data_fetcher)  # a fresh iterator that starts at the restored position
