"""Forward FLOPs of a net on one sample, counted by ``torch.utils.flop_counter.FlopCounterMode``.

What is counted is torch's registry: matrix products (``mm``, ``addmm``, ``bmm``, ``linear``),
convolutions and fused attention, a multiply-add being 2 FLOPs; elementwise operations,
normalizations and activations are not, as in the FLOP counts papers publish. The count runs
on one sample of the real input shape in eval mode without gradients, with oneDNN off: on a
CPU with oneDNN ``nn.LSTM`` runs as one fused kernel that the registry does not know, and
would be counted as 0; without oneDNN it runs as the matrix products that are counted (the
same arithmetic). On a GPU the count runs on the same net where it lives; cuDNN's fused RNN
kernel has no formula, so a net with one is counted on a CPU copy.

The registry knows ``addmm`` but not its in-place form ``addmm_``, which our hand-written LSTM
loop (``nets/lstm_bptt.py``) uses for every recurrent product, nor the CPU kernel of fused
attention: these are counted with the formulas of their twins (``EXTRA``). Any other operation whose name says it multiplies
matrices or convolves (``mm``, ``conv``, ``rnn``, ``lstm``, ``attention``, ...) and that has no
formula makes the count "not measured" (``UncountedOps``), never a number that leaves it out.
"""

from __future__ import annotations

import copy
import re

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode, flop_registry

_FUSED_RNN = (nn.LSTM, nn.GRU, nn.RNN)
aten = torch.ops.aten
# Formulas torch registers for one op and not for its twin: the out-of-place op's formula for the
# in-place one, the GPU flash attention's for the CPU kernel (same shapes in, same products).
# Unwrapped: FlopCounterMode wraps a custom mapping itself.
EXTRA = {aten.addmm_: flop_registry[aten.addmm].__wrapped__, aten.baddbmm_: flop_registry[aten.baddbmm].__wrapped__,
         aten._scaled_dot_product_flash_attention_for_cpu:
             flop_registry[aten._scaled_dot_product_flash_attention].__wrapped__}
HEAVY = re.compile(r"mm|matmul|conv|linear|rnn|lstm|gru|attention|einsum", re.I)


class UncountedOps(RuntimeError):
    """The forward pass ran matrix products or convolutions that torch's counter has no formula for."""


class _Seen(TorchDispatchMode):
    """Every operation the forward pass dispatches (inside the counter, so it sees what it sees)."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: set = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.add(func.overloadpacket)
        return func(*args, **(kwargs or {}))


def forward_flops(net: nn.Module, input_shape: tuple[int, ...], depth: int = 3) -> tuple[int, dict[str, int]]:
    """``(total, {module path: FLOPs})`` of one forward pass of ``net`` on a zero sample of
    ``input_shape`` (without the batch dimension). Module paths are FlopCounterMode's
    (``Global``, ``<NetClass>.<child>...``) down to ``depth``. Raises ``UncountedOps`` naming
    the operations it could not count."""
    net = getattr(net, "_orig_mod", net)  # torch.compile's wrapper: count the module it compiles
    device = next((p.device for p in net.parameters()), torch.device("cpu"))
    if device.type != "cpu" and any(isinstance(m, _FUSED_RNN) for m in net.modules()):
        net, device = copy.deepcopy(net).cpu(), torch.device("cpu")
    sample = torch.zeros(1, *input_shape, device=device)
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad(), torch.backends.mkldnn.flags(enabled=False), \
                FlopCounterMode(display=False, depth=depth, custom_mapping=EXTRA) as counter, _Seen() as seen:
            net(sample)
    finally:
        net.train(was_training)
    known = set(flop_registry) | set(EXTRA)
    if uncounted := sorted(str(op) for op in seen.ops if op not in known and HEAVY.search(str(op))):
        raise UncountedOps(f"no FLOP formula for {', '.join(uncounted)}")
    per_module = {name: sum(ops.values()) for name, ops in counter.get_flop_counts().items()}
    return int(counter.get_total_flops()), per_module


def training_flops(forward_per_sample: int, samples: int) -> int:
    """Training FLOPs as the literature estimates them: 3 x forward x samples seen (the backward
    pass costs about twice the forward: a gradient for the inputs and one for the weights;
    Kaplan et al. 2020, section 2.1). Not counted: the optimizer's update and evaluation."""
    return 3 * int(forward_per_sample) * int(samples)
