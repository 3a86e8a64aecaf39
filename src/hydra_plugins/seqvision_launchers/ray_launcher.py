"""Hydra's Ray launcher (hydra-ray-launcher), with what a sweep on a Ray cluster needs.

* **A lost trial fails alone.** The plugin ``ray.get``s the trials in order and re-raises the
  first Ray error (a trial's worker crashed, its node was lost): the sweep ends there, and every
  trial still running is lost unrecorded. Here such a trial is returned to the sweeper as failed,
  naming the error (the ablation sweeper writes it into ``sweep.json`` and the trial's
  ``results.json``), the other trials go on, and ``resume=true`` runs it again from its last
  checkpoint.
* **Local instance or cluster, said explicitly.** ``init.address: local`` (``parallel.yaml``)
  starts a Ray instance of this sweep's own, even on a machine where a ``ray start`` cluster
  runs (``ray.init()`` without an address would join that cluster, with its resources).
  ``init.address=<head>:<port>`` joins a cluster: the sizes of a local instance (``num_cpus``,
  ``num_gpus``, the object store) do not apply there and are left out, with a line saying so,
  and the driver's ``SEQVISION_ROOT`` reaches the trials' workers through ``runtime_env`` (the
  nodes were started without it).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Sequence

from hydra.core.utils import JobReturn, JobStatus
from hydra_plugins.hydra_ray_launcher.ray_launcher import RayLauncher as HydraRayLauncher
from omegaconf import DictConfig, OmegaConf, open_dict

log = logging.getLogger(__name__)

LOCAL_INSTANCE_ONLY = ("num_cpus", "num_gpus", "resources", "object_store_memory", "include_dashboard")
OBJECT_STORE_BYTES = 78643200  # the plugin's default for its local instance (75 MiB: trials return small records)


class TrialLost(RuntimeError):
    """A trial's Ray task ended without a result: its worker process or its node died."""


class RayLauncher(HydraRayLauncher):
    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        import ray
        from hydra.core.singleton import Singleton
        from hydra.core.utils import configure_log, filter_overrides, setup_globals
        from hydra_plugins.hydra_ray_launcher._launcher_util import launch_job_on_ray

        assert self.config is not None and self.hydra_context is not None and self.task_function is not None
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        log.info("Ray launcher: %d trials, sweep output dir: %s", len(job_overrides), sweep_dir)
        if not ray.is_initialized():
            ray.init(**init_arguments(self.ray_cfg.init))
        runs = []
        for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
            log.info("\t#%d : %s", idx, " ".join(filter_overrides(overrides)))
            sweep_config = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            with open_dict(sweep_config):
                sweep_config.hydra.job.id = f"job_id_for_{idx}"
                sweep_config.hydra.job.num = idx
            ref = launch_job_on_ray(self.hydra_context, self.ray_cfg.remote, sweep_config, self.task_function,
                                    Singleton.get_state())
            runs.append((ref, list(overrides), sweep_config))
        return [_result(*run) for run in runs]


def init_arguments(init: DictConfig) -> dict[str, Any]:
    """``ray.init``'s arguments: a local instance's as configured, a cluster's without the sizes."""
    args = {k: v for k, v in OmegaConf.to_container(init, resolve=True).items() if v is not None}
    address = args.get("address")
    if address in (None, "local"):
        args.setdefault("object_store_memory", OBJECT_STORE_BYTES)
        return args
    dropped = {k: args.pop(k) for k in LOCAL_INSTANCE_ONLY if k in args}
    if dropped:
        log.info("Ray cluster %s: its nodes' own resources apply (%s describe a local instance; not used)",
                 address, ", ".join(f"{k}={v}" for k, v in dropped.items()))
    if os.environ.get("SEQVISION_ROOT"):
        runtime_env = dict(args.get("runtime_env") or {})
        runtime_env["env_vars"] = {"SEQVISION_ROOT": os.environ["SEQVISION_ROOT"], **(runtime_env.get("env_vars") or {})}
        args["runtime_env"] = runtime_env
    return args


def _result(ref, overrides: list[str], sweep_config: DictConfig) -> JobReturn:
    import ray

    try:
        return ray.get(ref)
    except ray.exceptions.RayError as err:
        first = (str(err).strip().splitlines() or [""])[0]
        lost = TrialLost(f"its Ray task died without a result ({type(err).__name__}: {first}); "
                         f"resume=true runs it again from its last checkpoint")
        log.error("trial #%s (%s) lost: %s", sweep_config.hydra.job.num, " ".join(overrides), lost)
        with open_dict(sweep_config):
            sweep_config.hydra.runtime.output_dir = str(Path(str(sweep_config.hydra.sweep.dir))
                                                        / str(sweep_config.hydra.sweep.subdir))
        return JobReturn(overrides=overrides, hydra_cfg=sweep_config, status=JobStatus.FAILED, _return_value=lost)
