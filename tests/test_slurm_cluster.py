"""Sweeps on a real SLURM cluster (``tests/cluster/slurm.sh``: munged, slurmctld and slurmd on this
machine), submitted by ``hydra/launcher=slurm`` (submitit) exactly as on a user's cluster.

* four trials run as SLURM jobs, each recording its job id; a failed trial stays isolated,
  ``sweep.json`` and the report read the sweep, and ``resume=true`` finishes it;
* preemption: ``scontrol requeue`` in the middle of a trial's training. SLURM sends SIGTERM; the
  trial saves ``last.ckpt`` at the end of the step it is in and stops; the requeued job resumes
  from that file and ends with metrics bit-identical to a trial that was never stopped, one W&B
  run id, and ``requeues: 1`` in ``results.json``;
* the time limit: a job whose limit comes near gets USR2 before it (``signal_delay_s``),
  requeues itself through submitit and resumes the same way.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from clusters import slurm_cluster  # noqa: F401  (fixture)
from sweeps_support import NAN_ENV, QUIET, ROOT, env, mnist_args, multirun, multirun_here, results, tail

pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
pytestmark = pytest.mark.slow

# the launcher config users take to their cluster, sized for this one-node, GPU-less cluster
ON_THIS_CLUSTER = ["hydra/launcher=slurm", "hydra.launcher.gpus_per_node=null", "hydra.launcher.cpus_per_task=1",
                   "hydra.launcher.mem_gb=null"]
TEN_MINUTES = ["hydra.launcher.timeout_min=10"]
# a trial of 20 steps (2 epochs of 10), a mid-epoch checkpoint every 2 steps, deterministic
TRIAL = ["trainer.max_epochs=2", "trainer.deterministic=true", "seed=7", "callbacks.mid_epoch_checkpoint.every_n_train_steps=2",
         "logger=[csv,wandb]"]


@pytest.fixture(scope="module")
def mnist(tmp_path_factory) -> list[str]:
    from fixtures import write_mnist

    root = tmp_path_factory.mktemp("mnist") / "data"
    write_mnist(root)
    return mnist_args(root)


def _park(marker: Path, step: int, *signals: str) -> list[str]:
    return ["+callbacks.park._target_=sweeps_support.Park", f"+callbacks.park.marker={marker}",
            f"+callbacks.park.step={step}", f"+callbacks.park.signals=[{','.join(signals)}]",
            "+callbacks.park.patience_s=80"]


def test_a_sweep_runs_as_slurm_jobs_a_failed_trial_stays_isolated_and_resume_finishes_it(slurm_cluster, mnist, tmp_path,
                                                                                         capsys):
    from seqvision.report.__main__ import main as report_main

    sweep = tmp_path / "sweep"
    args = [*ON_THIS_CLUSTER, *TEN_MINUTES, *mnist, "trainer.max_epochs=2", "seed=1,2",
            "data._target_=seqvision.data.torchvision_sets.MNISTDataModule,sweeps_support.NaNMNIST"]
    first = multirun(args, sweep, timeout=300, SLURM_CONF=slurm_cluster.conf, **{NAN_ENV: "1"})
    assert first.returncode == 0, tail(first)  # two trials failed, not all: the sweep succeeds
    summary = json.loads((sweep / "sweep.json").read_text())
    assert (summary["trials_total"], summary["completed"], summary["failed"]) == (4, 2, 2), summary
    got = results(sweep)
    assert sorted(got) == [0, 1, 2, 3]
    jobs = {n: r["placement"]["slurm"] for n, r in got.items()}
    assert len({j["job_id"] for j in jobs.values()}) == 4, jobs  # one SLURM job per trial
    assert all(j["array_task_id"] is not None and j["restart_count"] == 0 for j in jobs.values()), jobs
    assert all(r["placement"]["requeues"] == 0 for r in got.values())
    ok = [n for n, r in got.items() if r["status"] == "completed"]
    assert len(ok) == 2 and all(got[n]["metrics"]["test/acc"] > 0.5 for n in ok), got  # learned: chance is 0.1
    assert all("non-finite loss" in r["error"] for r in got.values() if r["status"] == "failed")

    assert report_main([str(sweep)]) == 0  # `python -m seqvision.report <sweep>`, in this process
    assert "test/acc" in capsys.readouterr().out and (sweep / "report" / "report.md").is_file()

    started = {n: got[n]["started_at"] for n in ok}
    second = multirun([*args, "resume=true"], sweep, timeout=300, SLURM_CONF=slurm_cluster.conf, **{NAN_ENV: "0"})
    assert second.returncode == 0, tail(second)
    again = results(sweep)
    assert all(r["status"] == "completed" for r in again.values()), again
    assert {n: again[n]["started_at"] for n in ok} == started, "a completed trial was trained again"
    summary = json.loads((sweep / "sweep.json").read_text())
    assert (summary["completed"], summary["failed"]) == (4, 0)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, mnist) -> dict:
    """The trial run to its end without a scheduler (Hydra's basic launcher), as the reference."""
    sweep = tmp_path_factory.mktemp("reference") / "sweep"
    proc = multirun_here([*mnist, *TRIAL], sweep, WANDB_MODE="offline")
    assert proc.returncode == 0, tail(proc)
    reference = results(sweep)[0]
    assert reference["metrics"]["test/acc"] > 0.5, reference["metrics"]  # it learned: chance is 0.1
    return reference


def _submit(sweep: Path, extra: list[str], slurm_conf: str) -> subprocess.Popen:
    cmd = [sys.executable, str(ROOT / "train.py"), "-m", *QUIET, *ON_THIS_CLUSTER, *TRIAL, *extra,
           f"hydra.sweep.dir={sweep}", f"paths.log_dir={sweep.parent / 'logs'}"]
    log = open(sweep.parent / "sweep.log", "w")
    return subprocess.Popen(cmd, cwd=ROOT, env=env(SLURM_CONF=slurm_conf, WANDB_MODE="offline"), stdout=log,
                            stderr=subprocess.STDOUT)


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 180) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"the sweep ended (status {proc.returncode}) before {path.name} appeared"
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.2)
    time.sleep(0.2)
    return path.read_text().strip()


def _finish(proc: subprocess.Popen, sweep: Path) -> None:
    try:
        proc.wait(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, (sweep.parent / "sweep.log").read_text()[-4000:]


def _step_of_last_checkpoint(trial: Path) -> int:
    return torch.load(trial / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)["global_step"]


def _job_log(sweep: Path) -> str:
    return "".join(p.read_text() for p in (sweep / ".submitit").rglob("*.out"))


def _check_resumed_exactly(trial: Path, expected: dict, wandb_runs: int = 2, resumed: bool = True) -> None:
    # one requeue mechanism: Lightning, which finds itself in a SLURM job, did not set up its own
    assert "SLURM auto-requeueing enabled" not in _job_log(trial.parent)
    got = json.loads((trial / "results.json").read_text())
    assert got["status"] == "completed", got
    assert got["placement"]["requeues"] == 1 and got["placement"]["slurm"]["restart_count"] == 1, got["placement"]
    assert got["metrics"] == expected["metrics"]  # to the last bit
    assert (got["epochs"], got["global_step"]) == (expected["epochs"], expected["global_step"])
    assert ("Resuming from" in (trial / "train.log").read_text()) == resumed
    # one W&B run across the two processes: each wrote an offline run, both under the folder's id
    run_id = (trial / "wandb" / "run_id").read_text().strip()
    runs = sorted((trial / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(runs) == wandb_runs and {p.stem for p in runs} == {f"run-{run_id}"}, runs


def test_scontrol_requeue_mid_training_resumes_with_bit_identical_metrics_and_one_wandb_run(
        slurm_cluster, mnist, uninterrupted, tmp_path):
    sweep, marker = tmp_path / "sweep", tmp_path / "parked"
    proc = _submit(sweep, [*mnist, *TEN_MINUTES, *_park(marker, 3, "SIGTERM")], slurm_cluster.conf)
    try:
        job = _wait_for(marker, proc)  # parked after step 3 (the last periodic checkpoint is step 2's)
        slurm_cluster.run("scontrol", "requeue", job)  # what preemption does: SIGTERM, then back in the queue
        slurm_cluster.wait_for_requeue(job)
        # the trial saved the step it was in when the signal came, not the last periodic checkpoint
        assert _step_of_last_checkpoint(sweep / "0") == 3
        slurm_cluster.run("scontrol", "update", f"jobid={job}", "StartTime=now")  # a requeued job waits for a begin time
        _finish(proc, sweep)
    finally:
        if proc.poll() is None:
            proc.kill()
    _check_resumed_exactly(sweep / "0", uninterrupted)


def test_a_job_near_its_time_limit_requeues_itself_and_resumes_with_bit_identical_metrics(
        slurm_cluster, mnist, uninterrupted, tmp_path):
    sweep, marker = tmp_path / "sweep", tmp_path / "parked"
    # USR2 100 s before the limit. Once the trial is in training (parked after step 1), its limit is
    # lowered to two minutes, as an administrator or a shorter partition would: the signal is then
    # due, and SLURM, which checks limits every 30 s, sends it within that; the job is killed only
    # at two minutes, long after. The trial waits for the signal where it parked.
    limit = ["hydra.launcher.timeout_min=10", "hydra.launcher.signal_delay_s=100", "hydra.launcher.max_num_timeout=2"]
    proc = _submit(sweep, [*mnist, *limit, *_park(marker, 1, "SIGUSR2")], slurm_cluster.conf)
    try:
        job = _wait_for(marker, proc)
        slurm_cluster.run("scontrol", "update", f"jobid={job}", "TimeLimit=2")
        slurm_cluster.wait_for_requeue(job, timeout=90)  # submitit's handler ran `scontrol requeue`
        assert _step_of_last_checkpoint(sweep / "0") == 1  # the step it was in: periodic checkpoints are at even steps
        # released, with a limit long enough that the resumed trial is not signalled again
        slurm_cluster.run("scontrol", "update", f"jobid={job}", "StartTime=now", "TimeLimit=10")
        _finish(proc, sweep)
    finally:
        if proc.poll() is None:
            proc.kill()
    _check_resumed_exactly(sweep / "0", uninterrupted)
    log = _job_log(sweep)
    assert "Caught signal SIGUSR2" in log and "timed-out" in log, log[-3000:]
