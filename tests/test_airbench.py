"""The airbench net's data-dependent whitening stem and its other switches."""

from __future__ import annotations

import pytest
import torch

from seqvision.errors import InvalidArgument
from seqvision.nets.airbench import AirbenchNet


def test_the_whitening_stem_decorrelates_the_patches_it_was_fitted_to():
    g = torch.Generator().manual_seed(0)
    mix = torch.randn(3, 3, generator=g)
    images = torch.einsum("dc,nchw->ndhw", mix, torch.randn(64, 3, 12, 12, generator=g))  # correlated channels
    net = AirbenchNet((3, 12, 12), 10, num_layers=1, width=8, stem_width=24, whiten=True, whiten_eps=0.0)
    net.init_from_data(images)
    out = net.stem(images).permute(0, 2, 3, 1).reshape(-1, 24)[:, :12].double()  # the 12 eigen-filters
    cov = out.T @ out / len(out)
    assert torch.allclose(cov, torch.eye(12, dtype=torch.float64), atol=1e-3)  # whitened: identity covariance
    assert torch.equal(net.stem.weight[12:], -net.stem.weight[:12])
    assert not any(p.requires_grad for p in net.stem.parameters())


def test_without_whitening_the_stem_trains_and_data_leaves_it_alone():
    net = AirbenchNet((3, 8, 8), 10, num_layers=1, width=8)
    before = net.stem.weight.clone()
    net.init_from_data(torch.randn(4, 3, 8, 8))
    assert torch.equal(net.stem.weight, before) and net.stem.weight.requires_grad


def test_bn_and_dirac_switches():
    net = AirbenchNet((3, 8, 8), 10, num_layers=1, width=24, stem_width=24, bn_momentum=0.3, bn_weight=False, dirac=True)
    bn = net.blocks[0][2]
    assert bn.momentum == 0.3 and not bn.weight.requires_grad and bn.bias.requires_grad
    conv = net.blocks[0][0].weight
    assert torch.equal(conv[:, :, 1, 1], torch.eye(24))  # identity on the first channels at the centre tap


def test_a_whitening_stem_of_the_wrong_width_is_refused_with_the_width_it_needs():
    with pytest.raises(InvalidArgument, match="stem_width=24"):
        AirbenchNet((3, 8, 8), 10, stem_width=16, whiten=True)
