"""Writes one line per training step: which samples the step saw, and a hash of the batch.

An audit trail for reproducibility: two runs with the same seed must print the same lines,
and a run resumed mid-epoch must continue with exactly the lines an uninterrupted run would
have written (the resume tests compare these files). Enable with ``+callbacks=batch_trace``-style
overrides, e.g. ``+callbacks.batch_trace._target_=seqvision.callbacks.batch_trace.BatchTrace``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytorch_lightning as pl
import torch


def tensor_digest(*tensors: torch.Tensor) -> str:
    h = hashlib.sha1()
    for t in tensors:
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


class BatchTrace(pl.Callback):
    """Appends ``global_step,epoch,batch_idx,input_digest,label_digest,loss`` to ``path``
    (default ``<run folder>/batch_trace.csv``). Appending keeps the lines of an interrupted
    run; for each global step the last line is the one that counts."""

    def __init__(self, path: str | None = None):
        self.path = Path(path) if path else None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self.path is None:
            self.path = Path(trainer.default_root_dir) / "batch_trace.csv"
        if trainer.is_global_zero and not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text("global_step,epoch,batch_idx,input_digest,label_digest,loss\n")

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if not trainer.is_global_zero:
            return
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        x, y = batch[0], batch[1]
        with open(self.path, "a") as f:
            f.write(f"{trainer.global_step},{trainer.current_epoch},{batch_idx},{tensor_digest(x)},"
                    f"{tensor_digest(y)},{float(loss):.9g}\n")
            f.flush()


def read_trace(path: str | Path) -> dict[int, tuple[str, ...]]:
    """``{global_step: (epoch, batch_idx, input_digest, label_digest, loss)}``, last line wins."""
    steps: dict[int, tuple[str, ...]] = {}
    for line in Path(path).read_text().splitlines()[1:]:
        step, *rest = line.split(",")
        steps[int(step)] = tuple(rest)
    return steps
