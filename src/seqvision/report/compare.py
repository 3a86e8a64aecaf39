"""Every ablation cell against a reference arm: which differences the seeds support.

The reference is given per axis (``--reference model.net.cell=lstm``, repeatable); an axis it
does not name is matched instead of fixed: a cell is compared with the reference value of the
named axes at its own value of the other axes (``model=row_lstm,cell=nfg`` against
``model=row_lstm,cell=lstm``). Without ``--reference`` every axis takes its first value in
sweep order. The statistics are ``seqvision.report.stats``; Holm's correction runs over all
arms compared for the metric, so "better" holds for the whole table at once, not per row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from seqvision.report import stats
from seqvision.report.collect import Trial
from seqvision.report.table import Cell


class UnknownReference(ValueError):
    """A ``--reference`` that names no axis or no value of the sweep (the user's mistake)."""


def reference(specs: list[str] | None, cell_axes: list[str], cells: list[Cell]) -> dict[str, str]:
    values = {a: list(dict.fromkeys(dict(c.key)[a] for c in cells)) for a in cell_axes}
    chosen: dict[str, str] = {}
    for spec in specs or []:
        key, sep, value = spec.partition("=")
        key = key.strip().lstrip("+")
        if not sep or key not in values:
            valid = "; ".join(f"{a}={'|'.join(v)}" for a, v in values.items()) or "none (nothing was swept)"
            example = f"{cell_axes[0]}={values[cell_axes[0]][0]}" if cell_axes else "<axis>=<value>"
            raise UnknownReference(f"--reference {spec!r} names no swept axis; valid: {valid}; e.g. --reference {example}")
        if value not in values[key]:
            raise UnknownReference(f"--reference {spec!r}: {key} took no value {value!r} in this sweep; valid: "
                                 f"{', '.join(values[key])}; e.g. --reference {key}={values[key][0]}")
        chosen[key] = value
    if not specs:
        chosen = {a: v[0] for a, v in values.items()}
    return chosen


def seed_of(trial: Trial) -> str | None:
    return trial.overrides.get("seed") or (None if trial.seed is None else str(trial.seed))


def by_seed(cell: Cell, metric: str) -> dict[str, float] | None:
    """``{seed: value}`` of the completed trials, or None when a seed is missing or repeated."""
    out: dict[str, float] = {}
    for t in cell.completed:
        value, seed = t.metrics.get(metric), seed_of(t)
        if value is None or not math.isfinite(value):
            continue
        if seed is None or seed in out:
            return None
        out[seed] = value
    return out


def mode(cells: list[Cell], metric: str) -> str | None:
    """``max`` or ``min`` as the trials recorded it (``results.json["directions"]``), or None."""
    found = {t.directions.get(metric) for c in cells for t in c.completed} - {None}
    return found.pop() if len(found) == 1 else None


@dataclass
class Row:
    cell: Cell
    ref: Cell | None
    summary: stats.Summary
    comparison: stats.Comparison | None = None
    p_adjusted: float = math.nan
    verdict: str = "reference"
    seeds: int | None = None


def rows(cell_axes: list[str], cells: list[Cell], metric: str, ref: dict[str, str]) -> list[Row]:
    index = {c.key: c for c in cells}
    out = []
    for c in cells:
        key = tuple((a, ref.get(a, v)) for a, v in c.key)
        base = index.get(key)
        row = Row(c, base, stats.summary(c.values(metric)))
        if base is not None and base is not c:
            a, r = by_seed(c, metric), by_seed(base, metric)
            paired = a is not None and r is not None and len(a) >= 2 and set(a) == set(r)
            if paired:
                seeds = sorted(a)
                row.comparison = stats.compare([a[s] for s in seeds], [r[s] for s in seeds], paired=True)
            else:
                row.comparison = stats.compare(c.values(metric), base.values(metric))
        elif base is None:
            row.verdict = "no reference cell"
        out.append(row)
    tested = [r for r in out if r.comparison is not None]
    for r, p in zip(tested, stats.holm([r.comparison.p for r in tested])):
        r.p_adjusted = p
    m = sum(not math.isnan(r.comparison.p) for r in tested) or 1
    direction = mode(cells, metric)
    for r in tested:
        r.verdict = stats.verdict(r.comparison.diff, r.p_adjusted, direction)
        if r.verdict == "no detectable difference":
            # enough seeds for the arm to pass Holm's strictest step (alpha / m), whatever the others show
            r.seeds = stats.seeds_needed(r.comparison.effect, r.comparison.paired, stats.ALPHA / m)
    return out


def _p(p: float) -> str:
    return "-" if math.isnan(p) else "< 0.0001" if p < 1e-4 else f"{p:.4f}"


def _signed(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:+.4f}"


def markdown(cell_axes: list[str], table_rows: list[Row], metric: str, ref: dict[str, str]) -> str:
    direction = mode([r.cell for r in table_rows], metric)
    way = {"max": "higher is better", "min": "lower is better"}.get(direction, "direction not recorded")
    compared = sum(r.comparison is not None for r in table_rows)
    head = (f"## {metric} against the reference ({', '.join(f'{k}={v}' for k, v in ref.items()) or 'all trials'}; {way})\n\n"
            f"Mean with its 95% CI (t); difference to the reference with its 95% CI; paired t-test by seed where both "
            f"arms ran the same seeds, Welch's otherwise; p corrected across the {compared} arm{'s' * (compared != 1)} "
            f"compared (Holm); effect size Hedges' g (Welch) or d_z (paired); seeds per arm for 80% power at the "
            f"observed effect where no difference was detected.\n")
    header = [*cell_axes, "n", "mean [95% CI]", "diff [95% CI]", "test", "p", "p (Holm)", "effect", "verdict",
              "seeds for 80% power"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for r in table_rows:
        s, c = r.summary, r.comparison
        mean = "-" if s.n == 0 else f"{s.mean:.4f}" + ("" if s.n < 2 else f" [{s.ci_low:.4f}, {s.ci_high:.4f}]")
        if c is None:
            cols = ["-", "-", "-", "-", "-", r.verdict, "-"]
        else:
            diff = _signed(c.diff) + ("" if math.isnan(c.ci_low) else f" [{_signed(c.ci_low)}, {_signed(c.ci_high)}]")
            effect = "-" if math.isnan(c.effect) else f"{c.effect_name} {c.effect:+.2f}"
            seeds = "-" if r.verdict != "no detectable difference" else (
                str(r.seeds) if r.seeds is not None else f"> {stats.MAX_SEEDS}" if c.effect else "- (no effect)")
            cols = [diff, c.test, _p(c.p), _p(r.p_adjusted), effect, r.verdict, seeds]
        lines.append("| " + " | ".join([*(v for _, v in r.cell.key), str(s.n), mean, *cols]) + " |")
    return head + "\n" + "\n".join(lines)
