"""A slow, obvious reference of the indicator engine: formulas evaluated one row at a time in
plain Python with SQL's rules, and every cell counted by looping over the episodes.

It shares nothing with promsvc.indicators.engine/episodes/expressions but the parsed formula
trees (sqlglot's) and the statistics functions (tested apart in tests/spec).
"""

from __future__ import annotations

import datetime as dt
import itertools
import statistics

from sqlglot import exp

UTC = dt.UTC


def evaluate(node, row: dict, variables):
    """The value of a formula tree for one row, with SQL's NULL rules."""
    ev = lambda n: evaluate(n, row, variables)  # noqa: E731
    if isinstance(node, exp.Paren):
        return ev(node.this)
    if isinstance(node, exp.Column):
        return row[variables[node.name].column]
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        return float(node.this) if any(c in node.this for c in ".eE") else int(node.this)
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Cast):
        return dt.date.fromisoformat(node.this.this)
    if isinstance(node, (exp.Year, exp.Extract)):
        v = ev(node.this if isinstance(node, exp.Year) else node.expression)
        return None if v is None else v.year
    if isinstance(node, (exp.Neg, exp.Abs)):
        v = ev(node.this)
        return None if v is None else (-v if isinstance(node, exp.Neg) else abs(v))
    if isinstance(node, (exp.Add, exp.Sub, exp.Mul, exp.Div)):
        a, b = ev(node.this), ev(node.expression)
        if a is None or b is None:
            return None
        if isinstance(node, exp.Div):
            return None if b == 0 else a / b
        return {exp.Add: a + b, exp.Sub: a - b, exp.Mul: a * b}[type(node)]
    if isinstance(node, (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)):
        return compare(type(node), ev(node.this), ev(node.expression))
    if isinstance(node, exp.And):
        a, b = ev(node.this), ev(node.expression)
        return False if False in (a, b) else None if None in (a, b) else True
    if isinstance(node, exp.Or):
        a, b = ev(node.this), ev(node.expression)
        return True if True in (a, b) else None if None in (a, b) else False
    if isinstance(node, exp.Not):
        v = ev(node.this)
        return None if v is None else not v
    if isinstance(node, exp.Is):
        null = ev(node.this) is None
        return not null if node.args.get("negate") else null
    if isinstance(node, exp.In):
        x = ev(node.this)
        results = [compare(exp.EQ, x, ev(item)) for item in node.expressions]
        return True if True in results else None if None in results else False
    if isinstance(node, exp.Between):
        x = ev(node.this)
        a, b = compare(exp.GTE, x, ev(node.args["low"])), compare(exp.LTE, x, ev(node.args["high"]))
        return False if False in (a, b) else None if None in (a, b) else True
    if isinstance(node, exp.Case):
        for branch in node.args["ifs"]:
            cond = compare(exp.EQ, ev(node.this), ev(branch.this)) if node.this is not None else ev(branch.this)
            if cond is True:
                return ev(branch.args["true"])
        default = node.args.get("default")
        return None if default is None else ev(default)
    if isinstance(node, exp.Coalesce):
        for arg in [node.this, *node.expressions]:
            v = ev(arg)
            if v is not None:
                return v
        return None
    if isinstance(node, exp.Nullif):
        a = ev(node.this)
        return None if compare(exp.EQ, a, ev(node.expression)) is True else a
    raise AssertionError(f"the reference does not know {node.sql()}")


def compare(op, a, b):
    if a is None or b is None:
        return None
    if isinstance(a, dt.datetime) and type(b) is dt.date:
        b = dt.datetime.combine(b, dt.time(), tzinfo=UTC)
    if isinstance(b, dt.datetime) and type(a) is dt.date:
        a = dt.datetime.combine(a, dt.time(), tzinfo=UTC)
    return {exp.EQ: a == b, exp.NEQ: a != b, exp.GT: a > b, exp.GTE: a >= b, exp.LT: a < b, exp.LTE: a <= b}[op]


def subtree_of(registry) -> dict[str, set[str]]:
    """Unit id ("" = national) → the ids of every unit at or under it."""
    out: dict[str, set[str]] = {"": set()}

    def walk(units, above):
        for unit in units:
            for a in [*above, unit.id]:
                out.setdefault(a, set()).add(unit.id)
            out[""].add(unit.id)
            walk(unit.children, [*above, unit.id])

    walk(registry.units, [])
    return out


def reference_cells(rows: list[dict], compiled, registry, as_of: dt.date, references=()) -> dict:
    """(period, unit) → (numerator, denominator, value) for every cell the engine publishes."""
    ind, v = compiled.indicator, compiled.variables
    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), tzinfo=UTC)
    episodes = []
    for original in rows:
        if original["protocol"] != compiled.protocol.id or original["event_date"] > as_of:
            continue
        row = dict(original)
        for tp in compiled.needs.time_points:
            submitted = row.get(f"{tp}.submitted_at")
            if submitted is not None and submitted >= end:
                for key in row:
                    if key.startswith(f"{tp}."):
                        row[key] = "open" if key == f"{tp}.status" else None
        row["event_year"] = row["event_date"].year
        row["withdrawn"] = row["withdrawn_at"] is not None and row["withdrawn_at"] < end
        row["deceased"] = row["deceased_at"] is not None and row["deceased_at"] < end
        if evaluate(compiled.population.tree, row, v) is not True:
            continue
        if any(evaluate(e.tree, row, v) is True for e in compiled.exclusions):
            continue
        episodes.append((row, _year(row, compiled), _measure(row, compiled, end)))
    years = sorted({y for _, y, _ in episodes if y <= as_of.year})
    if not years:
        return {}
    periods = [(str(y), {y}) for y in range(years[0], years[-1] + 1)]
    if ind.period.pooled:
        k = ind.period.pooled
        periods += [(f"{e - k + 1}-{e}", set(range(e - k + 1, e + 1))) for e in range(years[0] + k - 1, years[-1] + 1)]
    under = subtree_of(registry)
    levels = {"": "national"} | {u: lvl for u, lvl in _levels(registry)}
    out = {}
    for label, ys in periods:
        for unit, level in levels.items():
            if level not in ind.levels:
                continue
            mine = [m for row, y, m in episodes if y in ys and row["unit"] in under[unit]]
            if ind.measure == "coverage":
                den = sum(r.count for r in references if r.year in ys and r.unit in under[unit])
                num = len(mine)
                out[(label, unit)] = (num, den, num / den if den else None)
            elif ind.measure in ("proportion", "response_rate", "count"):
                den = sum(1 for m in mine if m[0])
                num = sum(1 for m in mine if m[0] and m[1])
                value = num if ind.measure == "count" else (num / den if den else None)
                out[(label, unit)] = (num, den, value)
            else:
                values = [m for m in mine if m is not None]
                value = (statistics.median(values) if ind.measure == "median" else statistics.fmean(values)) if values else None
                out[(label, unit)] = (None if ind.measure == "median" else sum(values), len(values), value)
    return out


def _levels(registry):
    def walk(units):
        for unit in units:
            yield unit.id, unit.level
            yield from walk(unit.children)
    return list(walk(registry.units))


def _year(row, compiled):
    period = compiled.indicator.period
    if period.by == "event_year":
        return row["event_date"].year
    submitted = row.get(f"{period.time_point}.submitted_at")
    if submitted is not None:
        return submitted.year
    tp = compiled.protocol.time_point(period.time_point)
    return (row["event_date"] + dt.timedelta(days=tp.offset.days)).year


def _measure(row, compiled, end):
    """proportion/count/response rate: (in the denominator, in the numerator); mean, median, qaly: the value or None."""
    ind, v = compiled.indicator, compiled.variables
    if ind.measure == "proportion":
        den = compiled.denominator is None or evaluate(compiled.denominator.tree, row, v) is True
        return den, den and evaluate(compiled.numerator.tree, row, v) is True
    if ind.measure == "count":
        hit = compiled.numerator is None or evaluate(compiled.numerator.tree, row, v) is True
        return hit, hit
    if ind.measure == "coverage":
        return True
    if ind.measure == "response_rate":
        tp = compiled.protocol.time_point(ind.time_point)
        closes = dt.datetime.combine(row["event_date"], dt.time(), tzinfo=UTC) + tp.offset + tp.window
        if closes >= end:
            return False, False
        answered = row[f"{tp.id}.status"] == "completed"
        gone = not answered and any(row[k] is not None and row[k] < closes for k in ("withdrawn_at", "deceased_at"))
        return not gone, answered and not gone
    if ind.measure == "qaly":
        points = [(max(offset, 0) / 365.25, row[column]) for _, column, offset in compiled.utility]
        if points[0][1] is None or points[-1][1] is None:
            return None
        present = [(t, u) for t, u in points if u is not None]
        area = sum((t1 - t0) * (u0 + u1) / 2 for (t0, u0), (t1, u1) in itertools.pairwise(present))
        return area - points[0][1] * (points[-1][0] - points[0][0])
    value = evaluate(compiled.value.tree, row, v)
    return None if value is None else float(value)
