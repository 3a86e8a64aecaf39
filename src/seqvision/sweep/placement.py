"""Where a trial ran, recorded in ``results.json`` as ``placement``: the host, the SLURM job (its
id, array task, node, and how often the scheduler requeued it), the Ray node, and the GPUs the
process was shown.

A sweep spread over a cluster is read back from its folders long after the scheduler has
forgotten the jobs: which trial ran where, which were requeued and how often, whether two
trials shared a GPU. The values come from the scheduler itself (SLURM's ``SLURM_*`` variables
in every job, Ray's runtime context), so the record says what the scheduler did, not what the
config asked for. ``resources.py`` records the share a trial was given (GPU ids, cores).
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Any


def where() -> dict[str, Any]:
    """``{host, pid, cuda_visible_devices, requeues, slurm, ray}``; ``slurm``/``ray`` are null
    outside those schedulers. ``requeues`` is SLURM's restart count of this job (0 elsewhere)."""
    slurm, ray = _slurm(), _ray()
    return {"host": socket.gethostname(), "pid": os.getpid(),
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "requeues": slurm["restart_count"] if slurm else 0, "slurm": slurm, "ray": ray}


def _slurm() -> dict[str, Any] | None:
    env = os.environ
    if "SLURM_JOB_ID" not in env:
        return None
    array_job, array_task = env.get("SLURM_ARRAY_JOB_ID"), env.get("SLURM_ARRAY_TASK_ID")
    return {"job_id": env["SLURM_JOB_ID"],
            # the id squeue and scontrol show for an array task (submitit submits a sweep as one array)
            "job": f"{array_job}_{array_task}" if array_job and array_task else env["SLURM_JOB_ID"],
            "array_job_id": array_job, "array_task_id": _int(array_task),
            "restart_count": _int(env.get("SLURM_RESTART_COUNT")) or 0,
            "node": env.get("SLURMD_NODENAME"), "partition": env.get("SLURM_JOB_PARTITION"),
            "cluster": env.get("SLURM_CLUSTER_NAME")}


def _ray() -> dict[str, Any] | None:
    if "ray" not in sys.modules:  # never import Ray (seconds) into a run that does not use it
        return None
    import ray

    if not ray.is_initialized():
        return None
    ctx = ray.get_runtime_context()
    return {"node_id": ctx.get_node_id(), "node_ip": ray.util.get_node_ip_address(),
            "task_id": ctx.get_task_id()}


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None
