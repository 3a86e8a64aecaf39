"""Batches cut straight from in-memory tensors, with no per-sample Python work.

The usual ``Dataset`` + ``DataLoader`` pipeline indexes one sample at a time and collates;
on 28x28 images that costs more than the model. Here a batch is one fancy-index per tensor.
The order of an epoch is a pure function of ``(seed, epoch)``, which makes it reproducible,
identical across DDP ranks before sharding, and restorable mid-epoch from a checkpoint
(Lightning saves ``state_dict()`` of a stateful loader and restores it on resume).

Sharding differs by purpose. Training shards are padded to equal length by repeating the
first samples, as ``DistributedSampler`` does, because every rank must take the same number
of optimizer steps. Evaluation shards are not padded (``pad=False``): each sample is seen by
exactly one rank, ranks may get one batch fewer, and the metrics (synced by torchmetrics at
the epoch's end) are those of the whole split, never of a split with repeated samples.

The position saved in a checkpoint is the consumer's count (``progress_fn``: the batches the
training loop has finished), not the number this loader has yielded: a fetcher that pulls
batches ahead of the step it runs (Lightning prefetches from loaders without a length) would
otherwise make a resumed epoch skip the batches that were fetched but never trained on.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence

import torch


class TensorBatchLoader:
    """Iterates over aligned tensors in batches; shards by rank for DDP.

    ``epoch_fn`` tells the loader which epoch it is serving (the trainer's ``current_epoch``),
    so a run resumed at an epoch boundary draws the same permutation as an uninterrupted one.
    """

    def __init__(self, tensors: Sequence[torch.Tensor], batch_size: int, shuffle: bool = False,
                 drop_last: bool = False, seed: int = 0, rank: int = 0, world_size: int = 1,
                 epoch_fn: Callable[[], int] | None = None, progress_fn: Callable[[], int] | None = None,
                 pad: bool = True):
        if len({len(t) for t in tensors}) != 1:
            raise ValueError("all tensors must have the same length")
        self.tensors, self.batch_size = tuple(tensors), int(batch_size)
        self.shuffle, self.drop_last, self.seed = shuffle, drop_last, seed
        self.rank, self.world_size, self.pad = rank, world_size, pad
        self.epoch_fn = epoch_fn or (lambda: 0)
        self.progress_fn = progress_fn
        self._resume: tuple[int, int] | None = None  # (epoch, batches already trained on)
        self._served = 0

    @property
    def num_samples(self) -> int:
        """Samples this rank sees per epoch: equal on every rank when padding (training), else
        this rank's share of the split, which may be one fewer than another rank's."""
        n = len(self.tensors[0])
        if self.world_size == 1:
            return n
        if not self.pad:
            return len(range(self.rank, n, self.world_size))
        return n // self.world_size if self.drop_last else math.ceil(n / self.world_size)

    def __len__(self) -> int:
        n = self.num_samples
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _indices(self, epoch: int) -> torch.Tensor:
        n = len(self.tensors[0])
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            order = torch.randperm(n, generator=g)
        else:
            order = torch.arange(n)
        if self.world_size > 1 and not self.pad:
            order = order[self.rank :: self.world_size]
        elif self.world_size > 1:
            total = self.num_samples * self.world_size
            if total > n:  # pad by wrapping around, as DistributedSampler does
                order = torch.cat([order, order[: total - n]])
            order = order[:total][self.rank :: self.world_size]
        return order.to(self.tensors[0].device)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        epoch = self.epoch_fn()
        start = 0
        if self._resume is not None:
            resume_epoch, consumed = self._resume
            start = consumed if resume_epoch == epoch and consumed < len(self) else 0
            self._resume = None
        order = self._indices(epoch)
        for b in range(start, len(self)):
            idx = order[b * self.batch_size : (b + 1) * self.batch_size]
            self._served = b + 1
            yield tuple(t[idx] for t in self.tensors)
        self._served = 0

    def state_dict(self) -> dict:
        consumed = self.progress_fn() if self.progress_fn is not None else self._served
        return {"epoch": self.epoch_fn(), "batches_consumed": int(consumed)}

    def load_state_dict(self, state: dict) -> None:
        """The next ``__iter__`` of the same epoch starts after the batches already trained on;
        a checkpoint from the end of an epoch (every batch consumed) skips nothing."""
        self._resume = (int(state.get("epoch", self.epoch_fn())), int(state.get("batches_consumed", 0)))

    @classmethod
    def for_trainer(cls, trainer, tensors: Sequence[torch.Tensor], batch_size: int, train: bool,
                    shuffle: bool | None = None) -> "TensorBatchLoader":
        """The loader a data module hands to Lightning: sharded by the trainer's rank (padded for
        training, exact for evaluation), ordered by its epoch and the run's seed, and (for
        training) aware of how many batches the loop has finished, so a mid-epoch checkpoint
        resumes at the right batch."""
        if trainer is None:
            return cls(tensors, batch_size, shuffle=bool(train if shuffle is None else shuffle), pad=train)
        return cls(tensors, batch_size, shuffle=bool(train if shuffle is None else shuffle),
                   seed=int(os.environ.get("PL_GLOBAL_SEED", 0)), rank=trainer.global_rank,
                   world_size=trainer.world_size, epoch_fn=lambda: trainer.current_epoch, pad=train,
                   progress_fn=(lambda: trainer.fit_loop.epoch_loop.batch_progress.current.processed) if train else None)
