"""Shared fixtures: tiny data in the real on-disk formats, and a composed config for end-to-end runs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

# Several test runs share two cores on the dev machine: with 2 intra-op threads each, OpenMP
# threads spin waiting for each other and a step gets 10x slower (measured: 7 s vs 0.5 s).
torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def compose_cfg(tmp_path):
    """``compose_cfg(*overrides)`` -> the config ``train.py`` would get, writing into ``tmp_path``."""
    from hydra import compose, initialize_config_dir

    from seqvision.entry import register_resolvers

    os.environ.setdefault("SEQVISION_ROOT", str(ROOT))
    register_resolvers()

    def make(*overrides: str):
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            return compose("train", overrides=[f"paths.output_dir={tmp_path / 'run'}", "logger=csv",
                                               "callbacks.rich_progress_bar=null", "callbacks.model_summary=null",
                                               "+trainer.enable_progress_bar=false", "+trainer.enable_model_summary=false",
                                               "trainer.num_sanity_val_steps=0", *overrides])

    return make


def moving_square_clip(num_frames: int, size: int, direction: int) -> np.ndarray:
    """uint8 (T, size, size, 3): a white square crossing the frame left->right (1) or right->left (-1)."""
    frames = np.zeros((num_frames, size, size, 3), np.uint8)
    for t in range(num_frames):
        x = (t * 2) % (size - 6) if direction > 0 else (size - 6) - (t * 2) % (size - 6)
        frames[t, size // 2 - 3: size // 2 + 3, x: x + 6] = 255
    return frames


@pytest.fixture
def clip_folder(tmp_path) -> Path:
    """``root/<class>/<clip>.avi|mp4``: 2 classes x 5 clips of 24 frames, 32x32, written with PyAV."""
    from seqvision.data.video_io import write_video

    root = tmp_path / "clips"
    for cls, direction in (("left", -1), ("right", 1)):
        (root / cls).mkdir(parents=True)
        for k in range(5):
            ext = ".avi" if k % 2 else ".mp4"
            write_video(root / cls / f"v_{cls}_g{k:02d}{ext}", moving_square_clip(24, 32, direction), fps=10)
    return root
