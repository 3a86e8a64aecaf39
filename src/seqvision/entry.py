"""What ``train.py`` needs before and around a run, kept free of torch imports (fast ``--help``)."""

from __future__ import annotations

import os
import sys
import time
import warnings

from omegaconf import DictConfig, OmegaConf

from seqvision.errors import UserError

# Lightning 2.6 on torch 2.14 warns on every run about its own use of a deprecated pytree API.
warnings.filterwarnings("ignore", message=".*isinstance\(treespec, LeafSpec\).*")


def _run_stamp() -> str:
    """The run folder's name under ``runs/``: ``<date>/<time>_<microseconds>-<pid>``, so two runs
    started in the same second never share a folder. Under torchrun each rank is a process of its
    own, started at its own microsecond, and they must share one folder (one ``results.json``, one
    set of checkpoints), on every node: there it is ``torchrun/<run id>``, the id torchrun gives
    every rank of one launch (an elastic restart keeps it, and resumes in the same folder)."""
    run_id = os.environ.get("TORCHELASTIC_RUN_ID")
    if run_id and os.environ.get("LOCAL_RANK") is not None:
        return f"torchrun/{run_id}"
    now = time.time_ns()
    return f"{time.strftime('%Y-%m-%d/%H-%M-%S', time.localtime(now / 1e9))}_{now // 1000 % 1_000_000:06d}-{os.getpid()}"


def _rank_suffix() -> str:
    """``""`` for rank 0 (and a single process), ``_rank<k>`` for rank k of a torchrun group: every
    rank logs to a file of its own in the shared run folder."""
    rank = os.environ.get("RANK", "0") if os.environ.get("LOCAL_RANK") is not None else "0"
    return "" if rank in ("", "0") else f"_rank{rank}"


def _fast_precision(accelerator: str = "auto") -> str:
    from seqvision.speed import fast_precision  # imports torch: only when a config resolves it

    return fast_precision(accelerator)


def _group(task_name: str) -> str:
    from seqvision.sweep.trial import group

    return group(task_name)


def _trial_name(default=None):
    from seqvision.sweep.trial import identity

    return identity()["trial_name"] or default


def _job_type(task_name: str) -> str:
    from seqvision.sweep.trial import identity

    return identity()["sweep"] or task_name


def _task_fact(target: str, name: str) -> str:
    """``${sv.task:${task._target_},monitor}``: what the chosen task declares (its metric to
    watch, the direction, the best-so-far metric), so checkpoints, early stopping and sweepers
    follow the task without the configs naming its metrics."""
    from hydra.utils import get_object

    return getattr(get_object(target), name)


def _metric_mode(target: str, metric: str) -> str:
    """``${sv.mode:${task._target_},${.monitor}}``: ``max`` or ``min`` for the metric a callback
    watches, so ``callbacks.model_checkpoint.monitor=val/loss`` keeps the lowest loss, not the highest."""
    from hydra.utils import get_object

    from seqvision.tasks.directions import mode_of

    task = get_object(target)
    return mode_of(task, metric) or task.monitor_mode  # an unknown name is refused by config validation


def _direction(target: str, metric: str) -> str:
    """``${sv.direction:${task._target_},${optimized_metric}}``: Optuna's direction for the metric."""
    from hydra.utils import get_object

    from seqvision.tasks.directions import direction

    return direction(get_object(target), metric)


def register_resolvers() -> None:
    """``sv.run_stamp`` names run folders (unique, and shared by the ranks of a torchrun group);
    ``sv.rank_suffix`` names a rank's log file; ``sv.group``/``sv.trial_name``/``sv.job_type`` name
    W&B runs after their sweep and overrides (see seqvision.sweep.trial); ``sv.task`` reads a
    fact the task class declares; ``sv.mode`` and ``sv.direction`` say which way a metric is better
(``seqvision.tasks.directions``); ``sv.fast_precision`` picks bf16 where it is native."""
    for name, fn, cache in (("sv.run_stamp", _run_stamp, True), ("sv.rank_suffix", _rank_suffix, True),
                            ("sv.group", _group, False),
                            ("sv.trial_name", _trial_name, False), ("sv.job_type", _job_type, False),
                            ("sv.task", _task_fact, False), ("sv.mode", _metric_mode, False),
                            ("sv.direction", _direction, False), ("sv.fast_precision", _fast_precision, True)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn, use_cache=cache)


# At import, not only in train.py: a Ray worker unpickles the task function without running
# train.py, and must still resolve the run folder's ${sv.run_stamp:}.
register_resolvers()


def _in_multirun() -> bool:
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        return HydraConfig.get().mode == RunMode.MULTIRUN
    except Exception:
        return False


def _remove_unused_run_folder(cfg: DictConfig) -> None:
    """A command refused before it did anything leaves no run folder behind: Hydra creates the
    folder (its ``.hydra/`` and the log file) before any of our code runs, so it is removed here
    when it holds nothing else. A resumed run's folder, and one that holds anything a run wrote
    (checkpoints, metrics, results), is kept."""
    import shutil
    from pathlib import Path

    if cfg.get("resume"):
        return
    try:
        folder = Path(str(cfg.paths.output_dir))
        entries = {p.name for p in folder.iterdir()}
    except Exception:  # no run folder (the output dir cannot be resolved, or was never made)
        return
    if entries <= {".hydra", f"{cfg.get('task_name')}.log"}:
        shutil.rmtree(folder, ignore_errors=True)
        parent = folder.parent  # the date folder, if this was its only run
        if parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()


def run_or_exit(cfg: DictConfig) -> float | None:
    """Runs training. A user's mistake prints one line and exits with status 2 (no traceback
    unless ``HYDRA_FULL_ERROR=1``); inside a multirun it is raised so the sweep records the
    trial as failed and goes on."""
    from seqvision.secrets import install_log_filter, scrub_hydra_outputs

    scrub_hydra_outputs()  # first, so that even a rejected command leaves no secret behind
    install_log_filter()
    try:
        from seqvision.sweep.runner import run_trial

        return run_trial(cfg)
    except UserError as err:
        if os.environ.get("HYDRA_FULL_ERROR") == "1" or _in_multirun():
            raise
        _remove_unused_run_folder(cfg)
        from seqvision.secrets import redact_text

        print(f"error: {redact_text(str(err))}", file=sys.stderr)
        sys.exit(err.exit_code)
