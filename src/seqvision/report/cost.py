"""What each ablation cell cost, from the trials' ``results.json["cost"]`` (``callbacks/cost.py``):
the mean over a cell's completed trials of every quantity measured; "not measured" where no
trial of the cell measured it (an older record, a machine without an energy counter), never 0."""

from __future__ import annotations

import math
import statistics

from seqvision.report.collect import Trial
from seqvision.report.table import Cell

NOT_MEASURED = "not measured"


def _si(x: float) -> str:
    for factor, suffix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= factor:
            return f"{x / factor:.3g} {suffix}"
    return f"{x:.3g}"


# (results.json key, column title, formatter)
FIELDS = (
    ("params", "params", lambda x: f"{x:,.0f}"),
    ("forward_flops_per_sample", "forward FLOPs/sample", _si),
    ("train_samples", "samples trained", lambda x: f"{x:,.0f}"),
    ("train_flops", "training FLOPs", _si),
    ("train_seconds", "training s", lambda x: f"{x:.1f}"),
    ("device_seconds", "device-s", lambda x: f"{x:.1f}"),
    ("peak_memory_bytes", "peak memory", lambda x: f"{x / 2**20:,.0f} MiB"),
    ("throughput_samples_per_s", "samples/s", lambda x: f"{x:,.1f}"),
    ("achieved_flops_per_s", "FLOP/s", _si),
    ("energy_j", "energy (J)", lambda x: f"{x:,.0f}"),
)


def value(trial: Trial, key: str) -> float | None:
    """The trial's number for ``key``, or None where it holds none (a string says why)."""
    v = trial.cost.get(key)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def measured(cells: list[Cell]) -> bool:
    return any(t.cost for c in cells for t in c.completed)


def markdown(cell_axes: list[str], cells: list[Cell]) -> str:
    header = [*cell_axes, *(title for _, title, _ in FIELDS)]
    lines = ["## What each cell cost (mean over its completed trials)", "",
             "Training FLOPs = 3 x forward FLOPs per sample x samples trained; seconds, device-seconds and "
             "throughput count the training loop without its validations; device-seconds are CPU core-seconds on a "
             "CPU, GPU-seconds on a GPU; peak memory is the process's RSS on a CPU, allocated memory on a GPU.", "",
             "| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for c in cells:
        row = []
        for key, _, fmt in FIELDS:
            values = [v for t in c.completed if (v := value(t, key)) is not None]
            row.append(fmt(statistics.fmean(values)) if values else NOT_MEASURED)
        lines.append("| " + " | ".join([*(v for _, v in c.key), *row]) + " |")
    kinds = {t.cost.get(k) for c in cells for t in c.completed for k in ("device_seconds_kind", "energy_source")} - {None}
    reasons = {t.cost["energy_j"] for c in cells for t in c.completed if isinstance(t.cost.get("energy_j"), str)}
    notes = [f"Measured as: {'; '.join(sorted(kinds))}."] if kinds else []
    notes += [f"Energy: {r}." for r in sorted(reasons)]
    return "\n".join(lines + ([""] + notes if notes else []))
