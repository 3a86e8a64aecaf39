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
    """A grid of images in [0, 1] ``(N, C, H, W)`` (a clip shows its middle frame), titled
    true -> predicted (and the probability the net gave its prediction)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    if images.dim() == 5:
        images = images[:, images.shape[1] // 2]
    n = len(images)
    cols = min(8, max(1, n))
    rows = max(1, -(-n // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.8 * rows), dpi=100, squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        img = images[k].float().cpu()
        ax.imshow(img[0] if img.shape[0] == 1 else img.permute(1, 2, 0), cmap="gray" if img.shape[0] == 1 else None,
                  vmin=0, vmax=1)
        sure = f" ({float(confidence[k]):.0%})" if confidence is not None else ""
        ax.set_title(f"{names[int(true[k])]} -> {names[int(pred[k])]}{sure}", fontsize=7)
    fig.tight_layout()
    return fig


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
