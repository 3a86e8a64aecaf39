"""Shared test helpers: compose the real configs and run training in-process or as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]

# The suite runs one test per core (pytest-xdist, -n auto), and the tests' own subprocesses
# inherit this: with more torch threads than cores, OpenMP threads spin waiting for each other
# and a step gets several times slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(1)
CONF = ROOT / "conf"
sys.path.insert(0, str(Path(__file__).parent))


def pytest_xdist_auto_num_workers(config) -> int:
    """``-n auto``: one test per core, plus one. Cluster, sweep and kill tests spend seconds waiting
    for a scheduler, a signal or another process; the extra worker runs a test meanwhile."""
    return (os.cpu_count() or 1) + 1

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


def run_train_here(args: list[str], **env: str) -> subprocess.CompletedProcess:
    """``python train.py <args>`` run inside this process (``run_script_here``): the same entry point
    (``prepare`` on the arguments, then Hydra's ``main``), its printed output and its exit status,
    without the seconds a new interpreter spends importing torch and Lightning. ``run_train`` runs
    a real process."""
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    try:
        return run_script_here(ROOT / "train.py", args, drop=("HYDRA_FULL_ERROR",), **{"WANDB_MODE": "offline", **env})
    finally:
        GlobalHydra.instance().clear()


def run_script_here(script: Path, args: list[str], drop: tuple[str, ...] = (), **env: str) -> subprocess.CompletedProcess:
    """``python <script> <args>`` from the repository's root, inside this process (as ``__main__``,
    with ``runpy``): its printed output and exit status as a ``CompletedProcess``. What a script
    changes in the process is put back afterwards: the environment (e.g. Lightning's
    ``PL_GLOBAL_SEED``), ``sys.argv``/``sys.path``, the working folder, the logging handlers Hydra
    installs, torch's deterministic mode, threads, TF32 switches and random state. An exception
    other than ``SystemExit`` is a bug of the script and propagates with its traceback."""
    import contextlib
    import io
    import logging
    import random
    import runpy

    saved_env = dict(os.environ)
    for name in drop:
        os.environ.pop(name, None)
    os.environ.update(env)
    root_logger = logging.getLogger()
    saved_handlers, saved_level = list(root_logger.handlers), root_logger.level
    saved_torch = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
                   torch.get_num_threads(), torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,
                   torch.get_float32_matmul_precision())
    saved_random = (torch.get_rng_state(), random.getstate(), np.random.get_state())
    saved_argv, saved_path, saved_cwd = sys.argv, list(sys.path), os.getcwd()
    out, err = io.StringIO(), io.StringIO()
    status = 0
    sys.argv = [str(script), *args]
    sys.path.insert(0, str(Path(script).parent))  # as ``python <script>`` puts it first
    try:
        os.chdir(ROOT)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            runpy.run_path(str(script), run_name="__main__")
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
        os.chdir(saved_cwd)
        for handler in root_logger.handlers:
            if handler not in saved_handlers:
                handler.close()
        root_logger.handlers[:], root_logger.level = saved_handlers, saved_level
        torch.use_deterministic_algorithms(saved_torch[0], warn_only=saved_torch[1])
        torch.set_num_threads(saved_torch[2])
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved_torch[3], saved_torch[4]
        torch.set_float32_matmul_precision(saved_torch[5])
        torch.set_rng_state(saved_random[0])
        random.setstate(saved_random[1])
        np.random.set_state(saved_random[2])
        os.environ.clear()
        os.environ.update(saved_env)
    return subprocess.CompletedProcess(sys.argv, status, out.getvalue(), err.getvalue())


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


@pytest.fixture
def video_cfg(tmp_path):
    """``video_cfg(*overrides)`` -> the config ``train.py`` would get, writing into ``tmp_path``."""
    from hydra import compose, initialize_config_dir

    from seqvision.entry import register_resolvers

    os.environ.setdefault("SEQVISION_ROOT", str(ROOT))
    register_resolvers()

    def make(*overrides: str):
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            return compose("train", overrides=[f"paths.output_dir={tmp_path / 'run'}", "logger=csv",
                                               "callbacks.rich_progress_bar=null", "callbacks.model_summary=null",
                                               "+trainer.enable_progress_bar=false", "+trainer.enable_model_summary=false",
                                               "trainer.num_sanity_val_steps=0", *overrides])

    return make


def moving_square_clip(num_frames: int, size: int, direction: int) -> np.ndarray:
    """uint8 (T, size, size, 3): a white square crossing the frame left->right (1) or right->left (-1)."""
    frames = np.zeros((num_frames, size, size, 3), np.uint8)
    for t in range(num_frames):
        x = (t * 2) % (size - 6) if direction > 0 else (size - 6) - (t * 2) % (size - 6)
        frames[t, size // 2 - 3: size // 2 + 3, x: x + 6] = 255
    return frames


@pytest.fixture
def clip_folder(tmp_path) -> Path:
    """``root/<class>/<clip>.avi|mp4``: 2 classes x 5 clips of 24 frames, 32x32, written with PyAV."""
    from seqvision.videos import write_video

    root = tmp_path / "clips"
    for cls, direction in (("left", -1), ("right", 1)):
        (root / cls).mkdir(parents=True)
        for k in range(5):
            ext = ".avi" if k % 2 else ".mp4"
            write_video(root / cls / f"v_{cls}_g{k:02d}{ext}", moving_square_clip(24, 32, direction), fps=10)
    return root
