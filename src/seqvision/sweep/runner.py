"""How ``train.py`` runs one job, with what a sweep adds around the run driver: skip the job if a
resumed sweep completed it already, resume it if SLURM requeued it, run it as a DDP process
group if it asks for one, record a failure that happened before the run could; otherwise call
``seqvision.run.train`` with the trial's record (identity, resources, placement) for
``results.json`` and, under a SLURM job, the step-end requeue (``requeue.py``)."""

from __future__ import annotations

import logging

from omegaconf import DictConfig

from seqvision.run import train
from seqvision.sweep import ddp, placement, requeue, resources, trial

log = logging.getLogger(__name__)


def run_trial(cfg: DictConfig) -> float | None:
    done = trial.completed_result(cfg)
    if done is not None:
        name = cfg.get("optimized_metric")
        shown = ", ".join(f"{k}={v:.4g}" for k, v in sorted(done.get("metrics", {}).items()) if k.startswith("test/"))
        log.info("resume: %s completed before (%s); nothing to do%s", cfg.paths.output_dir,
                 trial.identity()["trial_name"] or "same overrides", f" ({shown})" if shown else "")
        return done.get("metrics", {}).get(name) if name else None
    if trial.requeued() and not cfg.get("resume"):
        log.info("SLURM requeued this trial: resuming from its last checkpoint")
        cfg.resume = True
    try:
        if ddp.needs_process_group(cfg):
            return ddp.run_process_group(cfg)
        hardware = resources.assigned()
        resources.apply_cpu_budget(hardware)
        callbacks, plugins = requeue.trainer_extras(cfg)
        return train(cfg, {**trial.identity(), "resources": hardware, "placement": placement.where()},
                     extra_callbacks=callbacks, extra_plugins=plugins)
    except BaseException as err:
        trial.record_failure(cfg, err)
        raise
