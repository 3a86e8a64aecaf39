"""End to end through ``seqvision.run.train``: the configs in conf/ train on video data."""

import json
from pathlib import Path

import pytest

from seqvision.errors import ConfigError
from seqvision.run import train

TINY = ["trainer.max_epochs=1", "scheduler=none", "trainer.log_every_n_steps=1"]


def _results(cfg) -> dict:
    return json.loads((Path(cfg.paths.output_dir) / "results.json").read_text())


def test_frame_prediction_trains_and_reports_the_baseline(video_cfg):
    cfg = video_cfg("data=moving_mnist", "model=convlstm", "data.source=digits", "data.train_size=8",
                      "data.val_size=4", "data.test_size=4", "data.batch_size=4", "model.net.num_layers=1",
                      "model.net.hidden_channels=4", "model.net.patch_size=8", "task.loss=bce", *TINY)
    value = train(cfg)
    res = _results(cfg)
    assert res["status"] == "completed" and cfg.optimized_metric == "val/mse_best" and value == res["metrics"]["val/mse_best"]
    for key in ("test/mse", "test/mae", "test/ssim", "test/psnr", "test/mse_t10"):
        assert key in res["metrics"], key
    for baseline in ("last", "zero", "mean"):
        for name in ("mse", "mae", "ssim", "psnr"):
            assert f"test/baseline_{baseline}_{name}" in res["metrics"], (baseline, name)
    assert res["metrics"]["test/baseline_zero_mse"] > res["metrics"]["test/baseline_mean_mse"] > 0
    assert res["data"]["evaluated"] == {"val": 4, "test": 4} and res["data"]["used"]["test"] == 4
    assert cfg.callbacks.model_checkpoint.monitor == "val/mse" and cfg.callbacks.model_checkpoint.mode == "min"
    assert (Path(cfg.paths.output_dir) / "media" / "test_frames.png").is_file()


def test_video_classification_trains_on_a_folder_of_clips(video_cfg, clip_folder):
    cfg = video_cfg("data=video_folder", f"data.root={clip_folder}", "data.num_frames=4", "data.image_size=16",
                      "data.num_workers=0", "data.batch_size=2", "model=cnn_lstm", "model.net.stem_layers=1",
                      "model.net.stem_width=8", "model.net.hidden_size=8", "model.net.cell=cifg", *TINY)
    train(cfg)
    res = _results(cfg)
    assert res["status"] == "completed" and "test/acc" in res["metrics"]
    assert list((clip_folder / ".seqvision_cache").rglob("*.pt"))


def test_labelled_moving_mnist_trains_a_video_classifier(video_cfg):
    cfg = video_cfg("data=moving_mnist_labels", "data.source=digits", "data.train_size=8", "data.val_size=4",
                      "data.test_size=4", "data.batch_size=4", "data.input_frames=4", "model=cnn",
                      "model.net.num_layers=1", "model.net.width=8", *TINY)
    train(cfg)
    assert "test/acc" in _results(cfg)["metrics"]


def test_row_lstm_on_moving_mnist_is_a_config_error_before_training(video_cfg):
    cfg = video_cfg("data=moving_mnist", "model=row_lstm", "data.source=digits", *TINY)
    with pytest.raises(ConfigError, match="row_lstm has no meaning for frame prediction"):
        train(cfg)


def test_a_data_error_in_a_data_module_constructor_surfaces_as_itself(video_cfg, clip_folder):
    from seqvision.errors import DataError

    (clip_folder / "empty_class").mkdir()
    cfg = video_cfg("data=video_folder", f"data.root={clip_folder}", "model=cnn_lstm", *TINY)
    with pytest.raises(DataError, match="empty_class"):
        train(cfg)
