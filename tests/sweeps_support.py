"""Helpers of the sweep tests: run ``train.py -m`` as a user would, read what trials wrote,
and a data module that can be told to produce a NaN loss (for failure isolation)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from seqvision.data.digits import DigitsDataModule

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
    e.update(extra)
    return e


def multirun(args: list[str], sweep_dir: Path, timeout: int = 300, **extra_env: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(ROOT / "train.py"), "-m", *QUIET, *args, f"hydra.sweep.dir={sweep_dir}",
           f"paths.log_dir={sweep_dir.parent / 'logs'}"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env(**extra_env), capture_output=True, text=True, timeout=timeout)
    (sweep_dir.parent / f"{sweep_dir.name}.log").write_text(proc.stdout + proc.stderr)
    return proc


def results(sweep_dir: Path) -> dict[int, dict]:
    out = {}
    for path in sweep_dir.glob("*/results.json"):
        out[int(path.parent.name)] = json.loads(path.read_text())
    return out


def tail(proc: subprocess.CompletedProcess, n: int = 3000) -> str:
    return (proc.stdout + proc.stderr)[-n:]


class NaNDigits(DigitsDataModule):
    """Digits whose training images become NaN when ``SV_TEST_NAN_LOSS=1``: the loss is NaN at
    the first step, as with a diverging learning rate, but deterministic and instant."""

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        x, y = super().on_after_batch_transfer(batch, dataloader_idx)
        if os.environ.get(NAN_ENV) == "1" and self.trainer is not None and self.trainer.training:
            x = x * float("nan")
        return x, y
