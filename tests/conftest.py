"""Shared helpers: run ``train.py`` as a real subprocess, or compose its config in-process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# A model and data small enough that a whole run takes seconds on a shared 2-core CPU:
# 160 digits per split in batches of 32 = 5 optimizer steps per epoch.
TINY = ["data.limit=160", "data.batch_size=32", "model.net.num_layers=1", "model.net.width=8",
        "callbacks.rich_progress_bar=null", "callbacks.model_summary=null"]


def subprocess_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("HYDRA_FULL_ERROR", None)
    env.setdefault("WANDB_MODE", "offline")
    env.update(extra)
    return env


def run_train(args: list[str], script: str = "train.py", timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / script), *args], cwd=ROOT, env=subprocess_env(**env),
                          capture_output=True, text=True, timeout=timeout)


def results(run_dir: Path) -> dict:
    return json.loads((run_dir / "results.json").read_text())


@pytest.fixture
def compose_cfg(tmp_path):
    """``compose_cfg(overrides)``: the config ``train.py`` would run, with outputs in tmp_path."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from seqvision.entry import register_resolvers

    os.environ.setdefault("SEQVISION_ROOT", str(ROOT))
    register_resolvers()

    def _compose(overrides: list[str]):
        GlobalHydra.instance().clear()
        with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
            return compose("train", overrides=[f"paths.output_dir={tmp_path / 'run'}", *overrides])

    yield _compose
    GlobalHydra.instance().clear()
