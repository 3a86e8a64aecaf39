"""``python -m seqvision.report <multirun folder>`` (or ``seqvision-report``): writes
``report/report.md``, ``report/report.csv`` and PNG plots into the (first) folder, and prints
the table. Several folders are pooled: ``seqvision-report <sweep with seeds 1,2> <same sweep, seed 3>``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seqvision.report import plots, table
from seqvision.report.collect import collect


def build(root: Path | list[Path], metrics: tuple[str, ...] | None = None, curve_metric: str = "val/acc",
          out: Path | None = None) -> dict:
    """Writes the report of ``root`` (or of several multirun folders pooled, e.g. the same sweep
    run again with more seeds); returns ``{"markdown", "csv", "plots", "trials", "cells", "out"}``."""
    roots = [Path(r) for r in root] if isinstance(root, (list, tuple)) else [Path(root)]
    trials = [t for r in roots for t in collect(r)]
    root = roots[0] if len(roots) == 1 else ", ".join(map(str, roots))
    if not trials:
        raise FileNotFoundError(f"no trials (results.json) under {' '.join(map(str, roots))}; pass a multirun folder, "
                                f"e.g. logs/<task_name>/multiruns/<date>/<time>")
    cell_axes, cells = table.cells(trials)
    names = table.metrics_present(trials, metrics)
    header, body = table.rows(cell_axes, cells, names)
    done = sum(t.completed for t in trials)
    md = [f"# Sweep report: {root}", "",
          f"{len(trials)} trials, {done} completed, {len(trials) - done} failed; "
          f"mean ± std over {', '.join(table.SEED_KEYS)} (sample std; one value when n = 1).", "",
          table.markdown(header, body), ""]
    if fails := table.failures(trials, cell_axes):
        md += [fails, ""]
    out = out or roots[0] / "report"
    out.mkdir(parents=True, exist_ok=True)
    pngs = [p for p in (*(plots.metric_plot(cell_axes, cells, m, out) for m in names[:2]),
                        plots.curves_plot(cells, curve_metric, out)) if p is not None]
    md += [f"![{p.stem}]({p.name})" for p in pngs]
    text = "\n".join(md) + "\n"
    (out / "report.md").write_text(text)
    csv_text = table.csv_text(cell_axes, cells, names)
    (out / "report.csv").write_text(csv_text)
    return {"markdown": text, "csv": csv_text, "plots": pngs, "trials": trials, "cells": cells, "out": out}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="seqvision-report", description=__doc__)
    parser.add_argument("folders", type=Path, nargs="+",
                        help="a multirun folder (one sub-folder per trial); several are pooled")
    parser.add_argument("--metric", action="append", dest="metrics",
                        help=f"a metric to tabulate (repeatable); default: those of {', '.join(table.DEFAULT_METRICS)} that were logged")
    parser.add_argument("--curve", default="val/acc", help="metric of the learning-curve plot (default val/acc)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default <folder>/report)")
    args = parser.parse_args(argv)
    try:
        report = build(args.folders, tuple(args.metrics) if args.metrics else None, args.curve, args.out)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(report["markdown"])
    print(f"wrote {report['out'] / 'report.md'}, report.csv and {len(report['plots'])} plots", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
