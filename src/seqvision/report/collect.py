"""Reads a multirun folder's trials: their overrides, status, error, metrics and curves."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

SEED_KEYS = ("seed",)  # averaged over; every other swept key is an ablation axis


@dataclass
class Trial:
    folder: Path
    job_num: int | None
    status: str
    error: str | None
    overrides: dict[str, str]
    metrics: dict[str, float] = field(default_factory=dict)
    epochs: int | None = None
    wall_time_s: float | None = None
    seed: int | None = None
    directions: dict[str, str] = field(default_factory=dict)  # metric -> "max" | "min" (results.json)
    cost: dict = field(default_factory=dict)  # results.json's cost block (see seqvision.callbacks.cost)

    @property
    def completed(self) -> bool:
        return self.status == "completed"


def _as_dict(overrides: list[str]) -> dict[str, str]:
    out = {}
    for o in overrides:
        if "=" in o and not o.startswith("~"):
            key, value = o.split("=", 1)
            out[key.lstrip("+")] = value
    return out


def _trial(folder: Path, record: dict) -> Trial:
    return Trial(folder=folder, job_num=record.get("job_num"), status=record.get("status", "unknown"),
                 error=record.get("error"), overrides=_as_dict(record.get("overrides") or []),
                 metrics={k: float(v) for k, v in (record.get("metrics") or {}).items()},
                 epochs=record.get("epochs"), wall_time_s=record.get("wall_time_s"), seed=record.get("seed"),
                 directions=dict(record.get("directions") or {}), cost=dict(record.get("cost") or {}))


def collect(root: Path) -> list[Trial]:
    """Every trial under ``root`` (one ``results.json`` each), plus trials that ``sweep.json``
    lists but that left no ``results.json`` (killed before writing one)."""
    root = Path(root)
    trials = {}
    for path in sorted(root.rglob("results.json")):
        if "report" in path.relative_to(root).parts:
            continue
        try:
            record = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            record = {"status": "failed", "error": f"unreadable results.json: {err}"}
        trials[path.parent.resolve()] = _trial(path.parent, record)
    sweep = root / "sweep.json"
    if sweep.is_file():
        for record in json.loads(sweep.read_text()).get("trials", []):
            folder = Path(record["dir"]) if record.get("dir") else root / str(record["job_num"])
            if folder.resolve() not in trials:
                trials[folder.resolve()] = _trial(folder, record)
    return sorted(trials.values(), key=lambda t: (t.job_num is None, t.job_num or 0, str(t.folder)))


def axes(trials: list[Trial]) -> list[str]:
    """The override keys whose value differs between trials, in the order they first appear."""
    seen: dict[str, set] = {}
    for t in trials:
        for k in t.overrides:
            seen.setdefault(k, set())
    for k in seen:
        seen[k] = {t.overrides.get(k) for t in trials}
    return [k for k, values in seen.items() if len(values) > 1 and k != "resume"]


def curve(trial: Trial, metric: str) -> list[tuple[int, float]]:
    """``(epoch, value)`` of ``metric`` from the trial's ``csv/metrics.csv`` (CSVLogger)."""
    path = trial.folder / "csv" / "metrics.csv"
    if not path.is_file():
        return []
    points = []
    with path.open() as f:
        for row in csv.DictReader(f):
            if row.get(metric) not in (None, "") and row.get("epoch") not in (None, ""):
                points.append((int(float(row["epoch"])), float(row[metric])))
    return points
