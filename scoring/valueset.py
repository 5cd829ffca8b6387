"""EQ-5D value sets: turn a 5-digit health state (MO SC UA PD AD) into an index.

A value set is named by ``(version, method, country)`` as in the shared reference data:
*version* is the descriptive system of the ANSWERS (``EQ-5D-3L``, ``EQ-5D-5L``, ``EQ-5D-Y-3L``),
*method* the valuation (``TTO``, ``VAS``, ``VT``, ``IVP``) or mapping (``CW``, ``RCW_EQ``,
``RCW_VH``), *country* the reference spelling. Everything that differs between value sets is
data in ``scoring/valuesets/``:

* ``manifest.csv``: one row per value set; which file holds it, its model form, its citation;
* the coefficient files: one row per (value set, term, coefficient);
* the lookup files (crosswalks): one row per (value set, state, index);
* ``eq5d3l_state_overrides.csv``: single states whose published index replaces the model's.

This module only knows the generic model forms and what each term NAME means, never a country.

``get()`` returns a dense table with one cell per combination of answer codes, so scoring many
answers is a single indexing operation: ``vs.table[position(codes, vs.levels)]`` (see
``position``). A code of 0 means "missing", and every cell with a 0 holds NaN.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

import msgspec
import numpy as np

from scoring.errors import ScoringError, UnknownName

DIMENSIONS = ("MO", "SC", "UA", "PD", "AD")
MODELS = ("additive", "multiplicative", "power", "lookup")
OVERRIDES_FILE = "eq5d3l_state_overrides.csv"
_LEVELS = {"EQ-5D-3L": 3, "EQ-5D-5L": 5, "EQ-5D-Y-3L": 3}


class DataFileError(ScoringError):
    """A packaged value-set file that cannot be used as it is (unknown term, bad state, gap)."""


class ValueSetRef(msgspec.Struct, frozen=True):
    """What produced an index: goes into the provenance of every stored score."""

    version: str  # descriptive system of the answers, e.g. "EQ-5D-5L"
    method: str  # "TTO", "VAS", "VT", "IVP", "CW", "RCW_EQ", "RCW_VH"
    country: str  # reference spelling
    model: str  # one of MODELS
    citation: str
    doi: str | None = None
    pmid: str | None = None
    url: str | None = None

    @property
    def name(self) -> str:
        return f"{self.version} · {self.method} · {self.country}"


@dataclass(frozen=True, eq=False)
class ValueSet:
    ref: ValueSetRef
    levels: int  # levels of the answers: 3 or 5
    table: np.ndarray  # float64, length (levels+1)**5, read-only; see `position`


def position(codes, levels: int) -> np.ndarray:
    """Table position(s) of answer codes.

    `codes` is array-like with the last axis MO SC UA PD AD, each an integer 0..levels
    (0 = missing). The caller must have checked the range: a code above `levels` gives a wrong
    position, not an error. Position = MO*(L+1)**4 + SC*(L+1)**3 + UA*(L+1)**2 + PD*(L+1) + AD.
    """
    weights = (levels + 1) ** np.arange(4, -1, -1)
    return np.asarray(codes, dtype=np.int64) @ weights


def catalogue() -> list[ValueSetRef]:
    """Every value set, sorted by (version, method, country). Builds no tables."""
    return list(_manifest())


def get(version: str, method: str, country: str) -> ValueSet:
    """The value set `version · method · country`, built on first use and cached per process.

    Matching is case-insensitive for all three names ("eq-5d-5l", "vt" and a lower-case country
    find the reference spelling). Raises `UnknownName`, listing what exists, when there is no such
    value set.
    """
    refs = _manifest()
    in_version = [r for r in refs if r.version.casefold() == version.casefold()]
    if not in_version:
        versions = ", ".join(sorted({r.version for r in refs}))
        raise UnknownName(f"no value sets for version {version!r}; versions: {versions}", field="version")
    version = in_version[0].version
    in_method = [r for r in in_version if r.method.casefold() == method.casefold()]
    if not in_method:
        methods = ", ".join(sorted({r.method for r in in_version}))
        raise UnknownName(
            f"no {version} value set for method {method!r}; methods with {version}: {methods}", field="method"
        )
    method = in_method[0].method
    for ref in in_method:
        if ref.country.casefold() == country.casefold():
            return _build(ref)
    countries = ", ".join(r.country for r in in_method)
    raise UnknownName(
        f"no {version} value set for method {method} and country {country!r}; "
        f"countries with {version} · {method}: {countries}",
        field="country",
    )


# --------------------------------------------------------------------------- reading the data


def _read(filename: str) -> str:
    return (resources.files("scoring") / "valuesets" / filename).read_text(encoding="utf-8")


@functools.cache
def _manifest() -> tuple[ValueSetRef, ...]:
    return tuple(sorted(_manifest_rows(), key=lambda r: (r.version, r.method, r.country)))


@functools.cache
def _manifest_rows() -> dict[ValueSetRef, str]:
    """Each value set's reference and the file that holds its data."""
    out: dict[ValueSetRef, str] = {}
    names: set[str] = set()
    for row_no, row in enumerate(csv.DictReader(io.StringIO(_read("manifest.csv"))), start=1):
        where = f"manifest.csv row {row_no}"
        if row["version"] not in _LEVELS:
            raise DataFileError(f"{where}: unknown version {row['version']!r}")
        if row["model"] not in MODELS:
            raise DataFileError(
                f"{where}: model {row['model']!r} is not one of {', '.join(MODELS)}"
            )
        ref = ValueSetRef(
            version=row["version"],
            method=row["method"],
            country=row["country"],
            model=row["model"],
            citation=row["citation"],
            doi=row["doi"] or None,
            pmid=row["pmid"] or None,
            url=row["url"] or None,
        )
        if ref.name in names:
            raise DataFileError(f"{where}: {ref.name} is listed twice")
        names.add(ref.name)
        out[ref] = row["source_file"]
    return out


# (row number, term or state, value) for each value set in a file
_Rows = dict[tuple[str, str, str], list[tuple[int, str, float]]]


@functools.cache
def _rows(filename: str) -> _Rows:
    """A long-format file (version, method, country, term|state, value) grouped by value set."""
    reader = csv.reader(io.StringIO(_read(filename)))
    next(reader)  # header
    out: _Rows = {}
    for row_no, row in enumerate(reader, start=1):
        try:
            version, method, country, key, value = row
            out.setdefault((version, method, country), []).append((row_no, key, float(value)))
        except ValueError:
            raise DataFileError(
                f"{filename}, row {row_no}: expected 5 columns and a number, got {row}"
            ) from None
    return out


# --------------------------------------------------------------------------- building a table


def _states(levels: int) -> np.ndarray:
    """All levels**5 states as an (n, 5) array of codes 1..levels."""
    return np.indices((levels,) * 5).reshape(5, -1).T + 1


@functools.cache
def _build(ref: ValueSetRef) -> ValueSet:
    key = (ref.version, ref.method, ref.country)
    filename = _manifest_rows()[ref]
    levels = _LEVELS[ref.version]
    rows = _rows(filename).get(key)
    if not rows:
        raise DataFileError(f"{filename} has no rows for {ref.name} (named in manifest.csv)")
    table = np.full((levels + 1) ** 5, np.nan)
    if ref.model == "lookup":
        _fill_lookup(table, rows, levels, filename, ref)
    else:
        states = _states(levels)
        table[position(states, levels)] = _evaluate(states, rows, filename, ref)
    # e.g. "logically implausible" states whose published value is not the model's prediction
    for row_no, state, value in _rows(OVERRIDES_FILE).get(key, []):
        table[position(_codes(state, levels, OVERRIDES_FILE, row_no), levels)] = value
    table.setflags(write=False)
    return ValueSet(ref=ref, levels=levels, table=table)


def _codes(state: str, levels: int, filename: str, row_no: int) -> list[int]:
    if len(state) != 5 or any(c not in "123456789"[:levels] for c in state):
        raise DataFileError(f"{filename}, row {row_no}: {state!r} is not a {levels}-level state")
    return [int(c) for c in state]


def _fill_lookup(table, rows, levels, filename, ref) -> None:
    seen = np.zeros(table.shape, dtype=bool)
    for row_no, state, value in rows:
        pos = position(_codes(state, levels, filename, row_no), levels)
        if seen[pos]:
            raise DataFileError(f"{filename}, row {row_no}: state {state} twice for {ref.name}")
        seen[pos] = True
        table[pos] = value
    if seen.sum() != levels**5:
        raise DataFileError(
            f"{filename} has {seen.sum()} of the {levels**5} states for {ref.name}"
        )


# The meaning of each term name, as a feature of the states (one number per state); the index is
# the model form applied to coefficient x feature. `s` is the (n, 5) level matrix, `n[:, k]` the
# number of dimensions at level k. Names and definitions follow the reference README.
_Feature = Callable[[np.ndarray, np.ndarray], np.ndarray | np.bool]  # np.bool: numpy's stubs type `.any(axis=1)` so
_NAMED: dict[str, _Feature] = {
    # the value of 11111 before anything else (not always 1)
    "FullHealth": lambda s, n: np.ones(len(s)),
    "StartValue": lambda s, n: np.ones(len(s)),
    # the "constant": applied to every state with any problem, never to 11111
    "AtLeastOne2Or3": lambda s, n: (s > 1).any(axis=1),
    "Intercept": lambda s, n: (s > 1).any(axis=1),
    "AtLeastOne3": lambda s, n: n[:, 3] > 0,  # "N3"
    "N4": lambda s, n: (s >= 4).any(axis=1),
    "N5": lambda s, n: n[:, 5] > 0,
    "A3": lambda s, n: (s == 3).all(axis=1),
    # ordinal / count terms of the 3-level models
    "D1": lambda s, n: np.maximum(0, (s > 1).sum(axis=1) - 1),
    "I2": lambda s, n: np.maximum(0, n[:, 2] - 1),
    "I2square": lambda s, n: np.maximum(0, n[:, 2] - 1) ** 2,
    "I3": lambda s, n: np.maximum(0, n[:, 3] - 1),
    "I3square": lambda s, n: np.maximum(0, n[:, 3] - 1) ** 2,
    "C2square": lambda s, n: n[:, 2] ** 2,
    "C3square": lambda s, n: n[:, 3] ** 2,
    "O2": lambda s, n: (n[:, 3] == 0) & (n[:, 2] > 0),
    "O3": lambda s, n: (n[:, 2] == 0) & (n[:, 3] > 0),
    "X5": lambda s, n: n[:, 1] == 0,
    "Z2": lambda s, n: (n[:, 2] > 0) & (n[:, 3] > 0),
    "Z3": lambda s, n: np.where(n[:, 3] > 0, n[:, 2], 0),
    # (number of dimensions at level 4 or 5, minus 1) squared, when there is at least one
    "Num45sq": lambda s, n: np.maximum(0, n[:, 4] + n[:, 5] - 1) ** 2,
}
_COLUMN = {d: i for i, d in enumerate(DIMENSIONS)}
_DIM = "(MO|SC|UA|PD|AD)"
_LEVEL = re.compile(rf"{_DIM}([1-9])")  # MO2: mobility at level 2
_LEVEL45 = re.compile(rf"{_DIM}45")  # MO45: mobility at level 4 or 5
_PAIR = re.compile(rf"{_DIM}([1-9]){_DIM}([1-9])")  # MO3SC3: both at exactly those levels
_PRODUCT = re.compile(rf"{_DIM}{_DIM}")  # MOAD: (MO-1)*(AD-1)


def _term(term: str, s: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, bool] | None:
    """(feature, is a dimension-level decrement) for a term name, or None if it is unknown."""
    col = _COLUMN
    if term in _NAMED:
        return np.asarray(_NAMED[term](s, n), dtype=float), False
    if m := _LEVEL.fullmatch(term):
        return (s[:, col[m[1]]] == int(m[2])).astype(float), True
    if m := _LEVEL45.fullmatch(term):
        return (s[:, col[m[1]]] >= 4).astype(float), False
    if (m := _PAIR.fullmatch(term)) and m[1] != m[3]:
        both = (s[:, col[m[1]]] == int(m[2])) & (s[:, col[m[3]]] == int(m[4]))
        return both.astype(float), False
    if (m := _PRODUCT.fullmatch(term)) and m[1] != m[2]:
        return ((s[:, col[m[1]]] - 1) * (s[:, col[m[2]]] - 1)).astype(float), False
    return None


def _evaluate(s: np.ndarray, rows, filename: str, ref: ValueSetRef) -> np.ndarray:
    """The index of every state in `s` under a coefficient value set."""
    n = np.stack([(s == k).sum(axis=1) for k in range(6)], axis=1)
    features, coefs, is_decrement, power = [], [], [], []
    for row_no, term, value in rows:
        where = f"{filename}, row {row_no} ({ref.name}), term {term!r}"
        if term == "Power":  # the exponent of the power model, not a feature
            if ref.model != "power":
                raise DataFileError(
                    f"{where}: only a 'power' model has an exponent, this is {ref.model}"
                )
            power.append(value)
            continue
        found = _term(term, s, n)
        if found is None:
            raise DataFileError(f"{where}: unknown term")
        if not found[0].any():
            # e.g. a level-4 term in a 3-level set: it could never apply, so the data are wrong
            raise DataFileError(f"{where}: the term applies to no {ref.version} state")
        features.append(found[0])
        coefs.append(value)
        is_decrement.append(found[1])
    if not coefs:
        raise DataFileError(f"{filename} has no coefficients for {ref.name}")
    x, c = np.column_stack(features), np.array(coefs)

    if ref.model == "additive":
        return x @ c
    if ref.model == "multiplicative":
        # product of the factors of the terms that apply (anchors always apply)
        return np.prod(c**x, axis=1)
    # power: the dimension-level decrements are summed as magnitudes and raised to the exponent;
    # every other term (anchor, constant, ...) is added as in the additive model
    if len(power) != 1:
        raise DataFileError(f"{filename}: a power model needs one 'Power' row for {ref.name}")
    d = np.array(is_decrement)
    return x[:, ~d] @ c[~d] - (x[:, d] @ np.abs(c[d])) ** power[0]
