"""Groups trials into ablation cells (every swept key but the seed) and summarizes each:
mean +- sample std over the completed seeds, how many ran, and how many failed."""

from __future__ import annotations

import csv
import io
import math
import statistics
from dataclasses import dataclass

from seqvision.report.collect import SEED_KEYS, Trial, axes

DEFAULT_METRICS = ("test/acc", "val/acc_best", "test/loss")


@dataclass
class Cell:
    key: tuple[tuple[str, str], ...]  # ((axis, value), ...)
    trials: list[Trial]

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.key) or "all trials"

    @property
    def completed(self) -> list[Trial]:
        return [t for t in self.trials if t.completed]

    @property
    def failed(self) -> list[Trial]:
        return [t for t in self.trials if not t.completed]

    def values(self, metric: str) -> list[float]:
        return [t.metrics[metric] for t in self.completed if metric in t.metrics and math.isfinite(t.metrics[metric])]

    def mean_std(self, metric: str) -> tuple[float, float, int]:
        vals = self.values(metric)
        if not vals:
            return math.nan, math.nan, 0
        return statistics.fmean(vals), statistics.stdev(vals) if len(vals) > 1 else math.nan, len(vals)


def cells(trials: list[Trial]) -> tuple[list[str], list[Cell]]:
    """The ablation axes and one cell per combination of their values, in sweep order."""
    cell_axes = [a for a in axes(trials) if a not in SEED_KEYS]
    groups: dict[tuple, list[Trial]] = {}
    for t in trials:
        groups.setdefault(tuple((a, t.overrides.get(a, "-")) for a in cell_axes), []).append(t)
    return cell_axes, [Cell(k, v) for k, v in groups.items()]


def metrics_present(trials: list[Trial], wanted: tuple[str, ...] | None) -> list[str]:
    logged = {m for t in trials for m in t.metrics}
    return [m for m in (wanted or DEFAULT_METRICS) if m in logged]


def _fmt(mean: float, std: float) -> str:
    if math.isnan(mean):
        return "-"
    return f"{mean:.4f}" if math.isnan(std) else f"{mean:.4f} ± {std:.4f}"


def rows(cell_axes: list[str], all_cells: list[Cell], metrics: list[str]) -> tuple[list[str], list[list[str]]]:
    header = [*cell_axes, "n", "failed", *metrics, "epochs", "s/trial"]
    body = []
    for c in all_cells:
        done = c.completed
        epochs = [t.epochs for t in done if t.epochs is not None]
        secs = [t.wall_time_s for t in done if t.wall_time_s is not None]
        body.append([*(v for _, v in c.key), str(len(done)), str(len(c.failed)),
                     *(_fmt(*c.mean_std(m)[:2]) for m in metrics),
                     f"{statistics.fmean(epochs):.1f}" if epochs else "-",
                     f"{statistics.fmean(secs):.0f}" if secs else "-"])
    return header, body


def markdown(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(lines)


def csv_text(cell_axes: list[str], all_cells: list[Cell], metrics: list[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([*cell_axes, "n", "failed", *(f"{m}_{s}" for m in metrics for s in ("mean", "std", "n", "ci95_low", "ci95_high"))])
    for c in all_cells:
        stats = [x for m in metrics for x in (*c.mean_std(m), *_ci(c.values(m)))]
        w.writerow([*(v for _, v in c.key), len(c.completed), len(c.failed),
                    *("" if isinstance(x, float) and math.isnan(x) else x for x in stats)])
    return buf.getvalue()


def _ci(values: list[float]) -> tuple[float, float]:
    from seqvision.report.stats import summary

    s = summary(values)
    return s.ci_low, s.ci_high


def failures(trials: list[Trial], cell_axes: list[str]) -> str:
    bad = [t for t in trials if not t.completed]
    if not bad:
        return ""
    lines = [f"Failed trials ({len(bad)}):", ""]
    for t in bad:
        which = ", ".join(f"{k}={t.overrides[k]}" for k in [*cell_axes, *SEED_KEYS] if k in t.overrides)
        error = (t.error or "no error recorded").strip().splitlines()[0][:240]
        lines.append(f"- #{t.job_num} ({which or t.folder.name}): {t.status}: {error}")
    return "\n".join(lines)
