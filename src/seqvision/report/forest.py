"""``<metric>_vs_reference.png``: each arm's difference to its reference with the 95% CI of the
difference (a forest plot), coloured by the verdict; left panel, each cell's mean with the 95%
CI of its mean, the reference cells drawn as squares. Read with the report's table: the CI of a
difference is not the union of the two means' CIs, and the colours already include Holm's
correction across arms."""

from __future__ import annotations

import math
from pathlib import Path

from seqvision.report.compare import Row

COLOURS = {"better": "tab:green", "worse": "tab:red", "higher": "tab:blue", "lower": "tab:orange"}


def forest_plot(table_rows: list[Row], metric: str, reference: dict[str, str], out: Path) -> Path | None:
    shown = [r for r in table_rows if r.summary.n]
    if not shown:
        return None
    from seqvision.report.plots import _plt, save

    plt = _plt()
    height = max(3.0, 0.32 * len(shown) + 1.5)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, height))
    labels = [", ".join(v for _, v in r.cell.key) or "all" for r in shown]
    ys = list(range(len(shown)))[::-1]
    for y, r in zip(ys, shown):
        s = r.summary
        err = [[s.mean - s.ci_low], [s.ci_high - s.mean]] if s.n > 1 else None
        left.errorbar([s.mean], [y], xerr=err, fmt="s" if r.comparison is None else "o", color="black", capsize=3)
        c = r.comparison
        if c is None or math.isnan(c.diff):
            continue
        err = None if math.isnan(c.ci_low) else [[c.diff - c.ci_low], [c.ci_high - c.diff]]
        right.errorbar([c.diff], [y], xerr=err, fmt="o", capsize=3, color=COLOURS.get(r.verdict, "grey"))
    left.set_yticks(ys, labels)
    right.set_yticks(ys, [r.verdict.replace("no detectable difference", "no detectable diff.") for r in shown])
    right.yaxis.tick_right()
    for tick, r in zip(right.get_yticklabels(), shown):
        tick.set_color(COLOURS.get(r.verdict, "grey"))
    for ax in (left, right):
        ax.set_ylim(-0.6, len(shown) - 0.4)
    left.set_xlabel(f"{metric}: mean and 95% CI over seeds (squares: reference)")
    right.axvline(0, color="black", lw=0.8)
    right.set_xlabel(f"difference to reference ({', '.join(f'{k}={v}' for k, v in reference.items())}), 95% CI")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    return save(fig, out, f"{metric}_vs_reference")
