"""What a run's training cost, for ``results.json["cost"]`` and for the budgets that stop it.

The run driver adds one ``CostMeter`` to every run. It counts the net's forward FLOPs on one
sample when fit starts (``seqvision.cost.flops``), then, over the training loop with its
validations left out, the samples trained on (all ranks), wall seconds, device-seconds (CPU
core-seconds of this process; on a GPU the seconds the devices were held), peak memory and
energy where the machine can measure it. ``report`` turns that into the block ``results.json``
holds; a quantity it could not measure is the string ``"not measured"`` (with the reason where
there is one), never 0. What it measured travels in checkpoints, so a resumed run reports
(and a budget counts) the whole run, not only its last process.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch

from seqvision.cost.energy import EnergyMeter
from seqvision.cost.flops import UncountedOps, forward_flops, training_flops
from seqvision.cost.usage import Stopwatch, peak_rss_bytes

NOT_MEASURED = "not measured"
TRAIN_FLOPS_METHOD = "3 x forward FLOPs per sample x training samples seen (backward ~ 2 x forward)"


def batch_size(batch: Any) -> int:
    """Samples in a batch: the leading size of its first tensor (inputs first, in every data module)."""
    while isinstance(batch, (list, tuple)) and batch:
        batch = batch[0]
    if isinstance(batch, dict):
        return batch_size(next(iter(batch.values())))
    return int(batch.shape[0]) if isinstance(batch, torch.Tensor) and batch.dim() else 1


class CostMeter(pl.Callback):
    def __init__(self) -> None:
        self.forward_flops: int | None = None
        self.module_flops: dict[str, int] = {}
        self.params: int | None = None
        self.flops_why = ""  # why forward_flops is None
        self.samples = 0
        self.clock = Stopwatch()
        self.energy: EnergyMeter | None = None
        self._earlier = {"wall": 0.0, "cpu": 0.0, "joules": 0.0}  # from the checkpoint of a resumed run
        self._device = "cpu"
        self._world = 1
        self._peak: int | None = None  # at the end of training, before the test

    # -- measuring ------------------------------------------------------------------------------
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self.forward_flops is not None:
            return
        net = getattr(pl_module, "net", pl_module)
        self.params = sum(p.numel() for p in net.parameters())
        shape = getattr(trainer.datamodule, "input_shape", None) if trainer.datamodule is not None else None
        if shape is None:
            self.flops_why = "the data module declares no input_shape"
            return
        try:
            self.forward_flops, self.module_flops = forward_flops(net, tuple(shape))
        except UncountedOps as err:  # a number without these products would be wrong: none at all
            self.flops_why = str(err)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._resume()
        self._device, self._world = trainer.strategy.root_device.type, trainer.world_size
        if self._device == "cuda":
            torch.cuda.reset_peak_memory_stats(trainer.strategy.root_device)
        self.energy = EnergyMeter(self._device, trainer.strategy.root_device.index or 0)
        self.energy.start()
        self.clock.start()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        self.samples += batch_size(batch) * trainer.world_size
        if self.energy is not None:
            self.energy.sample()

    def on_validation_start(self, trainer, pl_module) -> None:
        self._paused = self.clock.running  # False outside training (the sanity check, a validate-only run)
        self.clock.pause()

    def on_validation_end(self, trainer, pl_module) -> None:
        if getattr(self, "_paused", False):
            self.clock.resume()

    def on_train_end(self, trainer, pl_module) -> None:
        self.clock.pause()
        cuda = self._device == "cuda"
        self._peak = int(torch.cuda.max_memory_allocated(trainer.strategy.root_device)) if cuda else peak_rss_bytes()
        if self.energy is not None:
            self.energy.stop()

    def train_seconds(self) -> float:
        """Wall seconds of training so far (validations left out), earlier processes included."""
        return self._earlier["wall"] + self.clock.elapsed()

    # -- checkpoints ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        joules = self.energy.joules if self.energy is not None else None
        return {"samples": self.samples, "wall": self.train_seconds(), "cpu": self._earlier["cpu"] + self.clock.cpu,
                "joules": None if joules is None else self._earlier["joules"] + joules}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Kept until training starts: testing the best checkpoint loads callback states too, and
        must not put the counts back to that checkpoint's."""
        self._loaded = state_dict

    def _resume(self) -> None:
        state, self._loaded = getattr(self, "_loaded", None), None
        if state is not None:
            self.samples = int(state["samples"])
            self._earlier = {"wall": float(state["wall"]), "cpu": float(state["cpu"]), "joules": state["joules"]}

    # -- the record -----------------------------------------------------------------------------
    def report(self, trained: bool = True) -> dict[str, Any]:
        """The ``cost`` block of ``results.json``."""
        out: dict[str, Any] = {
            "params": self.params if self.params is not None else NOT_MEASURED,
            "forward_flops_per_sample": self.forward_flops if self.forward_flops is not None
            else f"{NOT_MEASURED} ({self.flops_why or 'not counted'})",
        }
        if not trained or (self.samples == 0 and not self.clock.wall):
            return {**out, **dict.fromkeys(("train_samples", "train_flops", "train_seconds", "device_seconds",
                                            "peak_memory_bytes", "throughput_samples_per_s", "achieved_flops_per_s",
                                            "energy_j"), f"{NOT_MEASURED} (no training in this run)")}
        seconds = self.train_seconds()
        flops = training_flops(self.forward_flops, self.samples) if self.forward_flops is not None else None
        out.update(train_samples=self.samples,
                   train_flops=flops if flops is not None else f"{NOT_MEASURED} (no forward FLOPs)",
                   train_flops_method=TRAIN_FLOPS_METHOD,
                   train_seconds=round(seconds, 3))
        if self._device == "cuda":
            out.update(device_seconds=round(seconds * self._world, 3), device_seconds_kind="GPU-seconds (held, all ranks)",
                       peak_memory_bytes=self._peak or NOT_MEASURED, peak_memory_kind="GPU allocated, rank 0")
        else:
            cpu = self._earlier["cpu"] + self.clock.cpu
            out.update(device_seconds=round(cpu, 3) if self._world == 1 else f"{NOT_MEASURED} (CPU time of rank 0 only)",
                       device_seconds_kind="CPU core-seconds (user + system, this process)",
                       peak_memory_bytes=self._peak or NOT_MEASURED, peak_memory_kind="peak RSS of the process")
        out["throughput_samples_per_s"] = round(self.samples / seconds, 3) if seconds > 0 else NOT_MEASURED
        out["achieved_flops_per_s"] = round(flops / seconds) if flops is not None and seconds > 0 else NOT_MEASURED
        joules = self.energy.joules if self.energy is not None else None
        if joules is None or self._earlier["joules"] is None:
            why = self.energy.why if self.energy is not None and self.energy.why else "no energy counter read"
            out["energy_j"] = f"{NOT_MEASURED} ({why})"
        else:
            out.update(energy_j=round(self._earlier["joules"] + joules, 3), energy_source=self.energy.source)
        return out
