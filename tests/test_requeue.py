"""The pieces of a SLURM requeue, in process and without a cluster (``test_slurm_cluster.py``
runs them against a real one): the time-limit signal is held to the end of the training step,
``last.ckpt`` is written there and submitit's handler runs after it; a trial's placement is read
from SLURM's variables."""

from __future__ import annotations

import os
import signal

import pytest
import torch
from conftest import FAST, TINY, compose
from pytorch_lightning import Callback

from seqvision.sweep import placement
from seqvision.sweep.requeue import RequeueAtStepEnd, StoppedBySlurm, under_submitit_slurm


class SignalDuringStep(Callback):
    """Sends this process ``signum`` as the step after global step ``after`` starts."""

    def __init__(self, signum: int, after: int):
        self.signum, self.after = signum, after

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.after:
            os.kill(os.getpid(), self.signum)


@pytest.mark.parametrize("signum", [signal.SIGUSR2, signal.SIGTERM], ids=["time limit", "preemption"])
def test_a_signal_waits_for_the_end_of_the_step_which_is_saved_then_the_run_stops(tmp_path, signum):
    from seqvision.run import train

    calls = []

    def submitit_handler(sig, frame):  # what submitit does on USR2: resubmit, scontrol requeue, exit
        calls.append(sig)
        raise SystemExit(-1)

    before = {s: signal.signal(s, submitit_handler) for s in (signal.SIGUSR2, signal.SIGTERM)}
    try:
        out = tmp_path / "run"
        cfg = compose([*FAST, *TINY, "trainer.max_epochs=2", "trainer.accelerator=cpu"], out)
        last = out / "checkpoints" / "last.ckpt"
        with pytest.raises(StoppedBySlurm, match=f"stopped by SLURM \\({signal.Signals(signum).name}\\)"):
            train(cfg, extra_callbacks=[SignalDuringStep(signum, after=2), RequeueAtStepEnd(last, signal.SIGUSR2)])
        # the signal came while step 3 ran: the save is step 3's, not an earlier checkpoint's
        state = torch.load(last, map_location="cpu", weights_only=True)
        assert (state["global_step"], state["epoch"]) == (3, 0)
        # submitit's handler ran once, after the save, for the time-limit signal only; then it was put back
        assert calls == ([signal.SIGUSR2] if signum == signal.SIGUSR2 else [])
        assert signal.getsignal(signal.SIGUSR2) is submitit_handler and signal.getsignal(signal.SIGTERM) is submitit_handler
        import json

        record = json.loads((out / "results.json").read_text())
        assert record["global_step"] == 3 and "stopped by SLURM" in record["error"]
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)


def test_placement_reads_the_slurm_job_and_its_requeues(monkeypatch):
    for key, value in {"SLURM_JOB_ID": "812", "SLURM_ARRAY_JOB_ID": "810", "SLURM_ARRAY_TASK_ID": "2",
                       "SLURM_RESTART_COUNT": "3", "SLURMD_NODENAME": "gpu07", "SLURM_JOB_PARTITION": "gpu",
                       "CUDA_VISIBLE_DEVICES": "5"}.items():
        monkeypatch.setenv(key, value)
    where = placement.where()
    assert where["requeues"] == 3 and where["cuda_visible_devices"] == "5"
    assert where["slurm"] == {"job_id": "812", "job": "810_2", "array_job_id": "810", "array_task_id": 2,
                              "restart_count": 3, "node": "gpu07", "partition": "gpu",
                              "cluster": os.environ.get("SLURM_CLUSTER_NAME")}
    monkeypatch.delenv("SLURM_RESTART_COUNT")  # a job never requeued: SLURM does not set it
    assert placement.where()["requeues"] == 0


def test_only_a_trial_that_submitit_runs_as_a_slurm_job_takes_the_requeue(monkeypatch):
    for key in ("SUBMITIT_EXECUTOR", "SLURM_JOB_ID", "LOCAL_RANK", "TORCHELASTIC_RUN_ID"):
        monkeypatch.delenv(key, raising=False)
    assert not under_submitit_slurm()
    monkeypatch.setenv("SLURM_JOB_ID", "5")  # e.g. `srun python train.py`: no submitit to requeue it
    assert not under_submitit_slurm()
    monkeypatch.setenv("SUBMITIT_EXECUTOR", "slurm")
    assert under_submitit_slurm()
    monkeypatch.setenv("LOCAL_RANK", "1")  # a torchrun rank of a DDP trial: its parent process handles it
    assert not under_submitit_slurm()
