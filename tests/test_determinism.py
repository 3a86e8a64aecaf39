"""``seed=... trainer.deterministic=true`` gives bit-identical runs on CPU.

Two runs with the same seed, augmentation (random crops) and dropout, one in a new process and one
in the test's process (which has trained other models before: what a process carries must not
leak into a seeded run), must log the same batch digests and losses at every step and end with
exactly the same metrics. A third
configuration check guards against a vacuous pass: another seed changes the data order.
"""

from __future__ import annotations

import pytest
import torch
from conftest import TINY, results, run_train, run_train_here

from seqvision.callbacks.batch_trace import read_trace
from seqvision.data.batches import TensorBatchLoader

ARGS = [*TINY, "trainer.max_epochs=2", "trainer.deterministic=true", "seed=11",
        "augmentation=crop",
        "+callbacks.batch_trace._target_=seqvision.callbacks.batch_trace.BatchTrace"]


@pytest.mark.slow  # a training subprocess
def test_same_seed_gives_bit_identical_metrics(tmp_path):
    runs = [tmp_path / "a", tmp_path / "b"]
    for run_dir, run in zip(runs, (run_train, run_train_here)):
        proc = run([*ARGS, f"hydra.run.dir={run_dir}"])
        assert proc.returncode == 0, proc.stderr[-3000:]
    traces = [read_trace(r / "batch_trace.csv") for r in runs]
    assert len(traces[0]) == 10 and traces[0] == traces[1]
    assert len({step[-1] for step in traces[0].values()}) > 1, "the losses should change from step to step"
    a, b = (results(r) for r in runs)
    assert a["metrics"] == b["metrics"] and a["seed"] == b["seed"] == 11


def test_another_seed_gives_another_order():
    x = torch.arange(64)
    orders = [torch.cat([b[0] for b in TensorBatchLoader([x], 8, shuffle=True, seed=s)]) for s in (11, 11, 12)]
    assert torch.equal(orders[0], orders[1]) and not torch.equal(orders[0], orders[2])
