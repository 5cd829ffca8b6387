"""How a number leaves the service: the one rule for every score written by `promsvc score`,
the CSV export and the JSON API, and for the sums of scores that are indicator numerators.

A score is computed in binary floating point, so a value that is 0.13692 on paper can come out
as 0.13692000000000004. What leaves the service is the value to 12 significant digits — far
more than any instrument's published precision, far fewer than the 15–17 where the noise lives —
and to no more than 12 decimals, written in its shortest form (`0.13692`). The decimals are
capped because a score that is 0 on paper comes out of the arithmetic as 1.1e-16 (EQ-5D-5L
52235 on the Danish value set: 1 minus decrements that add up to 1), which 12 significant digits
would keep. `--round N` asks for N decimals instead, halves away from zero. Stored values keep
full precision: this is applied on the way out only.

`clean` returns numbers, not text: Python's `repr`, msgspec's JSON and polars' CSV writer all
print a float in the shortest form that reads back as the same float, so a cleaned value is
printed as `0.13692` by each of them.
"""

from __future__ import annotations

from typing import overload

import numpy as np

SIGNIFICANT_DIGITS = 12
MAX_DECIMALS = 12
_EXACT = 22  # 10**k is a double exactly for 0 <= k <= 22
_POWERS = np.array([10.0**k for k in range(_EXACT + 1)])


# Over the 2048 values of a double's exponent field: the decimal exponent of the smallest
# double with that field (floor(n · log10 2) for 2**n, which is never within 1e-4 of a whole
# number for n != 0, so the float product floors right), and the power of ten from which a
# double with that field has one more. Zero, subnormals (field 0), infinities and NaN (field
# 2047) get exponents far out of range, so they are done one by one.
_FIRST = np.floor(np.arange(-1023, 1025) * np.log10(2)).astype(np.int64)
_FIRST[0], _FIRST[-1] = -400, 400
_NEXT = np.array([float(f"1e{e + 1}") for e in _FIRST.tolist()])


@overload
def clean(values: float, decimals: int | None = None) -> float: ...
@overload
def clean(values: np.ndarray, decimals: int | None = None) -> np.ndarray: ...


def clean(values, decimals=None):
    """`values` (a float or an array of floats) to 12 significant digits and at most 12
    decimals; or to `decimals` decimals when given, halves away from zero as Excel and SPSS
    round (0.125 → 0.13; 1.005 → 1.01, deciding on the 12-digit value, not on its binary
    neighbour 1.00499…). NaN and infinities stay as they are; a zero is never negative (it
    would be written -0.0).

    For a single value this is `float(f"{value:.12g}")`, or `float(f"{value:.12f}")` below 0.1
    (where 12 significant digits would be more than 12 decimals). An array is done with
    whole-array arithmetic that gives exactly the same floats (a million scores in
    milliseconds); the few values where that arithmetic could differ (within a hair of a
    rounding tie, or 10**12 and beyond) are done one by one as a single value is.
    """
    if decimals is not None:
        scale = 10.0**decimals
        shifted = clean(np.multiply(values, scale))
        rounded = np.copysign(np.floor(np.abs(shifted) + 0.5), shifted) / scale + 0.0
        return float(rounded) if np.ndim(rounded) == 0 else rounded
    if np.ndim(values) == 0:
        return _one(float(values))
    x = np.asarray(values, dtype=np.float64)
    size = np.abs(x)
    field = size.view(np.int64) >> 52  # the exponent field (the sign bit is cleared)
    exponent = _FIRST[field] + (size >= _NEXT[field])
    # x · 10**shift has 12 digits before the point, or is x with 12 decimals shifted to it
    shift = np.minimum(SIGNIFICANT_DIGITS - 1 - exponent, MAX_DECIMALS)
    power = _POWERS.take(shift, mode="clip")
    with np.errstate(invalid="ignore"):  # NaN and infinities, put back below
        digits = x * power  # one rounding
        whole = np.rint(digits)
        # A whole number (below 2**53) over an exact power of ten is one correctly rounded
        # division: the double nearest to the 12-digit decimal, the one float("0.13692") reads.
        out = whole / power
        out += 0.0  # -0.0 → 0.0
        # Done one by one: where rint may not have seen the decimal digits (near a tie, where
        # the rounding of the product matters), and where 10**shift is not exact (|x| >= 1e12).
        doubt = np.abs(digits - whole) > 0.4999  # the product is off by at most 2**-14
    doubt |= shift < 0
    # NaN and infinities have no digits to round: as they are
    plain = ~np.isfinite(x)
    if plain.any():
        out = np.where(plain, x, out)
        doubt &= ~plain
    for n in np.flatnonzero(doubt).tolist():
        out[n] = _one(float(x[n]))
    return out


def _one(value: float) -> float:
    if abs(value) >= 0.1:
        return float(f"{value:.{SIGNIFICANT_DIGITS}g}")
    return float(f"{value:.{MAX_DECIMALS}f}") + 0.0  # + 0.0: never -0.0


def clean_frame(frame):
    """Every Float64 column of a polars DataFrame cleaned as `clean` does; nulls stay null."""
    import polars as pl

    return frame.with_columns(
        pl.Series(name, clean(frame[name].to_numpy()), dtype=pl.Float64).fill_nan(None)
        for name, dtype in frame.schema.items() if dtype == pl.Float64()
    )
