"""A SLURM trial that the scheduler stops continues in the same folder, from the step it stopped at.

The one requeue path is submitit's (``hydra/launcher=slurm``). Each trial is a job submitted
with ``--requeue`` and ``--signal=USR2@<signal_delay_s>``, and two things stop a running trial:

* its **time limit**: SLURM sends USR2 ``signal_delay_s`` before it. submitit's handler resubmits
  the same call (counting down ``max_num_timeout``), runs ``scontrol requeue`` and exits;
* **preemption**, or ``scontrol requeue`` by an operator: SLURM sends SIGTERM, then SIGKILL after
  ``KillWait`` seconds, and puts the job back in the queue itself.

Left alone, either stops training wherever the signal lands, and the steps since the last
periodic checkpoint are trained again after the requeue. ``RequeueAtStepEnd`` holds the signal
until the running training step ends, writes ``checkpoints/last.ckpt`` there (mid-epoch, with the
RNG states and data position of ``ExactResume``), then lets the stop go on: submitit's handler
for USR2, the end of the process for SIGTERM. The requeued job sees ``SLURM_RESTART_COUNT > 0``
and resumes from that file (``runner.py``), so its final metrics are those of a run that was
never stopped, and the W&B run id kept in the run folder (``loggers.persistent_run_id``) makes it
log to the same W&B run.

Lightning has a requeue of its own (``SLURMEnvironment(auto_requeue=True)``: on SIGUSR1 it saves
``hpc_ckpt_<n>.ckpt``, which our resume does not read, and runs ``scontrol requeue`` itself). Two
mechanisms on one job would requeue it twice or resume from the wrong file, so Lightning's is
switched off: the trainer gets ``SLURMEnvironment(auto_requeue=False)``.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from pathlib import Path
from typing import Any

from omegaconf import DictConfig
from pytorch_lightning import Callback

log = logging.getLogger(__name__)

EXTERNAL_LAUNCH_ENV = ("LOCAL_RANK", "TORCHELASTIC_RUN_ID")  # a rank of a torchrun group: its parent handles SLURM


class StoppedBySlurm(SystemExit):
    """The scheduler stopped this trial; ``last.ckpt`` holds the step it stopped at. A ``SystemExit``,
    so that neither Hydra nor submitit records the trial as finished: SLURM runs it again."""


def under_submitit_slurm() -> bool:
    return (os.environ.get("SUBMITIT_EXECUTOR") == "slurm" and "SLURM_JOB_ID" in os.environ
            and not any(os.environ.get(k) for k in EXTERNAL_LAUNCH_ENV))


def trainer_extras(cfg: DictConfig) -> tuple[list, list]:
    """``(callbacks, plugins)`` a trial adds to its trainer: under a submitit SLURM job, the
    step-end requeue and Lightning's SLURM environment without its own requeue; nothing elsewhere."""
    if not under_submitit_slurm():
        return [], []
    import submitit
    from lightning_fabric.plugins.environments import SLURMEnvironment

    requeue_signal = signal.Signals["SIG" + submitit.JobEnvironment.USR_SIG]
    plugins = [SLURMEnvironment(auto_requeue=False)] if SLURMEnvironment.detect() else []
    last = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
    return [RequeueAtStepEnd(last, requeue_signal)], plugins


class RequeueAtStepEnd(Callback):
    """Holds USR2 (the time-limit signal) and SIGTERM (preemption) during training until the
    current step ends, saves ``last.ckpt`` there, then stops as the signal asked (module docstring)."""

    def __init__(self, last_checkpoint: Path, requeue_signal: int = signal.SIGUSR2):
        self.last = Path(last_checkpoint)
        self.requeue_signal = int(requeue_signal)
        self._replaced: dict[int, Any] = {}
        self._caught: int | None = None

    def on_train_start(self, trainer, pl_module) -> None:
        # after Lightning registered its handlers (it chains the SIGTERM handler it found, submitit's)
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (self.requeue_signal, int(signal.SIGTERM)):
            self._replaced[signum] = signal.getsignal(signum)
            signal.signal(signum, self._catch)

    def _catch(self, signum: int, frame) -> None:
        # Only noted: a handler runs between two bytecodes of whatever the trainer is doing. The
        # time-limit signal wins over SIGTERM (it is the one that must requeue the job).
        if self._caught != self.requeue_signal:
            self._caught = int(signum)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if (batch_idx + 1) % trainer.accumulate_grad_batches:
            return  # inside a gradient accumulation window: the gradients so far are in no checkpoint
        caught = self._agreed(trainer, pl_module)
        if caught is None:
            return
        trainer.save_checkpoint(self.last)  # every rank calls it; rank 0 writes (AtomicCheckpointIO)
        self._stop(trainer, caught, f"at step {trainer.global_step}, from {self.last}")

    def on_train_end(self, trainer, pl_module) -> None:
        if self._caught is not None:  # during the last validation: the epoch's checkpoints are already written
            self._stop(trainer, self._caught, f"after the last epoch, from {self.last}")
        self._restore()

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        self._restore()

    def _agreed(self, trainer, pl_module) -> int | None:
        """The signal caught on any rank (DDP ranks must all save and stop at the same step)."""
        if trainer.world_size <= 1:
            return self._caught
        import torch

        code = {None: 0, int(signal.SIGTERM): 1}.get(self._caught, 2)
        agreed = int(trainer.strategy.reduce(torch.tensor(code, device=pl_module.device), reduce_op="max"))
        return (None, int(signal.SIGTERM), self.requeue_signal)[agreed]

    def _stop(self, trainer, signum: int, where: str) -> None:
        previous = self._replaced.get(signum)
        self._restore()
        name = signal.Signals(signum).name
        if signum == self.requeue_signal:
            log.warning("SLURM time limit near (%s): requeueing this trial; it resumes %s", name, where)
            if trainer.is_global_zero and callable(previous):
                try:  # submitit: counts the timeout, resubmits the call, runs scontrol requeue, exits
                    previous(signum, None)
                except SystemExit:
                    pass  # requeued: the record below says why this process ends
        else:
            log.warning("SLURM stopped this trial (%s: preempted or requeued); it resumes %s", name, where)
        raise StoppedBySlurm(f"stopped by SLURM ({name}); resumes {where}")

    def _restore(self) -> None:
        for signum, handler in self._replaced.items():
            signal.signal(signum, handler)
        self._replaced = {}
        self._caught = None
