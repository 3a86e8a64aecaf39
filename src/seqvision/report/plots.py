"""PNG figures of a sweep (matplotlib, Agg backend: no display needed).

``<metric>.png``: the metric per ablation cell, mean with std error bars over seeds; with two
axes (e.g. model x cell) one line per value of the axis with fewer values. ``curves_<metric>.png``:
each cell's learning curve (mean over seeds, band = std) from the trials' ``csv/metrics.csv``.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

from seqvision.report.collect import curve
from seqvision.report.table import Cell


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _safe(metric: str) -> str:
    return metric.replace("/", "_")


def save(fig, out: Path, name: str, **layout) -> Path:
    """Every report figure is written the same way: laid out, ``<out>/<name>.png`` at 120 dpi
    (``/`` in a metric's name becomes ``_``), closed so a sweep's report does not pile up figures."""
    fig.tight_layout(**layout)
    path = out / f"{_safe(name)}.png"
    fig.savefig(path, dpi=120)
    _plt().close(fig)
    return path


def metric_plot(cell_axes: list[str], cells: list[Cell], metric: str, out: Path) -> Path | None:
    if not any(c.values(metric) for c in cells):
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(5.0, 0.55 * len(cells) + 2), 4))
    if len(cell_axes) == 2:
        counts = [len({dict(c.key)[a] for c in cells}) for a in cell_axes]
        series_axis, x_axis = (cell_axes[0], cell_axes[1]) if counts[0] <= counts[1] else (cell_axes[1], cell_axes[0])
        xs = list(dict.fromkeys(dict(c.key)[x_axis] for c in cells))
        series = list(dict.fromkeys(dict(c.key)[series_axis] for c in cells))
        for i, s in enumerate(series):
            pts = [(xs.index(dict(c.key)[x_axis]), *c.mean_std(metric)[:2]) for c in cells if dict(c.key)[series_axis] == s]
            pts = [p for p in pts if not math.isnan(p[1])]
            offset = (i - (len(series) - 1) / 2) * 0.12
            ax.errorbar([p[0] + offset for p in pts], [p[1] for p in pts],
                        yerr=[0 if math.isnan(p[2]) else p[2] for p in pts], fmt="o", capsize=3,
                        label=f"{series_axis}={s}")
        ax.set_xticks(range(len(xs)), xs, rotation=45, ha="right")
        ax.set_xlabel(x_axis)
        ax.legend(fontsize=8)
    else:
        stats = [c.mean_std(metric) for c in cells]
        keep = [(i, c, s) for i, (c, s) in enumerate(zip(cells, stats)) if not math.isnan(s[0])]
        ax.errorbar([i for i, _, _ in keep], [s[0] for _, _, s in keep],
                    yerr=[0 if math.isnan(s[1]) else s[1] for _, _, s in keep], fmt="o", capsize=3)
        ax.set_xticks(range(len(cells)), [", ".join(v for _, v in c.key) or "all" for c in cells],
                      rotation=45, ha="right")
        ax.set_xlabel(", ".join(cell_axes) or "")
    ax.set_ylabel(f"{metric} (mean ± std over seeds)")
    ax.grid(alpha=0.3)
    return save(fig, out, metric)


def curves_plot(cells: list[Cell], metric: str, out: Path) -> Path | None:
    per_cell = []
    for c in cells:
        by_epoch: dict[int, list[float]] = {}
        for t in c.completed:
            for epoch, value in curve(t, metric):
                by_epoch.setdefault(epoch, []).append(value)
        if by_epoch:
            per_cell.append((c, sorted(by_epoch.items())))
    if not per_cell:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    cmap = plt.get_cmap("tab20" if len(per_cell) > 10 else "tab10")
    for i, (c, points) in enumerate(per_cell):
        epochs = [e + 1 for e, _ in points]
        mean = [statistics.fmean(v) for _, v in points]
        std = [statistics.stdev(v) if len(v) > 1 else 0.0 for _, v in points]
        color = cmap(i % cmap.N)
        ax.plot(epochs, mean, marker="o", ms=3, color=color, label=c.label)
        ax.fill_between(epochs, [m - s for m, s in zip(mean, std)], [m + s for m, s in zip(mean, std)],
                        color=color, alpha=0.15)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2 if len(per_cell) > 8 else 1)
    return save(fig, out, f"curves_{metric}")
