"""Frame-prediction metrics match their definitions (OpenSTL's per-frame MSE, per-frame PSNR)."""

import math

import torch

from seqvision.tasks.frame_metrics import FrameError, FrameMetrics
from seqvision.tasks.predict import copy_last_frame


def test_mse_is_summed_over_pixels_and_averaged_over_frames_and_sequences():
    torch.manual_seed(0)
    pred, target = torch.rand(3, 4, 1, 8, 8), torch.rand(3, 4, 1, 8, 8)
    m = FrameError("mse", 4)
    m.update(pred[:2], target[:2])
    m.update(pred[2:], target[2:])
    expect = ((pred - target) ** 2).sum(dim=(2, 3, 4)).mean()
    assert torch.allclose(m.compute(), expect)
    assert torch.allclose(m.compute_per_step(), ((pred - target) ** 2).sum(dim=(2, 3, 4)).mean(0))
    mae = FrameError("mae", 4)
    mae.update(pred, target)
    assert torch.allclose(mae.compute(), (pred - target).abs().sum(dim=(2, 3, 4)).mean())


def test_psnr_is_the_mean_of_per_frame_psnr_and_ssim_is_one_for_a_perfect_prediction():
    target = torch.rand(2, 3, 1, 16, 16)
    noise = torch.zeros_like(target)
    noise[0, 0] = 0.1  # one frame much worse than the others
    pred = (target + noise + 0.01).clamp(0, 1)
    m = FrameMetrics(3)
    m.update(pred, target)
    per_frame = ((pred - target) ** 2).mean(dim=(2, 3, 4))
    assert math.isclose(float(m.psnr.compute()), float((10 * torch.log10(1 / per_frame)).mean()), rel_tol=1e-4)
    perfect = FrameMetrics(3)
    perfect.update(target, target)
    assert math.isclose(float(perfect.ssim.compute()), 1.0, abs_tol=1e-4)
    assert float(perfect.mse.compute()) == 0.0


def test_copy_last_frame_repeats_the_last_input():
    x = torch.arange(2 * 3 * 1 * 2 * 2, dtype=torch.float32).view(2, 3, 1, 2, 2)
    out = copy_last_frame(x, 5)
    assert out.shape == (2, 5, 1, 2, 2)
    assert all(torch.equal(out[:, k], x[:, -1]) for k in range(5))
