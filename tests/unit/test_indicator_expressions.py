"""Indicator formulas: what is refused (with a message that says why and how to fix it), and
SQL's NULL semantics in the embedded engine, checked against a plain-Python evaluator on
random rows (tests/property/indicator_reference.py). The same formulas rendered as SQL and run
in SQLite and PostgreSQL: tests/integration/test_indicator_sql.py."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promsvc.indicators.expressions import (
    BOOLEAN,
    DATE,
    NUMBER,
    TEXT,
    TIMESTAMP,
    ExpressionError,
    Var,
    parse,
    to_polars,
    to_sql,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "property"))
from indicator_reference import evaluate  # noqa: E402

VARS = {
    "a": Var("a", NUMBER), "b": Var("b", NUMBER), "s": Var("s", TEXT, ("x", "y")), "d": Var("d", DATE),
    "t": Var("t", TIMESTAMP), "f": Var("f", BOOLEAN), "g": Var("g", BOOLEAN),
}

# Formulas covering every allowed node kind; tests/integration/test_indicator_sql.py runs them too.
FORMULAS = [
    "a + b * 2 - 1", "a / b", "-a", "ABS(a - b)", "a > b", "a = 1", "a <> b", "a <= 2.5",
    "f AND g", "f OR g", "NOT f", "NOT (f AND a > 0)", "a IS NULL", "s IS NOT NULL",
    "s IN ('x', 'y')", "s NOT IN ('x')", "a IN (1, 2, -1)", "a BETWEEN 0 AND 2", "a NOT BETWEEN 0 AND 2",
    "CASE WHEN a > 1 THEN 'big' WHEN a IS NULL THEN NULL ELSE 'small' END", "CASE s WHEN 'x' THEN 1 ELSE 0 END",
    "COALESCE(a, b, 0)", "NULLIF(a, 0)", "d >= DATE '2024-06-01'", "t < DATE '2024-06-01'", "YEAR(d)",
    "EXTRACT(YEAR FROM t)", "(b - a) / a >= 0.3", "f = TRUE", "COALESCE(f, FALSE) OR a > 1",
]

rows = st.lists(st.fixed_dictionaries({
    "a": st.none() | st.integers(-3, 3), "b": st.none() | st.integers(-3, 3),
    "s": st.none() | st.sampled_from(["x", "y"]),
    "d": st.none() | st.dates(dt.date(2024, 5, 30), dt.date(2024, 6, 2)),
    "t": st.none() | st.datetimes(dt.datetime(2024, 5, 31), dt.datetime(2024, 6, 2)).map(lambda x: x.replace(tzinfo=dt.UTC)),
    "f": st.none() | st.booleans(), "g": st.none() | st.booleans(),
}), min_size=1, max_size=20)


def frame(data: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(data, schema={"a": pl.Int64, "b": pl.Int64, "s": pl.String, "d": pl.Date,
                                      "t": pl.Datetime("us", "UTC"), "f": pl.Boolean, "g": pl.Boolean})


def embedded(text: str, df: pl.DataFrame) -> list:
    return df.select(to_polars(parse(text, VARS), VARS).alias("r"))["r"].to_list()


@settings(max_examples=30, deadline=None)
@given(rows)
def test_the_embedded_engine_keeps_sql_null_semantics(data):
    df = frame(data)
    for text in FORMULAS:
        tree = parse(text, VARS).tree
        expected = [evaluate(tree, row, VARS) for row in df.to_dicts()]
        got = embedded(text, df)
        assert got == pytest.approx(expected), text


def test_three_valued_logic_table():
    df = frame([{"f": f, "g": g} for f in (True, False, None) for g in (True, False, None)])
    assert embedded("f AND g", df) == [True, False, None, False, False, False, None, False, None]
    assert embedded("f OR g", df) == [True, True, True, True, False, None, True, None, None]
    assert embedded("NOT f", df) == [False] * 3 + [True] * 3 + [None] * 3


@pytest.mark.parametrize("text, message", [
    ("a = NULL", "a comparison with NULL is never true; use IS NULL"),
    ("s = 'z'", "s is never 'z'; its values: x, y"),
    ("s IN ('x', 'q')", "s is never 'q'"),
    ("a + s", "'s' is text, but arithmetic (a + s) needs a number"),
    ("aa > 1", "unknown variable 'aa'; did you mean 'a'?"),
    ("lower(s) = 'x'", "is not allowed in a formula"),
    ("a; b", "is not one expression"),
    ("SELECT a", "is not allowed in a formula"),
    ("a IN (SELECT 1)", "IN takes a list of values"),
    ("a IN ()", "the list of IN is empty"),  # was accepted: the polars engine read NULL, SQL failed
    ("x.a > 1", "without a table"),
    ("a >", "cannot parse"),
    ("d > DATE '2024-13-01'", "is not a date"),
    ("CASE WHEN a THEN 1 END", "CASE WHEN needs a condition"),
    ("CASE WHEN f THEN 1 ELSE 'x' END", "mixes"),
    ("NOT a", "NOT needs a condition"),
    ("a IN (1, NULL)", "no NULL"),
    ("d > 3", "compares a date with a number"),
    ("EXTRACT(MONTH FROM d)", "only EXTRACT(YEAR"),
    ("CAST(a AS TEXT)", "casts are not part"),
    ("a IS TRUE", "only IS NULL and IS NOT NULL"),
])
def test_bad_formulas_are_refused_with_a_reason(text, message):
    with pytest.raises(ExpressionError, match=None) as e:
        parse(text, VARS)
    assert message in str(e.value)


def test_a_formula_of_the_wrong_kind_is_refused():
    with pytest.raises(ExpressionError, match="is a number, but a condition"):
        parse("a + 1", VARS, BOOLEAN)
    assert parse("a > 1", VARS, BOOLEAN).names == frozenset({"a"})


def test_rendered_sql_divides_in_floating_point_and_never_by_zero():
    f = parse("(b - a) / a", VARS)
    assert to_sql(f, VARS, "postgres") == 'CAST(("b" - "a") AS DOUBLE PRECISION) / NULLIF("a", 0)'
    assert to_sql(f, VARS, "sqlite") == 'CAST(("b" - "a") AS REAL) / NULLIF("a", 0)'
    assert to_sql(parse("YEAR(d)", VARS), VARS, "sqlite") == """CAST(STRFTIME('%Y', "d") AS INTEGER)"""
