"""Model x data x task combinations that cannot work, found before any data is read.

The schema (``schema.py``) checks each value on its own; this checks values against the data
module, which knows its shapes and task before it loads a byte (``input_shape``,
``num_classes``, ``task`` are class attributes or set in ``__init__``). The contract:

* a net class may declare ``input_kinds`` (``"image"`` for ``(C, H, W)``, ``"clip"`` for
  ``(T, C, H, W)``) and ``tasks`` (``"classify"``, ``"predict"``); a net that declares nothing
  is assumed to take anything;
* ``model.net.patch_size`` must divide the image height and width;
* ``model.task.*`` must be arguments of the task the data asks for.

Each problem names the valid alternatives (the ``conf/model`` options that fit) and a fix.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from seqvision.errors import ConfigError

KINDS = {3: "image", 4: "clip"}
TASK_CLASSES = {"classify": "seqvision.tasks.classify.ClassificationTask",
                "predict": "seqvision.tasks.predict.FramePredictionTask"}


def data_kind(datamodule) -> str:
    return KINDS.get(len(tuple(datamodule.input_shape)), f"{len(tuple(datamodule.input_shape))}-d input")


def _net_class(target: str | None):
    if not target:
        return None
    from hydra.utils import get_object

    try:
        obj = get_object(target)
    except Exception as err:
        raise ConfigError(f"model.net._target_={target!r} cannot be imported ({err}); e.g. model=cnn") from err
    return obj if inspect.isclass(obj) else None


def _fits(cls, kind: str, task: str) -> bool:
    return kind in getattr(cls, "input_kinds", (kind,)) and task in getattr(cls, "tasks", (task,))


def _resolved(target: str | None, datamodule) -> str | None:
    """The class ``nets.variants`` builds for this data (a clip or prediction variant of the
    yaml's class); raises ConfigError when the model has no variant for it."""
    from seqvision.nets import variants

    return variants.resolve(str(target), variants.kind_of(datamodule)) if target else None


def _model_options(kind: str, task: str, datamodule) -> list[str]:
    """The ``conf/model`` options whose net (or its variant) accepts this kind of input and task."""
    conf = Path(os.environ.get("SEQVISION_ROOT", Path(__file__).resolve().parents[2])) / "conf" / "model"
    names = []
    for path in sorted(conf.glob("*.yaml")):
        try:
            cls = _net_class(_resolved(OmegaConf.select(OmegaConf.load(path), "net._target_"), datamodule))
        except Exception:
            continue
        if cls is not None and _fits(cls, kind, task):
            names.append(path.stem)
    return names


def problems(cfg: DictConfig, datamodule) -> list[str]:
    found = []
    kind, task = data_kind(datamodule), getattr(datamodule, "task", "classify")
    data_name = type(datamodule).__name__
    try:
        cls = _net_class(_resolved(OmegaConf.select(cfg, "model.net._target_"), datamodule))
    except ConfigError as err:  # no variant of this model for clips or prediction: the table says why
        return [str(err)]
    if cls is not None and not _fits(cls, kind, task):
        valid = _model_options(kind, task, datamodule)
        what = [f"{k}s" for k in getattr(cls, "input_kinds", ())] + [f"the {t} task" for t in getattr(cls, "tasks", ())]
        found.append(f"model {cls.__name__} takes {' and '.join(what)}, but {data_name} gives {kind}s for the {task} task; "
                     f"valid models for this data: {', '.join(valid) or 'none in conf/model'}; "
                     f"e.g. model={valid[0] if valid else '<name>'}")
    patch = OmegaConf.select(cfg, "model.net.patch_size")
    if isinstance(patch, int) and not isinstance(patch, bool) and patch > 0:
        h, w = tuple(datamodule.input_shape)[-2:]
        if h % patch or w % patch:
            divisors = [d for d in range(1, min(h, w) + 1) if h % d == 0 and w % d == 0]
            found.append(f"model.net.patch_size={patch} does not divide the {h}x{w} images of {data_name}; "
                         f"valid: {', '.join(map(str, divisors))}; e.g. model.net.patch_size={max(d for d in divisors if d <= patch)}")
    found += _task_option_problems(cfg, task)
    return found


def _task_option_problems(cfg: DictConfig, task: str) -> list[str]:
    options = OmegaConf.select(cfg, "model.task")
    if not isinstance(options, DictConfig) or task not in TASK_CLASSES:
        return []
    from hydra.utils import get_object

    try:
        cls = get_object(TASK_CLASSES[task])
    except Exception:
        return []
    params = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "net", "num_classes",
                                                                               "optimizer", "scheduler")]
    unknown = [k for k in options if k not in params]
    if unknown:
        return [f"model.task.{unknown[0]} is not an option of the {task} task; valid: {', '.join(params) or 'none'}; "
                f"e.g. remove it with ~model.task.{unknown[0]}"]
    return []


def check(cfg: DictConfig, datamodule) -> None:
    found = problems(cfg, datamodule)
    if found:
        raise ConfigError("\n".join(found))
