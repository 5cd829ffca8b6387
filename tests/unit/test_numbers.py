"""promsvc.numbers.clean: how a number leaves the service.

The rule is `float(f"{value:.12g}")` (12 significant digits, shortest form), with at most 12
decimals (`float(f"{value:.12f}")` below 0.1); an array is done with whole-array arithmetic,
which must give exactly the same floats for every double.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from promsvc.numbers import clean


def one_by_one(values: np.ndarray) -> np.ndarray:
    return np.array([float(f"{v:.12g}") if abs(v) >= 0.1 else float(f"{v:.12f}") + 0.0 for v in values.tolist()])


def assert_same_floats(got: np.ndarray, want: np.ndarray) -> None:
    # bit for bit: NaN where NaN, and never -0.0 where 0.0 is wanted
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got.view(np.int64)[~np.isnan(want)], want.view(np.int64)[~np.isnan(want)])
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))


def test_the_noise_of_a_computed_score_is_gone():
    assert repr(clean(0.13692000000000004)) == "0.13692"  # EQ-5D-5L 12345, Norway
    assert repr(clean(140 / 3)) == "46.6666666667"  # RAND-36 energy, (40 + 60 + 40) / 3
    assert repr(clean(1 - 0.03116 - 0.056743 - 0.303025)) == "0.609072"
    # EQ-5D-5L 52235 on the Danish value set: decrements that add up to 1
    assert repr(clean(1.1102230246251565e-16)) == "0.0"
    assert repr(clean(0.000123456789012345)) == "0.000123456789"  # 12 decimals
    assert [repr(clean(v)) for v in (1.0, 100.0, 0.0, -0.0, -0.4529999999999999)] == ["1.0", "100.0", "0.0", "0.0", "-0.453"]


@settings(max_examples=300, deadline=None)
@given(hnp.arrays(np.float64, st.integers(0, 50), elements=st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True)))
def test_an_array_gives_the_floats_of_the_rule_for_any_double(values):
    assert_same_floats(clean(values), one_by_one(values))


def test_an_array_gives_the_floats_of_the_rule_where_arithmetic_is_most_likely_to_slip():
    rng = np.random.default_rng(14)
    powers = 10.0 ** np.arange(-40, 40)
    values = np.concatenate([
        rng.random(20_000) * 100,  # scores
        rng.standard_normal(20_000) * 10.0 ** rng.integers(-15, 15, 20_000),  # every magnitude
        np.round(rng.random(20_000), 12) * (1 + 2.2e-16),  # 12-digit decimals with noise
        (rng.integers(0, 10**12, 20_000) + 0.5) / 1e13,  # ties at the 12th digit
        powers, np.nextafter(powers, 0), np.nextafter(powers, np.inf), -powers,
        [2.0**-18, 9.9999999999995, 9.99999999999949, 5e-324, 1.7976931348623157e308, np.nan, np.inf, -np.inf],
        [np.nextafter(0.1, 0), 0.1, np.nextafter(0.1, 1), -0.1, 1.1e-16, -4e-13, 5e-13, 6e-13, -0.0, 0.0],  # 12 decimals
    ])
    assert_same_floats(clean(values), one_by_one(values))


@pytest.mark.parametrize(("value", "decimals", "expected"), [
    (0.125, 2, 0.13), (-0.125, 2, -0.13), (2.5, 2, 2.5), (2.5, 0, 3.0), (-2.5, 0, -3.0),
    (1.005, 2, 1.01),  # the double is 1.00499999999999989…: the 12-digit value decides
    (0.13692000000000004, 3, 0.137), (0.0004, 3, 0.0), (-0.0004, 3, 0.0), (-0.453, 0, 0.0),
])
def test_decimals_round_halves_away_from_zero_and_never_give_minus_zero(value, decimals, expected):
    got = clean(value, decimals)
    array = clean(np.array([value]), decimals)

    assert got == expected and math.copysign(1, got) == math.copysign(1, expected)
    assert_same_floats(array, np.array([expected]))


def test_decimals_keep_nan():
    assert math.isnan(clean(float("nan"), 2))
    assert np.isnan(clean(np.array([np.nan, 1.0]), 2)).tolist() == [True, False]


def test_the_table_of_decimal_exponents_is_exact():
    from promsvc.numbers import _FIRST

    def exact(n: int) -> int:  # floor(log10(2**n)) from the digits of 2**n
        return len(str(2**n)) - 1 if n >= 0 else -len(str(2**-n))

    assert [int(e) for e in _FIRST[1:-1]] == [exact(field - 1023) for field in range(1, 2047)]
