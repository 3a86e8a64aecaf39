"""How long a learning-rate schedule that spans the run is built: one number, read by the task
that builds the schedule and by the resume check that compares a checkpoint's schedule with it.

A run with a compute budget (``budget.seconds|flops|samples``, ``callbacks/budget.py``) has no
``max_epochs``: the budget is its length. A budget of samples or FLOPs is a number of optimizer
steps known before the first step, and the schedule spans those steps. A budget of seconds is
not (step times vary with the machine and its load), so its schedule spans ``TIME_TICKS``
positions and is moved to the position of the elapsed fraction of the budget after every step:
the schedule is a function of time, and ends when the budget does.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

MIN_SCHEDULE_LENGTH = 10
TIME_TICKS = 1000  # positions of a schedule paced by elapsed seconds: 0.1% of the budget each


@runtime_checkable
class Pace(Protocol):
    """What a budget tells the schedule (implemented by ``callbacks.budget.Budget``)."""

    def schedule_steps(self) -> int:
        """The schedule's length: optimizer steps, or ``TIME_TICKS`` for a budget of seconds."""

    def schedule_position(self, length: int) -> int | None:
        """Where a time-paced schedule of ``length`` should be now; None: one position per step."""


def pace_of(trainer) -> Pace | None:
    return next((c for c in getattr(trainer, "callbacks", []) if isinstance(c, Pace)), None)


def schedule_length(trainer, interval: str) -> int:
    """The run's optimizer steps (``interval="step"``) or epochs, at least ``MIN_SCHEDULE_LENGTH``:
    one-cycle divides by its warm-up length, which is empty on a 4-step smoke run (such a run
    then ends before its schedule does). ``callbacks/exact_resume.py`` compares a resumed
    schedule with this same number, so a short run resumes exactly like a long one. Under a
    budget, the budget's length (a schedule under a budget is always stepped per step)."""
    pace = pace_of(trainer)
    if pace is not None:
        total = pace.schedule_steps()
    else:
        total = trainer.estimated_stepping_batches if interval == "step" else trainer.max_epochs
    return max(int(total), MIN_SCHEDULE_LENGTH)


def step_scheduler(trainer, scheduler, metric=None, spans_run: bool = False) -> None:
    """Lightning's default step, or, for a schedule built for the run's length (``spans_run``)
    under a budget of seconds, as many steps as bring it to the elapsed fraction of the budget
    (none while a step takes less than a tick)."""
    pace = pace_of(trainer) if spans_run else None
    target = pace.schedule_position(schedule_length(trainer, "step")) if pace is not None else None
    if target is None:
        scheduler.step() if metric is None else scheduler.step(metric)
        return
    while scheduler.last_epoch < target:
        scheduler.step()
