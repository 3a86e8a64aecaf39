"""Pictures of what a classifier does: a confusion matrix, per-class accuracy, its mistakes.

A test accuracy says how often the model is wrong; these say where. At test (and, with
``task.media_every_n_epochs=N``, every N-th validation) the task hands the confusion matrix
(torchmetrics, summed over DDP ranks) and the chosen misclassified images (``tasks/mistakes.py``) to ``publish``, which
writes ``<run>/media/<stage>_confusion_matrix.png``, ``<stage>_per_class_accuracy.csv`` and
``<stage>_misclassified.png`` and sends the two figures to TensorBoard (``add_figure``) and
W&B (``wandb.Image``). Drawn with matplotlib, off screen.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import torch

log = logging.getLogger(__name__)


def per_class_accuracy(confusion: torch.Tensor) -> torch.Tensor:
    """Recall of each class: the diagonal over the row sums (NaN for a class with no samples)."""
    confusion = confusion.double()
    return confusion.diag() / confusion.sum(1)


def confusion_figure(confusion: torch.Tensor, names: list[str]):
    """Counts, each row normalized to the class's samples, with per-class accuracy in the labels."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    n = len(names)
    share = (confusion.double() / confusion.sum(1, keepdim=True).clamp(min=1)).cpu().numpy()
    acc = per_class_accuracy(confusion).cpu().numpy()
    size = min(max(4.0, 0.45 * n + 2), 24.0)
    fig, ax = plt.subplots(figsize=(size, size), dpi=100)
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ticks = range(n)
    ax.set_xticks(ticks, names, rotation=90, fontsize=8 if n <= 20 else 5)
    ax.set_yticks(ticks, [f"{name} ({a:.0%})" for name, a in zip(names, acc)], fontsize=8 if n <= 20 else 5)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true (per-class accuracy)")
    if n <= 20:
        for i in range(n):
            for j in range(n):
                if confusion[i, j]:
                    ax.text(j, i, int(confusion[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if share[i, j] > 0.5 else "black")
    fig.tight_layout()
    return fig


def misclassified_figure(images: torch.Tensor, true: torch.Tensor, pred: torch.Tensor, names: list[str],
                         confidence: torch.Tensor | None = None):
    """A grid of images in [0, 1] ``(N, C, H, W)`` (a clip shows its middle frame), each titled
    true -> predicted (and the probability the net gave its prediction). The grid is one picture
    in one axes (``mistakes_canvas``), not an axes per image: 32 matplotlib axes took 0.65 s to
    draw and save, at the end of every test."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    if images.dim() == 5:
        images = images[:, images.shape[1] // 2]
    canvas, corners = mistakes_canvas(images.float().cpu())
    cols = min(8, max(1, len(images)))
    fig, ax = plt.subplots(figsize=(1.6 * cols, 1.6 * cols * canvas.shape[1] / canvas.shape[2]), dpi=100)
    gray = canvas.shape[0] == 1
    ax.imshow(canvas[0] if gray else canvas.permute(1, 2, 0), cmap="gray" if gray else None, vmin=0, vmax=1,
              interpolation="nearest")
    ax.axis("off")
    width = images.shape[-1]
    for k, (top, left) in enumerate(corners):
        sure = f" ({float(confidence[k]):.0%})" if confidence is not None else ""
        ax.text(left + width / 2, top - 1, f"{names[int(true[k])]} -> {names[int(pred[k])]}{sure}", fontsize=7,
                ha="center", va="bottom")
    fig.tight_layout()
    return fig


def mistakes_canvas(images: torch.Tensor, cols: int = 8) -> tuple[torch.Tensor, list[tuple[int, int]]]:
    """The images ``(N, C, H, W)`` laid out ``cols`` to a row on white, with a band above each for
    its title; returns the canvas ``(C, rows * (H + band), cols * (W + gap))`` and each image's top
    left corner. (``torchvision.utils.make_grid`` pads every side alike and leaves no title band.)"""
    n, c, h, w = images.shape
    cols = min(cols, max(1, n))
    rows = max(1, -(-n // cols))
    band, gap = max(4, h // 2), max(2, w // 8)
    canvas = torch.ones(c, rows * (h + band), cols * (w + gap))
    corners = []
    for k in range(n):
        top, left = (k // cols) * (h + band) + band, (k % cols) * (w + gap) + gap // 2
        canvas[:, top:top + h, left:left + w] = images[k].clamp(0, 1)
        corners.append((top, left))
    return canvas, corners


def publish(module, stage: str, confusion: torch.Tensor, names: list[str], wrong: dict[str, torch.Tensor]) -> None:
    """Writes the files of ``stage`` (rank 0) and sends the figures to every logger that shows them."""
    from matplotlib import pyplot as plt

    figures = {"confusion_matrix": confusion_figure(confusion, names)}
    if len(wrong.get("images", ())):
        figures["misclassified"] = misclassified_figure(wrong["images"], wrong["true"], wrong["pred"], names,
                                                        wrong.get("confidence"))
    step = module.global_step
    for name, fig in figures.items():
        _to_loggers(module, f"{stage}/{name}", fig, step)
    root = getattr(module.trainer, "default_root_dir", None)
    if root and module.trainer.is_global_zero:
        media = Path(root) / "media"
        media.mkdir(parents=True, exist_ok=True)
        for name, fig in figures.items():
            fig.savefig(media / f"{stage}_{name}.png")
        acc = per_class_accuracy(confusion)
        with open(media / f"{stage}_per_class_accuracy.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["class", "samples", "correct", "accuracy"])
            for i, name in enumerate(names):
                writer.writerow([name, int(confusion[i].sum()), int(confusion[i, i]), f"{float(acc[i]):.6f}"])
    for fig in figures.values():
        plt.close(fig)


def _to_loggers(module, tag: str, fig, step: int) -> None:
    from pytorch_lightning.loggers import TensorBoardLogger, WandbLogger

    for logger in module.loggers:
        try:
            if isinstance(logger, TensorBoardLogger):
                logger.experiment.add_figure(tag, fig, step, close=False)
            elif isinstance(logger, WandbLogger):
                import wandb

                logger.experiment.log({tag: wandb.Image(fig), "trainer/global_step": step})
        except Exception as err:  # pictures must never stop a run
            log.warning("could not log %s to %s: %s", tag, type(logger).__name__, err)
