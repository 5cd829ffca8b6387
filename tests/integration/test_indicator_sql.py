"""Indicator formulas run on more than one engine: each formula, rendered as SQL by
`promsvc.indicators.expressions.to_sql`, gives in SQLite and in PostgreSQL what the embedded
(polars) engine gives over the same rows, NULLs included."""

from __future__ import annotations

import datetime as dt
import decimal
import random
import sys
from pathlib import Path

import sqlalchemy as sa

from promsvc.indicators.expressions import BOOLEAN, parse, to_sql

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from test_indicator_expressions import FORMULAS, VARS, embedded, frame  # noqa: E402


def _rows(n: int = 60) -> list[dict]:
    rnd = random.Random(20251203)
    pick = lambda values: rnd.choice([None, *values])  # noqa: E731
    start = dt.datetime(2024, 5, 31, tzinfo=dt.UTC)
    return [{
        "a": pick(range(-3, 4)), "b": pick(range(-3, 4)), "s": pick(["x", "y"]),
        "d": pick([dt.date(2024, 5, 31), dt.date(2024, 6, 1), dt.date(2025, 1, 2)]),
        "t": pick([start + dt.timedelta(hours=h) for h in (0, 5, 24, 30)]),
        "f": pick([True, False]), "g": pick([True, False]),
    } for _ in range(n)]


def _plain(value, boolean: bool):
    if boolean and value is not None:
        return bool(value)  # SQLite answers 0/1
    if isinstance(value, (decimal.Decimal, int)) and not isinstance(value, bool):
        return float(value)
    return value


def test_rendered_sql_equals_the_embedded_engine(engine, database_kind):
    dialect = "sqlite" if database_kind == "sqlite" else "postgres"
    data = _rows()
    df = frame(data)
    with engine.connect() as conn:
        if dialect == "postgres":
            conn.execute(sa.text("SET TIME ZONE 'UTC'"))  # a date compared with a time is its midnight UTC
            types = 'a integer, b integer, s text, d date, t timestamptz, f boolean, g boolean'
        else:
            types = "a integer, b integer, s text, d text, t text, f integer, g integer"
        conn.execute(sa.text(f"CREATE TEMPORARY TABLE formula_rows (id integer, {types})"))
        stored = [dict(row, id=i) for i, row in enumerate(data)]
        if dialect == "sqlite":  # dates and times as ISO text, as SQLite keeps them
            stored = [dict(r, d=r["d"] and r["d"].isoformat(), t=r["t"] and r["t"].strftime("%Y-%m-%d %H:%M:%S")) for r in stored]
        conn.execute(sa.text("INSERT INTO formula_rows VALUES (:id, :a, :b, :s, :d, :t, :f, :g)"), stored)
        for text in FORMULAS:
            formula = parse(text, VARS)
            sql = to_sql(formula, VARS, dialect)
            got = [_plain(v, formula.type == BOOLEAN) for (v,) in conn.execute(sa.text(f"SELECT {sql} FROM formula_rows ORDER BY id"))]
            expected = [_plain(v, formula.type == BOOLEAN) for v in embedded(text, df)]
            assert got == expected, (text, sql)
        conn.rollback()
