"""The shape of the composed config (``conf/train.yaml`` and its groups), and its validation.

Group nodes with a ``_target_`` are checked against their constructors (``seqvision.validate``);
the few nodes without one are described here by dataclasses next to the code that reads them
(``Schedule`` in ``tasks.optim``, ``SpeedSwitches`` in ``speed``). What depends on more than one
group is checked here too, before any data is read: which net the model family builds for this
data and task (``nets.family``), whether the optimizer and the schedule accept their values
(built once on a dummy parameter, so torch's own checks speak), and what the run is asked to do
(train, test, a checkpoint to start from).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from annotated_types import Ge, Interval, Predicate
from omegaconf import DictConfig, OmegaConf

from seqvision.budgets import BudgetConfig
from seqvision.constraints import Chance, FolderName, NonNegativeFloat, NonNegativeInt, PositiveFloat, Probability
from seqvision.errors import ConfigError
from seqvision.speed import SpeedSwitches
from seqvision.tasks.optim import Schedule
from seqvision.validate import Target, Targets, dataclass_problems, resolve_target, signature_of, target_problems, value_problem

log = logging.getLogger(__name__)


@dataclass
class ModelConfig:
    net: Target             # a nets.family.Family (or an nn.Module class): the net for each kind of data
    compile: bool = False   # torch.compile the whole net
    channels_last: bool = False  # NHWC memory format for conv nets


@dataclass
class Paths:
    root_dir: str
    data_dir: str
    log_dir: str
    output_dir: str


@dataclass
class RunConfig:
    data: Target
    task: Target
    model: ModelConfig
    optimizer: Target
    scheduler: Schedule
    trainer: Target
    speed: SpeedSwitches
    paths: Paths
    task_name: FolderName = "train"
    tags: list[str] = field(default_factory=list)
    seed: Annotated[int, Interval(ge=0, le=2**32 - 1)] | None = 42
    train: bool = True
    test: bool = True
    resume: bool = False
    ckpt_path: str | None = None
    optimized_metric: str | None = None
    augmentation: Target | None = None  # seqvision.data.augment.Augmentation and its ops; empty for none
    logger: Targets | None = None
    callbacks: Targets | None = None
    extras: dict[str, Any] | None = None  # free-form values to interpolate or to record; seqvision reads none
    budget: BudgetConfig = field(default_factory=BudgetConfig)  # compute-matched training (callbacks/budget.py)


# Arguments the run driver supplies itself, by config path: never set in a config file.
SUPPLIED = {"data": ("augment",), "optimizer": ("params",), "scheduler.scheduler": ("optimizer",),
            "trainer": ("callbacks", "logger", "plugins"), "task": ("net", "optimizer", "scheduler")}


def _lightning_accelerator(value: str) -> bool:
    """auto, gpu or a name in Lightning's AcceleratorRegistry (cpu, cuda, mps, tpu)"""
    from pytorch_lightning.accelerators import AcceleratorRegistry

    return value in ("auto", "gpu") or value in AcceleratorRegistry.available_accelerators()


def _lightning_strategy(value: str) -> bool:
    """auto or a name in Lightning's StrategyRegistry (ddp, ddp_spawn, fsdp, ...)"""
    from pytorch_lightning.strategies import StrategyRegistry

    return value == "auto" or value in StrategyRegistry.available_strategies()


def _epochs(value: int) -> bool:
    """an integer >= 1, or -1 for no limit"""
    return value >= 1 or value == -1


# Rules for third-party arguments whose annotations are looser than what can run: Lightning
# annotates accelerator and strategy as any string and rejects unknown names only inside the
# Trainer; it accepts max_epochs=0 (a run that trains nothing) and a negative clip value; torch
# accepts SGD momentum 1 (updates that never forget a gradient and grow without bound).
THIRD_PARTY = {
    "pytorch_lightning.trainer.trainer.Trainer": {
        "accelerator": Annotated[str, Predicate(_lightning_accelerator)],
        "strategy": Annotated[str, Predicate(_lightning_strategy)],
        "max_epochs": Annotated[int, Predicate(_epochs)] | None,
        "gradient_clip_val": NonNegativeFloat | None,
        "gradient_clip_algorithm": Literal["norm", "value"] | None,
    },
    "torch.optim.sgd.SGD": {"momentum": Probability},
    # Lightning checks these inside the callbacks' constructors, or (patience) never.
    "pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint": {
        "save_top_k": Annotated[int, Ge(-1)], "every_n_train_steps": NonNegativeInt | None,
        "every_n_epochs": NonNegativeInt | None},
    "pytorch_lightning.callbacks.early_stopping.EarlyStopping": {"patience": NonNegativeInt, "min_delta": NonNegativeFloat},
}


def _extra_rules(target: Any) -> dict[str, Any]:
    module = getattr(target, "__module__", "") or ""
    rules = dict(THIRD_PARTY.get(f"{module}.{getattr(target, '__qualname__', '')}", {}))
    if module.startswith("torch.optim.") and "lr_scheduler" not in module:
        rules.setdefault("lr", PositiveFloat)  # torch accepts 0, which trains nothing
    if module.startswith("kornia.augmentation."):
        rules.setdefault("p", Chance)  # Kornia annotates p as any float and fails on 1.5 only at the first batch
    return rules


_TARGET_WORDS = {"label": "class labels", "frames": "the frames that follow its inputs"}


def _choice(group: str) -> str | None:
    """The option the command chose for a group (``data=cifar10`` -> ``cifar10``), if Hydra ran."""
    try:
        from hydra.core.hydra_config import HydraConfig

        return HydraConfig.get().runtime.choices.get(group) if HydraConfig.initialized() else None
    except Exception:
        return None


def _activity(role: str) -> str:
    """``clip_classifier`` -> ``clip classification``, ``frame_predictor`` -> ``frame prediction``."""
    return role.replace("_classifier", " classification").replace("_predictor", " prediction").replace("_", " ")


def _named(group: str, target: Any) -> str:
    option = _choice(group)
    return f"{group}={option}" if option else getattr(target, "__name__", repr(target))


class Validation:
    """All problems of one composed config, one line each (``problems``)."""

    def __init__(self, cfg: DictConfig):
        self.cfg = cfg
        self.found: list[str] = []

    def problems(self) -> list[str]:
        """Plain values first (no import needed: a bad seed is reported at once), then every
        node against the code it configures, then what needs the pieces together."""
        skip = {Target: lambda path, node: [], Targets: lambda path, node: []}
        self.found += recipe_problems(self.cfg) + dataclass_problems("", self.cfg, RunConfig, skip)
        self.found += BudgetConfig.problems(self.cfg.get("budget"))
        if self.found:
            return self.found
        handlers = {Target: self._target, Targets: self._targets}
        self.found += dataclass_problems("", self.cfg, RunConfig, handlers)
        if not self.found:
            self.found += self._run_mode() + self._watched_metrics()
        if not self.found:
            self.found += self._built_on_a_dummy("optimizer") + self._schedule()
        return self.found

    # -- target nodes ---------------------------------------------------------------------------
    def _target(self, path: str, node: Any) -> list[str]:
        if path == "model.net":
            return self._net(node)
        if path == "augmentation" and isinstance(node, DictConfig) and not len(node):
            return []  # augmentation=none
        if not isinstance(node, DictConfig) or "_target_" not in node:
            return [f"{path} needs a _target_ (the class it configures); e.g. choose an option: {path}=<option>"]
        target = resolve_target(path, node)
        found = target_problems(path, node, target, self._supplied(path), _extra_rules(target), _named(path, target),
                                rules=_extra_rules)
        if path == "data" and not found:
            found += self._data_and_task(target)
        return found

    def _targets(self, path: str, node: Any) -> list[str]:
        if node is None:
            return []
        found = []
        for name, child in node.items():
            if isinstance(child, DictConfig) and "_target_" in child:
                found += self._target(f"{path}.{name}", child)
            elif child is not None:
                found.append(f"{path}.{name} needs a _target_ or null (null disables it); e.g. {path}.{name}=null")
        return found

    def _supplied(self, path: str) -> tuple[str, ...]:
        supplied = SUPPLIED.get(path, ())
        if path == "task":
            task = resolve_target("task", self.cfg.task)
            supplied += tuple(getattr(task, "task_inputs", ()))
        return supplied

    # -- model x data x task --------------------------------------------------------------------
    def _classes(self):
        return resolve_target("data", self.cfg.data), resolve_target("task", self.cfg.task)

    def _data_and_task(self, data_cls) -> list[str]:
        """The task must take what the data gives: its inputs (images, clips) for the net, and its
        targets (class labels, the frames that follow) for the loss and the metrics."""
        task = resolve_target("task", self.cfg.task)
        kind = getattr(data_cls, "input_kind", "image")
        fix = f"valid: the task the data config names (drop task=...); e.g. task={self._task_for(data_cls)}"
        if kind not in getattr(task, "roles", {}):
            takes = " or ".join(f"{k}s" for k in getattr(task, "roles", {})) or "nothing"
            return [f"{_named('task', task)} takes {takes}, but {_named('data', data_cls)} gives {kind}s; {fix}"]
        wanted, given = getattr(task, "target_kind", None), getattr(data_cls, "target_kind", None)
        if wanted and given and wanted != given:
            return [f"{_named('task', task)} learns from {_TARGET_WORDS.get(wanted, wanted)}, but {_named('data', data_cls)} "
                    f"gives {_TARGET_WORDS.get(given, given)}; {fix}"]
        return []

    def _task_for(self, data_cls) -> str:
        """The ``conf/task`` option whose task fits ``data_cls`` (for the message's example)."""
        from hydra.utils import get_object

        folder = Path(str(OmegaConf.select(self.cfg, "paths.root_dir") or ".")) / "conf" / "task"
        for path in sorted(folder.glob("*.yaml")):
            try:
                task = get_object(str(OmegaConf.load(path)._target_))
            except Exception:
                continue
            if getattr(task, "target_kind", None) == getattr(data_cls, "target_kind", None) and \
                    getattr(data_cls, "input_kind", "image") in getattr(task, "roles", {}):
                return path.stem
        return "<option>"

    def role(self) -> str:
        data_cls, task = self._classes()
        return task.roles[getattr(data_cls, "input_kind", "image")]

    def _net(self, node: Any) -> list[str]:
        from seqvision.nets.family import family_of, parameters

        target = resolve_target("model.net", node)
        try:
            family = family_of(target)
        except TypeError as err:
            return [f"{err}; e.g. model=cnn"]
        if self.found or self._data_and_task(resolve_target("data", self.cfg.data)):
            return []  # the data or task is wrong already; the net cannot be judged
        data_cls, task = self._classes()
        role = self.role()
        member = family.member(role)
        model = _choice("model") or family.name
        if member is None:
            why = family.unsupported.get(role, f"the {family.name} family declares no {role}")
            valid = models_for(self.cfg, role)
            return [f"model={model} has no meaning for {_activity(role)}: {why}. Valid models for "
                    f"{_named('data', data_cls)}: {', '.join(valid) or 'none in conf/model'}; "
                    f"e.g. model={valid[0] if valid else '<name>'}"]
        filled = set(getattr(task, "net_inputs", ()))
        knobs = family.knobs()
        found = []
        params, open_kwargs = signature_of(member)
        for key in (str(k) for k in node.keys() if not str(k).startswith("_")):
            if key not in knobs and not open_kwargs:
                found.append(f"model.net.{key} is not an option of model={model}; valid: {', '.join(sorted(knobs))}; "
                             f"e.g. fix the spelling, or remove it with ~model.net.{key}")
            elif key in params and not OmegaConf.is_interpolation(node, key) and \
                    (p := value_problem(f"model.net.{key}", node[key], *params[key])) is not None:
                found.append(p)
        missing = [k for k, p in parameters(member).items() if p.default is p.empty and k not in filled and k not in node]
        found += [f"model.net.{k} is required by {member.__name__}; e.g. model.net.{k}=<value>" for k in missing]
        return found

    # -- built on a dummy parameter -------------------------------------------------------------
    def _built_on_a_dummy(self, path: str) -> list[str]:
        """The optimizer built on one dummy parameter: torch's own range checks (``Invalid
        learning rate``) become one line naming the key, before any data is read."""
        import torch
        from hydra.utils import instantiate

        node = OmegaConf.select(self.cfg, path)
        try:
            instantiate(node)(params=[torch.nn.Parameter(torch.zeros(1))])
            return []
        except ValueError as err:
            return [self._culprit(path, node, err)]

    def _culprit(self, path: str, node: DictConfig, err: Exception) -> str:
        target = resolve_target(path, node)
        text = str(err).strip().splitlines()[0]
        params, _ = signature_of(target)
        named = [k for k in node.keys() if not str(k).startswith("_") and str(k) in text]
        key = named[0] if named else next((k for k in node.keys() if str(node[k]) in text and not str(k).startswith("_")), None)
        name = str(node.get("_target_"))
        if key is None:
            return f"{path}: {name} refuses the configured values ({text}); e.g. choose another option: {path}=<option>"
        default = params.get(str(key), (None, None))[1]
        return (f"{path}.{key}={node[key]!r} is out of range: {name} says {text!r}; valid: what {name} accepts; "
                f"e.g. {path}.{key}={default}")

    def _schedule(self) -> list[str]:
        import torch
        from hydra.utils import instantiate

        node = self.cfg.scheduler
        if not node or node.get("scheduler") is None:
            return []
        trainer = self.cfg.trainer
        budget = self.cfg.get("budget") or {}
        unbounded = trainer.get("max_epochs") in (-1, None) and trainer.get("max_steps") in (-1, None)
        if node.get("total_steps_arg") and unbounded and not any(v is not None for v in dict(budget).values()):
            option = _choice("scheduler") or node.scheduler._target_.rsplit(".", 1)[-1]
            return [f"scheduler={option} is built for the run's length, and trainer.max_epochs="
                    f"{trainer.get('max_epochs')} with no trainer.max_steps gives the run none; valid: trainer.max_epochs "
                    f">= 1, a trainer.max_steps, or a schedule without a length (scheduler=none or step); "
                    f"e.g. trainer.max_steps=10000"]
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        extra = {node.total_steps_arg: 100} if node.get("total_steps_arg") else {}
        try:
            instantiate(node.scheduler)(optimizer=optimizer, **extra)
            return []
        except ValueError as err:
            return [self._culprit("scheduler.scheduler", node.scheduler, err)]

    # -- metrics that something watches ---------------------------------------------------------
    def _watched_metrics(self) -> list[str]:
        """``optimized_metric`` and every callback's ``monitor`` must be metrics the task logs:
        a misspelt one would fail after the first epoch (a checkpoint callback) or leave a
        sweep with nothing to optimize."""
        from seqvision.tasks.directions import logged_names, mode_of

        task = resolve_target("task", self.cfg.task)
        watched = [("optimized_metric", self.cfg.get("optimized_metric"))]
        for name, node in (self.cfg.get("callbacks") or {}).items():
            if isinstance(node, DictConfig) and node.get("monitor") is not None:
                watched.append((f"callbacks.{name}.monitor", node.monitor))
        return [f"{key}={metric} is not a metric {task.__name__} logs; valid: {', '.join(logged_names(task))}; "
                f"e.g. {key}={task.best_metric if key == 'optimized_metric' else task.monitor}"
                for key, metric in watched if metric is not None and mode_of(task, str(metric)) is None]

    # -- what the run is asked to do ------------------------------------------------------------
    def _run_mode(self) -> list[str]:
        from seqvision.checkpoints import checkpoint_problem, to_evaluate
        from seqvision.files import resolve_path

        cfg = self.cfg
        train, test, ckpt = cfg.get("train", True), cfg.get("test", True), cfg.get("ckpt_path")
        if train is False and test is False:
            return ["train=false test=false leaves nothing to do; e.g. train=false test=true ckpt_path=<run folder>"]
        if train is False:
            if not ckpt:
                return ["train=false needs a checkpoint to evaluate; valid: a .ckpt file, or a run folder (its best "
                        "checkpoint); e.g. train=false ckpt_path=logs/train/runs/<date>/<time>"]
            path, why = to_evaluate(str(ckpt), resolve_path)
        elif ckpt == "best":
            return ["ckpt_path=best names no checkpoint to start training from (after training, the test always uses "
                    "this run's best checkpoint); valid: null for a fresh run, resume=<run folder> to continue one, or "
                    "a .ckpt file to start from; e.g. drop ckpt_path=best"]
        elif ckpt and ckpt != "last":
            path = resolve_path(str(ckpt))
            why = None if path.is_file() else (
                f"ckpt_path={ckpt!r}: no such file; valid: a .ckpt file to start from (to continue a run folder: "
                f"resume=<run folder>); e.g. ckpt_path=<run folder>/checkpoints/last.ckpt")
        else:
            return []
        if why is not None:
            return [why]
        if (problem := checkpoint_problem(path)) is not None:
            return [f"ckpt_path={ckpt!r}: {path} is not a checkpoint ({problem}); valid: a .ckpt file that a seqvision "
                    f"run wrote, or its run folder; e.g. ckpt_path=<run folder>/checkpoints/last.ckpt"]
        return []


def _explicit_overrides() -> list[str]:
    """The overrides of the command line (Hydra's ``overrides.task``), or none outside Hydra."""
    try:
        from hydra.core.hydra_config import HydraConfig

        return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    except Exception:
        return []


def active_recipe(cfg: DictConfig) -> tuple[str, DictConfig] | None:
    """``(name, its settings)`` of the ``conf/recipe`` file this run takes, or None."""
    name = _choice("recipe")
    path = Path(str(OmegaConf.select(cfg, "paths.root_dir") or ".")) / "conf" / "recipe" / f"{name}.yaml"
    if not name or name == "none" or not path.is_file():
        return None
    return name, OmegaConf.load(path)


def recipe_problems(cfg: DictConfig) -> list[str]:
    """A recipe named on the command line must exist (the defaults entry is optional, so a typo
    would silently train without one), and a group the command chose is what the run gets: a
    recipe that trains with another class of that group (its ``_target_``: SGD where
    ``optimizer=adamw`` was asked for) is refused rather than left to win in silence."""
    folder = Path(str(OmegaConf.select(cfg, "paths.root_dir") or ".")) / "conf" / "recipe"
    given = {o.split("=", 1)[0].lstrip("+~"): o.split("=", 1)[1] for o in _explicit_overrides() if "=" in o}
    if "recipe" in given and given["recipe"] not in ("none", "null") and not (folder / f"{given['recipe']}.yaml").is_file():
        valid = sorted(p.stem for p in folder.glob("*.yaml"))
        return [f"recipe={given['recipe']} is not an option of recipe; valid: {', '.join(valid)}; e.g. recipe=none"]
    recipe = active_recipe(cfg)
    if recipe is None:
        return []
    name, settings = recipe
    found = []
    for group, where in (("optimizer", "optimizer._target_"), ("scheduler", "scheduler.scheduler._target_")):
        replaced = OmegaConf.select(settings, where)
        option = Path(str(OmegaConf.select(cfg, "paths.root_dir") or ".")) / "conf" / group / f"{given.get(group)}.yaml"
        chosen = OmegaConf.select(OmegaConf.load(option), where.split(".", 1)[1]) if option.is_file() else None
        if group in given and replaced is not None and replaced != chosen:
            found.append(f"{group}={given[group]} is replaced by recipe={name}, which trains with {replaced}; valid: "
                         f"recipe=none {group}={given[group]} (the defaults of every other group), or the recipe's "
                         f"own {group} with its values changed; e.g. recipe=none {group}={given[group]}")
    return found


def recipe_hint(cfg: DictConfig, problem: str) -> str:
    """``problem`` with a pointer to the recipe when the key it names is one the recipe sets."""
    recipe = active_recipe(cfg)
    if recipe is None:
        return problem
    name, settings = recipe
    key = problem.split("=", 1)[0].split(" ", 1)[0]
    given = {o.split("=", 1)[0].lstrip("+~") for o in _explicit_overrides()}
    if "recipe=" in problem or key in given or OmegaConf.select(settings, key, default=None) is None:
        return problem
    return f"{problem} (recipe={name} sets {key}; recipe=none drops the recipe)"


def models_for(cfg: DictConfig, role: str) -> list[str]:
    """The ``conf/model`` options whose family builds ``role``."""
    from hydra.utils import get_object

    from seqvision.nets.family import family_of

    folder = Path(str(OmegaConf.select(cfg, "paths.root_dir") or ".")) / "conf" / "model"
    names = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            family = family_of(get_object(str(OmegaConf.load(path).net._target_)))
        except Exception:
            continue
        if family.member(role) is not None:
            names.append(path.stem)
    return names


def validate(cfg: DictConfig) -> None:
    """Raises one ConfigError listing every problem (one line each), or returns."""
    found = Validation(cfg).problems()
    if found:
        raise ConfigError("\n".join(dict.fromkeys(recipe_hint(cfg, p) for p in found)))
