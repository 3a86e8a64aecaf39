"""How a recurrent classifier turns a sequence into features: rows as time steps, and the readout."""

from __future__ import annotations

from typing import Literal

import torch

from seqvision.errors import InvalidArgument

READOUTS = ("last", "mean")
Readout = Literal["last", "mean"]


def check_readout(readout: str) -> str:
    if readout not in READOUTS:
        raise InvalidArgument(f"unknown readout {readout!r}; valid: {', '.join(READOUTS)}; e.g. readout=last")
    return readout


def rows_as_sequence(x: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W)`` -> ``(B, H, C*W)``: time runs down the image."""
    return x.permute(0, 2, 1, 3).flatten(2)


def read_out(out: torch.Tensor, readout: str, hidden_size: int, bidirectional: bool) -> torch.Tensor:
    """``last``: final state of each direction (the backward one ends at t = 0); ``mean``: pool."""
    if readout == "mean":
        return out.mean(1)
    if bidirectional:
        return torch.cat([out[:, -1, :hidden_size], out[:, 0, hidden_size:]], dim=1)
    return out[:, -1]
