"""Intervals, funnel limits and target levels: the statistics of the indicator engine.

Every function is vectorised over numpy arrays (one element per cell) and pure. Sources (and the
library each is tested against: tests/spec/test_indicator_stats.py):

- Wilson score interval: Wilson 1927, J Am Stat Assoc 22:209 (statsmodels `proportion_confint`,
  method "wilson").
- Clopper–Pearson exact interval: Clopper & Pearson 1934, Biometrika 26:404, as beta quantiles
  (statsmodels method "beta"; R `binom.test`).
- t interval of a mean: Student's t with n − 1 degrees of freedom (scipy `t.interval`).
- Median: the order-statistic interval of Campbell & Gardner (BMJ 1988;296:1454; "Statistics
  with confidence", 2nd ed. 2000, ch. 5): ranks n/2 − 1.96·√n/2 and 1 + n/2 + 1.96·√n/2, rounded
  to the nearest whole number.
- Funnel limits: Spiegelhalter 2005, Stat Med 24:1185, around the national value: for a
  proportion the exact binomial limits with the interpolation of its appendix A.1.1; for a mean
  the normal limits target ± z·σ/√n with σ the national standard deviation.
- Target levels: the national results portal's rule (SKDE `mongts`, `defineLevel`).
"""

from __future__ import annotations

import numpy as np
from scipy import special  # the distributions' functions; scipy.stats would triple the start-up time

Z95 = 1.959963984540054  # special.ndtri(0.975)
FUNNEL = {"95": 0.95, "998": 0.998}


def _arrays(*values):
    return [np.asarray(v, dtype=float) for v in values]


def wilson(x, n, level: float = 0.95):
    """Wilson score interval of x successes in n trials (NaN where n = 0)."""
    x, n = _arrays(x, n)
    z = special.ndtri(0.5 + level / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z / denom * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def clopper_pearson(x, n, level: float = 0.95):
    """Clopper–Pearson exact interval (NaN where n = 0)."""
    x, n = _arrays(x, n)
    alpha = 1 - level
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(x > 0, special.betaincinv(x, n - x + 1, alpha / 2), 0.0)
        high = np.where(x < n, special.betaincinv(x + 1, n - x, 1 - alpha / 2), 1.0)
    bad = n <= 0
    return np.where(bad, np.nan, low), np.where(bad, np.nan, high)


def t_interval(mean, sd, n, level: float = 0.95):
    """mean ± t(n − 1)·sd/√n (NaN where n < 2)."""
    mean, sd, n = _arrays(mean, sd, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = special.stdtrit(n - 1, 0.5 + level / 2) * sd / np.sqrt(n)
    half = np.where(n >= 2, half, np.nan)
    return mean - half, mean + half


def median_ranks(n: int) -> tuple[int, int]:
    """The 1-based ranks of the order statistics bounding the median's 95 % interval."""
    half = Z95 * np.sqrt(n) / 2
    low = int(np.floor(n / 2 - half + 0.5))
    high = int(np.floor(1 + n / 2 + half + 0.5))
    return max(low, 1), min(high, n)


def median_interval(values: np.ndarray) -> tuple[float, float, float]:
    """Median and its order-statistic interval of the finite `values` (NaN when empty)."""
    n = len(values)
    if n == 0:
        return np.nan, np.nan, np.nan
    low, high = median_ranks(n)
    mid = [(n - 1) // 2, n // 2]
    picked = np.partition(values, sorted({low - 1, high - 1, *mid}))
    return float((picked[mid[0]] + picked[mid[1]]) / 2), float(picked[low - 1]), float(picked[high - 1])


def _binomial_cdf(k, n, p):
    """P(X ≤ k) for X ~ Binomial(n, p); 0 below 0 and 1 from n on."""
    with np.errstate(invalid="ignore"):
        inside = special.bdtr(np.clip(k, 0, n).astype(np.int64), n.astype(np.int64), p)
    return np.where(k < 0, 0.0, np.where(k >= n, 1.0, inside))


def _binomial_quantile(q, n, p):
    """The smallest whole r with P(X ≤ r) ≥ q (what scipy.stats.binom.ppf gives)."""
    with np.errstate(invalid="ignore"):
        r = np.clip(np.nan_to_num(np.ceil(special.bdtrik(q, n, p)), nan=0.0), 0, n)  # the continuous inverse, close
    for _ in range(3):  # settle on the whole number
        r = np.where((r > 0) & (_binomial_cdf(r - 1, n, p) >= q), r - 1, r)
        r = np.where((r < n) & (_binomial_cdf(r, n, p) < q), r + 1, r)
    return r


def binomial_limits(p0, n, level: float):
    """Spiegelhalter's exact binomial funnel limits (as proportions) around p0 for sizes n."""
    p0, n = np.broadcast_arrays(*_arrays(p0, n))
    bad = np.isnan(p0) | np.isnan(n) | (n <= 0)
    p0, n = np.where(bad, 0.5, p0), np.where(bad, 1.0, n)
    out = []
    for q in ((1 - level) / 2, (1 + level) / 2):
        r = _binomial_quantile(q, n, p0)
        with np.errstate(invalid="ignore", divide="ignore"):
            f_r, f_below = _binomial_cdf(r, n, p0), _binomial_cdf(r - 1, n, p0)
            step = np.where(f_r > f_below, (f_r - q) / (f_r - f_below), 0.0)
            limit = np.where(p0 <= 0, 0.0, np.where(p0 >= 1, 1.0, (r - step) / n))  # all at one end: no spread
            out.append(np.where(bad, np.nan, limit))
    return out[0], out[1]


def normal_limits(target, sd, n, level: float):
    """target ± z·sd/√n."""
    target, sd, n = _arrays(target, sd, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = special.ndtri(0.5 + level / 2) * sd / np.sqrt(n)
    return target - half, target + half


def funnel_status(value, low, high) -> list[str]:
    """inside, above or below; "" where the value or a limit is missing."""
    value, low, high = _arrays(value, low, high)
    out = []
    for v, lo, hi in zip(value, low, high, strict=True):
        if np.isnan(v) or np.isnan(lo) or np.isnan(hi):
            out.append("")
        else:
            out.append("above" if v > hi else "below" if v < lo else "inside")
    return out


def target_level(value: float | None, direction: str, green: float, yellow: float | None) -> str:
    """high, moderate or low (SKDE `defineLevel`); "" without a value."""
    if value is None or np.isnan(value):
        return ""
    yellow = green if yellow is None else yellow
    higher = direction == "higher"
    if (higher and value >= green) or (not higher and value <= green):
        return "high"
    if (higher and value < yellow) or (not higher and value > yellow):
        return "low"
    return "moderate"


def target_rule(direction: str, green: float, yellow: float | None) -> str:
    """The rule in words, e.g. "high: ≥ 0.7; low: < 0.5" (moderate between)."""
    good, bad = ("≥", "<") if direction == "higher" else ("≤", ">")
    yellow = green if yellow is None else yellow
    rule = f"high: {good} {green:g}; "
    if yellow != green:
        rule += f"moderate: {'≥' if direction == 'higher' else '≤'} {yellow:g}; "
    return rule + f"low: {bad} {yellow:g}"
