"""``train=false`` evaluates exactly the checkpoint it is given and reports what the training run
reported for it; what cannot be evaluated is refused in one line, leaving no run folder."""

from __future__ import annotations

import json

import pytest
from conftest import TINY, compose, results, run_train, run_train_here, train_in_process

from seqvision.errors import ConfigError

# Weights averaged (EMA): the evaluation must load the averaged weights the run tested, on the
# data split the run tested on (the tiny MNIST files have a learnable class pattern).
TRAIN = ["data=mnist", "data.download=false", "data.batch_size=32", "trainer.max_epochs=3", "task.ema=0.5",
         "trainer.deterministic=true", "seed=3", "callbacks.rich_progress_bar=null", "callbacks.model_summary=null"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from fixtures import write_mnist

    root = tmp_path_factory.mktemp("trained")
    write_mnist(root / "data")
    run_dir = root / "run"
    proc = run_train([*TRAIN, f"data.root={root / 'data'}", f"hydra.run.dir={run_dir}"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run_dir


def test_a_run_folder_is_evaluated_at_its_best_with_the_metrics_its_run_reported(trained, tmp_path):
    """Only ``train=false ckpt_path=<run folder>``: the run's overrides (model, data limit, EMA)
    are replayed, its best checkpoint is tested, and the metrics equal the run's own test."""
    trained_with = results(trained)
    run_dir = tmp_path / "eval"
    proc = run_train_here(["train=false", f"ckpt_path={trained}", f"hydra.run.dir={run_dir}",
                           "callbacks.rich_progress_bar=null", "callbacks.model_summary=null"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    evaluated = results(run_dir)
    assert evaluated["status"] == "completed"
    assert evaluated["tested_checkpoint"] == trained_with["tested_checkpoint"] == trained_with["best_checkpoint"]
    for name in ("test/acc", "test/loss"):
        assert evaluated["metrics"][name] == pytest.approx(trained_with["metrics"][name], abs=1e-6), name
    assert trained_with["metrics"]["test/acc"] >= 0.6  # the fixture's classes are separable: a trained net, not chance


def test_a_checkpoint_file_of_a_run_is_evaluated_with_that_run_s_config(trained, tmp_path):
    best = results(trained)["best_checkpoint"]
    run_dir = tmp_path / "eval"
    proc = run_train_here(["train=false", f"ckpt_path={best}", f"hydra.run.dir={run_dir}", "callbacks.rich_progress_bar=null"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert results(run_dir)["metrics"]["test/acc"] == pytest.approx(results(trained)["metrics"]["test/acc"], abs=1e-6)


def test_best_without_a_run_folder_is_refused_in_one_line_and_leaves_no_folder(tmp_path):
    run_dir = tmp_path / "eval"
    proc = run_train_here(["train=false", "ckpt_path=best", f"hydra.run.dir={run_dir}"])
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert "ckpt_path=best names a checkpoint of this run" in line and "e.g. ckpt_path=" in line
    assert not run_dir.exists()


def test_weights_of_another_model_are_refused_before_testing(trained, tmp_path):
    from seqvision.run import train

    cfg = compose(["model=cnn_lstm", "data.limit=64", "train=false", f"ckpt_path={trained}"], tmp_path / "eval")
    with pytest.raises(ConfigError, match="do not fit the net this command builds"):
        train(cfg)
    assert not (tmp_path / "eval" / "results.json").exists()


def test_a_run_killed_before_its_record_is_evaluated_at_the_best_the_callback_kept(tmp_path):
    from seqvision.checkpoints import best_of_run

    _, res = train_in_process([*TINY, "trainer.max_epochs=2"], tmp_path / "run")
    (tmp_path / "run" / "results.json").unlink()
    assert str(best_of_run(tmp_path / "run")) == res["best_checkpoint"]


def test_a_run_that_does_not_validate_completes_with_status_zero_and_no_optimized_value(tmp_path):
    """Validation switched off: nothing to optimize, but the run did what it was asked."""
    value, res = train_in_process([*TINY, "+trainer.limit_val_batches=0"], tmp_path / "run")
    assert value is None and res["status"] == "completed"
    assert "val/acc_best" not in res["metrics"] and "test/acc" in res["metrics"]


def test_resuming_a_finished_run_says_so_and_exits_zero(trained):
    before = (trained / "results.json").read_text()
    proc = run_train_here([f"resume={trained}"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "completed before" in proc.stdout + proc.stderr and "nothing to do" in proc.stdout + proc.stderr
    assert (trained / "results.json").read_text() == before
    assert json.loads(before)["status"] == "completed"
