"""What ``train.py`` needs before and around a run, kept free of torch imports (fast ``--help``)."""

from __future__ import annotations

import os
import sys
import time

from omegaconf import DictConfig, OmegaConf

import warnings

from seqvision.errors import UserError

# Lightning 2.6 on torch 2.14 warns on every run about its own use of a deprecated pytree API.
warnings.filterwarnings("ignore", message=".*isinstance\(treespec, LeafSpec\).*")


def _unique_suffix() -> str:
    """Microseconds and process id: two runs started in the same second never share a folder."""
    return f"{time.time_ns() // 1000 % 1_000_000:06d}-{os.getpid()}"


def _fast_precision(accelerator: str = "auto") -> str:
    from seqvision.speed import fast_precision  # imports torch: only when a config resolves it

    return fast_precision(accelerator)


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("sv.uid"):
        OmegaConf.register_new_resolver("sv.uid", _unique_suffix, use_cache=True)
    if not OmegaConf.has_resolver("sv.fast_precision"):
        OmegaConf.register_new_resolver("sv.fast_precision", _fast_precision, use_cache=True)


def _in_multirun() -> bool:
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        return HydraConfig.get().mode == RunMode.MULTIRUN
    except Exception:
        return False


def run_or_exit(cfg: DictConfig) -> float | None:
    """Runs training. A user's mistake prints one line and exits with status 2 (no traceback
    unless ``HYDRA_FULL_ERROR=1``); inside a multirun it is raised so the sweep records the
    trial as failed and goes on."""
    try:
        from seqvision.run import train

        return train(cfg)
    except UserError as err:
        if os.environ.get("HYDRA_FULL_ERROR") == "1" or _in_multirun():
            raise
        print(f"error: {err}", file=sys.stderr)
        sys.exit(err.exit_code)
