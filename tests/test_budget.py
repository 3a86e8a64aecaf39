"""``budget.samples|flops|seconds``: training ends when the budget is spent (within 5%), and the
learning-rate schedule ends with it (the last learning rate is the schedule's final one)."""

from __future__ import annotations

import csv

import pytest
import torch
from conftest import TINY, compose, train_in_process

from seqvision.callbacks.budget import epoch_batches, steps_for
from seqvision.errors import ConfigError
from seqvision.schedules import TIME_TICKS

ONE_CYCLE = ["scheduler=onecycle", "optimizer.lr=0.01", "++trainer.log_every_n_steps=1"]


def _schedule_at_the_end(run_dir):
    """(position, length, learning rate) of the schedule in the run's last checkpoint."""
    state = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=False)["lr_schedulers"][0]
    return state["last_epoch"], state["total_steps"], state["_last_lr"][0]


def _last_step_lr(run_dir) -> float:
    """The learning rate the last training step used (LearningRateMonitor, logged before each step)."""
    with (run_dir / "csv" / "metrics.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r.get("lr-AdamW")]
    return float(rows[-1]["lr-AdamW"])


def _one_cycle_final(lr=0.01, div=25.0, final_div=1e4):
    return lr / div / final_div


def test_samples_to_steps_counts_the_short_last_batch_and_accumulation():
    batches = epoch_batches(type("L", (), {"__len__": lambda s: 5, "batch_size": 32, "num_samples": 144})(), 1)
    assert batches == [32, 32, 32, 32, 16]
    assert steps_for(144, batches) == 5 and steps_for(145, batches) == 6 and steps_for(1000, batches) == 6 * 5 + 5
    assert steps_for(288, batches, accumulate=2) == 6  # ceil(5 / 2) per epoch
    assert epoch_batches(type("L", (), {"__len__": lambda s: 5, "batch_size": 32, "num_samples": 144})(), 2) == \
        [64, 64, 64, 64, 32]


def test_budget_samples_ends_within_a_batch_and_the_schedule_ends_with_it(tmp_path):
    _, record = train_in_process([*TINY, *ONE_CYCLE, "budget.samples=1000", "trainer.max_epochs=1"], tmp_path)
    cost = record["cost"]
    assert 1000 <= cost["train_samples"] < 1000 + 32 and cost["budget"]["spent"] == cost["train_samples"]
    assert record["epochs"] >= 6  # trainer.max_epochs=1 was lifted: the budget is the run's length
    position, total, _ = _schedule_at_the_end(tmp_path)
    assert position == total == cost["budget"]["steps"]  # one schedule step per optimizer step, all of them
    assert _last_step_lr(tmp_path) == pytest.approx(_one_cycle_final(), rel=1e-6)


def test_budget_flops_ends_within_5_percent(tmp_path):
    from seqvision import run
    from seqvision.cost.flops import forward_flops

    cfg = compose([*TINY, *ONE_CYCLE], tmp_path / "probe")
    dm = run.build_datamodule(cfg)
    forward, _ = forward_flops(run.build_net(cfg, dm), tuple(dm.input_shape))
    budget = 3 * forward * 700
    _, record = train_in_process([*TINY, *ONE_CYCLE, f"budget.flops={float(budget)}"], tmp_path / "run")
    cost = record["cost"]
    assert cost["forward_flops_per_sample"] == forward
    assert budget <= cost["train_flops"] <= 1.05 * budget
    position, total, _ = _schedule_at_the_end(tmp_path / "run")
    assert position == total and _last_step_lr(tmp_path / "run") == pytest.approx(_one_cycle_final(), rel=1e-6)


def test_budget_seconds_ends_within_5_percent_and_the_schedule_follows_the_clock(mnist_root, tmp_path):
    mnist = ["data=mnist", f"data.root={mnist_root}", "data.download=false", "data.batch_size=32"]
    _, record = train_in_process([*mnist, *ONE_CYCLE, "budget.seconds=6", "callbacks.rich_progress_bar=null"], tmp_path)
    cost = record["cost"]
    assert 6.0 <= cost["train_seconds"] <= 6.3, cost
    assert cost["budget"] == {"kind": "seconds", "value": 6, "spent": pytest.approx(cost["train_seconds"], abs=0.05)}
    position, total, lr = _schedule_at_the_end(tmp_path)
    assert total == TIME_TICKS and position == TIME_TICKS - 1 and lr == pytest.approx(_one_cycle_final(), rel=1e-6)
    assert _last_step_lr(tmp_path) < 0.01 * 0.01  # the last step ran at the end of the annealing, not mid-schedule
    assert record["global_step"] > 20 and record["status"] == "completed"
    assert record["metrics"]["test/acc"] >= 0.6, record["metrics"]  # the fixture's classes are separable: it learned


@pytest.mark.parametrize("overrides, says", [
    (["budget.seconds=60", "budget.samples=1000"], "one budget per run"),
    (["budget.seconds=0"], "budget.seconds=0"),
    (["budget.samples=1.5"], "budget.samples=1.5"),
])
def test_a_bad_budget_is_refused_before_training(overrides, says, tmp_path):
    from seqvision.config import validate

    with pytest.raises(ConfigError) as err:
        validate(compose([*TINY, *overrides], tmp_path))
    assert says in str(err.value) and len(str(err.value).splitlines()) == 1, str(err.value)


def test_a_budget_bounds_a_schedule_without_epochs(tmp_path):
    from seqvision.config import validate

    validate(compose([*TINY, "trainer.max_epochs=-1", "budget.samples=100"], tmp_path))  # no error
    with pytest.raises(ConfigError, match="gives the run none"):
        validate(compose([*TINY, "trainer.max_epochs=-1"], tmp_path))
