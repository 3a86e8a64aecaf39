"""How ``train.py`` runs one job: skip it if a resumed sweep already completed it, resume it if
SLURM requeued it, run it as a DDP process group if it asks for one, else train in-process."""

from __future__ import annotations

import logging

from omegaconf import DictConfig

from seqvision.sweep import ddp, trial

log = logging.getLogger(__name__)


def run_trial(cfg: DictConfig) -> float | None:
    from seqvision.run import _scrub_hydra_files, train
    from seqvision.schema import validate
    from seqvision.secrets import install_log_filter

    _scrub_hydra_files()  # as train() does first: a rejected trial leaves no secret behind either
    install_log_filter()
    validate(cfg)
    done = trial.completed_result(cfg)
    if done is not None:
        log.info("resume: %s completed before (%s); skipped", cfg.paths.output_dir, trial.identity()["trial_name"])
        name = cfg.get("optimized_metric")
        return done.get("metrics", {}).get(name) if name else None
    if trial.requeued() and not cfg.get("resume"):
        log.info("SLURM requeued this trial: resuming from its last checkpoint")
        cfg.resume = True
    try:
        if ddp.needs_process_group(cfg):
            return ddp.run_process_group(cfg)
        return train(cfg)
    except BaseException as err:
        trial.record_failure(cfg, err)
        raise
