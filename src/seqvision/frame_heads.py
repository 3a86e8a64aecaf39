"""How a frame predictor's outputs become frames in [0, 1].

Below both the nets that feed their own predictions back (the ConvLSTM forecaster's
``forecast=feedback``) and the task that scores them, so the frame a net reads back is the
frame the task scores and the two cannot drift apart. ``sigmoid``: the outputs are logits.
``linear``: the outputs are the frames themselves, clamped to [0, 1] when read (OpenSTL's heads).
"""

from __future__ import annotations

from typing import Literal, get_args

import torch

FrameHead = Literal["sigmoid", "linear"]
FRAME_HEADS: tuple[str, ...] = get_args(FrameHead)


def to_frames(out: torch.Tensor, head: str) -> torch.Tensor:
    return torch.sigmoid(out) if head == "sigmoid" else out.clamp(0, 1)
