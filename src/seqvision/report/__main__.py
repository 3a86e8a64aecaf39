"""``python -m seqvision.report <multirun folder> [--reference axis=value]`` (or ``seqvision-report``):
writes ``report/report.md``, ``report/report.csv`` and PNG plots into the (first) folder, and
prints the report: the cells, every arm against the reference arm, what each cell cost. Several
folders are pooled: ``seqvision-report <sweep with seeds 1,2> <same sweep, seed 3>``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seqvision.report import compare, cost, forest, pareto, plots, publish, table
from seqvision.report.collect import collect


def best_line(cells: list[table.Cell], metric: str) -> str:
    """The cell with the best mean, in the metric's recorded direction (or none named without one)."""
    mode = compare.mode(cells, metric)
    means = [(c.mean_std(metric)[0], c) for c in cells if c.values(metric)]
    if not means or mode is None:
        return f"Best cell by {metric}: not named (the trials recorded no direction for {metric})."
    value, cell = (max if mode == "max" else min)(means, key=lambda m: m[0])
    return f"Best cell by {metric} ({'highest' if mode == 'max' else 'lowest'} mean): {cell.label} ({value:.4f})."


def build(root: Path | list[Path], metrics: tuple[str, ...] | None = None, curve_metric: str = "val/acc",
          out: Path | None = None, reference: list[str] | None = None) -> dict:
    """Writes the report of ``root`` (or of several multirun folders pooled, e.g. the same sweep
    run again with more seeds); returns ``{"markdown", "csv", "plots", "trials", "cells", "out",
    "comparison"}``. ``reference``: ``axis=value`` per axis to compare against (default: each
    axis's first value); the comparison is of the first metric."""
    roots = [Path(r) for r in root] if isinstance(root, (list, tuple)) else [Path(root)]
    trials = [t for r in roots for t in collect(r)]
    root = roots[0] if len(roots) == 1 else ", ".join(map(str, roots))
    if not trials:
        raise FileNotFoundError(f"no trials (results.json) under {' '.join(map(str, roots))}; pass a multirun folder, "
                                f"e.g. logs/<task_name>/multiruns/<date>/<time>")
    cell_axes, cells = table.cells(trials)
    names = table.metrics_present(trials, metrics)
    header, body = table.rows(cell_axes, cells, names)
    ref = compare.reference(reference, cell_axes, cells)
    primary = names[0] if names else None
    compared = compare.rows(cell_axes, cells, primary, ref) if primary and cell_axes else []
    done = sum(t.completed for t in trials)
    md = [f"# Sweep report: {root}", "",
          f"{len(trials)} trials, {done} completed, {len(trials) - done} failed; "
          f"mean ± std over {', '.join(table.SEED_KEYS)} (sample std; one value when n = 1).", "",
          table.markdown(header, body), ""]
    if primary:
        md += [best_line(cells, primary), ""]
    if compared:
        md += [compare.markdown(cell_axes, compared, primary, ref), ""]
    if cost.measured(cells):
        md += [cost.markdown(cell_axes, cells), ""]
    if fails := table.failures(trials, cell_axes):
        md += [fails, ""]
    out = out or roots[0] / "report"
    out.mkdir(parents=True, exist_ok=True)
    figures = (*(plots.metric_plot(cell_axes, cells, m, out) for m in names[:2]),
               forest.forest_plot(compared, primary, ref, out) if compared else None,
               pareto.compute_plot(cells, primary, compare.mode(cells, primary), out) if primary else None,
               plots.curves_plot(cells, curve_metric, out))
    pngs = [p for p in figures if p is not None]
    md += [f"![{p.stem}]({p.name})" for p in pngs]
    published = publish.publish(trials, pngs, out, group=f"report/{roots[0].name}")
    text = "\n".join(md) + "\n"
    (out / "report.md").write_text(text)
    csv_text = table.csv_text(cell_axes, cells, names)
    (out / "report.csv").write_text(csv_text)
    return {"markdown": text, "csv": csv_text, "plots": pngs, "trials": trials, "cells": cells, "out": out,
            "comparison": compared, "published": published}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="seqvision-report", description=__doc__)
    parser.add_argument("folders", type=Path, nargs="+",
                        help="a multirun folder (one sub-folder per trial); several are pooled")
    parser.add_argument("--metric", action="append", dest="metrics",
                        help=f"a metric to tabulate (repeatable; the first is the one compared with the reference); default: "
                             f"those of {', '.join(table.DEFAULT_METRICS)} that were logged")
    parser.add_argument("--curve", default="val/acc", help="metric of the learning-curve plot (default val/acc)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default <folder>/report)")
    parser.add_argument("--reference", action="append", metavar="AXIS=VALUE",
                        help="the arm every other is compared with, per swept axis (repeatable), e.g. "
                             "--reference model.net.cell=lstm; default: each axis's first value")
    args = parser.parse_args(argv)
    try:
        report = build(args.folders, tuple(args.metrics) if args.metrics else None, args.curve, args.out,
                       args.reference)
    except (FileNotFoundError, compare.UnknownReference) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(report["markdown"])
    print(f"wrote {report['out'] / 'report.md'}, report.csv and {len(report['plots'])} plots", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
