"""A slow, obvious EQ-5D index: one state, one value set, plain Python.

Written independently of scoring.valueset (it does not import it): it reads the packaged CSV files
itself, evaluates each coefficient row with one explicit rule per term name, applies the state
overrides, or looks the state up. The property tests compare the fast tables with this.
"""

import csv
import functools
import math
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "scoring" / "valuesets"
DIMS = ["MO", "SC", "UA", "PD", "AD"]


@functools.cache
def read_rows(filename):
    with open(DATA / filename, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@functools.cache
def rows_of(filename, version, method, country):
    """The rows of one value set in a long-format file."""
    return [
        r
        for r in read_rows(filename)
        if (r["version"], r["method"], r["country"]) == (version, method, country)
    ]


@functools.cache
def lookup(filename, version, method, country):
    """state -> index for a lookup (crosswalk) value set; every state listed once."""
    table = {}
    for r in rows_of(filename, version, method, country):
        assert r["state"] not in table, (filename, r)
        table[r["state"]] = float(r["value"])
    return table


@functools.cache
def manifest_row(version, method, country):
    for row in read_rows("manifest.csv"):
        if (row["version"], row["method"], row["country"]) == (version, method, country):
            return row
    raise KeyError((version, method, country))


def term_value(term, levels):
    """The value of one term's feature for one state (levels = [MO, SC, UA, PD, AD])."""
    mo, sc, ua, pd, ad = levels
    count = {k: levels.count(k) for k in range(1, 6)}
    n_problems = sum(1 for x in levels if x > 1)
    n45 = count[4] + count[5]

    if term == "FullHealth" or term == "StartValue":
        return 1
    if term == "AtLeastOne2Or3" or term == "Intercept":
        return 1 if n_problems > 0 else 0
    if term == "AtLeastOne3":
        return 1 if count[3] > 0 else 0
    if term == "N4":
        return 1 if n45 > 0 else 0
    if term == "N5":
        return 1 if count[5] > 0 else 0
    if term == "A3":
        return 1 if count[3] == 5 else 0
    if term == "D1":
        return max(0, n_problems - 1)
    if term == "I2":
        return max(0, count[2] - 1)
    if term == "I2square":
        return max(0, count[2] - 1) ** 2
    if term == "I3":
        return max(0, count[3] - 1)
    if term == "I3square":
        return max(0, count[3] - 1) ** 2
    if term == "C2square":
        return count[2] ** 2
    if term == "C3square":
        return count[3] ** 2
    if term == "O2":
        return 1 if count[3] == 0 and count[2] > 0 else 0
    if term == "O3":
        return 1 if count[2] == 0 and count[3] > 0 else 0
    if term == "X5":
        return 1 if count[1] == 0 else 0
    if term == "Z2":
        return 1 if count[2] > 0 and count[3] > 0 else 0
    if term == "Z3":
        return count[2] if count[3] > 0 else 0
    if term == "Num45sq":
        return (n45 - 1) ** 2 if n45 >= 1 else 0
    if term == "MOAD":
        return (mo - 1) * (ad - 1)
    if term == "PDAD":
        return (pd - 1) * (ad - 1)
    # MO2, AD1, ...: that dimension at exactly that level
    if len(term) == 3 and term[:2] in DIMS and term[2].isdigit():
        return 1 if levels[DIMS.index(term[:2])] == int(term[2]) else 0
    # MO45, ...: that dimension at level 4 or 5
    if len(term) == 4 and term[:2] in DIMS and term[2:] == "45":
        return 1 if levels[DIMS.index(term[:2])] >= 4 else 0
    # MO3SC3, SC3UA2, ...: both dimensions at exactly those levels
    if len(term) == 6 and term[:2] in DIMS and term[3:5] in DIMS:
        first = levels[DIMS.index(term[:2])] == int(term[2])
        second = levels[DIMS.index(term[3:5])] == int(term[5])
        return 1 if first and second else 0
    raise ValueError(f"reference does not know the term {term!r}")


def reference_index(version, method, country, state):
    """The index of `state` (e.g. "21341") under the value set version · method · country."""
    info = manifest_row(version, method, country)
    levels = [int(c) for c in state]
    rows = rows_of(info["source_file"], version, method, country)

    if info["model"] == "lookup":
        value = lookup(info["source_file"], version, method, country)[state]
    elif info["model"] == "additive":
        value = 0.0
        for r in rows:
            value += float(r["value"]) * term_value(r["term"], levels)
    elif info["model"] == "multiplicative":
        value = 1.0
        for r in rows:
            if term_value(r["term"], levels):
                value *= float(r["value"])
    elif info["model"] == "power":
        exponent = [float(r["value"]) for r in rows if r["term"] == "Power"][0]
        value, decrements = 0.0, 0.0
        for r in rows:
            term = r["term"]
            if term == "Power":
                continue
            is_dimension_level = len(term) == 3 and term[:2] in DIMS and term[2].isdigit()
            if is_dimension_level:
                decrements += abs(float(r["value"])) * term_value(term, levels)
            else:
                value += float(r["value"]) * term_value(term, levels)
        value -= math.pow(decrements, exponent)
    else:
        raise ValueError(info["model"])

    for r in rows_of("eq5d3l_state_overrides.csv", version, method, country):
        if r["state"] == state:
            value = float(r["value"])
    return value
