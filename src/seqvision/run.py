"""The run driver: a composed config in, a trained and tested model and ``results.json`` out.

One pass, in this order: validate the config once (``seqvision.config``: everything that can be
wrong with a command is found before any data is read); build the data module, the net that
the model's family builds for this data and task, the task, the callbacks and loggers and the
Trainer; fit; test the best checkpoint; write ``results.json``. What a sweep adds around a run
(skipping a finished trial, a requeue, a DDP group) lives in ``seqvision.sweep``, which calls
``train`` and hands it the trial's record for ``results.json``.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from seqvision.config import active_recipe, validate
from seqvision.errors import ConfigError, InvalidArgument
from seqvision.files import remove_stale_temporaries, resolve_path
from seqvision.results import RunRecord
from seqvision.secrets import redact, redacted_argv

log = logging.getLogger(__name__)


def train(cfg: DictConfig, record: dict[str, Any] | None = None, extra_callbacks: list = (),
          extra_plugins: list = ()) -> float | None:
    """Validates, fits, tests the best checkpoint, writes ``results.json``; returns the value of
    ``cfg.optimized_metric`` for Hydra sweepers. ``record``: what the caller (a sweep) wants in
    ``results.json`` besides the run's own facts (trial identity, resources, placement);
    ``extra_callbacks``/``extra_plugins``: what it adds to the trainer (a SLURM job's requeue)."""
    validate(cfg)
    if (recipe := active_recipe(cfg)) is not None:
        log.info("recipe %s: the measured settings of this model on this data (conf/recipe/%s.yaml); any value stays "
                 "overridable, recipe=none drops them", recipe[0], recipe[0])
    import pytorch_lightning as pl

    from seqvision import speed
    from seqvision.callbacks.atomic_checkpoint_io import AtomicCheckpointIO

    if cfg.get("seed") is None:
        cfg.seed = random.randrange(2**31)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    speed_flags = speed.apply_global(cfg.get("speed"), cfg.get("trainer"))
    log.info(speed.describe(speed_flags, cfg))
    output_dir = Path(cfg.paths.output_dir)
    datamodule = build_datamodule(cfg)
    task = _task(cfg, build_net(cfg, datamodule), datamodule)
    ckpt_path = _checkpoint_to_start_from(cfg, output_dir) if cfg.get("train", True) else _checkpoint_to_evaluate(cfg, task)
    callbacks, loggers = _each(cfg, "callbacks") + list(extra_callbacks), _each(cfg, "logger")
    meter = _cost_callbacks(cfg, callbacks)
    trainer = _trainer(cfg, callbacks, loggers, [AtomicCheckpointIO(), *extra_plugins])
    with redacted_argv():  # W&B starts here and records the command line
        for logger in loggers:
            logger.log_hyperparams(redact(OmegaConf.to_container(cfg, resolve=True)))

    run = RunRecord(cfg, output_dir, record, speed_flags)
    with run.kept(trainer, loggers):
        if cfg.get("train", True):
            trainer.fit(task, datamodule=datamodule, ckpt_path=ckpt_path)
        metrics = run.scalars(trainer.callback_metrics)
        if cfg.get("test", True):
            tested = _checkpoint_to_test(cfg, trainer, ckpt_path)
            trainer.test(task, datamodule=datamodule, ckpt_path=tested)
            metrics.update(run.scalars(trainer.callback_metrics))
            run.results["tested_checkpoint"] = tested
        run.results["cost"] = _cost(meter, callbacks, trained=bool(cfg.get("train", True)))
        run.completed(metrics, _data_report(datamodule, task))
        run.results["directions"] = _directions(task, metrics)
        _hparams_with_metrics(cfg, loggers, metrics, trainer.global_step)
    return run.optimized_value()


def unwrapped(build, *args, **kwargs):
    """Calls ``build`` (``hydra.utils.instantiate``) and, when Hydra wraps an exception raised
    inside a constructor in its ``InstantiationException``, raises the constructor's own: a user
    error then prints as its one line, and a bug keeps its real traceback (Hydra prints only the
    message of its wrapper)."""
    from hydra.errors import InstantiationException

    try:
        return build(*args, **kwargs)
    except InstantiationException as err:
        if err.__cause__ is None:
            raise
        raise err.__cause__.with_traceback(err.__cause__.__traceback__) from None


def build_datamodule(cfg: DictConfig):
    """The data module of ``cfg.data``, with the augmentation of ``cfg.augmentation`` (if any)."""
    from hydra.utils import instantiate

    augment = None
    if cfg.get("augmentation") and cfg.augmentation.get("_target_"):
        augment = unwrapped(instantiate, cfg.augmentation)
    return unwrapped(instantiate, cfg.data, augment=augment)


def build_net(cfg: DictConfig, datamodule):
    """The net the model's family builds for the role the task asks for on this data. An
    argument the net rejects (``InvalidArgument``: a patch size that does not divide the image,
    say) is the user's mistake, in one line; any other exception is a bug and keeps its traceback."""
    from hydra.utils import get_object

    from seqvision.nets.family import family_of

    family = family_of(get_object(cfg.model.net._target_))
    task_cls = get_object(cfg.task._target_)
    role = task_cls.roles[datamodule.input_kind]
    data_arguments = {name: getattr(datamodule, name) for name in task_cls.net_inputs}
    knobs = {k: v for k, v in OmegaConf.to_container(cfg.model.net, resolve=True).items() if not k.startswith("_")}
    try:
        return family.build(role, data_arguments, knobs)
    except InvalidArgument as err:
        message = str(err).replace("e.g. ", "e.g. model.net.")
        raise ConfigError(f"model {family.member(role).__name__} on data {type(datamodule).__name__}: {message}") from err


def _task(cfg: DictConfig, net, datamodule):
    """The task around the net, with the whole-net switches of ``model`` applied first."""
    import torch
    from hydra.utils import get_object, instantiate

    from seqvision.speed import channels_last

    if cfg.model.get("channels_last", False):
        net = channels_last(net)  # before compile, so the compiled graph sees NHWC
    if cfg.model.get("compile", False):
        net = torch.compile(net)
    task_cls = get_object(cfg.task._target_)
    inputs = {name: getattr(datamodule, name) for name in task_cls.task_inputs}
    return unwrapped(instantiate, cfg.task, _recursive_=False, net=net, optimizer=cfg.optimizer,
                     scheduler=cfg.get("scheduler"), **inputs)


def _cost_callbacks(cfg: DictConfig, callbacks: list):
    """Adds the cost meter every run has (``results.json["cost"]``) and, with a ``budget``, the
    callback that ends training when it is spent; without a summary callback, Lightning adds none
    of its own (it would count 0 FLOPs without an example input). A budget is the run's length, so it lifts
    ``trainer.max_epochs`` and ``min_epochs`` (a recipe's epochs included); a ``trainer.max_steps``
    the command sets stays a hard stop (a smoke run of one step), with a warning that the
    schedule then spans more than the run."""
    from seqvision.budgets import BudgetConfig
    from seqvision.callbacks.budget import Budget
    from seqvision.callbacks.cost import CostMeter

    from pytorch_lightning.callbacks import ModelSummary

    meter = CostMeter()
    callbacks.insert(0, meter)  # first: the budget and the summary read what it measured
    if not any(isinstance(c, ModelSummary) for c in callbacks):
        with open_dict(cfg.trainer):  # callbacks.model_summary=null: no summary, not Lightning's with "0 FLOPs"
            cfg.trainer.enable_model_summary = False
    chosen = BudgetConfig.chosen(cfg.get("budget"))
    if chosen:
        callbacks.insert(1, Budget(meter, **chosen))
        (kind, value), = chosen.items()
        log.info("budget.%s=%s: training ends when it is spent and the schedule spans it (trainer.max_epochs=%s "
                 "lifted)", kind, value, cfg.trainer.get("max_epochs"))
        if cfg.trainer.get("max_steps") not in (None, -1):
            log.warning("trainer.max_steps=%s stops training before budget.%s=%s may be spent; the schedule spans "
                        "the budget", cfg.trainer.max_steps, kind, value)
        with open_dict(cfg.trainer):
            cfg.trainer.max_epochs, cfg.trainer.min_epochs = -1, None
    return meter


def _cost(meter, callbacks: list, trained: bool) -> dict:
    from seqvision.callbacks.budget import Budget

    cost = meter.report(trained)
    budget = next((c for c in callbacks if isinstance(c, Budget)), None)
    if budget is not None and trained:
        cost["budget"] = budget.report()
    return cost


def _directions(task, metrics: dict) -> dict[str, str]:
    """Which way each final metric is better (``max``/``min``), for the report's verdicts."""
    from seqvision.tasks.directions import mode_of

    return {name: mode for name in metrics if (mode := mode_of(type(task), name)) is not None}


def _hparams_with_metrics(cfg: DictConfig, loggers: list, metrics: dict, step: int) -> None:
    """TensorBoard's HParams dashboard lists a run only with the metrics given to
    ``log_hyperparams``; at the start there are none (and ``default_hp_metric: false`` writes no
    placeholder), so the run logs its config again at the end, with its final metrics."""
    from pytorch_lightning.loggers import TensorBoardLogger

    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.log_hyperparams(redact(OmegaConf.to_container(cfg, resolve=True)), metrics=dict(metrics), step=step)


def _each(cfg: DictConfig, group: str) -> list:
    """Every entry of ``callbacks`` or ``logger`` that has a ``_target_``; null disables one. A
    value the callback's constructor refuses (Lightning's ``MisconfigurationException``) is
    reported in one line naming the entry."""
    from hydra.utils import instantiate
    from lightning_fabric.utilities.exceptions import MisconfigurationException

    built = []
    for name, node in (cfg.get(group) or {}).items():
        if not (isinstance(node, DictConfig) and node.get("_target_")):
            continue
        try:
            built.append(unwrapped(instantiate, node))
        except MisconfigurationException as err:
            raise ConfigError(f"{group}.{name}: {_first_line(err)}; e.g. fix the value, or {group}.{name}=null") from err
    return built


def _trainer(cfg: DictConfig, callbacks: list, loggers: list, plugins: list):
    """Lightning rejects some settings only when the Trainer is built: an accelerator this
    machine lacks (``MisconfigurationException``) or one whose package is missing (a requirement
    check). Those are the user's mistakes, in one line; anything else is a bug."""
    from hydra.utils import instantiate
    from lightning_fabric.utilities.exceptions import MisconfigurationException

    try:
        return unwrapped(instantiate, cfg.trainer, callbacks=callbacks, logger=loggers or False, plugins=plugins)
    except (MisconfigurationException, ModuleNotFoundError) as err:
        if isinstance(err, ModuleNotFoundError) and not str(err).startswith("Requirement "):
            raise
        raise ConfigError(f"trainer: {_first_line(err)}; e.g. trainer=cpu or trainer.accelerator=auto") from err


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _checkpoint_to_start_from(cfg: DictConfig, output_dir: Path) -> str | None:
    """``resume=true`` (or ``ckpt_path=last``) continues from the newest checkpoint of this run folder."""
    if cfg.get("resume") or cfg.get("ckpt_path") == "last":
        last = output_dir / "checkpoints" / "last.ckpt"
        remove_stale_temporaries(last.parent, ".*.ckpt.tmp*")
        if last.is_file():
            log.info("Resuming from %s", last)
            return str(last)
        log.warning("resume: no checkpoint in %s yet, starting from scratch", last.parent)
        return None
    ckpt = cfg.get("ckpt_path")
    return str(resolve_path(ckpt)) if ckpt and ckpt != "best" else None


def _checkpoint_to_evaluate(cfg: DictConfig, task) -> str:
    """The checkpoint an evaluation-only run (``train=false``) tests: the file ``ckpt_path`` names,
    or the best checkpoint of the run folder it names. Weights that do not fit the net this
    command builds (another model config) are refused in one line before any data is read."""
    from seqvision.checkpoints import to_evaluate, weights_mismatch

    path, why = to_evaluate(str(cfg.ckpt_path), resolve_path)
    if why is not None:
        raise ConfigError(why)
    if (mismatch := weights_mismatch(task, path)) is not None:
        raise ConfigError(f"ckpt_path={cfg.ckpt_path}: the weights in {path} do not fit the net this command builds "
                          f"({mismatch}); valid: the model and data config the checkpoint was trained with; e.g. "
                          f"ckpt_path=<its run folder> replays that run's overrides")
    log.info("Evaluating %s", path)
    return str(path)


def _checkpoint_to_test(cfg: DictConfig, trainer, ckpt_path: str | None) -> str | None:
    """After training, the best checkpoint of this run; in an evaluation-only run, the one given."""
    if not cfg.get("train", True):
        return ckpt_path
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    if not best:
        log.warning("No best checkpoint found; testing the current weights")
    return best or None


def _data_report(datamodule, task) -> dict | None:
    """The data module's report (samples available, used, skipped, the limit) plus how many
    samples the last validation and the test scored, summed over ranks (``evaluated``)."""
    report = dict(getattr(datamodule, "report", None) or {})
    counts = getattr(getattr(task, "samples", None), "last", None)
    if counts:
        report["evaluated"] = dict(counts)
    if getattr(task, "per_class_accuracy", None):
        report["per_class_accuracy"] = dict(task.per_class_accuracy)
    return report or None
