"""``model=convlstm`` for frame prediction: Shi et al. (2015)'s encoder-forecaster.

The encoder, a stack of ``num_layers`` conv recurrent layers, reads the input frames; the
forecaster, a second stack, starts from the encoder's final states (layer by layer) and runs
``output_frames`` steps with no input; a 1x1 conv over the hidden states of *all* forecaster
layers gives each predicted frame (the paper's output layer). ``patch_size`` is the paper's
patch option: frames are cut into p x p patches and the patches stacked as channels
(space-to-depth, ``pixel_unshuffle``), so the recurrence runs on (H/p, W/p) maps, p^2 times
cheaper, and the output is put back with ``pixel_shuffle``. Every cell name works: ``cell`` and
``num_layers`` mean what they mean for the ConvLSTM classifier.

``forecast`` chooses how the future is rolled out. ``state`` is the paper's: the forecaster
sees no frames and carries the digits' appearance and motion in its state alone. ``feedback``
is how OpenSTL's ConvLSTM and PredRNN run: one stack reads the input frames and then, step by
step, its own previous prediction, and predicts each next frame from the hidden states of all
its layers (half the parameters: there is no second stack). Predictions are fed back as
frames in [0, 1] with their gradient, so training sees the errors it compounds at test time. In
short CPU probes with a linear head, ``feedback`` learned no faster than ``state``
(``benchmarks/results/2026-12-03_xeon/moving_mnist_head_probes.txt``).

``head`` says what the output layer produces; the prediction task reads it from ``frame_head``.
``sigmoid``: logits, the frames are their sigmoid (what BCE needs). ``linear``: the frames
themselves (read clamped to [0, 1]), as OpenSTL's ConvLSTM; an MSE loss on them keeps its full
gradient where a sigmoid head saturates on the black background, which is why the CPU recipe
(``experiment=convlstm_moving_mnist_cpu``) uses it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from seqvision.constraints import OddPositiveInt, PositiveInt
from seqvision.errors import InvalidArgument
from seqvision.frame_heads import FRAME_HEADS, FrameHead, to_frames

from .cells import Cell
from .conv_recurrent import ConvRecurrentCell


def stack_widths(hidden_channels: int | Sequence[int], num_layers: int) -> list[int]:
    widths = [hidden_channels] * num_layers if isinstance(hidden_channels, int) else [int(c) for c in hidden_channels]
    if len(widths) != num_layers:
        raise InvalidArgument(f"hidden_channels has {len(widths)} entries but num_layers={num_layers}; "
                         f"give one int or one entry per layer; e.g. hidden_channels=[64, 64]")
    return widths


class EncoderForecaster(nn.Module):
    def __init__(self, input_shape: Sequence[int], output_frames: PositiveInt,
                 num_layers: PositiveInt = 2, hidden_channels: PositiveInt | Sequence[PositiveInt] | Sequence[int] = 64, kernel_size: OddPositiveInt = 3,
                 cell: Cell = "vanilla", peephole: bool | None = None, peephole_shape: Literal["position", "channel"] = "position",
                 patch_size: PositiveInt = 4, forecast: Literal["state", "feedback"] = "state",
                 head: FrameHead = "sigmoid"):
        super().__init__()
        if len(input_shape) != 4:
            raise InvalidArgument(f"input_shape must be (T, C, H, W), got {tuple(input_shape)}")
        if num_layers < 1:
            raise InvalidArgument(f"num_layers must be >= 1, got {num_layers}; e.g. num_layers=2")
        _, c, h, w = (int(v) for v in input_shape)
        if patch_size < 1 or h % patch_size or w % patch_size:
            ok = [p for p in range(1, min(h, w) + 1) if h % p == 0 and w % p == 0]
            raise InvalidArgument(f"patch_size={patch_size} does not divide the {h}x{w} frames; valid: "
                             f"{', '.join(map(str, ok))}; e.g. patch_size=4")
        if forecast not in ("state", "feedback"):
            raise InvalidArgument(f"forecast must be 'state' or 'feedback', got {forecast!r}; e.g. forecast=feedback")
        if head not in FRAME_HEADS:
            raise InvalidArgument(f"head must be one of {', '.join(FRAME_HEADS)}, got {head!r}; e.g. head=linear")
        self.output_frames, self.patch_size = int(output_frames), int(patch_size)
        self.forecast, self.frame_head = forecast, head
        size = (h // patch_size, w // patch_size)
        widths = stack_widths(hidden_channels, num_layers)
        c_patch = c * patch_size**2

        def stack(first_in: int) -> nn.ModuleList:
            cells, c_in = [], first_in
            for c_h in widths:
                cells.append(ConvRecurrentCell(c_in, c_h, kernel_size, cell, peephole, peephole_shape, size))
                c_in = c_h
            return nn.ModuleList(cells)

        self.encoder = stack(c_patch)
        # state: layer 0 has no input (x=None: only conv_x's bias is used); feedback: the encoder goes on
        self.forecaster = stack(1) if forecast == "state" else None
        self.output = nn.Conv2d(sum(widths), c_patch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T_in, C, H, W)`` -> ``(B, output_frames, C, H, W)``: logits or frames, as ``head`` says."""
        b, t, c, h, w = x.shape
        p = self.patch_size
        seq = F.pixel_unshuffle(x.flatten(0, 1), p).unflatten(0, (b, t)) if p > 1 else x
        out = self._feedback(seq) if self.forecast == "feedback" else self._from_state(seq)
        return F.pixel_shuffle(out.flatten(0, 1), p).unflatten(0, (b, self.output_frames)) if p > 1 else out

    def _from_state(self, seq: torch.Tensor) -> torch.Tensor:
        t = seq.shape[1]
        states = []
        for cell in self.encoder:
            xp, state, outs = cell.project(seq), None, []
            for k in range(t):
                h_k, state = cell.step(xp[:, k], state, projected=True)
                outs.append(h_k)
            seq = torch.stack(outs, dim=1)
            states.append(state)
        frames = [self.output(self._stack_step(self.forecaster, None, states)) for _ in range(self.output_frames)]
        return torch.stack(frames, dim=1)

    def _feedback(self, seq: torch.Tensor) -> torch.Tensor:
        t = seq.shape[1]
        states: list = [None] * len(self.encoder)
        frames: list[torch.Tensor] = []
        for k in range(t + self.output_frames - 1):
            hidden = self._stack_step(self.encoder, seq[:, k] if k < t else to_frames(frames[-1], self.frame_head), states)
            if k >= t - 1:  # the steps that predict a frame
                frames.append(self.output(hidden))
        return torch.stack(frames, dim=1)

    def _stack_step(self, cells: nn.ModuleList, inp: torch.Tensor | None, states: list) -> torch.Tensor:
        """One step of a stack (``states`` updated in place): the hidden states of all its layers,
        concatenated, which the output layer turns into a frame."""
        hidden = []
        for i, cell in enumerate(cells):
            inp, states[i] = cell.step(inp, states[i])
            hidden.append(inp)
        return torch.cat(hidden, dim=1)
