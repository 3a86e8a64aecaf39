"""Frame-prediction metrics, defined as OpenSTL (``openstl/core/metrics.py``) defines them.

Moving MNIST tables in the video-prediction literature are OpenSTL's numbers, so ours are
computed the same way, on frames in [0, 1]:

* **MSE** and **MAE**: the squared (absolute) error *summed over a frame's pixels*, averaged
  over frames and sequences (``np.mean((pred - true) ** 2, axis=(0, 1)).sum()``), on the
  prediction as the model gives it.
* **SSIM**: scikit-image's ``structural_similarity`` on each frame, as OpenSTL calls it with
  scikit-image <= 0.19.3 (its pinned range): a 7x7 uniform window, sample covariance,
  K1 = 0.01, K2 = 0.03, ``data_range`` = 2 (scikit-image's default for float images, whose
  dtype range is [-1, 1]), the mean over the window positions that fit inside the frame and then
  over channels; averaged over frames and sequences. Predictions are clipped to [0, 1] first.
* **PSNR**: per frame, ``20 log10(1 / sqrt(mse))`` with ``mse`` the *mean* squared error of the
  clipped frame (infinite for a perfect frame), then averaged over frames and sequences; not
  the PSNR of the pooled error.

Hand-written rather than torchmetrics' SSIM/PSNR, whose defaults (an 11x11 Gaussian window,
``data_range`` 1, PSNR of the pooled MSE) give other numbers. The window sums are exact
``avg_pool2d`` sums over the valid positions, which is what scikit-image's reflect-padded
filter followed by its crop of the border computes; float64 throughout. Every state is a sum,
so the metrics are exact under DDP (states are summed across ranks).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torchmetrics import Metric

SSIM_WINDOW, SSIM_K1, SSIM_K2, SSIM_DATA_RANGE = 7, 0.01, 0.03, 2.0


def ssim_per_frame(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """SSIM of each frame ``(N, C, H, W)`` -> ``(N,)``, as scikit-image <= 0.19.3 computes it for OpenSTL."""
    p, t = pred.double(), target.double()
    win = SSIM_WINDOW
    if min(p.shape[-2:]) < win:
        raise ValueError(f"SSIM needs frames of at least {win}x{win}, got {tuple(p.shape[-2:])}")

    def mean(x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, win, stride=1)

    ux, uy = mean(p), mean(t)
    cov_norm = win * win / (win * win - 1)  # sample covariance
    vx = cov_norm * (mean(p * p) - ux * ux)
    vy = cov_norm * (mean(t * t) - uy * uy)
    vxy = cov_norm * (mean(p * t) - ux * uy)
    c1, c2 = (SSIM_K1 * SSIM_DATA_RANGE) ** 2, (SSIM_K2 * SSIM_DATA_RANGE) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.mean(dim=(-2, -1)).mean(dim=-1)


def psnr_per_frame(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """PSNR of each frame ``(N, C, H, W)`` in [0, 1] -> ``(N,)``: ``20 log10(1 / sqrt(mean squared error))``."""
    mse = (pred.float() - target.float()).square().flatten(1).mean(1).double()
    return 20.0 * torch.log10(1.0 / mse.sqrt())


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
        """The error at each predicted frame, over every sequence of every DDP rank: the states
        are summed across ranks first, as ``compute`` does (torchmetrics syncs only ``compute``)."""
        with self.sync_context(dist_sync_fn=self.dist_sync_fn, should_sync=self._to_sync,
                               should_unsync=self._should_unsync):
            return (self.per_step / self.sequences).float()


class PerFrameMean(Metric):
    """The mean over all frames of a per-frame score (``ssim_per_frame`` or ``psnr_per_frame``)."""

    full_state_update = False
    higher_is_better = True

    def __init__(self, score, **kwargs):
        super().__init__(**kwargs)
        self.score = score
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("frames", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """``pred`` and ``target``: ``(B, T, C, H, W)``; ``pred`` is clipped to [0, 1] as OpenSTL does."""
        frames_p, frames_t = pred.flatten(0, 1).clamp(0, 1), target.flatten(0, 1)
        self.total += self.score(frames_p, frames_t).sum()
        self.frames += frames_p.shape[0]

    def compute(self) -> torch.Tensor:
        return (self.total / self.frames).float()


class FrameMetrics(nn.Module):
    """MSE, MAE (per frame, summed over pixels), SSIM and PSNR of predicted frames in [0, 1]."""

    names = ("mse", "mae", "ssim", "psnr")

    def __init__(self, num_frames: int):
        super().__init__()
        self.mse = FrameError("mse", num_frames)
        self.mae = FrameError("mae", num_frames)
        self.ssim = PerFrameMean(ssim_per_frame)
        self.psnr = PerFrameMean(psnr_per_frame)

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """``pred`` and ``target``: ``(B, T, C, H, W)`` in [0, 1]."""
        for _, metric in self.items():
            metric.update(pred, target)

    def items(self):
        return ((name, getattr(self, name)) for name in self.names)
