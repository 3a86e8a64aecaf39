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

from seqvision.errors import ConfigError, InvalidArgument, UserError
from seqvision.schema import validate
from seqvision.secrets import install_log_filter, redact, redacted_argv, scrub_files

log = logging.getLogger(__name__)


def unwrapped(build, *args, **kwargs):
    """Calls ``build`` (``hydra.utils.instantiate`` or a function that uses it) and, when Hydra
    wraps an exception raised inside a constructor in its ``InstantiationException``, raises the
    constructor's own exception: a user error then prints as its one line, and a bug keeps its
    real traceback (Hydra prints only the message of its own wrapper)."""
    from hydra.errors import InstantiationException

    try:
        return build(*args, **kwargs)
    except InstantiationException as err:
        if err.__cause__ is None:
            raise
        raise err.__cause__.with_traceback(err.__cause__.__traceback__) from None


def build_datamodule(cfg: DictConfig):
    from hydra.utils import instantiate

    augment = None
    if cfg.get("augmentation") and cfg.augmentation.get("_target_"):
        augment = unwrapped(instantiate, cfg.augmentation)
    return unwrapped(instantiate, cfg.data, augment=augment)


def build_net(cfg: DictConfig, datamodule):
    """The net is built for the data's shapes. An argument the net rejects (``InvalidArgument``:
    a patch size that does not divide the image, say) is the user's mistake and becomes one
    line naming the model and data; any other exception is a bug and keeps its traceback.

    The data decides what ``model=<name>`` becomes (image classifier, video classifier or
    frame predictor): see ``seqvision.nets.variants``.
    """
    from seqvision.nets.variants import build

    try:
        return unwrapped(build, cfg.model.net, datamodule)
    except InvalidArgument as err:
        name = cfg.model.net.get("_target_", "?").rsplit(".", 1)[-1]
        raise ConfigError(f"model {name} on data {type(datamodule).__name__}: {err}") from err


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

        adapt_monitor(cfg, *FramePredictionTask.monitor, FramePredictionTask.best_metric)
        return FramePredictionTask(net, cfg.optimizer, cfg.get("scheduler"), **cfg.model.get("task", {}))
    raise ConfigError(f"data module {type(datamodule).__name__} has unknown task {task!r}")


CLASSIFY_MONITOR, CLASSIFY_BEST = "val/acc", "val/acc_best"


def adapt_monitor(cfg: DictConfig, monitor: str, mode: str, best: str) -> None:
    """A task without accuracy (frame prediction) watches its own metric: checkpoints and early
    stopping left at the classification default ``val/acc`` follow ``monitor``, and
    ``optimized_metric`` left at ``val/acc_best`` becomes ``best``. Explicit choices are kept."""
    for name in ("model_checkpoint", "early_stopping"):
        node = OmegaConf.select(cfg, f"callbacks.{name}")
        if isinstance(node, DictConfig) and node.get("monitor") == CLASSIFY_MONITOR:
            node.monitor, node.mode = monitor, mode
            log.info("callbacks.%s.monitor: %s (%s) for this task", name, monitor, mode)
    if cfg.get("optimized_metric") == CLASSIFY_BEST:
        cfg.optimized_metric = best


def data_report(datamodule, task) -> dict | None:
    """The data module's report (samples available, used, skipped, the limit) plus how many
    samples the last validation and the test scored, summed over ranks (``evaluated``)."""
    report = dict(getattr(datamodule, "report", None) or {})
    counts = getattr(getattr(task, "samples", None), "last", None)
    if counts:
        report["evaluated"] = dict(counts)
    return report or None


def instantiate_group(group: DictConfig | None) -> list:
    """Instantiates every entry of ``callbacks`` or ``logger`` that has a ``_target_``; null disables one."""
    from hydra.utils import instantiate

    if not group:
        return []
    return [unwrapped(instantiate, c) for c in group.values() if isinstance(c, DictConfig) and c.get("_target_")]


def resolve_ckpt_path(cfg: DictConfig, output_dir: Path) -> str | None:
    """``resume=true`` (or ``ckpt_path=last``) continues from the newest checkpoint of this run folder."""
    if cfg.get("resume") or cfg.get("ckpt_path") == "last":
        from seqvision.callbacks.atomic_checkpoint_io import remove_stale_tmp

        last = output_dir / "checkpoints" / "last.ckpt"
        remove_stale_tmp(last.parent)
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
    _scrub_hydra_files()  # first, so that even a rejected command leaves no secret behind
    install_log_filter()
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
    from seqvision import compat

    compat.check(cfg, datamodule)
    net = build_net(cfg, datamodule)
    task = build_task(cfg, net, datamodule)
    ckpt_path = resolve_ckpt_path(cfg, output_dir)
    callbacks, loggers = instantiate_group(cfg.get("callbacks")), instantiate_group(cfg.get("logger"))

    trainer: pl.Trainer = build_trainer(cfg, callbacks, loggers, [AtomicCheckpointIO()])
    resolved = redact(OmegaConf.to_container(cfg, resolve=True))
    with redacted_argv():  # W&B starts here and records the command line
        for logger in loggers:
            logger.log_hyperparams(resolved)

    from seqvision.sweep import resources, trial

    hardware, me = resources.assigned(), trial.identity()
    resources.apply_cpu_budget(hardware)
    started = time.time()
    results: dict[str, Any] = {"status": "running", "task_name": cfg.task_name, "seed": cfg.seed,
                               "run_dir": str(output_dir), **redact(me), "overrides": redact(me["overrides"] or _overrides()),
                               "resources": hardware, "started_at": started, "speed": speed_flags}
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
        results.update(status="completed", metrics=metrics, data=data_report(datamodule, task))
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
            ended_at=time.time(),
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


def _scrub_hydra_files() -> None:
    """Hydra has written ``.hydra/*.yaml`` (config, overrides) before the run starts; mask secrets there."""
    try:
        from hydra.core.hydra_config import HydraConfig

        folder = Path(HydraConfig.get().runtime.output_dir) / HydraConfig.get().output_subdir
    except Exception:  # not started by Hydra (tests, notebooks): nothing was written
        return
    if folder.is_dir():
        scrub_files(folder)


def build_trainer(cfg: DictConfig, callbacks: list, loggers: list, plugins: list):
    """Lightning rejects some trainer settings only when the Trainer is built: an accelerator
    this machine lacks (``MisconfigurationException``) or one whose package is not installed
    (a requirement check). Those are the user's mistakes, reported in one line; the values the
    schema can check (accelerator names, precision) were checked before. Anything else raised
    here is a bug and keeps its traceback."""
    from hydra.utils import instantiate

    try:
        return unwrapped(instantiate, cfg.trainer, callbacks=callbacks, logger=loggers or False, plugins=plugins)
    except Exception as err:
        if _is_trainer_setting_error(err):
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ConfigError(f"trainer: {first}; e.g. trainer=cpu or trainer.accelerator=auto") from err
        raise


def _is_trainer_setting_error(err: BaseException) -> bool:
    from lightning_fabric.utilities.exceptions import MisconfigurationException

    if isinstance(err, MisconfigurationException):
        return True
    return isinstance(err, ModuleNotFoundError) and str(err).startswith("Requirement ")


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
