"""Frame-prediction metrics are OpenSTL's: per-frame MSE/MAE summed over pixels, SSIM as
scikit-image <= 0.19.3 computes it for OpenSTL, PSNR per frame and then averaged."""

import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from seqvision.tasks.frame_metrics import FrameError, FrameMetrics, psnr_per_frame, ssim_per_frame
from seqvision.tasks.predict import constant_frames, copy_last_frame


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


@pytest.mark.parametrize("channels", [1, 3])
def test_ssim_matches_scikit_image_as_openstl_calls_it(channels):
    """OpenSTL: ``cal_ssim(pred[b, f].swapaxes(0, 2), true[b, f].swapaxes(0, 2), multichannel=True)``
    on float frames, with scikit-image <= 0.19.3, whose data_range for floats is 2 (range [-1, 1])."""
    rng = np.random.default_rng(channels)
    target = rng.random((5, channels, 20, 24)).astype(np.float32)
    pred = np.clip(target + rng.normal(0, 0.2, target.shape), 0, 1).astype(np.float32)
    ours = ssim_per_frame(torch.from_numpy(pred), torch.from_numpy(target))
    for i in range(5):
        ref = structural_similarity(pred[i].swapaxes(0, 2), target[i].swapaxes(0, 2), channel_axis=-1, data_range=2.0)
        assert abs(float(ours[i]) - ref) < 1e-4, (i, float(ours[i]), ref)


def test_ssim_and_psnr_of_constant_frames_by_hand():
    """Constant frames a and b: every window has zero variance, so SSIM = (2ab + C1) / (a^2 + b^2 + C1)
    with C1 = (0.01 * 2)^2; and PSNR = 20 log10(1 / |a - b|)."""
    a, b = 0.3, 0.5
    pred, target = torch.full((1, 1, 9, 9), a), torch.full((1, 1, 9, 9), b)
    c1 = (0.01 * 2) ** 2
    assert math.isclose(float(ssim_per_frame(pred, target)), (2 * a * b + c1) / (a * a + b * b + c1), rel_tol=1e-6)
    assert math.isclose(float(psnr_per_frame(pred, target)), 20 * math.log10(1 / 0.2), rel_tol=1e-5)


def test_psnr_is_the_mean_of_per_frame_psnr_and_ssim_is_one_for_a_perfect_prediction():
    target = torch.rand(2, 3, 1, 16, 16)
    noise = torch.zeros_like(target)
    noise[0, 0] = 0.1  # one frame much worse than the others
    pred = (target + noise + 0.01).clamp(0, 1)
    m = FrameMetrics(3)
    m.update(pred[:1], target[:1])
    m.update(pred[1:], target[1:])
    per_frame = ((pred - target) ** 2).mean(dim=(2, 3, 4))
    assert math.isclose(float(m.psnr.compute()), float((10 * torch.log10(1 / per_frame)).mean()), rel_tol=1e-4)
    pooled = 10 * math.log10(1 / float(per_frame.mean()))
    assert abs(float(m.psnr.compute()) - pooled) > 0.5  # not the PSNR of the pooled error
    perfect = FrameMetrics(3)
    perfect.update(target, target)
    assert math.isclose(float(perfect.ssim.compute()), 1.0, abs_tol=1e-6)
    assert float(perfect.mse.compute()) == 0.0


def test_predictions_are_clipped_to_the_unit_range_for_ssim_and_psnr():
    target = torch.rand(1, 2, 1, 12, 12)
    m, clipped = FrameMetrics(2), FrameMetrics(2)
    m.update(target + 0.5, target)
    clipped.update((target + 0.5).clamp(0, 1), target)
    assert math.isclose(float(m.ssim.compute()), float(clipped.ssim.compute()), rel_tol=1e-6)
    assert math.isclose(float(m.psnr.compute()), float(clipped.psnr.compute()), rel_tol=1e-6)
    assert float(m.mse.compute()) > float(clipped.mse.compute())  # MSE sees the prediction as given


def test_trivial_forecasts():
    x = torch.arange(2 * 3 * 1 * 2 * 2, dtype=torch.float32).view(2, 3, 1, 2, 2)
    out = copy_last_frame(x, 5)
    assert out.shape == (2, 5, 1, 2, 2)
    assert all(torch.equal(out[:, k], x[:, -1]) for k in range(5))
    mean = torch.rand(1, 2, 2)
    like = torch.zeros(2, 4, 1, 2, 2)
    assert torch.equal(constant_frames(mean, like), mean.expand(2, 4, 1, 2, 2))


def test_per_frame_error_under_ddp_is_that_of_every_sequence_of_every_rank():
    """Two ranks with 3 and 1 sequences: the error at each predicted frame is the mean over the 4
    sequences of both ranks, not each rank's own mean. The other rank is simulated by the gather
    function torchmetrics syncs states with, so the sync path runs without a process group."""
    torch.manual_seed(0)
    pred, target = torch.rand(4, 3, 1, 8, 8), torch.rand(4, 3, 1, 8, 8)
    other = FrameError("mse", 3)
    other.update(pred[3:], target[3:])
    states = {torch.float64: other.per_step, torch.int64: other.sequences}

    def gather(tensor, group=None):  # what gather_all_tensors returns on rank 0 of two
        return [tensor, states[tensor.dtype]]

    mine = FrameError("mse", 3, dist_sync_fn=gather, distributed_available_fn=lambda: True)
    mine.update(pred[:3], target[:3])
    expect = ((pred - target) ** 2).sum(dim=(2, 3, 4)).mean(0)
    assert torch.allclose(mine.compute_per_step(), expect, atol=1e-6)
    assert torch.allclose(mine.compute(), expect.mean(), atol=1e-6)
    assert int(mine.sequences) == 3  # the states are this rank's own again afterwards
