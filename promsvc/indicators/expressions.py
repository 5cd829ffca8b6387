"""Indicator formulas: a small SQL expression subset, parsed, checked and compiled.

A formula (`population`, an exclusion, `numerator`, `denominator`, `value`) is an SQL
expression over named variables, e.g. `post - pre >= 0.074 AND sex IN ('female', 'male')`.
It is parsed by sqlglot (a maintained, pure-Python SQL parser that also renders any SQL
dialect), then every node is checked against a whitelist, every name resolved and every type
inferred, so a bad formula is refused when the file is loaded, never while computing.

Allowed: numbers, strings, TRUE/FALSE/NULL, `DATE 'YYYY-MM-DD'`; `+ - * /` and unary minus;
`= <> != < <= > >=`; `AND OR NOT`; `IS [NOT] NULL`; `[NOT] IN (literal, …)`;
`[NOT] BETWEEN … AND …`; `CASE [x] WHEN … THEN … [ELSE …] END`; `COALESCE`, `NULLIF`, `ABS`;
`EXTRACT(YEAR FROM d)` and `YEAR(d)`. Nothing else: no function calls, sub-queries or tables.

Semantics are SQL's, in every engine: three-valued logic (a comparison with NULL is NULL,
`NULL AND FALSE` is FALSE, `NULL OR TRUE` is TRUE), a row counts only where a condition is TRUE,
`x IN (a, b)` is `x = a OR x = b`. Division is always in floating point, and division by zero
gives NULL (as in SQLite; PostgreSQL would stop with an error, so the rendered SQL divides by
`NULLIF(d, 0)`).

`to_polars` compiles a checked formula for the embedded engine; `to_sql` renders it for
PostgreSQL, SQLite or any dialect sqlglot knows (tests/unit/test_indicator_expressions.py
evaluates both over the same rows and compares).
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Mapping
from typing import TYPE_CHECKING

import msgspec
import polars as pl
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

if TYPE_CHECKING:
    from polars.expr.whenthen import ChainedThen, Then

NUMBER, TEXT, BOOLEAN, DATE, TIMESTAMP, NULL = "number", "text", "boolean", "date", "timestamp", "null"
_TIMES = {DATE, TIMESTAMP}
_UTC = pl.Datetime("us", "UTC")


class ExpressionError(Exception):
    """A formula that cannot be used: what is wrong and how to fix it (`unknown`: the name of an
    undeclared variable, when that is what is wrong)."""

    def __init__(self, message: str, unknown: str | None = None):
        super().__init__(message)
        self.unknown = unknown


class Var(msgspec.Struct, frozen=True):
    """What a name in a formula stands for: a column of the episode frame and its type."""

    column: str
    type: str  # number, text, boolean, date, timestamp
    values: tuple[str, ...] | None = None  # text with a closed set of values (a category, a status)


class Formula(msgspec.Struct, frozen=True):
    """A parsed and checked formula."""

    text: str
    tree: exp.Expression
    type: str
    names: frozenset[str]  # the variables it reads


def parse(text: str, variables: Mapping[str, Var], want: str | None = None) -> Formula:
    """Parse and check `text`; `want` is the type the formula must have (e.g. boolean)."""
    try:
        statements = sqlglot.parse(text, dialect="postgres")
    except (ParseError, TokenError) as e:
        raise ExpressionError(f"cannot parse {text!r}: {_parse_message(e)}") from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Expression):  # None: an empty statement
        raise ExpressionError(f"{text!r} is not one expression; write a single SQL expression without ';'")
    tree = statements[0]
    names: set[str] = set()
    kind = _Checker(variables, names).type_of(tree)
    if want is not None and kind not in (want, NULL):
        raise ExpressionError(f"{text!r} is {_a(kind)}, but {_a(want)} is needed here")
    return Formula(text=text, tree=tree, type=kind, names=frozenset(names))


def _parse_message(e: Exception) -> str:
    errors = getattr(e, "errors", None)
    if errors:
        first = errors[0]
        return f"{first.get('description')} near {first.get('highlight')!r}"
    return str(e).splitlines()[0]


def _a(kind: str) -> str:
    return {NUMBER: "a number", TEXT: "text", BOOLEAN: "a condition (true/false)", DATE: "a date",
            TIMESTAMP: "a time", NULL: "NULL"}[kind]


def _date_literal(node: exp.Expression) -> dt.date | None:
    """The date of `DATE '2024-01-01'` (sqlglot reads it as a cast of a string), else None."""
    if (isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal) and node.this.is_string
            and node.to.this == exp.DataType.Type.DATE):
        return dt.date.fromisoformat(node.this.this)
    return None


def _year_of(node: exp.Expression) -> exp.Expression | None:
    """The argument of `YEAR(d)` or `EXTRACT(YEAR FROM d)`, else None."""
    if isinstance(node, exp.Year):
        return node.this
    if isinstance(node, exp.Extract) and node.this.name.upper() == "YEAR":
        return node.expression
    return None


_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)
_ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Div)


class _Checker:
    def __init__(self, variables: Mapping[str, Var], names: set[str]):
        self.variables, self.names = variables, names

    def type_of(self, node: exp.Expression) -> str:
        if isinstance(node, exp.Paren):
            return self.type_of(node.this)
        if isinstance(node, exp.Column):
            return self.variable(node).type
        if isinstance(node, exp.Literal):
            if node.is_string:
                return TEXT
            return NUMBER
        if isinstance(node, exp.Boolean):
            return BOOLEAN
        if isinstance(node, exp.Null):
            return NULL
        if isinstance(node, exp.Cast):
            try:
                if _date_literal(node) is not None:
                    return DATE
            except ValueError:
                raise ExpressionError(f"{node.this.this!r} is not a date; write DATE 'YYYY-MM-DD'") from None
            raise ExpressionError(f"{node.sql()!r}: casts are not part of the formula language; only DATE 'YYYY-MM-DD' literals")
        if (arg := _year_of(node)) is not None:
            self.expect(arg, {DATE, TIMESTAMP}, "YEAR()")
            return NUMBER
        if isinstance(node, exp.Extract):
            raise ExpressionError(f"{node.sql()!r}: only EXTRACT(YEAR FROM …) is allowed")
        if isinstance(node, exp.Neg) or isinstance(node, exp.Abs):
            self.expect(node.this, {NUMBER}, node.key.upper())
            return NUMBER
        if isinstance(node, _ARITHMETIC):
            for side in (node.this, node.expression):
                self.expect(side, {NUMBER}, f"arithmetic ({node.sql()})")
            return NUMBER
        if isinstance(node, _COMPARISONS):
            self.comparable(node.this, node.expression, node)
            return BOOLEAN
        if isinstance(node, (exp.And, exp.Or)):
            for side in (node.this, node.expression):
                self.expect(side, {BOOLEAN}, node.key.upper())
            return BOOLEAN
        if isinstance(node, exp.Not):
            self.expect(node.this, {BOOLEAN}, "NOT")
            return BOOLEAN
        if isinstance(node, exp.Is):
            if not isinstance(node.expression, exp.Null):
                raise ExpressionError(f"{node.sql()!r}: only IS NULL and IS NOT NULL are allowed; compare with = instead")
            self.type_of(node.this)
            return BOOLEAN
        if isinstance(node, exp.In):
            if node.args.get("query") or node.args.get("unnest") or node.args.get("field"):
                raise ExpressionError(f"{node.sql()!r}: IN takes a list of values, e.g. x IN ('a', 'b')")
            if not node.expressions:
                raise ExpressionError(f"{node.sql()!r}: the list of IN is empty; give at least one value, e.g. x IN ('a')")
            for item in node.expressions:
                if not isinstance(item, (exp.Literal, exp.Boolean, exp.Neg)) and _date_literal(item) is None:
                    raise ExpressionError(f"{node.sql()!r}: the list of IN holds only literal values (no NULL: use IS NULL)")
                self.comparable(node.this, item, node)
            return BOOLEAN
        if isinstance(node, exp.Between):
            self.comparable(node.this, node.args["low"], node)
            self.comparable(node.this, node.args["high"], node)
            return BOOLEAN
        if isinstance(node, exp.Case):
            return self.case(node)
        if isinstance(node, (exp.Coalesce, exp.Nullif)):
            args = [node.this, *(node.expressions if isinstance(node, exp.Coalesce) else [node.expression])]
            return self.same([self.type_of(a) for a in args], node)
        raise ExpressionError(
            f"{node.sql()!r} is not allowed in a formula; use arithmetic, comparisons, AND/OR/NOT, IS NULL, IN, "
            "BETWEEN, CASE, COALESCE, NULLIF, ABS, YEAR() and literals (docs/indicators.md, Formulas)"
        )

    def variable(self, node: exp.Column) -> Var:
        if node.table:
            raise ExpressionError(f"{node.sql()!r}: write a variable's name alone, without a table")
        name = node.name
        var = self.variables.get(name)
        if var is None:
            close = difflib.get_close_matches(name, list(self.variables), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ExpressionError(
                f"unknown variable {name!r}; {hint}declare it under `variables` or use one of: {', '.join(sorted(self.variables))}",
                unknown=name,
            )
        self.names.add(name)
        return var

    def expect(self, node: exp.Expression, kinds: set[str], where: str) -> str:
        kind = self.type_of(node)
        if kind not in kinds and kind != NULL:
            wanted = " or ".join(_a(k) for k in sorted(kinds))
            raise ExpressionError(f"{node.sql()!r} is {_a(kind)}, but {where} needs {wanted}")
        return kind

    def comparable(self, left: exp.Expression, right: exp.Expression, node: exp.Expression) -> None:
        a, b = self.type_of(left), self.type_of(right)
        if NULL in (a, b):
            raise ExpressionError(f"{node.sql()!r}: a comparison with NULL is never true; use IS NULL or IS NOT NULL")
        if a != b and not {a, b} <= _TIMES:
            raise ExpressionError(f"{node.sql()!r} compares {_a(a)} with {_a(b)}; compare values of one kind")
        for column, literal in ((left, right), (right, left)):
            self.known_value(column, literal)

    def known_value(self, column: exp.Expression, literal: exp.Expression) -> None:
        """A category or status compared with a string it can never take is a spelling mistake."""
        if isinstance(column, exp.Column) and isinstance(literal, exp.Literal) and literal.is_string:
            var = self.variables[column.name]
            if var.values is not None and literal.this not in var.values:
                raise ExpressionError(
                    f"{column.name} is never {literal.this!r}; its values: {', '.join(var.values)}"
                )

    def case(self, node: exp.Case) -> str:
        results = []
        for branch in node.args.get("ifs") or []:
            if node.this is not None:  # CASE x WHEN v THEN …: x = v
                self.comparable(node.this, branch.this, node)
            else:
                self.expect(branch.this, {BOOLEAN}, "CASE WHEN")
            results.append(self.type_of(branch.args["true"]))
        if node.args.get("default") is not None:
            results.append(self.type_of(node.args["default"]))
        return self.same(results, node)

    def same(self, kinds: list[str], node: exp.Expression) -> str:
        known = {k for k in kinds if k != NULL}
        if len(known) > 1 and not known <= _TIMES:
            raise ExpressionError(f"{node.sql()!r} mixes {' and '.join(_a(k) for k in sorted(known))}; give every branch one kind")
        if not known:
            raise ExpressionError(f"{node.sql()!r} is always NULL")
        return TIMESTAMP if known == _TIMES else known.pop()


# ------------------------------------------------------------------ the embedded engine


def to_polars(formula: Formula, variables: Mapping[str, Var]) -> pl.Expr:
    """The polars expression of a checked formula (SQL's NULL semantics; see the module)."""
    return _Polars(variables).expr(formula.tree)


class _Polars:
    def __init__(self, variables: Mapping[str, Var]):
        self.variables = variables

    def kind(self, node: exp.Expression) -> str:
        return _Checker(self.variables, set()).type_of(node)

    def expr(self, node: exp.Expression) -> pl.Expr:
        if isinstance(node, exp.Paren):
            return self.expr(node.this)
        if isinstance(node, exp.Column):
            return pl.col(self.variables[node.name].column)
        if isinstance(node, exp.Literal):
            if node.is_string:
                return pl.lit(node.this, dtype=pl.String)
            text = node.this
            return pl.lit(float(text)) if any(c in text for c in ".eE") else pl.lit(int(text), dtype=pl.Int64)
        if isinstance(node, exp.Boolean):
            return pl.lit(bool(node.this), dtype=pl.Boolean)
        if isinstance(node, exp.Null):
            return pl.lit(None)
        if (day := _date_literal(node)) is not None:
            return pl.lit(day, dtype=pl.Date)
        if (arg := _year_of(node)) is not None:
            return self.expr(arg).dt.year().cast(pl.Int64)
        if isinstance(node, exp.Neg):
            return -self.expr(node.this)
        if isinstance(node, exp.Abs):
            return self.expr(node.this).abs()
        if isinstance(node, exp.Div):
            a, b = self.expr(node.this), self.expr(node.expression)
            return pl.when(b != 0).then(a.cast(pl.Float64) / b)  # no otherwise: NULL
        if isinstance(node, _ARITHMETIC):
            a, b = self.expr(node.this), self.expr(node.expression)
            return {exp.Add: a + b, exp.Sub: a - b, exp.Mul: a * b}[type(node)]
        if isinstance(node, _COMPARISONS):
            return self.compare(type(node), node.this, node.expression)
        if isinstance(node, exp.And):
            return self.expr(node.this) & self.expr(node.expression)
        if isinstance(node, exp.Or):
            return self.expr(node.this) | self.expr(node.expression)
        if isinstance(node, exp.Not):
            return ~self.expr(node.this)
        if isinstance(node, exp.Is):  # IS NULL, or IS NOT NULL (negate)
            null = self.expr(node.this).is_null()
            return ~null if node.args.get("negate") else null
        if isinstance(node, exp.In):
            out = None
            for item in node.expressions:
                eq = self.compare(exp.EQ, node.this, item)
                out = eq if out is None else out | eq
            assert out is not None  # parse() refuses an empty IN list
            return out
        if isinstance(node, exp.Between):
            return self.compare(exp.GTE, node.this, node.args["low"]) & self.compare(exp.LTE, node.this, node.args["high"])
        if isinstance(node, exp.Case):
            chain: Then | ChainedThen | None = None
            for branch in node.args["ifs"]:
                cond = (self.compare(exp.EQ, node.this, branch.this) if node.this is not None
                        else self.expr(branch.this))
                then = self.expr(branch.args["true"])
                chain = pl.when(cond).then(then) if chain is None else chain.when(cond).then(then)
            default = node.args.get("default")
            assert chain is not None  # sqlglot parses no CASE without a WHEN
            return chain.otherwise(self.expr(default) if default is not None else pl.lit(None))
        if isinstance(node, exp.Coalesce):
            return pl.coalesce([self.timed(a, node) for a in [node.this, *node.expressions]])
        if isinstance(node, exp.Nullif):
            a = self.expr(node.this)
            return pl.when(self.compare(exp.EQ, node.this, node.expression)).then(pl.lit(None)).otherwise(a)
        raise ExpressionError(f"{node.sql()!r} is not allowed in a formula")  # parse() refuses it first

    def timed(self, node: exp.Expression, whole: exp.Expression) -> pl.Expr:
        """A date where its neighbours are times (COALESCE of both) is the start of that day, UTC."""
        if self.kind(node) == DATE and self.kind(whole) == TIMESTAMP:
            return self.expr(node).cast(_UTC)
        return self.expr(node)

    def compare(self, op: type[exp.Binary], left: exp.Expression, right: exp.Expression) -> pl.Expr:
        a, b = self.expr(left), self.expr(right)
        kinds = {self.kind(left), self.kind(right)}
        if kinds == _TIMES:  # a date against a time: the date's midnight, UTC
            a = a.cast(_UTC) if self.kind(left) == DATE else a
            b = b.cast(_UTC) if self.kind(right) == DATE else b
        return {exp.EQ: a == b, exp.NEQ: a != b, exp.GT: a > b, exp.GTE: a >= b, exp.LT: a < b, exp.LTE: a <= b}[op]


# ------------------------------------------------------------------ other SQL engines


def to_sql(formula: Formula, variables: Mapping[str, Var], dialect: str = "postgres") -> str:
    """The formula as SQL of `dialect` over a table whose columns are the variables' columns."""

    def columns(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column):
            return exp.column(variables[node.name].column, quoted=True)
        return node

    def rewrite(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Div):
            return exp.Div(this=exp.cast(node.this, exp.DataType.Type.DOUBLE),
                           expression=exp.Nullif(this=node.expression, expression=exp.Literal.number(0)))
        if (arg := _year_of(node)) is not None and dialect == "sqlite":
            return exp.cast(exp.func("STRFTIME", exp.Literal.string("%Y"), arg), exp.DataType.Type.INT)
        if isinstance(node, exp.Year):
            return exp.Extract(this=exp.var("YEAR"), expression=node.this)
        return node

    return formula.tree.copy().transform(columns).transform(rewrite).sql(dialect=dialect)
