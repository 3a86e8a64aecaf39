"""A fast ResNet-free CIFAR net after airbench94 (Jordan 2024, arXiv:2404.00498: 94% on CIFAR-10
in 3.3 s on an A100).

The speed comes from the shape: a 2x2 stem conv without padding, then ``num_layers`` blocks of
conv -> max-pool -> BN -> GELU -> conv -> BN -> GELU, so every block after the first works on a
quarter of the pixels; a global max-pool and a bias-free linear head whose logits are scaled
down (``logit_scale``), which with label smoothing keeps the early steps of a large learning
rate stable. From airbench, as switches:

* ``whiten``: the stem is a frozen patch-whitening filter bank: the eigenvectors of the
  covariance of 2x2 training patches, scaled by 1 / sqrt(eigenvalue), and their negatives. It is
  fitted to the data by ``init_from_data`` (the classification task calls it before the first
  step of a fresh run); with the stem frozen, no gradient flows into the input of the first
  block, which saves the stem's backward pass;
* ``bn_momentum`` (PyTorch's convention: the weight of the new batch; airbench's "0.6" is 0.4
  here): a short run has few steps to settle the running statistics; ``bn_weight=false`` keeps
  the BatchNorm scales at 1, learning only the shifts;
* ``dirac``: each conv starts as the identity on its first input channels.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seqvision.constraints import NonNegativeFloat, PositiveFloat, PositiveInt, Probability
from seqvision.errors import InvalidArgument


def _bn(c: int, momentum: float, weight: bool) -> nn.BatchNorm2d:
    bn = nn.BatchNorm2d(c, momentum=momentum, eps=1e-12)
    bn.weight.requires_grad_(weight)
    return bn


def _conv(c_in: int, c_out: int, dirac: bool) -> nn.Conv2d:
    conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
    if dirac:
        nn.init.dirac_(conv.weight.data[: min(c_in, c_out)])
    return conv


class AirbenchBlock(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, pool: bool, bn_momentum: float = 0.4, bn_weight: bool = True,
                 dirac: bool = False):
        super().__init__(_conv(c_in, c_out, dirac), nn.MaxPool2d(2) if pool else nn.Identity(),
                         _bn(c_out, bn_momentum, bn_weight), nn.GELU(),
                         _conv(c_out, c_out, dirac), _bn(c_out, bn_momentum, bn_weight), nn.GELU())


class AirbenchNet(nn.Module):
    """Stem, ``num_layers`` blocks (widths ``width * width_mult**i`` capped at ``max_width``), head."""

    def __init__(self, input_shape: Sequence[int], num_classes: int, num_layers: PositiveInt = 3,
                 width: PositiveInt = 64, width_mult: PositiveFloat = 4.0, max_width: PositiveInt = 256,
                 stem_width: PositiveInt = 24, logit_scale: PositiveFloat = 1 / 9, whiten: bool = False,
                 whiten_eps: NonNegativeFloat = 5e-4, bn_momentum: Probability = 0.4, bn_weight: bool = True,
                 dirac: bool = False):
        super().__init__()
        c, h, w = input_shape[-3:]
        if min(h, w) < 2:
            raise InvalidArgument(f"input {h}x{w} is too small for the 2x2 stem")
        if whiten and stem_width != 2 * c * 4:
            raise InvalidArgument(f"stem_width={stem_width}: a whitening stem has 2 x {c * 4} filters (the "
                                  f"eigenvectors of {c}x2x2 patches and their negatives); e.g. stem_width={2 * c * 4}")
        self.stem = nn.Conv2d(c, stem_width, 2, bias=True)
        self.whiten, self.whiten_eps = whiten, whiten_eps
        if whiten:
            self.stem.requires_grad_(False)
        blocks, c_in, size = [], stem_width, min(h, w) - 1
        for i in range(num_layers):
            c_out = int(min(round(width * width_mult**i), max_width))
            pool = size >= 2
            blocks.append(AirbenchBlock(c_in, c_out, pool, bn_momentum, bn_weight, dirac))
            c_in, size = c_out, size // 2 if pool else size
        self.act = nn.GELU()
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(c_in, num_classes, bias=False))
        self.logit_scale = logit_scale

    @torch.no_grad()
    def init_from_data(self, images: torch.Tensor) -> None:
        """Fits the whitening stem to normalized training images ``(N, C, H, W)`` (no-op without ``whiten``)."""
        if not self.whiten:
            return
        k = self.stem.weight.shape[-1]
        patches = images.float().unfold(2, k, 1).unfold(3, k, 1)  # N, C, H', W', k, k
        patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, self.stem.in_channels * k * k).double()
        cov = patches.T @ patches / len(patches)  # uncentred, as airbench
        eigval, eigvec = torch.linalg.eigh(cov)
        filters = (eigvec.T / torch.sqrt(eigval + self.whiten_eps).unsqueeze(1)).flip(0)
        filters = filters.float().view(-1, self.stem.in_channels, k, k).to(self.stem.weight)
        self.stem.weight.copy_(torch.cat([filters, -filters]))
        self.stem.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.act(self.stem(x)))) * self.logit_scale
