"""Forward FLOPs of a net on one sample, counted by ``torch.utils.flop_counter.FlopCounterMode``.

What is counted is torch's registry: matrix products (``mm``, ``addmm``, ``bmm``, ``linear``),
convolutions and fused attention, a multiply-add being 2 FLOPs; elementwise operations,
normalizations and activations are not, as in the FLOP counts papers publish. The count runs
on one sample of the real input shape in eval mode without gradients, with oneDNN off: on a
CPU with oneDNN ``nn.LSTM`` runs as one fused kernel that the registry does not know, and
would be counted as 0; without oneDNN it runs as the matrix products that are counted (the
same arithmetic). On a GPU the count runs on the same net where it lives; cuDNN's fused RNN
kernel has no formula, so a net with one is counted on a CPU copy.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

_FUSED_RNN = (nn.LSTM, nn.GRU, nn.RNN)


def forward_flops(net: nn.Module, input_shape: tuple[int, ...], depth: int = 3) -> tuple[int, dict[str, int]]:
    """``(total, {module path: FLOPs})`` of one forward pass of ``net`` on a zero sample of
    ``input_shape`` (without the batch dimension). Module paths are FlopCounterMode's
    (``Global``, ``<NetClass>.<child>...``) down to ``depth``."""
    net = getattr(net, "_orig_mod", net)  # torch.compile's wrapper: count the module it compiles
    device = next((p.device for p in net.parameters()), torch.device("cpu"))
    if device.type != "cpu" and any(isinstance(m, _FUSED_RNN) for m in net.modules()):
        net, device = copy.deepcopy(net).cpu(), torch.device("cpu")
    sample = torch.zeros(1, *input_shape, device=device)
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad(), torch.backends.mkldnn.flags(enabled=False), \
                FlopCounterMode(display=False, depth=depth) as counter:
            net(sample)
    finally:
        net.train(was_training)
    per_module = {name: sum(ops.values()) for name, ops in counter.get_flop_counts().items()}
    return int(counter.get_total_flops()), per_module


def training_flops(forward_per_sample: int, samples: int) -> int:
    """Training FLOPs as the literature estimates them: 3 x forward x samples seen (the backward
    pass costs about twice the forward: a gradient for the inputs and one for the weights;
    Kaplan et al. 2020, section 2.1). Not counted: the optimizer's update and evaluation."""
    return 3 * int(forward_per_sample) * int(samples)
