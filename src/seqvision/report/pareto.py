"""Accuracy against compute: one point per trial, and the Pareto front (the trials no other trial
beats on both the metric and the cost), against training FLOPs and against training seconds.

``<metric>_vs_compute.png``: two panels, training FLOPs (log scale) and training seconds. A trial
without a measured cost (an older ``results.json``) has no point; the figure says how many.
"""

from __future__ import annotations

from pathlib import Path

from seqvision.report import cost
from seqvision.report.table import Cell


def front(points: list[tuple[float, float]], mode: str | None) -> list[tuple[float, float]]:
    """The points not dominated by another (no more cost for an equal or better metric), by
    increasing cost. ``mode`` ``max``/``min`` is the metric's direction; unknown is taken as max."""
    better = (lambda a, b: a > b) if mode != "min" else (lambda a, b: a < b)
    out: list[tuple[float, float]] = []
    for x, y in sorted(points, key=lambda p: (p[0], -p[1] if mode != "min" else p[1])):
        if not out or better(y, out[-1][1]):
            out.append((x, y))
    return out


def compute_plot(cells: list[Cell], metric: str, mode: str | None, out: Path) -> Path | None:
    axes_of = (("train_flops", "training FLOPs (3 x forward x samples)", True),
               ("train_seconds", "training seconds (validation left out)", False))
    series = []
    for c in cells:
        pts = {key: [(x, t.metrics[metric]) for t in c.completed
                     if metric in t.metrics and (x := cost.value(t, key)) is not None] for key, _, _ in axes_of}
        series.append((c, pts))
    if not any(p for _, pts in series for p in pts.values()):
        return None
    from seqvision.report.plots import _plt, save

    plt = _plt()
    fig, panels = plt.subplots(1, 2, figsize=(12, 5.2))
    cmap = plt.get_cmap("tab20" if len(cells) > 10 else "tab10")
    for ax, (key, label, log) in zip(panels, axes_of):
        every = []
        for i, (c, pts) in enumerate(series):
            if pts[key]:
                ax.scatter(*zip(*pts[key]), s=22, color=cmap(i % cmap.N), label=c.label, alpha=0.85)
                every += pts[key]
        if every:
            f = front(every, mode)
            ax.step(*zip(*f), where="post", color="black", lw=1, ls="--", marker="o", mfc="none", ms=9,
                    label="Pareto front")
        missing = sum(len(c.completed) for c in cells) - len(every)
        ax.set_xlabel(label + (f"; {missing} trials not measured" if missing else ""))
        xs = [x for x, _ in every]
        if log and every and min(xs) > 0 and max(xs) / min(xs) > 10:  # a log axis only where costs span decades
            ax.set_xscale("log")
        ax.set_ylabel(metric + {"max": " (higher is better)", "min": " (lower is better)"}.get(mode or "", ""))
        ax.grid(alpha=0.3)
    handles, labels = panels[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(6, len(labels)), fontsize=7, frameon=False)
    return save(fig, out, f"{metric}_vs_compute", rect=(0, 0.06 + 0.03 * (len(labels) // 6), 1, 1))
