"""How long a learning-rate schedule that spans the run is built: one number, read by the task
that builds the schedule and by the resume check that compares a checkpoint's schedule with it."""

from __future__ import annotations

MIN_SCHEDULE_LENGTH = 10


def schedule_length(trainer, interval: str) -> int:
    """The run's optimizer steps (``interval="step"``) or epochs, at least ``MIN_SCHEDULE_LENGTH``:
    one-cycle divides by its warm-up length, which is empty on a 4-step smoke run (such a run
    then ends before its schedule does). ``callbacks/exact_resume.py`` compares a resumed
    schedule with this same number, so a short run resumes exactly like a long one."""
    total = trainer.estimated_stepping_batches if interval == "step" else trainer.max_epochs
    return max(int(total), MIN_SCHEDULE_LENGTH)
