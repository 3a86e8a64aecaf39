"""Evaluation sees every sample exactly once, also under DDP, and its means are means over samples."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import TINY, run_train, train_in_process

from seqvision.data.batches import TensorBatchLoader


def _ids(loader):
    return [i for b in loader for i in b[0].tolist()]


def test_evaluation_shards_cover_every_sample_once_and_training_shards_pad():
    x = torch.arange(101)
    evals = [_ids(TensorBatchLoader([x], 16, rank=r, world_size=2, pad=False)) for r in range(2)]
    assert sorted(evals[0] + evals[1]) == list(range(101))  # each sample once, none repeated
    assert [len(e) for e in evals] == [51, 50]
    trains = [_ids(TensorBatchLoader([x], 16, shuffle=True, seed=3, rank=r, world_size=2)) for r in range(2)]
    assert len(trains[0]) == len(trains[1]) == 51  # equal steps on every rank: one sample repeated
    assert set(trains[0]) | set(trains[1]) == set(range(101))


def _mnist(root) -> list[str]:
    return ["data=mnist", f"data.root={root}", "data.download=false", "recipe=none", *TINY]


@pytest.fixture
def odd_mnist(tmp_path):
    from fixtures import write_mnist

    write_mnist(tmp_path / "data", n_train=320, n_test=101)
    return tmp_path / "data"


def test_loss_is_the_mean_over_samples_not_over_batches(odd_mnist, tmp_path):
    """101 test digits in batches of 32: the last batch has 5. The logged test loss must equal the
    cross-entropy averaged over the 101 digits."""
    from conftest import compose

    from seqvision import run
    from seqvision.tasks.classify import ClassificationTask

    overrides = _mnist(odd_mnist) + ["+data.eval_batch_size=32"]
    _, res = train_in_process(overrides, tmp_path / "run")
    cfg = compose(overrides, tmp_path / "again")
    dm = run.build_datamodule(cfg)
    dm.setup()
    ckpt = torch.load(res["best_checkpoint"], map_location="cpu", weights_only=False)
    task = ClassificationTask(run.build_net(cfg, dm), 10, cfg.optimizer)
    task.load_state_dict(ckpt["state_dict"])
    task.eval()
    x, y = dm.splits["test"]
    with torch.no_grad():
        logits = task(dm.on_after_batch_transfer((x, y), 0)[0])
    per_sample = torch.nn.functional.cross_entropy(logits, y, reduction="none")
    assert res["metrics"]["test/loss"] == pytest.approx(float(per_sample.mean()), rel=1e-5)
    assert res["data"]["used"]["test"] == 101 and res["data"]["evaluated"]["test"] == 101


@pytest.mark.slow  # two gloo processes: about 25 s
def test_two_ddp_processes_give_the_metrics_of_one(odd_mnist, tmp_path):
    _, single = train_in_process(_mnist(odd_mnist), tmp_path / "run")
    run_dir = tmp_path / "ddp"
    proc = run_train([*_mnist(odd_mnist), "trainer=ddp_cpu", "train=false", f"ckpt_path={single['best_checkpoint']}",
                      f"hydra.run.dir={run_dir}", "logger=csv"], timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ddp = json.loads((run_dir / "results.json").read_text())
    assert ddp["data"]["evaluated"]["test"] == 101 == ddp["data"]["used"]["test"]
    assert ddp["metrics"]["test/acc"] == pytest.approx(single["metrics"]["test/acc"], abs=1e-7)
    assert ddp["metrics"]["test/loss"] == pytest.approx(single["metrics"]["test/loss"], rel=1e-6)
