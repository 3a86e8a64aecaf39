"""The convolutional form of every cell (ConvLSTM, Shi et al. 2015, generalised to every name)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seqvision.errors import InvalidArgument

from .cells import gru_gating, lstm_gating, lstm_spec, resolve_cell, uniform_init


class ConvRecurrentCell(nn.Module):
    """Conv cell: the dense equations with ``W x`` -> ``conv(W, x)`` and ``R h'`` -> ``conv(R, h')``.

    fgr's gate recurrence is a conv over the previous gate maps (3C -> 3C). Peepholes are
    Hadamard products with ``(C, H, W)`` weights (paper) or ``(C, 1, 1)`` (``peephole_shape=
    "channel"``). Use ``project`` once for all frames, then ``step(xp_t, state, projected=True)``;
    an encoder-forecaster can drive ``step`` directly (zero input: pass ``xp_t=None``).
    """

    def __init__(self, in_channels: int, hidden_channels: int, kernel_size: int = 3, cell: str = "vanilla",
                 peephole: bool | None = None, peephole_shape: str = "position",
                 spatial_size: Sequence[int] | None = None):
        super().__init__()
        if kernel_size % 2 == 0 or kernel_size < 1:
            raise InvalidArgument(f"kernel_size must be odd (same padding), got {kernel_size}; e.g. kernel_size=3")
        if peephole_shape not in ("position", "channel"):
            raise InvalidArgument(f"peephole_shape must be 'position' or 'channel', got {peephole_shape!r}")
        self.cell = resolve_cell(cell)
        self.spec = lstm_spec(self.cell, peephole)
        self.gates = self.spec.gates if self.spec else (("r", "z", "n") if self.cell == "gru" else ("h",))
        G, C, pad = len(self.gates), hidden_channels, kernel_size // 2
        self.hidden_channels = C
        self.conv_x = nn.Conv2d(in_channels, G * C, kernel_size, padding=pad)
        self.conv_h = nn.Conv2d(C, G * C, kernel_size, padding=pad, bias=False)
        self.conv_q = nn.Conv2d(3 * C, 3 * C, kernel_size, padding=pad, bias=False) if self.spec and self.spec.fgr else None
        self.bias_hn = nn.Parameter(torch.zeros(C, 1, 1)) if self.cell == "gru" else None
        self.peephole = None
        if self.spec and self.spec.peephole:
            if peephole_shape == "position":
                if spatial_size is None:
                    raise InvalidArgument("per-position peepholes need spatial_size=(H, W); pass it or use "
                                     "peephole_shape: channel")
                shape = (C, int(spatial_size[0]), int(spatial_size[1]))
            else:
                shape = (C, 1, 1)
            self.peephole = nn.Parameter(torch.empty(len(self.spec.peep_gates), *shape))
            uniform_init([self.peephole], C)

    def init_state(self, batch: int, ref: torch.Tensor, size: Sequence[int]) -> tuple[torch.Tensor, ...]:
        z = ref.new_zeros(batch, self.hidden_channels, *size)
        if self.spec is None:
            return (z,)
        return (z, z.clone(), ref.new_zeros(batch, 3 * self.hidden_channels, *size)) if self.spec.fgr else (z, z.clone())

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """Input convolution of ``(N, C, H, W)`` or all frames of ``(B, T, C, H, W)`` in one call."""
        if x.dim() == 5:
            return self.conv_x(x.flatten(0, 1)).unflatten(0, x.shape[:2])
        return self.conv_x(x)

    def step(self, x_t: torch.Tensor | None, state: tuple[torch.Tensor, ...] | None = None,
             projected: bool = False) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """One step: frame ``(B, C_in, H, W)`` or its projection; ``x_t=None`` means zero input."""
        if state is None:
            if x_t is None:
                raise ValueError("step(None, state) needs a state to take the batch and size from")
            state = self.init_state(x_t.shape[0], x_t, x_t.shape[-2:])
        h = state[0]
        if x_t is None:  # zero frame: only the input bias remains
            xp = self.conv_x.bias.view(1, -1, 1, 1)
        else:
            xp = x_t if projected else self.conv_x(x_t)
        hp = self.conv_h(h)
        if self.cell == "gru":
            h = gru_gating(xp, hp, h, self.bias_hn)
            return h, (h,)
        a = xp + hp
        if self.spec is None:
            h = torch.tanh(a)
            return h, (h,)
        if self.spec.fgr:
            n = 3 * self.hidden_channels
            a = torch.cat([a[:, :n] + self.conv_q(state[2]), a[:, n:]], dim=1)
        h, c, q = lstm_gating(self.spec, a, state[1], self.peephole)
        new = (h, c, q) if self.spec.fgr else (h, c)
        return h, new


class ConvRecurrentLayer(nn.Module):
    """A ConvRecurrentCell run over a whole sequence.

    ``forward(x)``: ``x (B, T, C, H, W)`` -> ``(out (B, T, C_h, H, W), state)``; or a still
    ``x (B, C, H, W)`` with ``steps=n``: the same frame shown n times, projected only once.
    """

    def __init__(self, in_channels: int, hidden_channels: int, kernel_size: int = 3, cell: str = "vanilla",
                 peephole: bool | None = None, peephole_shape: str = "position",
                 spatial_size: Sequence[int] | None = None):
        super().__init__()
        self.cell = ConvRecurrentCell(in_channels, hidden_channels, kernel_size, cell, peephole,
                                      peephole_shape, spatial_size)

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, ...] | None = None, steps: int | None = None):
        xp = self.cell.project(x)
        if x.dim() == 4:
            if steps is None:
                raise ValueError("a 4-D (B, C, H, W) input needs steps=n (number of recurrent steps)")
            frames = [xp] * steps
        else:
            frames = xp.unbind(1)
        outs = []
        for xp_t in frames:
            h, state = self.cell.step(xp_t, state or self.cell.init_state(xp_t.shape[0], xp_t, xp_t.shape[-2:]),
                                      projected=True)
            outs.append(h)
        return torch.stack(outs, dim=1), state
