"""Speed switches: the process-wide flags of ``conf/speed/`` and the per-net channels-last format.

The flags live in one group because they are global torch state, not properties of a model or
a dataset: cuDNN autotuning, the float32 matmul precision (TF32 on Ampere and newer) and the
CPU thread count. What belongs to one run stays where Lightning and the model expect it:
``trainer.precision`` (bf16-mixed), ``model.compile``, ``model.channels_last`` (a net that
reshapes conv features with ``view`` cannot take NHWC, so each model yaml opts in) and
``data.on_device``. ``describe`` reports all of them in one log line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from seqvision.constraints import PositiveInt

if TYPE_CHECKING:
    from torch import nn

log = logging.getLogger(__name__)

MATMUL_PRECISIONS = ("highest", "high", "medium")


@dataclass
class SpeedSwitches:
    """``conf/speed``: the process-wide switches (``auto``: on with a GPU)."""

    cudnn_benchmark: bool | Literal["auto"] = "auto"
    matmul_precision: Literal["highest", "high", "medium"] | None = "high"
    num_threads: PositiveInt | None = None


def accelerator_type(trainer_cfg: Any) -> str:
    """``cuda`` or ``cpu``: what ``trainer.accelerator`` will pick, known before the Trainer exists."""
    import torch

    acc = str((trainer_cfg or {}).get("accelerator", "auto")).lower()
    if acc in ("gpu", "cuda") or (acc == "auto" and torch.cuda.is_available()):
        return "cuda"
    return "cpu"


def _on(key: str, value: Any, device_type: str) -> bool:
    """``auto`` means: on with a GPU."""
    if isinstance(value, str) and value.lower() == "auto":
        return device_type == "cuda"
    if value is None or isinstance(value, bool):
        return bool(value)
    from seqvision.errors import ConfigError

    raise ConfigError(f"{key}={value!r} is not auto, true or false; e.g. {key}=auto")


def apply_global(speed: Any, trainer_cfg: Any) -> dict[str, Any]:
    """Sets the process-wide flags; returns what was set, for the log line and ``results.json``."""
    import torch

    speed, trainer_cfg = speed or {}, trainer_cfg or {}
    device_type = accelerator_type(trainer_cfg)
    bench = speed.get("cudnn_benchmark", "auto")
    if trainer_cfg.get("deterministic"):
        bench = False  # autotuning picks algorithms by timing them: not reproducible
    torch.backends.cudnn.benchmark = _on("speed.cudnn_benchmark", bench, device_type)
    applied: dict[str, Any] = {"device": device_type, "cudnn_benchmark": torch.backends.cudnn.benchmark}
    if speed.get("matmul_precision"):
        torch.set_float32_matmul_precision(speed["matmul_precision"])
        applied["matmul_precision"] = speed["matmul_precision"]
    if speed.get("num_threads"):
        torch.set_num_threads(int(speed["num_threads"]))
        applied["num_threads"] = int(speed["num_threads"])
    return applied


def _nhwc_input(module: nn.Module, args: tuple) -> tuple:
    import torch
    x = args[0] if args else None
    if isinstance(x, torch.Tensor) and x.dim() == 4:
        return (x.contiguous(memory_format=torch.channels_last), *args[1:])
    return args


def channels_last(net: nn.Module) -> nn.Module:
    """NHWC weights and inputs, so cuDNN and oneDNN run convs without layout transposes
    (what it buys per training step on a given CPU: ``benchmarks/cpu_switches.py``).

    Only 4D parameters change layout; the state dict's keys and values are the same, so a
    checkpoint loads either way. Inputs are converted by a forward pre-hook.
    """
    import torch

    net = net.to(memory_format=torch.channels_last)
    net.register_forward_pre_hook(_nhwc_input)
    return net


def bf16_is_fast(accelerator: str | None = "auto") -> bool:
    """True where bf16 matmuls and convs run natively: a GPU with bf16 support, or a CPU with
    AMX or AVX512-BF16 (elsewhere a CPU has no native bf16 kernels; what bf16 buys on a given CPU:
    ``benchmarks/cpu_switches.py``)."""
    import torch

    acc = str(accelerator or "auto").lower()
    if acc in ("gpu", "cuda") or (acc == "auto" and torch.cuda.is_available()):
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    cpu = torch.cpu
    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(getattr(cpu, name, lambda: False)() for name in checks)


def fast_precision(accelerator: str | None = "auto") -> str:
    """The ``${sv.fast_precision:...}`` resolver: bf16-mixed where it is fast, else 32-true."""
    return "bf16-mixed" if bf16_is_fast(accelerator) else "32-true"


def describe(applied: dict[str, Any], cfg: Any) -> str:
    model, trainer, data = cfg.get("model", {}), cfg.get("trainer", {}), cfg.get("data", {})
    flags = ", ".join(f"{k}={v}" for k, v in applied.items())
    return (f"speed: {flags}, precision={trainer.get('precision', '32-true')}, "
            f"channels_last={bool(model.get('channels_last', False))}, compile={bool(model.get('compile', False))}, "
            f"on_device={data.get('on_device', 'auto')}")
