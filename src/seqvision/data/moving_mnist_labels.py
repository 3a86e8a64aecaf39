"""``data=moving_mnist_labels``: one bouncing digit per clip, labelled by its class.

Video classification ``(B, T, 1, 64, 64)`` that runs offline (the digits come from MNIST or
the bundled scikit-learn digits, as for ``data=moving_mnist``).
"""

from __future__ import annotations

from typing import Literal

import torch

from seqvision.constraints import PositiveInt
from seqvision.data.moving_mnist import MovingMNISTDataModule
from seqvision.errors import ConfigError


class LabelledMovingMNISTDataModule(MovingMNISTDataModule):
    """One digit bouncing for ``input_frames`` frames, labelled by its class: video classification offline.

    The still frames alone would give the class away, so this is a smoke test of the video
    pipeline and of sequence models on (B, T, C, H, W), not a benchmark of motion understanding.
    """

    target_kind = "label"
    num_classes = 10

    def __init__(self, num_digits: Literal[1] = 1, input_frames: PositiveInt = 10, output_frames: Literal[0] = 0, **kwargs):
        """One digit per clip (its label) and no target frames; the standard test file has no labels."""
        if kwargs.get("test_file"):
            raise ConfigError("data.test_file: mnist_test_seq.npy has no labels; valid: null here, or data=moving_mnist "
                              "to test on it; e.g. data.test_file=null")
        super().__init__(num_digits=1, input_frames=input_frames, output_frames=0, **kwargs)
        if self.augment is not None and hasattr(self.augment, "without_flips"):
            self.augment = self.augment.without_flips()  # digits: a mirrored digit is another digit

    def tensors(self, split: str) -> tuple:
        data = self.splits[split]
        return self._rows_of(data, split), self._rows_of(data.labels(), split)

    @property
    def class_names(self) -> list[str]:
        return [str(i) for i in range(10)]

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x * 0.3081 + 0.1307).clamp(0, 1)

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        """uint8 -> [0, 1] -> augmentation (training only; one draw per clip) -> MNIST normalization."""
        x, y = batch
        x = x.float().div_(255.0)
        trainer = getattr(self, "trainer", None)
        if self.augment is not None and trainer is not None and trainer.training:
            x, y = self.augment(x, y, self.num_classes)
        return (x - 0.1307) / 0.3081, y
