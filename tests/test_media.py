"""Strips of input, target and predicted frames: layout, PNG, TensorBoard image, PyAV video."""

from types import SimpleNamespace

import torch

from seqvision.tasks.media import frame_strip, log_strip, side_by_side_video


def _frames():
    x, y = torch.rand(3, 4, 1, 8, 8), torch.rand(3, 5, 1, 8, 8)
    return x, y, torch.rand(3, 5, 1, 8, 8)


def test_strip_has_three_rows_per_sequence_and_the_longest_row_of_columns():
    grid = frame_strip(*_frames(), n=2)
    pad = 2
    assert grid.shape == (3, 6 * (8 + pad) + pad, 5 * (8 + pad) + pad)


def test_video_puts_target_and_prediction_side_by_side():
    x, y, p = _frames()
    v = side_by_side_video(y, p, n=2)
    assert v.shape == (5, 8, 2 * 2 * 8, 3) and v.dtype == torch.uint8
    assert torch.equal(v[:, :, 8:16, 0], (p[0, :, 0] * 255).round().to(torch.uint8))


def test_log_strip_writes_a_png_and_a_tensorboard_image(tmp_path):
    from pytorch_lightning.loggers import TensorBoardLogger

    tb = TensorBoardLogger(str(tmp_path), name="tb", version="")
    module = SimpleNamespace(loggers=[tb], global_step=7)
    log_strip(module, "test/frames", *_frames(), media_dir=tmp_path / "media")
    tb.experiment.flush()
    assert (tmp_path / "media" / "test_frames.png").is_file()
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path / "tb")).Reload()
    assert "test/frames" in events.Tags()["images"]


def test_written_video_decodes_back(tmp_path):
    from seqvision.data.video_io import read_clip
    from seqvision.videos import write_video

    frames = (torch.rand(6, 16, 16, 3) > 0.5).to(torch.uint8).numpy() * 255
    path = write_video(tmp_path / "v.gif", frames, fps=4)
    back = read_clip(path, 6, 1, 16)
    assert back.shape == (6, 3, 16, 16)
    assert (abs(back.astype(int) - frames.transpose(0, 3, 1, 2).astype(int)) < 40).mean() > 0.95
