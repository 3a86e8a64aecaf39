"""Helpers of the sweep tests: run ``train.py -m`` as a user would, read what trials wrote,
and a data module that can be told to produce a NaN loss (for failure isolation)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pytorch_lightning import Callback

from seqvision.data.digits import DigitsDataModule
from seqvision.data.torchvision_sets import MNISTDataModule

ROOT = Path(__file__).resolve().parents[1]
QUIET = ["trainer.max_epochs=1", "trainer.num_sanity_val_steps=0", "callbacks.rich_progress_bar=null",
         "callbacks.model_summary=null", "+trainer.enable_progress_bar=false", "data=digits", "data.limit=64",
         "trainer.accelerator=cpu"]
NAN_ENV = "SV_TEST_NAN_LOSS"


def env(**extra: str) -> dict:
    e = dict(os.environ)
    src = str(ROOT / "src")
    e["PYTHONPATH"] = os.pathsep.join([src, str(ROOT / "tests"), e.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    e["SEQVISION_ROOT"] = str(ROOT)
    e.setdefault("WANDB_SILENT", "true")
    e.setdefault("OMP_NUM_THREADS", "1")
    # Ray starts its workers at niceness 15; beside the suite's other workers (niceness 0) a
    # trial then waits minutes for a core
    e.setdefault("RAY_worker_niceness", "0")
    e.update(extra)
    return e


def multirun(args: list[str], sweep_dir: Path, timeout: int = 300, **extra_env: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(ROOT / "train.py"), "-m", *QUIET, *args, f"hydra.sweep.dir={sweep_dir}",
           f"paths.log_dir={sweep_dir.parent / 'logs'}"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env(**extra_env), capture_output=True, text=True, timeout=timeout)
    (sweep_dir.parent / f"{sweep_dir.name}.log").write_text(proc.stdout + proc.stderr)
    return proc


def multirun_here(args: list[str], sweep_dir: Path, **extra_env: str) -> subprocess.CompletedProcess:
    """``multirun`` inside the test's process (``conftest.run_train_here``): for sweeps whose
    launcher runs the trials in the sweep's own process (Hydra's basic launcher), the same
    command without the seconds a new interpreter spends importing torch and Lightning."""
    from conftest import run_train_here

    proc = run_train_here(["-m", *QUIET, *args, f"hydra.sweep.dir={sweep_dir}",
                           f"paths.log_dir={sweep_dir.parent / 'logs'}"], **extra_env)
    (sweep_dir.parent / f"{sweep_dir.name}.log").write_text(proc.stdout + proc.stderr)
    return proc


def results(sweep_dir: Path) -> dict[int, dict]:
    out = {}
    for path in sweep_dir.glob("*/results.json"):
        out[int(path.parent.name)] = json.loads(path.read_text())
    return out


def tail(proc: subprocess.CompletedProcess, n: int = 3000) -> str:
    return (proc.stdout + proc.stderr)[-n:]


class _NaNWhenAsked:
    """Training images become NaN when ``SV_TEST_NAN_LOSS=1``: the loss is NaN at the first step,
    as with a diverging learning rate, but deterministic and instant."""

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        x, y = super().on_after_batch_transfer(batch, dataloader_idx)
        if os.environ.get(NAN_ENV) == "1" and self.trainer is not None and self.trainer.training:
            x = x * float("nan")
        return x, y


class NaNDigits(_NaNWhenAsked, DigitsDataModule):
    """The bundled digits, NaN when asked (``_NaNWhenAsked``)."""


class NaNMNIST(_NaNWhenAsked, MNISTDataModule):
    """MNIST files (the tests' separable ones), NaN when asked (``_NaNWhenAsked``)."""


def mnist_args(root: Path) -> list[str]:
    """The tests' MNIST files (``fixtures.write_mnist``: separable classes, learnable in 20 steps),
    160 per split in batches of 16: 10 steps per epoch."""
    return ["data=mnist", f"data.root={root}", "data.download=false", "data.limit=160", "data.batch_size=16"]


class MeetOthers(Callback):
    """For the launcher tests: the first ``count`` trials to start training wait for each other
    (at most ``patience_s``), so trials that a launcher runs together are seen to overlap. Worker
    start-up varies by seconds on a loaded machine, longer than a tiny trial trains, so without
    this two concurrent trials may never be in their training at one moment. A launcher that runs
    trials one at a time never gathers ``count`` of them: the first waits out its patience alone
    and the overlap the test measures stays 1. Later trials find the count met and go straight on."""

    def __init__(self, folder: str, count: int = 2, patience_s: float = 90.0):
        self.folder, self.count, self.patience_s = Path(folder), count, patience_s

    def on_train_start(self, trainer, pl_module) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / str(os.getpid())).touch()
        deadline = time.monotonic() + self.patience_s
        while len(list(self.folder.iterdir())) < self.count and time.monotonic() < deadline:
            time.sleep(0.05)


class Park(Callback):
    """For the cluster tests: at global step ``step`` the trial writes ``marker`` (its SLURM job id,
    or its pid) and waits, at most ``patience_s``, for one of ``signals`` (a scheduler stopping it)
    or to be killed; then training goes on. It parks once: a trial that finds the marker (the same
    trial, resumed) or runs in a requeued SLURM job goes straight on. With ``node_resource``, only a trial on the Ray
    node that has that custom resource parks."""

    def __init__(self, marker: str, step: int = 3, signals: tuple[str, ...] = ("SIGTERM",), patience_s: float = 120.0,
                 node_resource: str | None = None):
        self.marker, self.step, self.patience_s = Path(marker), step, patience_s
        self.signals, self.node_resource = [getattr(signal, s) for s in signals], node_resource

    def _here(self) -> bool:
        if self.node_resource is None:
            return True
        import ray

        me = ray.get_runtime_context().get_node_id()
        return any(n["NodeID"] == me and self.node_resource in n["Resources"] for n in ray.nodes())

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step != self.step or self.marker.exists() or not self._here():
            return
        if os.environ.get("SLURM_RESTART_COUNT", "0") != "0":
            return  # a requeued job: the stop it waited for has happened
        caught: list[int] = []
        previous = {s: signal.getsignal(s) for s in self.signals}

        def note(signum, frame):  # then whatever handled the signal before (the requeue's holder)
            caught.append(signum)
            if callable(previous[signum]):
                previous[signum](signum, frame)

        for s in self.signals:
            signal.signal(s, note)
        self.marker.write_text(os.environ.get("SLURM_JOB_ID", str(os.getpid())))
        deadline = time.monotonic() + self.patience_s
        while not caught and time.monotonic() < deadline:
            time.sleep(0.05)
        for s, handler in previous.items():
            signal.signal(s, handler)
