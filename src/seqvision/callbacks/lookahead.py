"""Lookahead weight averaging as airbench94 schedules it (Jordan 2024, arXiv:2404.00498).

Every ``every`` optimizer steps the slow weights move toward the fast ones,
``slow <- slow + (1 - d) (fast - slow)`` with ``d = decay * (step / total_steps) ** power``, and
the fast weights restart from the slow ones; at the end of training the net keeps the slow
weights. Early in a run ``d`` is near 0 (the average is the current weights), late it
approaches ``decay`` (a long average): the averaging grows as the learning rate falls. Unlike
``task.ema`` (an evaluation copy), training continues from the average. After the run's last
step the net takes the slow weights (airbench's final ``decay=1.0`` update), before the last
validation: so that validation, the checkpoint it keeps and the test all see the slow weights,
as airbench's evaluation does. Every floating-point
tensor of the net's state is averaged, BatchNorm statistics included. Hand-written: Lightning's
``WeightAveraging`` keeps a separate averaged copy and has no way to write it back every k
steps on a schedule. The slow weights are part of the checkpoint, so a resumed run averages on.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch

from seqvision.constraints import PositiveFloat, PositiveInt, Probability


class Lookahead(pl.Callback):
    def __init__(self, every: PositiveInt = 5, decay: Probability = 0.95**5, power: PositiveFloat = 3.0):
        self.every, self.decay, self.power = every, decay, power
        self.slow: list[torch.Tensor] | None = None
        self._pending: list[torch.Tensor] | None = None

    def _fast(self, pl_module) -> list[torch.Tensor]:
        return [t for t in pl_module.state_dict().values() if t.is_floating_point()]

    def on_train_start(self, trainer, pl_module) -> None:
        fast = self._fast(pl_module)
        if self._pending is not None:
            self.slow = [s.to(f.device) for s, f in zip(self._pending, fast)]
            self._pending = None
        elif self.slow is None:
            self.slow = [f.detach().clone() for f in fast]

    @torch.no_grad()
    def _pull(self, pl_module, d: float) -> None:
        for slow, fast in zip(self.slow, self._fast(pl_module)):
            slow.lerp_(fast, 1 - d)
            fast.copy_(slow)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if self.slow is None:
            return
        step, total = trainer.global_step, max(1, int(trainer.estimated_stepping_batches))
        if step >= total:
            self._pull(pl_module, 1.0)  # the last step: the net ends on the slow weights before the last validation
        elif step % self.every == 0:
            self._pull(pl_module, self.decay * min(1.0, step / total) ** self.power)

    def on_train_end(self, trainer, pl_module) -> None:
        """A run stopped before its last step (``max_time``, early stopping) ends on the slow
        weights too; its test uses the best checkpoint, which a validation picked."""
        if self.slow is not None and trainer.global_step < int(trainer.estimated_stepping_batches):
            self._pull(pl_module, 1.0)

    def state_dict(self) -> dict[str, Any]:
        return {"slow": [s.detach().cpu() for s in self.slow]} if self.slow is not None else {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if state_dict.get("slow"):
            self._pending = list(state_dict["slow"])
