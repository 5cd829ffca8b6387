"""Spec tests of the indicator statistics (promsvc.indicators.stats) against values computed by
well-known libraries or published in the method papers. Each table names the call that gave
its numbers (statsmodels 0.15, scipy 1.17)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from promsvc.indicators import stats

# statsmodels.stats.proportion.proportion_confint(x, n, alpha=0.05, method="wilson")
# and method="beta" (Clopper–Pearson), rounded to 10 decimals.
PROPORTIONS = [
    # x, n, wilson low, wilson high, clopper-pearson low, clopper-pearson high
    (0, 10, 0.0, 0.2775327999, 0.0, 0.3084971078),
    (1, 10, 0.0178762131, 0.4041500268, 0.0025285785, 0.4450161170),
    (5, 10, 0.2365930905, 0.7634069095, 0.1870860284, 0.8129139716),
    (10, 10, 0.7224672001, 1.0, 0.6915028922, 1.0),
    (37, 50, 0.6044684274, 0.8412847251, 0.5965523213, 0.8536994156),
    (81, 263, 0.2552885199, 0.3662095770, 0.2527367456, 0.3676219226),
    (3, 7, 0.1582198553, 0.7495416355, 0.0989882784, 0.8159484324),
]


@pytest.mark.parametrize("x, n, wl, wh, cl, ch", PROPORTIONS)
def test_wilson_and_clopper_pearson_equal_statsmodels(x, n, wl, wh, cl, ch):
    low, high = stats.wilson([x], [n])
    assert (low[0], high[0]) == pytest.approx((wl, wh), abs=1e-9)
    low, high = stats.clopper_pearson([x], [n])
    assert (low[0], high[0]) == pytest.approx((cl, ch), abs=1e-9)


def test_intervals_of_an_empty_cell_are_missing():
    for method in (stats.wilson, stats.clopper_pearson):
        low, high = method([0], [0])
        assert math.isnan(low[0]) and math.isnan(high[0])


# scipy.stats.t.interval(0.95, n - 1, loc=mean, scale=sd / sqrt(n))
@pytest.mark.parametrize("mean, sd, n, low, high", [
    (10.0, 2.0, 5, 7.5166720036, 12.4833279964),
    (0.12, 0.2, 30, 0.0453187726, 0.1946812274),
])
def test_t_interval_equals_scipy(mean, sd, n, low, high):
    lo, hi = stats.t_interval([mean], [sd], [n])
    assert (lo[0], hi[0]) == pytest.approx((low, high), abs=1e-9)
    lo, hi = stats.t_interval([mean], [sd], [1])
    assert math.isnan(lo[0]) and math.isnan(hi[0])


# Campbell & Gardner, BMJ 1988;296:1454 (and "Statistics with confidence", 2000, ch. 5):
# ranks n/2 − 1.96·√n/2 and 1 + n/2 + 1.96·√n/2, rounded; for n = 10 the exact binomial table
# of the same chapter gives the 2nd and 9th values, and for n = 100 the 40th and 61st.
@pytest.mark.parametrize("n, low, high", [(10, 2, 9), (100, 40, 61), (1, 1, 1), (2, 1, 2)])
def test_median_ranks_follow_campbell_and_gardner(n, low, high):
    assert stats.median_ranks(n) == (low, high)


def test_median_interval_picks_the_order_statistics():
    values = np.arange(1.0, 101.0)[::-1].copy()  # 100 … 1, unsorted on purpose
    assert stats.median_interval(values) == (50.5, 40.0, 61.0)
    assert stats.median_interval(np.array([3.0, 1.0, 2.0])) == (2.0, 1.0, 3.0)


def test_binomial_funnel_limits_bracket_the_binomial_quantiles_and_approach_the_normal():
    # Spiegelhalter 2005, appendix A.1.1: the limit lies between r − 1 and r, r the binomial quantile.
    for n in (5, 20, 137):
        for level in (0.95, 0.998):
            low, high = stats.binomial_limits(0.7, [n], level)
            for limit, q in ((low[0], (1 - level) / 2), (high[0], (1 + level) / 2)):
                r = sps.binom.ppf(q, n, 0.7)
                assert r - 1 <= limit * n <= r
    # large n: p0 ± z·√(p0(1 − p0)/n)
    low, high = stats.binomial_limits(0.7, [100_000], 0.95)
    half = 1.959963985 * math.sqrt(0.21 / 100_000)
    assert (low[0], high[0]) == pytest.approx((0.7 - half, 0.7 + half), abs=5e-5)


def test_binomial_quantiles_equal_scipy_and_the_limits_at_the_ends():
    rng = np.random.default_rng(20251203)
    n, p = rng.integers(1, 5000, 500).astype(float), rng.uniform(0.001, 0.999, 500)
    for q in (0.001, 0.025, 0.975, 0.999):
        assert np.array_equal(stats._binomial_quantile(q, n, p), sps.binom.ppf(q, n, p))  # scipy.stats.binom.ppf
    assert [list(x) for x in stats.binomial_limits(0.0, [10, 50], 0.95)] == [[0.0, 0.0], [0.0, 0.0]]
    assert [list(x) for x in stats.binomial_limits(1.0, [10], 0.998)] == [[1.0], [1.0]]
    assert all(math.isnan(x[0]) for x in stats.binomial_limits(float("nan"), [10], 0.95))


def test_normal_funnel_limits_and_status():
    low, high = stats.normal_limits(10.0, 4.0, [16], 0.998)
    half = sps.norm.ppf(0.999) * 4.0 / 4
    assert (low[0], high[0]) == pytest.approx((10 - half, 10 + half))
    assert stats.funnel_status([1.0, 5.0, 9.0, float("nan")], [2.0] * 4, [8.0] * 4) == ["below", "inside", "above", ""]


# SKDE mongts `defineLevel`: direction 1 (higher is better) / 0, green, optional yellow.
@pytest.mark.parametrize("value, direction, green, yellow, level", [
    (0.80, "higher", 0.7, 0.5, "high"), (0.70, "higher", 0.7, 0.5, "high"), (0.60, "higher", 0.7, 0.5, "moderate"),
    (0.50, "higher", 0.7, 0.5, "moderate"), (0.49, "higher", 0.7, 0.5, "low"), (0.69, "higher", 0.7, None, "low"),
    (0.10, "lower", 0.2, 0.3, "high"), (0.25, "lower", 0.2, 0.3, "moderate"), (0.31, "lower", 0.2, 0.3, "low"),
    (0.21, "lower", 0.2, None, "low"), (None, "higher", 0.7, None, ""),
])
def test_target_levels_follow_the_portal(value, direction, green, yellow, level):
    assert stats.target_level(value, direction, green, yellow) == level


def test_target_rule_in_words():
    assert stats.target_rule("higher", 0.7, 0.5) == "high: ≥ 0.7; moderate: ≥ 0.5; low: < 0.5"
    assert stats.target_rule("lower", 0.2, None) == "high: ≤ 0.2; low: > 0.2"
