"""The report's figures where the sweep's trials logged: a TensorBoard event file in
``report/tensorboard`` when the trials wrote TensorBoard logs (``tensorboard --logdir <sweep>``
shows them beside the trials), and a W&B run of job type ``report`` when they logged to W&B
(offline unless ``WANDB_MODE`` says otherwise: the report reads files and reaches no server by
itself; ``wandb sync <report>/wandb/offline-run-*`` uploads it)."""

from __future__ import annotations

import os
from pathlib import Path

from seqvision.report.collect import Trial


def loggers_used(trials: list[Trial]) -> set[str]:
    return {name for t in trials for name in ("tensorboard", "wandb") if (t.folder / name).is_dir()}


def to_tensorboard(pngs: list[Path], out: Path) -> Path:
    import matplotlib.image
    from torch.utils.tensorboard import SummaryWriter

    folder = out / "tensorboard"
    with SummaryWriter(str(folder)) as writer:
        for png in pngs:
            writer.add_image(f"report/{png.stem}", matplotlib.image.imread(str(png))[..., :3], dataformats="HWC")
    return folder


def to_wandb(pngs: list[Path], out: Path, group: str) -> Path:
    import wandb

    mode = os.environ.get("WANDB_MODE") or "offline"
    run = wandb.init(dir=str(out), project=os.environ.get("WANDB_PROJECT", "seqvision"), group=group, job_type="report",
                     mode=mode, settings=wandb.Settings(silent=True))
    run.log({f"report/{png.stem}": wandb.Image(str(png)) for png in pngs})
    run.finish()
    return out / "wandb"


def publish(trials: list[Trial], pngs: list[Path], out: Path, group: str) -> list[Path]:
    """Where the figures went besides ``out`` (the folders written)."""
    used, written = loggers_used(trials), []
    if pngs and "tensorboard" in used:
        written.append(to_tensorboard(pngs, out))
    if pngs and "wandb" in used:
        written.append(to_wandb(pngs, out, group))
    return written
