"""Who a trial is (sweep name and id, job number, name from its overrides) and whether it is done.

A trial is a multirun job. Its identity comes from Hydra, except in the ranks of a DDP process
group (``seqvision.sweep.ddp``), which run in Hydra's single-run mode and get the identity of
the trial that started them through ``SEQVISION_TRIAL``. W&B's group/name/job_type, the
``results.json`` record and resume all read the identity from here, so they always agree.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from seqvision.errors import ConfigError
from seqvision.files import write_json_atomic

TRIAL_ENV = "SEQVISION_TRIAL"
# Overrides that change how a trial is run, not what it computes: ignored when comparing trials.
RUN_ONLY_KEYS = ("resume", "hydra.", "trainer.devices", "trainer.num_nodes", "data.root", "paths.")


def _hydra() -> DictConfig | None:
    try:
        from hydra.core.hydra_config import HydraConfig

        return HydraConfig.get() if HydraConfig.initialized() else None
    except Exception:
        return None


def in_multirun() -> bool:
    hc = _hydra()
    if hc is None:
        return False
    from hydra.types import RunMode

    return hc.mode == RunMode.MULTIRUN


def identity() -> dict[str, Any]:
    """``{sweep, sweep_id, job_num, trial_name, overrides}``; sweep is null for a single run."""
    inherited = os.environ.get(TRIAL_ENV)
    if inherited:
        return json.loads(inherited)
    hc = _hydra()
    if hc is None:
        return {"sweep": None, "sweep_id": None, "job_num": None, "trial_name": None, "overrides": []}
    overrides = list(hc.overrides.task)
    if not in_multirun():
        return {"sweep": None, "sweep_id": None, "job_num": None, "trial_name": None, "overrides": overrides}
    return {
        "sweep": hc.runtime.choices.get("sweep") or hc.job.name,
        "sweep_id": Path(str(hc.sweep.dir)).name,
        "job_num": int(hc.job.num),
        "trial_name": trial_name(overrides),
        "overrides": overrides,
    }


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def sweep_axes() -> set[str] | None:
    """The keys a multirun varies: its ``hydra.sweeper.params`` and the command-line overrides
    with several values (read back from the ``multirun.yaml`` the sweeper saved). None if unknown."""
    hc = _hydra()
    if hc is None:
        return None
    axes = {k for k, v in (hc.sweeper.get("params") or {}).items() if "," in str(v) or "(" in str(v)}
    try:
        from hydra.core.override_parser.overrides_parser import OverridesParser
        from omegaconf import OmegaConf

        saved = OmegaConf.load(Path(str(hc.sweep.dir)) / "multirun.yaml")
        parsed = OverridesParser.create().parse_overrides(list(saved.hydra.overrides.task))
        axes |= {o.get_key_element().lstrip("+~") for o in parsed if o.is_sweep_override()}
    except Exception:  # no multirun.yaml (e.g. the Optuna sweeper): its params are the axes
        pass
    return axes or None


def trial_name(overrides: list[str]) -> str:
    """The swept overrides that make this trial what it is, e.g. ``model.net.cell=cifg,seed=2``."""
    axes = sweep_axes()
    keep = [o for o in comparable(overrides) if _key(o) != "sweep" and (axes is None or _key(o) in axes)]
    return ",".join(sorted(keep)) or "default"


def comparable(overrides: list[str]) -> list[str]:
    return sorted(o for o in overrides if not o.lstrip("+~").startswith(RUN_ONLY_KEYS))


def group(task_name: str) -> str:
    """W&B group: ``<sweep name>/<sweep id>`` for a multirun trial, the task name otherwise."""
    me = identity()
    return f"{me['sweep']}/{me['sweep_id']}" if me["sweep"] else task_name


def requeued() -> bool:
    """True when SLURM restarted this job (preemption or time limit, requeued by submitit)."""
    try:
        return int(os.environ.get("SLURM_RESTART_COUNT", "0")) > 0
    except ValueError:
        return False


def wants_resume(cfg: DictConfig) -> bool:
    return bool(cfg.get("resume")) or requeued()


def read_results(folder: Path) -> dict | None:
    try:
        return json.loads((folder / "results.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def completed_result(cfg: DictConfig) -> dict | None:
    """With ``resume=true``: this run's earlier ``results.json`` if it completed the same
    experiment, else None (there is work left, or nothing to resume).

    A sweep trial whose folder holds a different trial (the sweep's parameters changed since) is
    refused, since resuming it would mix two experiments in one folder. A single run resumed with
    new overrides (``resume=<folder> trainer.max_epochs=20``) is an extension, not a finished
    run: None, and the resume logic of ``run.py`` checks and carries it out.
    """
    if not wants_resume(cfg):
        return None
    folder = Path(cfg.paths.output_dir)
    earlier = read_results(folder)
    if earlier is None:
        return None
    now = comparable(identity()["overrides"])
    before = comparable(earlier.get("overrides", []))
    if before != now:
        if not (in_multirun() or requeued()):
            return None
        raise ConfigError(f"resume: {folder} holds another trial ({' '.join(before)}), not this one "
                          f"({' '.join(now)}); resume only with the sweep command that made the folder, "
                          f"or start a new sweep without resume=true")
    return earlier if earlier.get("status") == "completed" else None


def record_failure(cfg: DictConfig, err: BaseException) -> None:
    """A trial that failed before ``run.py`` wrote its record (a bad value, missing data) still
    leaves a ``results.json`` saying so, so the report and resume see it under every sweeper."""
    folder = Path(cfg.paths.output_dir)
    if not in_multirun() or read_results(folder) is not None:
        return
    me = identity()
    record = {"status": "failed", "error": f"{type(err).__name__}: {err}", "task_name": cfg.get("task_name"),
              "seed": cfg.get("seed"), "run_dir": str(folder), **me, "metrics": {}}
    from seqvision.secrets import redact

    write_json_atomic(folder / "results.json", redact(record))
