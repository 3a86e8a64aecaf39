"""Frame-prediction metrics, reported the way the video-prediction literature reports them.

``FrameError("mse")`` is OpenSTL's "MSE" for Moving MNIST: the squared error *summed over a
frame's pixels* (values in [0, 1]), averaged over frames and sequences; ``"mae"`` likewise
with absolute errors. It also keeps the mean per predicted frame index, so the error can be
plotted against the horizon. SSIM and PSNR come from torchmetrics, on every frame separately
(PSNR per frame and then averaged, as OpenSTL does, rather than PSNR of the pooled MSE).
"""

from __future__ import annotations

import torch
from torch import nn
from torchmetrics import Metric
from torchmetrics.image import PeakSignalNoiseRatio, StructuralSimilarityIndexMeasure


class FrameError(Metric):
    """Mean over frames of the per-frame summed squared (``mse``) or absolute (``mae``) error."""

    full_state_update = False
    higher_is_better = False

    def __init__(self, kind: str = "mse", num_frames: int = 10, **kwargs):
        super().__init__(**kwargs)
        if kind not in ("mse", "mae"):
            raise ValueError(f"kind={kind!r}; valid: mse, mae")
        self.kind = kind
        self.add_state("per_step", default=torch.zeros(num_frames, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("sequences", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        diff = (pred.float() - target.float())
        err = diff.square() if self.kind == "mse" else diff.abs()
        self.per_step += err.flatten(2).sum(-1).sum(0).double()  # (T,): summed over pixels and sequences
        self.sequences += pred.shape[0]

    def compute(self) -> torch.Tensor:
        return (self.per_step.sum() / (self.sequences * len(self.per_step))).float()

    def compute_per_step(self) -> torch.Tensor:
        return (self.per_step / self.sequences).float()


class FrameMetrics(nn.Module):
    """MSE, MAE (per frame, summed over pixels), SSIM and PSNR of predicted frames in [0, 1]."""

    names = ("mse", "mae", "ssim", "psnr")

    def __init__(self, num_frames: int):
        super().__init__()
        self.mse = FrameError("mse", num_frames)
        self.mae = FrameError("mae", num_frames)
        self.ssim = StructuralSimilarityIndexMeasure(data_range=1.0)
        self.psnr = PeakSignalNoiseRatio(data_range=1.0, dim=(1, 2, 3))

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """``pred`` and ``target``: ``(B, T, C, H, W)`` in [0, 1]."""
        self.mse.update(pred, target)
        self.mae.update(pred, target)
        frames_p, frames_t = pred.flatten(0, 1).float(), target.flatten(0, 1).float()
        self.ssim.update(frames_p, frames_t)
        self.psnr.update(frames_p.clamp(0, 1), frames_t)

    def items(self):
        return ((name, getattr(self, name)) for name in self.names)
