"""Which way is better for every metric a task logs: the one table that checkpointing, early
stopping, the search's direction and the report read.

A task declares ``metric_modes``: for each metric name after its stage (``val/acc`` -> ``acc``),
or for a full name logged at one stage only (``val/acc_best``), ``"max"`` or ``"min"``. Names a task derives from one of them read the same way: the trivial
forecasts of frame prediction (``val/baseline_last_mse`` is an ``mse``) and its per-step errors
(``test/mse_t3``). A name that resolves to nothing is a metric the task never logs, so a
monitor or an ``optimized_metric`` naming it is refused before training, instead of a
checkpoint callback that fails after the first epoch or a search that goes the wrong way.
"""

from __future__ import annotations

import re

STAGES = ("train", "val", "test")


def mode_of(task_cls: type, metric: str) -> str | None:
    """``"max"``, ``"min"``, or None when ``task_cls`` logs no metric of that name."""
    modes = getattr(task_cls, "metric_modes", {})
    if metric in modes:
        return modes[metric]
    stage, _, name = str(metric).partition("/")
    if stage not in STAGES or not name:
        return None
    name = re.sub(r"_t\d+$", "", re.sub(r"^baseline_[a-z]+_", "", name))
    return modes.get(name) if "/" not in name else None


def logged_names(task_cls: type) -> list[str]:
    """Every ``<stage>/<name>`` the task may log, for error messages."""
    modes = getattr(task_cls, "metric_modes", {})
    return [name for name in modes if "/" in name] + [f"{s}/{n}" for s in STAGES for n in modes if "/" not in n]


def direction(task_cls: type, metric: str) -> str:
    """``"maximize"`` or ``"minimize"`` for an optimizer over ``metric`` (Optuna's words)."""
    from seqvision.errors import ConfigError

    mode = mode_of(task_cls, metric)
    if mode is None:
        raise ConfigError(f"optimized_metric={metric} is not a metric {task_cls.__name__} logs, so there is no direction "
                          f"to search in; valid: {', '.join(logged_names(task_cls))}; e.g. optimized_metric="
                          f"{task_cls.best_metric}, or set hydra.sweeper.direction=maximize|minimize")
    return "maximize" if mode == "max" else "minimize"
