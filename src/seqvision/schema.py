"""The typed config schema, checked before any data is read or any model is built.

Hydra composes whatever the command line says; this module decides whether it can work.
Each rule names a config key, its type, its valid range and an example fix, so a mistake
costs one line of output instead of a traceback ten minutes into a run. Rules for keys a
config does not have are skipped: every model and data module shares this one table, and
keys mean the same thing everywhere (``model.net.num_layers`` is always the depth).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf

from seqvision.errors import ConfigError

_MISSING = object()


@dataclass(frozen=True)
class Rule:
    key: str
    kind: type  # int, float, bool or str; int is accepted where float is asked
    check: Callable[[Any], bool] | None
    valid: str
    example: str
    nullable: bool = False

    def problem(self, value: Any) -> str | None:
        if value is None:
            return None if self.nullable else f"{self.key} must be set"
        if not _is_kind(value, self.kind):
            return f"{self.key}={value!r} is not {_KIND_NAMES[self.kind]}"
        if self.check is not None and not self.check(value):
            return f"{self.key}={value!r} is out of range"
        return None


_KIND_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a string", object: "a value"}


def _is_kind(value: Any, kind: type) -> bool:
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def positive(v):
    return v > 0


def non_negative(v):
    return v >= 0


def fraction_open(v):
    return 0 < v < 1


def prob(v):
    return 0 <= v < 1


def one_of(*options) -> Callable[[Any], bool]:
    return lambda v: v in options


def lightning_strategy(v) -> bool:
    """A strategy name Lightning's registry knows (ddp, ddp_spawn, fsdp, deepspeed, ...)."""
    from pytorch_lightning.strategies import StrategyRegistry

    return v == "auto" or v in StrategyRegistry.available_strategies()


PRECISIONS = ("32-true", "32", "16-mixed", "bf16-mixed", "bf16-true", "16-true", "64-true", "64", "16", "bf16")
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu")

RULES: tuple[Rule, ...] = (
    Rule("seed", int, lambda v: 0 <= v <= 2**32 - 1, "an integer from 0 to 4294967295 (2^32 - 1), or null to draw one",
         "seed=42", nullable=True),
    Rule("task_name", str, lambda v: bool(v.strip()) and "/" not in v, "a non-empty name without '/'", "task_name=train"),
    Rule("train", bool, None, "true or false", "train=false ckpt_path=path/to/last.ckpt"),
    Rule("test", bool, None, "true or false", "test=true"),
    Rule("resume", bool, None, "true or false", "resume=true hydra.run.dir=<run folder>"),
    Rule("ckpt_path", str, None, "a checkpoint file, 'last' or 'best'", "ckpt_path=logs/train/runs/.../checkpoints/last.ckpt", nullable=True),
    Rule("optimized_metric", str, None, "a logged metric name", "optimized_metric=val/acc_best", nullable=True),
    Rule("optimizer.lr", float, positive, "a number > 0", "optimizer.lr=0.001"),
    Rule("optimizer.weight_decay", float, non_negative, "a number >= 0", "optimizer.weight_decay=0.0001"),
    Rule("optimizer.momentum", float, prob, "a number in [0, 1)", "optimizer.momentum=0.9"),
    Rule("optimizer.alpha", float, fraction_open, "a number in (0, 1)", "optimizer.alpha=0.99"),
    Rule("scheduler.interval", str, one_of("step", "epoch"), "step or epoch", "scheduler.interval=step"),
    Rule("data.batch_size", int, positive, "an integer >= 1", "data.batch_size=128"),
    Rule("data.eval_batch_size", int, positive, "an integer >= 1", "data.eval_batch_size=512", nullable=True),
    Rule("data.val_fraction", float, fraction_open, "a number in (0, 1)", "data.val_fraction=0.1"),
    Rule("data.limit", int, positive, "an integer >= 1 (samples per split) or null", "data.limit=1000", nullable=True),
    Rule("data.root", str, lambda v: bool(v.strip()), "a folder path", "data.root=../shared/data"),
    Rule("data.image_size", int, positive, "an integer >= 1", "data.image_size=32"),
    Rule("data.download", bool, None, "true or false", "data.download=false"),
    Rule("data.verify", bool, None, "true or false", "data.verify=true"),
    Rule("model.net.num_layers", int, positive, "an integer >= 1", "model.net.num_layers=2"),
    Rule("model.net.stem_layers", int, non_negative, "an integer >= 0", "model.net.stem_layers=2"),
    Rule("model.net.hidden_size", int, positive, "an integer >= 1", "model.net.hidden_size=128"),
    Rule("model.net.width", int, positive, "an integer >= 1", "model.net.width=32"),
    Rule("model.net.dim", int, positive, "an integer >= 1", "model.net.dim=128"),
    Rule("model.net.heads", int, positive, "an integer >= 1", "model.net.heads=4"),
    Rule("model.net.patch_size", int, positive, "an integer >= 1 that divides the image size", "model.net.patch_size=4"),
    Rule("model.net.kernel_size", int, lambda v: v >= 1 and v % 2 == 1, "an odd integer >= 1", "model.net.kernel_size=3"),
    Rule("model.net.steps", int, positive, "an integer >= 1", "model.net.steps=3"),
    Rule("model.net.dropout", float, prob, "a number in [0, 1)", "model.net.dropout=0.1"),
    Rule("model.net.bidirectional", bool, None, "true or false", "model.net.bidirectional=true"),
    Rule("model.compile", bool, None, "true or false", "model.compile=true"),
    Rule("model.channels_last", bool, None, "true or false", "model.channels_last=false"),
    Rule("speed.matmul_precision", str, one_of("highest", "high", "medium"), "highest, high or medium",
         "speed.matmul_precision=high", nullable=True),
    Rule("speed.num_threads", int, positive, "an integer >= 1 or null", "speed.num_threads=1", nullable=True),
    Rule("trainer.max_epochs", int, lambda v: v >= 1 or v == -1, "an integer >= 1 (or -1 for no limit)", "trainer.max_epochs=10", nullable=True),
    Rule("trainer.max_steps", int, lambda v: v >= 1 or v == -1, "an integer >= 1 (or -1 for no limit)", "trainer.max_steps=1000"),
    Rule("trainer.accelerator", str, one_of(*ACCELERATORS), ", ".join(ACCELERATORS), "trainer.accelerator=auto"),
    Rule("trainer.strategy", str, lightning_strategy, "auto or a name in Lightning's StrategyRegistry (ddp, ddp_spawn, fsdp, ...)",
         "trainer.strategy=ddp"),
    Rule("trainer.precision", str, one_of(*PRECISIONS), ", ".join(PRECISIONS[:5]), "trainer.precision=bf16-mixed"),
    Rule("trainer.gradient_clip_val", float, non_negative, "a number >= 0 or null", "trainer.gradient_clip_val=1.0", nullable=True),
    Rule("trainer.gradient_clip_algorithm", str, one_of("norm", "value"), "norm or value", "trainer.gradient_clip_algorithm=norm", nullable=True),
    Rule("callbacks.mid_epoch_checkpoint.every_n_train_steps", int, non_negative, "an integer >= 0 (0: only at epoch ends)", "callbacks.mid_epoch_checkpoint.every_n_train_steps=50"),
    Rule("trainer.accumulate_grad_batches", int, positive, "an integer >= 1", "trainer.accumulate_grad_batches=2"),
    Rule("trainer.deterministic", object, lambda v: v in (True, False, "warn"), "true, false or warn (GPU ops without a deterministic kernel only warn)", "trainer.deterministic=true", nullable=True),
    Rule("trainer.limit_train_batches", float, positive, "a fraction in (0, 1] or a number of batches >= 1", "trainer.limit_train_batches=0.5", nullable=True),
    Rule("augmentation.pad", int, non_negative, "an integer >= 0", "augmentation.pad=4"),
    Rule("augmentation.cutout", int, positive, "an integer >= 1", "augmentation.cutout=8"),
)


def _select(cfg: DictConfig, key: str, example: str = "") -> Any:
    from omegaconf.errors import MissingMandatoryValue

    try:
        return OmegaConf.select(cfg, key, default=_MISSING, throw_on_missing=True)
    except MissingMandatoryValue as err:
        raise ConfigError(f"{key} is required (it is ??? in the config); e.g. {example or key + '=<value>'}") from err
    except Exception as err:  # an interpolation that cannot resolve
        first = str(err).strip().splitlines()[0]
        raise ConfigError(f"{key} cannot be resolved ({first}); e.g. {example or key + '=<value>'}") from err


def _coerce_precision(cfg: DictConfig) -> None:
    """Lightning accepts ``precision=32`` as an int; the schema compares strings."""
    value = OmegaConf.select(cfg, "trainer.precision")
    if isinstance(value, int) and not isinstance(value, bool):
        cfg.trainer.precision = str(value)


def problems(cfg: DictConfig) -> list[str]:
    """Every rule violation in ``cfg``, each a complete one-line message."""
    _coerce_precision(cfg)
    found = []
    for rule in RULES:
        value = _select(cfg, rule.key, rule.example)
        if value is _MISSING:
            continue
        if (problem := rule.problem(value)) is not None:
            found.append(f"{problem}; valid: {rule.valid}; e.g. {rule.example}")
    found += _cell_problems(cfg)
    found += _run_mode_problems(cfg)
    return found


def _cell_problems(cfg: DictConfig) -> list[str]:
    cell = OmegaConf.select(cfg, "model.net.cell")
    if cell is None:
        return []
    try:
        from seqvision.nets import cells
    except ImportError:
        return []
    aliases = getattr(cells, "CELL_ALIASES", None) or getattr(cells, "ALIASES", {})  # nets names it ALIASES
    valid = tuple(cells.CELLS) + tuple(aliases)
    if not isinstance(cell, str) or cell.lower() not in valid:
        return [f"model.net.cell={cell!r} is not a known recurrent cell; valid: {', '.join(valid)}; e.g. model.net.cell=cifg"]
    return []


def _run_mode_problems(cfg: DictConfig) -> list[str]:
    train, test, ckpt = cfg.get("train", True), cfg.get("test", True), cfg.get("ckpt_path")
    if train is False and test is False:
        return ["train=false test=false leaves nothing to do; e.g. train=false test=true ckpt_path=<file>"]
    if train is False and not ckpt:
        return ["train=false needs a checkpoint to evaluate; e.g. train=false ckpt_path=<run folder>/checkpoints/last.ckpt"]
    if isinstance(ckpt, str) and ckpt not in ("last", "best"):
        path = _abs(ckpt)
        if not os.path.isfile(path):
            return [f"ckpt_path={ckpt!r}: no such file; valid: an existing .ckpt file, 'last' or 'best'; "
                    f"e.g. ckpt_path=<run folder>/checkpoints/last.ckpt"]
        if (why := checkpoint_problem(path)) is not None:
            return [f"ckpt_path={ckpt!r}: {path} is not a checkpoint ({why}); valid: a .ckpt file that a seqvision "
                    f"run wrote; e.g. ckpt_path=<run folder>/checkpoints/last.ckpt"]
    return []


def checkpoint_problem(path: str) -> str | None:
    """Why ``path`` is not a Lightning checkpoint, or None. Memory-maps the file, so a large
    checkpoint costs no reading; a file ``torch.save`` did not write is named before any work."""
    import zipfile

    if not zipfile.is_zipfile(path):
        return "not a file written by torch.save"
    import torch

    try:
        ckpt = torch.load(path, map_location="cpu", mmap=True, weights_only=False)
    except Exception as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return f"torch.load failed: {first}"
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        return "torch.load gives no 'state_dict': it holds something other than a training checkpoint"
    return None


def _abs(path: str) -> str:
    from seqvision.data.image_datamodule import resolve_root

    return str(resolve_root(path))


def validate(cfg: DictConfig) -> None:
    """Raises one ConfigError listing every problem (one line each), or returns."""
    found = problems(cfg)
    if found:
        raise ConfigError("\n".join(found))
