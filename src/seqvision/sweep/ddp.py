"""DDP inside a multirun: each trial runs its ranks as a fresh ``torchrun`` process group.

Lightning's own DDP launcher re-executes ``sys.argv`` for ranks > 0 with ``hydra.run.dir``
appended (``_hydra_subprocess_cmd``). Under ``-m`` that argv is the whole sweep, so rank 1
starts the sweep again in a folder of its own; under the Ray launcher argv is Ray's worker;
and Lightning's child-process observer SIGKILLs the launching process when a rank fails,
which is the whole sweep. So a DDP trial does not start ranks itself: it runs

    python -m torch.distributed.run --standalone --nproc-per-node N train.py <this trial's overrides>
        seed=<its seed> hydra.run.dir=<its folder> hydra.output_subdir=null

and waits. Every rank is then a single run of exactly this trial, in its folder; Lightning
finds torchrun's environment and starts no processes of its own; rank 0 alone writes
checkpoints, ``results.json`` and logs. A failing group fails this trial only.
"""

from __future__ import annotations

import json
import logging
import os
import random
import subprocess
import sys
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from seqvision.sweep.trial import TRIAL_ENV, identity, in_multirun, read_results

log = logging.getLogger(__name__)

EXTERNAL_LAUNCH_ENV = ("LOCAL_RANK", "TORCHELASTIC_RUN_ID")  # already one rank of a group


class TrialFailed(RuntimeError):
    """The trial's process group exited with an error; its message is the rank-0 error if known."""


def num_processes(cfg: DictConfig) -> int:
    devices = OmegaConf.select(cfg, "trainer.devices")
    accelerator = str(OmegaConf.select(cfg, "trainer.accelerator") or "auto")
    if isinstance(devices, (list, tuple)) or OmegaConf.is_list(devices):
        return len(devices)
    if isinstance(devices, str) and devices.strip().lstrip("-").isdigit():
        devices = int(devices)
    if isinstance(devices, int) and devices > 0:
        return devices
    if accelerator == "cpu":
        return 1  # Lightning's "auto"/-1 on CPU
    import torch

    return max(1, torch.cuda.device_count())


def needs_process_group(cfg: DictConfig) -> bool:
    """A multirun trial asking for a DDP strategy (not spawn/fork) on more than one device."""
    strategy = OmegaConf.select(cfg, "trainer.strategy")
    if not isinstance(strategy, str) or not strategy.startswith("ddp"):
        return False
    if any(k in strategy for k in ("spawn", "fork", "notebook")):
        return False
    if any(os.environ.get(k) for k in EXTERNAL_LAUNCH_ENV) or int(os.environ.get("SLURM_NTASKS", "1") or 1) > 1:
        return False  # torchrun or srun already created the ranks
    return in_multirun() and num_processes(cfg) > 1


def _train_script() -> str:
    root = os.environ.get("SEQVISION_ROOT") or str(Path(__file__).resolve().parents[3])
    return str(Path(root) / "train.py")


def command(cfg: DictConfig, nproc: int) -> list[str]:
    me = identity()
    out = Path(cfg.paths.output_dir)
    overrides = [o for o in me["overrides"] if not o.lstrip("+~").startswith("seed=")]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
           _train_script(), *overrides, f"seed={cfg.seed}", f"hydra.run.dir={out}", "hydra.output_subdir=null"]
    if _has_log_file():  # one log file per rank, not all ranks appending to the trial's log
        cmd.append(f"hydra.job_logging.handlers.file.filename={out}/ddp_rank${{oc.env:LOCAL_RANK,0}}.log")
    return cmd


def _has_log_file() -> bool:
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return True
    return OmegaConf.select(HydraConfig.get(), "job_logging.handlers.file.filename") is not None


def run_process_group(cfg: DictConfig) -> float | None:
    """Runs this trial as an N-process group, then returns its optimized metric (or raises)."""
    from hydra.utils import get_original_cwd

    from seqvision.config import validate

    validate(cfg)  # each rank validates again in its own process; a bad command fails here, at once
    if cfg.get("seed") is None:
        cfg.seed = random.randrange(2**31)  # every rank must draw the same seed
    nproc = num_processes(cfg)
    cmd = command(cfg, nproc)
    env = dict(os.environ)
    env[TRIAL_ENV] = json.dumps(identity())
    from seqvision.sweep.resources import assigned

    cpus = assigned().get("cpus")
    if cpus and "OMP_NUM_THREADS" not in os.environ:
        env["OMP_NUM_THREADS"] = str(max(1, int(cpus) // nproc))
    log.info("DDP trial: %d processes: %s", nproc, " ".join(cmd))
    rc = subprocess.run(cmd, cwd=get_original_cwd(), env=env).returncode
    results = read_results(Path(cfg.paths.output_dir)) or {}
    if rc != 0 or results.get("status") != "completed":
        raise TrialFailed(f"DDP process group exited with status {rc}: {results.get('error') or 'no results.json written'}")
    name = cfg.get("optimized_metric")
    return results.get("metrics", {}).get(name) if name else None
