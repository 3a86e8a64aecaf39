"""Shared test helpers: compose the real configs and run training in-process or as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
sys.path.insert(0, str(Path(__file__).parent))

os.environ.setdefault("SEQVISION_ROOT", str(ROOT))
os.environ.setdefault("WANDB_SILENT", "true")

FAST = ["trainer.max_epochs=1", "trainer.num_sanity_val_steps=0", "callbacks.rich_progress_bar=null",
        "callbacks.model_summary=null"]


def compose(overrides: list[str], output_dir: Path | None = None):
    """The config that ``train.py <overrides>`` would get, with ``paths.output_dir`` pointing at a test folder."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from seqvision.entry import register_resolvers

    register_resolvers()
    GlobalHydra.instance().clear()
    extra = [f"paths.output_dir={output_dir}"] if output_dir else []
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return hydra_compose("train", overrides=list(overrides) + extra)


def train_in_process(overrides: list[str], output_dir: Path) -> tuple[float | None, dict]:
    """Runs ``seqvision.run.train`` on the composed config; returns its value and results.json."""
    import json

    from seqvision.run import train

    cfg = compose(FAST + list(overrides), output_dir)
    value = train(cfg)
    return value, json.loads((output_dir / "results.json").read_text())


def run_cli(args: list[str], cwd: Path = ROOT, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """``python train.py <args>`` in a subprocess, as a user would run it."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def mnist_root(tmp_path: Path) -> Path:
    from fixtures import write_mnist

    write_mnist(tmp_path / "data")
    return tmp_path / "data"
