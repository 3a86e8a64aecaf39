"""Strips of input, target and predicted frames, for every logger that can show them.

One picture per epoch says more about a frame predictor than its MSE: blur, drift and
digits that dissolve after a few frames are obvious at a glance. The strip goes to
TensorBoard (``add_image``) and W&B (an image plus a video of target beside prediction,
encoded with PyAV so that wandb needs no moviepy), and is saved as a PNG in the run folder
at test time (the figure in the README comes from there).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

log = logging.getLogger(__name__)


def frame_strip(inputs: torch.Tensor, target: torch.Tensor, pred: torch.Tensor, n: int = 4) -> torch.Tensor:
    """Grid ``(3, H', W')`` in [0, 1]: per sequence one row of inputs, one of targets, one of predictions."""
    from torchvision.utils import make_grid

    n = min(n, inputs.shape[0])
    cols = max(inputs.shape[1], target.shape[1])
    rows = []
    for i in range(n):
        for part in (inputs[i], target[i], pred[i]):
            part = part.detach().float().cpu().clamp(0, 1)
            if part.shape[0] < cols:  # pad short rows with blank frames
                part = torch.cat([part, part.new_zeros(cols - part.shape[0], *part.shape[1:])])
            rows.append(part)
    frames = torch.cat(rows)
    if frames.shape[1] == 1:
        frames = frames.expand(-1, 3, -1, -1)
    return make_grid(frames, nrow=cols, padding=2, pad_value=0.5)


def side_by_side_video(target: torch.Tensor, pred: torch.Tensor, n: int = 4) -> torch.Tensor:
    """uint8 ``(T, H, n*2*W, 3)``: for ``n`` sequences, the target and the prediction next to each other."""
    n = min(n, target.shape[0])
    pairs = [torch.cat([target[i], pred[i]], dim=-1) for i in range(n)]  # (T, C, H, 2W)
    video = torch.cat(pairs, dim=-1).detach().float().cpu().clamp(0, 1)
    if video.shape[1] == 1:
        video = video.expand(-1, 3, -1, -1)
    return (video * 255).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def log_strip(module, tag: str, inputs, target, pred, media_dir: Path | None = None) -> None:
    """Sends the strip (and a video) to every logger of ``module``'s trainer that shows media."""
    from pytorch_lightning.loggers import TensorBoardLogger, WandbLogger

    grid = frame_strip(inputs, target, pred)
    step = module.global_step
    for logger in module.loggers:
        try:
            if isinstance(logger, TensorBoardLogger):
                logger.experiment.add_image(tag, grid, step)
            elif isinstance(logger, WandbLogger):
                import wandb

                payload = {tag: wandb.Image(grid.permute(1, 2, 0).numpy())}
                if media_dir is not None:
                    path = _write_video(media_dir / f"{tag.replace('/', '_')}_{step}.gif", target, pred)
                    payload[f"{tag}_video"] = wandb.Video(str(path), format="gif")
                logger.experiment.log({**payload, "trainer/global_step": step})
        except Exception as err:  # media must never stop a run
            log.warning("could not log %s to %s: %s", tag, type(logger).__name__, err)
    if media_dir is not None and tag.startswith("test"):
        from torchvision.utils import save_image

        media_dir.mkdir(parents=True, exist_ok=True)
        save_image(grid, media_dir / f"{tag.replace('/', '_')}.png")


def _write_video(path: Path, target, pred) -> Path:
    from seqvision.videos import write_video

    path.parent.mkdir(parents=True, exist_ok=True)
    return write_video(path, side_by_side_video(target, pred).numpy(), fps=4)
