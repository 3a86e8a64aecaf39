"""The statistics an ablation table needs to say whether a difference is real.

Per cell: n, mean, sample std and the 95% confidence interval of the mean (Student's t). Per
arm against a reference arm: the difference of the means with its 95% CI, a two-sided t-test
(paired by seed when both arms ran the same seeds, which in a seqvision sweep also means the
same initial weights' seed and the same data order; Welch's otherwise), Holm's correction
across the arms compared, an effect size (Hedges' g, or d_z for paired differences), a verdict
that knows which way the metric is better, and how many seeds per arm a test at 80% power
would need to detect the observed effect.

The tests and their intervals are scipy.stats' (``ttest_rel``, ``ttest_ind(equal_var=False)``
and their ``confidence_interval``); the power comes from scipy's noncentral t. Holm's step-down
correction is written out here (ten lines): scipy has none (``false_discovery_control`` is
Benjamini-Hochberg, which controls another error rate), and statsmodels' ``multipletests``
would add a dependency for one loop.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from scipy import stats as sps

ALPHA = 0.05
POWER = 0.8
MAX_SEEDS = 1000  # beyond this the report says "> 1000": the effect is too small to chase with seeds


@dataclass(frozen=True)
class Summary:
    n: int
    mean: float
    std: float  # sample std (n - 1); nan when n < 2
    ci_low: float  # 95% CI of the mean; nan when n < 2
    ci_high: float


def summary(values: list[float], confidence: float = 1 - ALPHA) -> Summary:
    n = len(values)
    if n == 0:
        return Summary(0, math.nan, math.nan, math.nan, math.nan)
    mean = statistics.fmean(values)
    if n < 2:
        return Summary(1, mean, math.nan, math.nan, math.nan)
    std = statistics.stdev(values)
    half = sps.t.ppf(0.5 + confidence / 2, n - 1) * std / math.sqrt(n)
    return Summary(n, mean, std, mean - half, mean + half)


@dataclass(frozen=True)
class Comparison:
    test: str  # "paired t" | "Welch t" | "none (n < 2)"
    n_arm: int
    n_ref: int
    diff: float  # mean(arm) - mean(reference)
    ci_low: float
    ci_high: float
    p: float  # two-sided, uncorrected; nan when no test was possible
    effect: float  # Hedges' g (Welch) or d_z (paired); nan when undefined
    effect_name: str

    @property
    def paired(self) -> bool:
        return self.test == "paired t"


def compare(arm: list[float], reference: list[float], paired: bool = False) -> Comparison:
    """``arm`` against ``reference``. ``paired``: the i-th values of both lists come from the same
    seed (the caller has checked that both arms ran exactly the same seeds)."""
    n_a, n_r = len(arm), len(reference)
    diff = statistics.fmean(arm) - statistics.fmean(reference) if n_a and n_r else math.nan
    if paired and n_a != n_r:
        raise ValueError(f"a paired comparison needs one value per seed in each arm, got {n_a} and {n_r}")
    if n_a < 2 or n_r < 2:
        return Comparison("none (n < 2)", n_a, n_r, diff, math.nan, math.nan, math.nan, math.nan, "-")
    if paired:
        deltas = [a - r for a, r in zip(arm, reference)]
        sd = statistics.stdev(deltas)
        if sd == 0:  # every seed moved by the same amount: scipy's t is 0/0 or x/0
            return Comparison("paired t", n_a, n_r, diff, diff, diff, 1.0 if diff == 0 else 0.0,
                              0.0 if diff == 0 else math.copysign(math.inf, diff), "d_z")
        res = sps.ttest_rel(arm, reference)
        ci = res.confidence_interval(1 - ALPHA)
        return Comparison("paired t", n_a, n_r, diff, float(ci.low), float(ci.high), float(res.pvalue), diff / sd, "d_z")
    s_a, s_r = statistics.stdev(arm), statistics.stdev(reference)
    if s_a == 0 and s_r == 0:
        return Comparison("Welch t", n_a, n_r, diff, diff, diff, 1.0 if diff == 0 else 0.0,
                          0.0 if diff == 0 else math.copysign(math.inf, diff), "g")
    res = sps.ttest_ind(arm, reference, equal_var=False)
    ci = res.confidence_interval(1 - ALPHA)
    return Comparison("Welch t", n_a, n_r, diff, float(ci.low), float(ci.high), float(res.pvalue),
                      hedges_g(arm, reference), "g")


def hedges_g(a: list[float], b: list[float]) -> float:
    """Cohen's d with the pooled sample std, times Hedges' small-sample correction
    ``1 - 3 / (4 (n_a + n_b) - 9)`` (d overstates the effect at the few seeds a sweep has)."""
    n_a, n_b = len(a), len(b)
    pooled = math.sqrt(((n_a - 1) * statistics.variance(a) + (n_b - 1) * statistics.variance(b)) / (n_a + n_b - 2))
    d = (statistics.fmean(a) - statistics.fmean(b)) / pooled if pooled else math.copysign(math.inf, statistics.fmean(a) - statistics.fmean(b))
    return d * (1 - 3 / (4 * (n_a + n_b) - 9))


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the input order; nan stays nan (no test) and does
    not count among the hypotheses. An adjusted p below alpha rejects at family-wise level alpha."""
    tested = sorted((p, i) for i, p in enumerate(pvalues) if not math.isnan(p))
    m, out, running = len(tested), [math.nan] * len(pvalues), 0.0
    for rank, (p, i) in enumerate(tested):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out


def power(effect: float, n: int, paired: bool, alpha: float = ALPHA) -> float:
    """Power of the two-sided t-test at ``n`` seeds per arm for a standardized ``effect``
    (d_z paired: df n - 1, noncentrality d_z sqrt(n); two arms of n: df 2n - 2, d sqrt(n / 2))."""
    df, nc = (n - 1, abs(effect) * math.sqrt(n)) if paired else (2 * n - 2, abs(effect) * math.sqrt(n / 2))
    crit = sps.t.ppf(1 - alpha / 2, df)
    return float(sps.nct.sf(crit, df, nc) + sps.nct.cdf(-crit, df, nc))


def seeds_needed(effect: float, paired: bool, alpha: float = ALPHA, target: float = POWER) -> int | None:
    """The fewest seeds per arm at which the test detects ``effect`` with probability ``target``;
    None for no effect (nothing to detect) or more than ``MAX_SEEDS``."""
    if math.isnan(effect) or effect == 0:
        return None
    if math.isinf(effect):
        return 2
    for n in range(2, MAX_SEEDS + 1):
        if power(effect, n, paired, alpha) >= target:
            return n
    return None


def verdict(diff: float, p_adjusted: float, mode: str | None, alpha: float = ALPHA) -> str:
    """``better`` / ``worse`` where the corrected test rejects, in the metric's direction (``mode``
    ``max`` or ``min``: a lower loss is better); ``higher`` / ``lower`` when the direction is
    unknown; ``no detectable difference`` otherwise; ``not tested`` without a test."""
    if math.isnan(p_adjusted):
        return "not tested (n < 2)"
    if p_adjusted >= alpha or diff == 0:
        return "no detectable difference"
    if mode not in ("max", "min"):
        return "higher" if diff > 0 else "lower"
    return "better" if (diff > 0) == (mode == "max") else "worse"
