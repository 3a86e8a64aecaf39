"""What hardware a trial was given, recorded in ``results.json``, and a CPU budget that holds.

Parallel launchers hand each trial a share of the machine: Ray sets ``CUDA_VISIBLE_DEVICES``
to the GPUs it assigned and reserves ``num_cpus`` cores; SLURM does the same per job. The record
lets a test (or a person) check that concurrent trials never shared a GPU. torch would still
start one thread per core of the machine, so k trials on k shares would fight over every core:
we cap torch's threads at the trial's CPU share.
"""

from __future__ import annotations

import os
import socket
from typing import Any


def _ray_assignment() -> dict[str, Any] | None:
    try:
        import ray

        if not ray.is_initialized():
            return None
        ctx = ray.get_runtime_context()
        assigned = ctx.get_assigned_resources()
        return {"launcher": "ray", "gpu_ids": [str(g) for g in ray.get_gpu_ids()],
                "cpus": assigned.get("CPU"), "task_id": ctx.get_task_id()}
    except Exception:  # not inside a Ray task
        return None


def assigned() -> dict[str, Any]:
    """The launcher, GPU ids, CPU share, host and pid of this trial."""
    record: dict[str, Any] = {"launcher": "local", "gpu_ids": None, "cpus": None}
    ray_record = _ray_assignment()
    if ray_record is not None:
        record.update(ray_record)
    elif "SLURM_JOB_ID" in os.environ:
        record.update(launcher="slurm", slurm_job_id=os.environ["SLURM_JOB_ID"],
                      cpus=_int(os.environ.get("SLURM_CPUS_PER_TASK")))
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if record["gpu_ids"] is None and visible is not None:
        record["gpu_ids"] = [g for g in visible.split(",") if g]
    record.update(cuda_visible_devices=visible, host=socket.gethostname(), pid=os.getpid())
    return record


def apply_cpu_budget(record: dict[str, Any]) -> None:
    """torch uses as many threads as the launcher gave the trial CPUs (at least one)."""
    cpus = record.get("cpus")
    if not cpus:
        return
    import torch

    torch.set_num_threads(max(1, int(cpus)))
    record["torch_threads"] = torch.get_num_threads()


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None
