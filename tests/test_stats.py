"""The report's statistics (``seqvision.report.stats``) against scipy and against cases worked by
hand: intervals, tests, Holm's correction, effect sizes, power and the direction-aware verdict."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from seqvision.report import stats


def test_summary_is_the_t_interval_of_the_mean():
    values = [0.91, 0.93, 0.92, 0.95, 0.90]
    s = stats.summary(values)
    low, high = sps.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=sps.sem(values))
    assert (s.n, s.mean, s.std) == (5, pytest.approx(0.922), pytest.approx(np.std(values, ddof=1)))
    assert (s.ci_low, s.ci_high) == (pytest.approx(low), pytest.approx(high))
    one = stats.summary([0.5])
    assert one.n == 1 and one.mean == 0.5 and math.isnan(one.std) and math.isnan(one.ci_low)


def test_paired_comparison_worked_by_hand():
    # differences 1, 2, 3: mean 2, sd 1, t = 2 / (1 / sqrt 3) = 3.4641 on 2 df
    c = stats.compare([1.0, 2.0, 3.0], [0.0, 0.0, 0.0], paired=True)
    assert c.test == "paired t" and c.diff == 2.0
    assert c.p == pytest.approx(2 * sps.t.sf(2 * math.sqrt(3), 2)) and c.p == pytest.approx(0.0742, abs=1e-4)
    half = sps.t.ppf(0.975, 2) / math.sqrt(3)  # 4.3027 / 1.7321 = 2.4841
    assert (c.ci_low, c.ci_high) == (pytest.approx(2 - half), pytest.approx(2 + half))
    assert c.effect == pytest.approx(2.0) and c.effect_name == "d_z"


def test_welch_comparison_matches_scipy_and_hedges_g_by_hand():
    a, b = [1.0, 2.0, 3.0], [2.0, 3.0, 4.0]
    c = stats.compare(a, b)
    ref = sps.ttest_ind(a, b, equal_var=False)
    assert c.test == "Welch t" and c.diff == -1.0 and c.p == pytest.approx(ref.pvalue)
    # equal variances and sizes: Welch's df = 4, se = sqrt(1/3 + 1/3)
    half = sps.t.ppf(0.975, 4) * math.sqrt(2 / 3)
    assert (c.ci_low, c.ci_high) == (pytest.approx(-1 - half), pytest.approx(-1 + half))
    assert c.effect == pytest.approx(-1.0 * (1 - 3 / (4 * 6 - 9)))  # d = -1, Hedges' J = 0.8
    x, y = [0.70, 0.74, 0.69, 0.80], [0.60, 0.62, 0.55]
    res = sps.ttest_ind(x, y, equal_var=False)
    got = stats.compare(x, y)
    ci = res.confidence_interval(0.95)
    assert (got.p, got.ci_low, got.ci_high) == (pytest.approx(res.pvalue), pytest.approx(ci.low), pytest.approx(ci.high))


def test_paired_matches_scipy_and_degenerate_cases_do_not_raise():
    a, b = [0.91, 0.93, 0.90, 0.94, 0.92], [0.90, 0.91, 0.90, 0.92, 0.90]
    c, ref = stats.compare(a, b, paired=True), sps.ttest_rel(a, b)
    assert c.p == pytest.approx(ref.pvalue)
    same = stats.compare([0.9, 0.8], [0.9, 0.8], paired=True)
    assert same.p == 1.0 and same.diff == 0.0
    shifted = stats.compare([0.95, 0.85], [0.9, 0.8], paired=True)  # every seed up by 0.05
    assert shifted.p == 0.0 and shifted.diff == pytest.approx(0.05)
    few = stats.compare([0.9], [0.8, 0.7])
    assert few.test == "none (n < 2)" and math.isnan(few.p) and few.diff == pytest.approx(0.15)
    with pytest.raises(ValueError, match="one value per seed"):
        stats.compare([1.0, 2.0], [1.0, 2.0, 3.0], paired=True)


def test_holm_by_hand_and_nan_is_not_a_hypothesis():
    # sorted 0.005, 0.01, 0.03, 0.04 -> 4x, 3x, 2x, 1x = 0.02, 0.03, 0.06, 0.04 -> running max 0.06
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    got = stats.holm([0.02, math.nan, 0.5])
    assert got[0] == pytest.approx(0.04) and math.isnan(got[1]) and got[2] == pytest.approx(0.5)
    assert stats.holm([0.6, 0.7]) == [1.0, 1.0]


def test_power_matches_cohen_and_a_simulation():
    # Cohen (1988) Table 2.4.1 and G*Power: two groups, d = 0.5 -> 64 per group, 0.8 -> 26, 1.0 -> 17
    assert [stats.seeds_needed(d, paired=False) for d in (0.5, 0.8, 1.0)] == [64, 26, 17]
    # paired (G*Power, matched pairs): d_z = 0.5 -> 34, 1.0 -> 10
    assert [stats.seeds_needed(d, paired=True) for d in (0.5, 1.0)] == [34, 10]
    assert stats.seeds_needed(0.0, paired=True) is None and stats.seeds_needed(1e-4, paired=False) is None
    rng = np.random.default_rng(0)
    hits = sum(sps.ttest_rel(rng.normal(0.8, 1, 8), np.zeros(8)).pvalue < 0.05 for _ in range(4000)) / 4000
    assert stats.power(0.8, 8, paired=True) == pytest.approx(hits, abs=0.03)


def test_verdict_follows_the_direction_of_the_metric():
    assert stats.verdict(+0.02, 0.01, "max") == "better"
    assert stats.verdict(-0.02, 0.01, "max") == "worse"
    assert stats.verdict(-0.02, 0.01, "min") == "better"  # a lower loss
    assert stats.verdict(+0.02, 0.01, "min") == "worse"
    assert stats.verdict(+0.02, 0.2, "max") == "no detectable difference"
    assert stats.verdict(+0.02, 0.01, None) == "higher"
    assert stats.verdict(+0.02, math.nan, "max").startswith("not tested")
