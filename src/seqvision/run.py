"""The run driver: config in, trained and tested model plus ``results.json`` out.

Order matters: everything that can be wrong with a command is checked (schema, then building
the data module and the net, which check shapes) before data is read or a step is taken.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from seqvision.errors import ConfigError
from seqvision.schema import validate

log = logging.getLogger(__name__)


def build_datamodule(cfg: DictConfig):
    from hydra.utils import instantiate

    augment = None
    if cfg.get("augmentation") and cfg.augmentation.get("_target_"):
        augment = instantiate(cfg.augmentation)
    return instantiate(cfg.data, augment=augment)


def build_net(cfg: DictConfig, datamodule):
    """The net is built for the data's shapes; a shape that cannot work is a config error."""
    from hydra.utils import instantiate

    try:
        return instantiate(cfg.model.net, input_shape=tuple(datamodule.input_shape), num_classes=datamodule.num_classes)
    except Exception as err:
        cause = err.__cause__ if err.__cause__ is not None else err
        if isinstance(cause, (ValueError, TypeError)):
            name = cfg.model.net.get("_target_", "?").rsplit(".", 1)[-1]
            raise ConfigError(f"model {name} on data {type(datamodule).__name__}: {cause}") from err
        raise


def build_task(cfg: DictConfig, net, datamodule):
    import torch

    from seqvision.speed import channels_last

    if cfg.model.get("channels_last", False):
        net = channels_last(net)  # before compile, so the compiled graph sees NHWC
    if cfg.model.get("compile", False):
        net = torch.compile(net)
    task = getattr(datamodule, "task", "classify")
    if task == "classify":
        from seqvision.tasks.classify import ClassificationTask

        return ClassificationTask(net, datamodule.num_classes, cfg.optimizer, cfg.get("scheduler"),
                                  **cfg.model.get("task", {}))
    if task == "predict":
        from seqvision.tasks.predict import FramePredictionTask

        return FramePredictionTask(net, cfg.optimizer, cfg.get("scheduler"), **cfg.model.get("task", {}))
    raise ConfigError(f"data module {type(datamodule).__name__} has unknown task {task!r}")


def instantiate_group(group: DictConfig | None) -> list:
    """Instantiates every entry of ``callbacks`` or ``logger`` that has a ``_target_``; null disables one."""
    from hydra.utils import instantiate

    if not group:
        return []
    return [instantiate(c) for c in group.values() if isinstance(c, DictConfig) and c.get("_target_")]


def resolve_ckpt_path(cfg: DictConfig, output_dir: Path) -> str | None:
    """``resume=true`` (or ``ckpt_path=last``) continues from the newest checkpoint of this run folder."""
    if cfg.get("resume") or cfg.get("ckpt_path") == "last":
        last = output_dir / "checkpoints" / "last.ckpt"
        if last.is_file():
            log.info("Resuming from %s", last)
            return str(last)
        log.warning("resume: no checkpoint in %s yet, starting from scratch", last.parent)
        return None
    ckpt = cfg.get("ckpt_path")
    if ckpt and ckpt != "best":
        from seqvision.data.image_datamodule import resolve_root

        return str(resolve_root(ckpt))
    return None


def output_dir_of(cfg: DictConfig) -> Path:
    return Path(cfg.paths.output_dir)


def write_json_atomic(path: Path, payload: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(payload, indent=2, default=str))
    os.replace(tmp, path)


def _scalars(metrics: dict) -> dict[str, float]:
    out = {}
    for k, v in metrics.items():
        try:
            out[k] = float(v)
        except (TypeError, ValueError):
            continue
    return out


def _overrides() -> list[str]:
    try:
        from hydra.core.hydra_config import HydraConfig

        return list(HydraConfig.get().overrides.task)
    except Exception:
        return []


def train(cfg: DictConfig) -> float | None:
    """Validates, fits, tests with the best checkpoint, writes ``results.json``; returns the
    value of ``cfg.optimized_metric`` so Hydra sweepers (Optuna) can optimise it."""
    validate(cfg)
    import pytorch_lightning as pl

    from seqvision.callbacks.atomic_checkpoint_io import AtomicCheckpointIO
    from seqvision.callbacks.nonfinite_loss import NonFiniteLossError

    if cfg.get("seed") is None:
        cfg.seed = random.randrange(2**31)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    from seqvision import speed

    speed_flags = speed.apply_global(cfg.get("speed"), cfg.get("trainer"))
    log.info(speed.describe(speed_flags, cfg))
    output_dir = output_dir_of(cfg)
    datamodule = build_datamodule(cfg)
    net = build_net(cfg, datamodule)
    task = build_task(cfg, net, datamodule)
    ckpt_path = resolve_ckpt_path(cfg, output_dir)
    callbacks, loggers = instantiate_group(cfg.get("callbacks")), instantiate_group(cfg.get("logger"))

    from hydra.utils import instantiate

    trainer: pl.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False,
                                      plugins=[AtomicCheckpointIO()])
    resolved = OmegaConf.to_container(cfg, resolve=True)
    for logger in loggers:
        logger.log_hyperparams(resolved)

    started = time.time()
    results: dict[str, Any] = {"status": "running", "task_name": cfg.task_name, "seed": cfg.seed,
                               "overrides": _overrides(), "run_dir": str(output_dir), "speed": speed_flags}
    try:
        if cfg.get("train", True):
            trainer.fit(task, datamodule=datamodule, ckpt_path=ckpt_path)
        metrics = _scalars(trainer.callback_metrics)
        if cfg.get("test", True):
            test_ckpt = ckpt_path
            if cfg.get("train", True):
                best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
                test_ckpt = best or None
                if not best:
                    log.warning("No best checkpoint found; testing the current weights")
            trainer.test(task, datamodule=datamodule, ckpt_path=test_ckpt)
            metrics.update(_scalars(trainer.callback_metrics))
        results.update(status="completed", metrics=metrics)
    except NonFiniteLossError as err:
        results.update(status="failed", error=str(err), metrics=_scalars(trainer.callback_metrics))
        raise
    except BaseException as err:
        results.update(status="failed", error=f"{type(err).__name__}: {err}")
        raise
    finally:
        ckpt_cb = trainer.checkpoint_callback
        results.update(
            epochs=trainer.current_epoch, global_step=trainer.global_step, wall_time_s=round(time.time() - started, 3),
            best_checkpoint=getattr(ckpt_cb, "best_model_path", None) or None,
            last_checkpoint=str(output_dir / "checkpoints" / "last.ckpt")
            if (output_dir / "checkpoints" / "last.ckpt").exists() else None,
            optimized_metric=cfg.get("optimized_metric"),
        )
        if trainer.is_global_zero:
            output_dir.mkdir(parents=True, exist_ok=True)
            write_json_atomic(output_dir / "results.json", results)
        for logger in loggers:
            _finish(logger, results)

    name = cfg.get("optimized_metric")
    if name and cfg.get("train", True):
        if name not in results["metrics"]:
            raise ConfigError(f"optimized_metric={name!r} was not logged; logged: {', '.join(sorted(results['metrics']))}")
        return results["metrics"][name]
    return results["metrics"].get(name) if name else None


def _finish(logger, results: dict) -> None:
    """Puts summary metrics on the W&B run and closes it, so the next trial of a sweep starts a new run."""
    try:
        from pytorch_lightning.loggers import WandbLogger
    except ImportError:
        return
    if isinstance(logger, WandbLogger) and logger._experiment is not None:
        run = logger.experiment
        for k, v in results.get("metrics", {}).items():
            run.summary[k] = v
        run.summary["status"] = results["status"]
        run.finish(exit_code=0 if results["status"] == "completed" else 1)
