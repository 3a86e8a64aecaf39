"""Compute-matched training: ``budget.seconds=``, ``budget.flops=`` or ``budget.samples=`` ends
training when that much is spent, and the learning-rate schedule spans the budget.

One budget per run (two would leave the schedule two lengths; the config refuses a second).
Under a budget the run's length is the budget: ``trainer.max_epochs`` and ``min_epochs`` are
lifted (the run driver says so in one line; a ``trainer.max_steps`` the command sets stays a
hard stop, with a warning). What counts:

* ``samples``: training samples seen, all ranks together. The budget becomes the optimizer
  steps whose batches first reach it (the epochs' last, smaller batches counted as they are),
  known before the first step, and the schedule spans exactly those steps;
* ``flops``: training FLOPs, ``3 x forward FLOPs per sample x samples`` (the cost meter's count,
  ``seqvision.cost.flops``), so a FLOP budget is a sample budget of ``flops / (3 x forward)``;
* ``seconds``: wall seconds of the training loop, its validations left out (they differ by
  model and train nothing). Steps per second are not known in advance, so the schedule is a
  function of the elapsed fraction (``seqvision.schedules``) and the budget is checked after
  every step: training ends within one step of it.

The check is ``trainer.should_stop`` after a step, so Lightning validates the weights the run
ended with before stopping, and the test sees the budget's full training.
"""

from __future__ import annotations

import math
from typing import Any

import pytorch_lightning as pl

from seqvision.callbacks.cost import CostMeter
from seqvision.budgets import BudgetConfig
from seqvision.cost.flops import training_flops
from seqvision.errors import ConfigError
from seqvision.schedules import TIME_TICKS


def epoch_batches(loader: Any, world_size: int) -> list[int]:
    """Samples of each training batch of one epoch, all ranks together."""
    n_batches, size = len(loader), int(loader.batch_size)
    samples = getattr(loader, "num_samples", None)
    if samples is None:
        samples = len(loader.sampler) if getattr(loader, "sampler", None) is not None else n_batches * size
    sizes = [size] * n_batches
    if sizes and not getattr(loader, "drop_last", False):
        sizes[-1] = int(samples) - size * (n_batches - 1)
    return [s * world_size for s in sizes]


def steps_for(samples: int, batches: list[int], accumulate: int = 1) -> int:
    """Optimizer steps until ``samples`` have been trained on: whole epochs, then the batches of
    the next one that reach the rest (Lightning also steps at an epoch's end when the batches do
    not fill the last accumulation)."""
    per_epoch = sum(batches)
    full, rest = divmod(int(samples), per_epoch)
    steps = full * math.ceil(len(batches) / accumulate)
    seen = 0
    for i, size in enumerate(batches if rest else []):
        seen += size
        if seen >= rest:
            steps += math.ceil((i + 1) / accumulate)
            break
    return max(steps, 1)


class Budget(pl.Callback):
    def __init__(self, meter: CostMeter, seconds: float | None = None, flops: float | None = None,
                 samples: int | None = None):
        chosen = BudgetConfig.chosen({"seconds": seconds, "flops": flops, "samples": samples})
        if len(chosen) != 1:
            raise ValueError(f"Budget takes exactly one of seconds, flops, samples; got {chosen or 'none'}")
        (self.kind, self.value), = chosen.items()
        self.meter = meter
        self.steps: int | None = None
        self._paced = self._ended = False  # a schedule follows the clock; it reached its end

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit" or self.kind == "seconds":
            return
        samples = self.value
        if self.kind == "flops":
            if not self.meter.forward_flops:
                why = self.meter.flops_why or "torch's counter finds no matrix product or convolution in it"
                raise ConfigError(f"budget.flops={self.value:g}: the net's forward FLOPs are not known ({why}), so "
                                  f"no number of samples is known to spend it; valid: budget.samples or budget.seconds "
                                  f"for this net; e.g. budget.seconds=600")
            samples = math.ceil(self.value / training_flops(self.meter.forward_flops, 1))
        loader = trainer.datamodule.train_dataloader()
        self.steps = steps_for(int(samples), epoch_batches(loader, trainer.world_size), trainer.accumulate_grad_batches)

    # -- the schedule's length and position (seqvision.schedules.Pace) --------------------------
    def schedule_steps(self) -> int:
        return TIME_TICKS if self.kind == "seconds" else int(self.steps)

    def schedule_position(self, length: int) -> int | None:
        """Lightning steps the schedule just before ``on_train_batch_end``: the step that moves
        it to its end is the step after which training stops, so the last learning rate is the
        schedule's final one (a clock read twice could disagree by a tick)."""
        if self.kind != "seconds":
            return None
        self._paced = True
        fraction = self.meter.train_seconds() / self.value
        self._ended = self._ended or fraction >= 1
        return min(length - 1, math.floor(fraction * (length - 1)))  # length - 1: a schedule's last position

    # -- stopping -------------------------------------------------------------------------------
    def spent(self, trainer: pl.Trainer) -> bool:
        if self.kind == "seconds":
            return self._ended if self._paced else self.meter.train_seconds() >= self.value
        return trainer.global_step >= self.steps

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if self.spent(trainer):
            trainer.should_stop = True

    def report(self) -> dict[str, Any]:
        """The budget and what the run spent of it, for ``results.json["cost"]["budget"]``."""
        spent = {"seconds": self.meter.train_seconds(), "samples": self.meter.samples,
                 "flops": training_flops(self.meter.forward_flops or 0, self.meter.samples)}[self.kind]
        out = {"kind": self.kind, "value": self.value, "spent": round(spent, 3) if self.kind == "seconds" else spent}
        if self.steps is not None:
            out["steps"] = self.steps
        return out
