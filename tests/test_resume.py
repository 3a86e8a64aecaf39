"""A training process killed with SIGKILL at several points resumes each time and finishes with
exactly the metrics of an uninterrupted run with the same seed.

The killed process is real (``tests/fault_injection.py`` runs ``train.py`` and parks itself at an exact
point: after a step, inside a checkpoint write, between epochs) and is killed with SIGKILL; the
uninterrupted reference and the last resume run ``train.py`` in the test's own process, so the
comparison also holds across processes. One run is killed three times in a row and resumed after each kill:

1. mid-epoch, after step 3 (last.ckpt is the mid-epoch one from step 2);
2. during the write of the epoch-end last.ckpt (half of it is on disk in the temporary file);
3. at the boundary between epochs 0 and 1, after epoch 0's checkpoints are written.

The batch trace (a digest of every training batch, after augmentation, and its loss) shows
that each resume continues inside the epoch with the same data order, augmentations and
dropout draws; ``results.json`` shows that the final metrics are bit-identical.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import ROOT, TINY, results, run_train, run_train_here, subprocess_env

from seqvision.callbacks.batch_trace import read_trace

pytestmark = pytest.mark.slow

ARGS = [*TINY, "trainer.max_epochs=2", "trainer.deterministic=true", "seed=7",
        "augmentation=crop",  # random crops: augmentation RNG is exercised
        "callbacks.mid_epoch_checkpoint.every_n_train_steps=2",
        "+callbacks.batch_trace._target_=seqvision.callbacks.batch_trace.BatchTrace"]


def kill_when_parked(run_dir: Path, marker: Path, extra: list[str] = (), **pause: str) -> None:
    """Starts a training process that parks itself at the given point, then SIGKILLs it."""
    env = subprocess_env(SV_PAUSE_MARKER=str(marker), **pause)
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "fault_injection.py"), *ARGS, *extra,
                             f"hydra.run.dir={run_dir}"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 300
    while not marker.exists():
        if proc.poll() is not None:
            pytest.fail(f"the run ended (status {proc.returncode}) before reaching {pause}:\n{proc.stdout.read()[-4000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the run never reached {pause}")
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    proc.stdout.close()
    marker.unlink()


def csv_rows(run_dir: Path) -> list[dict]:
    """The rows of ``csv/metrics.csv``, in step order, with the empty cells left out."""
    import csv

    with open(run_dir / "csv" / "metrics.csv", newline="") as f:
        rows = [{k: v for k, v in row.items() if v != ""} for row in csv.DictReader(f)]
    return sorted(rows, key=lambda r: (int(r["step"]), sorted(r)))


def last_ckpt(run_dir: Path) -> dict:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)


def resume(run_dir: Path, marker: Path, **pause: str) -> None:
    if pause:
        kill_when_parked(run_dir, marker, ["resume=true"], **pause)
    else:
        proc = run_train_here([*ARGS, "resume=true", f"hydra.run.dir={run_dir}"])
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_sigkill_at_several_points_then_resume_matches_uninterrupted(tmp_path):
    reference = tmp_path / "reference"
    proc = run_train_here([*ARGS, f"hydra.run.dir={reference}"])
    assert proc.returncode == 0, proc.stderr[-3000:]

    run, marker = tmp_path / "killed", tmp_path / "parked"
    ckpts = run / "checkpoints"

    # 1. mid-epoch: killed after step 3; the newest checkpoint is the mid-epoch one of step 2
    kill_when_parked(run, marker, SV_PAUSE_AT_STEP="3")
    state = last_ckpt(run)
    assert state["global_step"] == 2 and state["epoch"] == 0
    assert not state["loops"]["fit_loop"]["epoch_loop.batch_progress"]["is_last_batch"]

    # 2. resumed, then killed while writing the epoch-end last.ckpt: half a file in the temporary
    #    name, the previous last.ckpt (step 4, mid-epoch) untouched and loadable
    resume(run, marker, SV_PAUSE_IN_SAVE="last.ckpt@5")
    stale = list(ckpts.glob(".last.ckpt.tmp*"))
    assert len(stale) == 1 and 0 < stale[0].stat().st_size < (ckpts / "last.ckpt").stat().st_size * 0.75
    assert last_ckpt(run)["global_step"] == 4

    # 3. resumed, then killed at the epoch boundary, after epoch 0's checkpoints are written
    resume(run, marker, SV_PAUSE_AT_EPOCH_START="1")
    assert not list(ckpts.glob(".*.tmp*")), "the resumed run removes the half-written checkpoint"
    assert last_ckpt(run)["global_step"] == 5

    # 4. resumed to the end
    resume(run, marker)

    # every process continued exactly where the last checkpoint left it, inside the epoch
    steps = [int(line.split(",")[0]) for line in (run / "batch_trace.csv").read_text().splitlines()[1:]]
    assert steps == [1, 2, 3, 3, 4, 5, 5, 6, 7, 8, 9, 10]
    # same batches, same augmentation, same loss at every step as the uninterrupted run
    assert read_trace(run / "batch_trace.csv") == read_trace(reference / "batch_trace.csv")
    # the same metrics.csv (Lightning's CSVLogger would have deleted the rows from before each resume)
    assert csv_rows(run) == csv_rows(reference)
    # and the same final metrics, to the last bit
    expected, got = results(reference), results(run)
    assert got["status"] == "completed"
    assert got["metrics"] == expected["metrics"]
    assert (got["epochs"], got["global_step"]) == (expected["epochs"], expected["global_step"])


def test_resume_refuses_to_stretch_a_one_cycle_schedule(tmp_path):
    run_dir = tmp_path / "run"
    # 480 samples in batches of 32: 15 steps an epoch, above the 10-step floor of tasks/optim.py
    args = [*TINY, "data.limit=480", "trainer.max_epochs=1", "scheduler=onecycle"]
    assert run_train_here([*args, f"hydra.run.dir={run_dir}"]).returncode == 0
    proc = run_train_here([f"resume={run_dir}", "trainer.max_epochs=2"])
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: resume: the OneCycleLR schedule in the checkpoint "
                                                            "spans 15 steps, this run 30")


def test_resume_true_without_a_run_folder_is_refused(tmp_path):
    proc = run_train_here(["resume=true"])
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: resume=true needs the folder of the run")


def test_a_run_shorter_than_the_schedule_floor_resumes_exactly(tmp_path):
    """Six steps in all, fewer than the 10 a one-cycle schedule is built with at the least
    (``seqvision.schedules``): killed mid-way and resumed, it ends bit-identical to a run that
    was not interrupted (the resume check once compared the floor with the run's 6 and refused)."""
    args = ["data.limit=96", "trainer.max_epochs=2", "scheduler=onecycle"]
    reference = tmp_path / "reference"
    proc = run_train_here([*ARGS, *args, f"hydra.run.dir={reference}"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert results(reference)["global_step"] == 6

    run, marker = tmp_path / "killed", tmp_path / "parked"
    kill_when_parked(run, marker, args, SV_PAUSE_AT_STEP="3")
    assert last_ckpt(run)["global_step"] == 2
    proc = run_train_here([*ARGS, *args, "resume=true", f"hydra.run.dir={run}"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert results(run)["metrics"] == results(reference)["metrics"]
    assert read_trace(run / "batch_trace.csv") == read_trace(reference / "batch_trace.csv")
    # metrics.csv holds the steps logged before the kill and after the resume, each once
    assert csv_rows(run) == csv_rows(reference)


def test_a_frame_prediction_run_resumes_mid_epoch_with_its_epoch_metrics(tmp_path):
    """Moving MNIST, killed inside its first epoch: the resumed run's train/loss of that epoch
    covers the batches from before the kill too, so metrics.csv and the final metrics are those
    of the uninterrupted run."""
    args = ["data=moving_mnist", "data.source=digits", "data.image_size=32", "data.input_frames=3",
            "data.output_frames=3", "data.train_size=24", "data.val_size=8", "data.test_size=8", "data.batch_size=4",
            "model=convlstm", "model.net.num_layers=1", "model.net.hidden_channels=4", "task.media_every_n_epochs=0",
            "trainer.max_epochs=2", "trainer.deterministic=true", "seed=7", "callbacks.rich_progress_bar=null",
            "callbacks.model_summary=null", "callbacks.mid_epoch_checkpoint.every_n_train_steps=2"]
    reference = tmp_path / "reference"
    proc = run_train_here([*args, f"hydra.run.dir={reference}"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    run, marker = tmp_path / "killed", tmp_path / "parked"
    env = subprocess_env(SV_PAUSE_MARKER=str(marker), SV_PAUSE_AT_STEP="3")
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "fault_injection.py"), *args, f"hydra.run.dir={run}"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert marker.exists(), f"the run never reached step 3 (status {proc.poll()})"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert last_ckpt(run)["global_step"] == 2
    proc = run_train_here([*args, "resume=true", f"hydra.run.dir={run}"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert csv_rows(run) == csv_rows(reference)
    assert results(run)["metrics"] == results(reference)["metrics"]
