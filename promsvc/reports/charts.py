"""Charts as data: each function turns published results into a chart description (a msgspec
struct), which `promsvc.reports.drawing` draws once as a reportlab Drawing for both the PDF and
the SVG of the result pages. Every description carries its title (the message), subtitle
(selection and period) and the `Table` of the numbers it shows: the text alternative.

Small numbers: a suppressed cell is a row without a bar, unranked, labelled "fewer than N"
(or "hidden" when it is suppressed to protect another cell); its numerator, denominator and
value never reach a description, so no renderer can show them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec

from promsvc.indicators import stats
from promsvc.indicators.results import NATIONAL, Result
from promsvc.indicators.schema import Indicator
from promsvc.reports.published import LOW_COVERAGE, TREND_PERIODS, Index, is_percent, is_small
from promsvc.reports.texts import LEVEL_SYMBOLS, Words


class Table(msgspec.Struct, frozen=True):
    caption: str
    columns: list[str]
    rows: list[list[str]]


class Scale(msgspec.Struct, frozen=True):
    low: float
    high: float
    percent: bool
    decimals: int
    label: str = ""


class Band(msgspec.Struct, frozen=True):
    low: float
    high: float
    level: str  # high, moderate, low
    label: str  # the level's word


class Row(msgspec.Struct, frozen=True, kw_only=True):
    """One unit in a chart of units: a bar with its interval, or a row without a bar."""

    unit: str
    label: str  # "Name (N)", or "Name (N < 10)" when suppressed
    value: float | None = None
    low: float | None = None
    high: float | None = None
    level: str = ""
    text: str  # what is printed at the bar: "72 % ●●● High", or "fewer than 10"
    flags: list[str] = []  # e.g. "low coverage"
    highlight: bool = False
    ranked: bool = True


class UnitBars(msgspec.Struct, frozen=True, kw_only=True, tag="units"):
    title: str
    subtitle: str
    scale: Scale
    rows: list[Row]
    bands: list[Band] = []
    national: float | None = None
    national_label: str = ""
    zero_line: bool = False
    table: Table


class Point(msgspec.Struct, frozen=True, kw_only=True):
    unit: str
    label: str
    n: int
    value: float
    status: str  # inside, above, below


class Limit(msgspec.Struct, frozen=True):
    n: float
    low95: float
    high95: float
    low998: float
    high998: float


class Funnel(msgspec.Struct, frozen=True, kw_only=True, tag="funnel"):
    title: str
    subtitle: str
    scale: Scale
    x_max: float
    x_label: str
    centre: float
    centre_label: str
    limits: list[Limit]
    limit_labels: list[str]  # 95 %, 99.8 %
    points: list[Point]
    table: Table


class SeriesPoint(msgspec.Struct, frozen=True, kw_only=True):
    period: str
    value: float | None = None
    low: float | None = None
    high: float | None = None
    note: str = ""  # why there is no value


class Series(msgspec.Struct, frozen=True, kw_only=True):
    label: str
    points: list[SeriesPoint]


class Trend(msgspec.Struct, frozen=True, kw_only=True, tag="trend"):
    title: str
    subtitle: str
    scale: Scale
    periods: list[str]
    series: list[Series]
    table: Table


class GroupBar(msgspec.Struct, frozen=True, kw_only=True):
    series: int  # index into `series`
    value: float | None = None
    text: str


class Group(msgspec.Struct, frozen=True, kw_only=True):
    label: str
    bars: list[GroupBar]


class Grouped(msgspec.Struct, frozen=True, kw_only=True, tag="grouped"):
    """Several bars per unit, one per series (response rate per time point)."""

    title: str
    subtitle: str
    scale: Scale
    series: list[str]
    groups: list[Group]
    table: Table


class Box(msgspec.Struct, frozen=True, kw_only=True):
    series: int
    n: int
    mean: float
    p10: float
    p25: float
    p50: float
    p75: float
    p90: float


class BoxGroup(msgspec.Struct, frozen=True, kw_only=True):
    label: str
    boxes: list[Box]


class Boxes(msgspec.Struct, frozen=True, kw_only=True, tag="boxes"):
    """Distributions (median, quartiles, 10th and 90th percentiles, mean) per group and series."""

    title: str
    subtitle: str
    scale: Scale
    series: list[str]
    groups: list[BoxGroup]
    zero_line: bool = False
    table: Table


Chart = UnitBars | Funnel | Trend | Grouped | Boxes


# ---------------------------------------------------------------------------------------------
# Numbers of one indicator, as its definition says they are shown


class Shown:
    """How one indicator's values are written: percentages for shares, else decimals by unit."""

    def __init__(self, definition: Indicator, w: Words):
        self.d, self.w = definition, w
        self.percent = is_percent(definition)
        unit = definition.unit_of_measure.lower()
        self.decimals = (0 if self.percent or definition.measure == "count"
                         else 3 if unit in ("qaly", "qalys") else 2 if unit == "index" else 1)

    def value(self, x: float) -> str:
        return self.w.percent(x) if self.percent else self.w.number(x, self.decimals)

    def interval(self, r: Result) -> str:
        if r.ci_low is None or r.ci_high is None:
            return ""
        return f"{self.value(r.ci_low)} – {self.value(r.ci_high)}"

    def target(self) -> str:
        t = self.d.target
        if t is None:
            return self.w("no_target")
        return ("≥ " if t.direction == "higher" else "≤ ") + self.value(t.green)

    def scale_label(self) -> str:
        return self.w("percent") if self.percent else self.d.unit_of_measure

    def counts(self, r: Result) -> str:
        """"n of N" for shares; "N" for the rest."""
        if self.percent and r.numerator is not None:
            return self.w.n_of_N(r.numerator, r.denominator)
        return self.w.count(r.denominator)

    def level(self, level: str) -> str:
        return f"{LEVEL_SYMBOLS[level]} {self.w(level)}" if level else ""


def _withheld(r: Result, d: Indicator, w: Words) -> str:
    return w("fewer_than", n=d.min_denominator) if is_small(r) else w("hidden")


def _value(r: Result) -> float:
    """The value of a cell that is shown (not suppressed, with a value)."""
    assert r.value is not None
    return r.value


def _label(ix: Index, r: Result, d: Indicator, w: Words) -> str:
    name = ix.name(r.unit, w("national"))
    if r.suppressed:
        return f"{name} (N < {d.min_denominator})" if is_small(r) else name
    return f"{name} ({w.count(r.denominator)})"


def _flags(ix: Index, r: Result, w: Words) -> list[str]:
    coverage = ix.coverage(r.period, r.unit)
    return [w("low_coverage")] if coverage is not None and coverage < LOW_COVERAGE else []


def _scale(shown: Shown, values: list[float], *, zero: bool = False) -> Scale:
    if shown.percent:  # 0–100 %, or further when a share exceeds it (coverage over the reference count)
        high = max([1.0, *values])
        return Scale(0.0, 1.0 if high <= 1.0 else math.ceil(high * 4) / 4, True, 0, shown.scale_label())
    if zero:
        values = [*values, 0.0]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    low, high = nice_range(low, high)
    return Scale(low, high, False, shown.decimals, shown.scale_label())


def nice_range(low: float, high: float) -> tuple[float, float]:
    """A range around [low, high] with round ends (so that axis ticks fall on round numbers)."""
    if high <= low:
        low, high = low - 1, high + 1
    step = nice_step((high - low) / 5)
    return math.floor(low / step) * step, math.ceil(high / step) * step


def nice_step(raw: float) -> float:
    exponent = math.floor(math.log10(raw))
    fraction = raw / 10 ** exponent
    return next(f for f in (1, 2, 2.5, 5, 10) if f >= fraction - 1e-9) * 10 ** exponent


def table_row(ix: Index, r: Result, d: Indicator, shown: Shown, w: Words) -> list[str]:
    name = ix.name(r.unit, w("national"))
    if r.suppressed:
        return [name, _withheld(r, d, w), "", "", "", "" if is_small(r) else w("hidden_note")]
    if r.value is None:
        return [name, w("no_data"), "", shown.counts(r), "", ""]
    notes = _flags(ix, r, w) + ([w("crude", value=shown.value(r.crude))] if r.crude is not None else [])
    return [name, shown.value(r.value), shown.interval(r), shown.counts(r), shown.level(r.target_level), ", ".join(notes)]


def _table(ix: Index, rows: list[Result], d: Indicator, shown: Shown, w: Words, caption: str) -> Table:
    count = w("n_of_N", n="n", N="N") if shown.percent else "N"
    columns = [w("unit"), w("value"), w("interval_short"), count, w("target_level"), w("note")]
    return Table(caption, columns, [table_row(ix, r, d, shown, w) for r in rows])


def _bands(d: Indicator, scale: Scale, w: Words) -> list[Band]:
    t = d.target
    if t is None:
        return []
    green, yellow = t.green, t.yellow if t.yellow is not None else t.green
    lo, hi = scale.low, scale.high
    if t.direction == "higher":
        spans = [(lo, yellow, "low"), (yellow, green, "moderate"), (green, hi, "high")]
    else:
        spans = [(lo, green, "high"), (green, yellow, "moderate"), (yellow, hi, "low")]
    return [Band(max(a, lo), min(b, hi), level, w(level)) for a, b, level in spans if min(b, hi) > max(a, lo)]


def _subtitle(w: Words, d: Indicator, selection: str, period: str) -> str:
    return w("subtitle", selection=f"{w.text(d.title)}: {selection}", period=period)


# ---------------------------------------------------------------------------------------------
# The kinds


def unit_bars(ix: Index, indicator: str, period: str, w: Words, *, level: str | None = None,
              units: list[str] | None = None, highlight: str | None = None) -> UnitBars:
    """Units as horizontal bars with their interval, best first; target bands behind; the
    national value as a line; suppressed units at the end, unranked, "fewer than N".
    `units`: these units (in this order, e.g. a unit and its parents) instead of a level's."""
    d = ix.definitions[indicator]
    shown = Shown(d, w)
    level = level or ix.chart_level(d)
    if units is not None:
        cells = [c for u in units if (c := ix.cell(indicator, period, u)) is not None]
    else:
        cells = ix.cells(indicator, period, level)
    national = ix.cell(indicator, period, NATIONAL)
    shown_cells = [c for c in cells if not c.suppressed and c.value is not None]
    lower = d.target is not None and d.target.direction == "lower"
    ranked = sorted(shown_cells, key=lambda c: _value(c) if lower else -_value(c))
    if units is not None:
        ranked = [c for c in cells if c in shown_cells]
    rest = sorted((c for c in cells if c not in shown_cells), key=lambda c: ix.name(c.unit, ""))
    values = [v for c in shown_cells for v in (c.value, c.ci_low, c.ci_high) if v is not None]
    if national is not None and national.value is not None and not national.suppressed:
        values.append(national.value)
    if d.target is not None:
        values += [d.target.green] + ([d.target.yellow] if d.target.yellow is not None else [])
    scale = _scale(shown, values, zero=not shown.percent)
    rows = []
    for c in ranked:
        rows.append(Row(
            unit=c.unit, label=_label(ix, c, d, w), value=c.value, low=c.ci_low, high=c.ci_high,
            level=c.target_level, text=" ".join(filter(None, [shown.value(_value(c)), shown.level(c.target_level)])),
            flags=_flags(ix, c, w), highlight=c.unit == highlight,
        ))
    for c in rest:
        text = _withheld(c, d, w) if c.suppressed else w("no_data")
        rows.append(Row(unit=c.unit, label=_label(ix, c, d, w), text=text, highlight=c.unit == highlight, ranked=False))
    nat_value = national.value if national is not None and not national.suppressed else None
    nat_label = ""
    if nat_value is not None:
        assert national is not None
        nat_label = f"{w('national')} ({shown.value(nat_value)}), N = {w.count(national.denominator)}"
    if not ranked:
        title = w("title_units_none")
    elif d.target is not None:
        reached = sum(1 for c in ranked if c.target_level == "high")
        title = w("title_units_target", reached=reached, count=len(ranked), target=shown.target())
    else:
        best = ix.name(ranked[0].unit, "")
        key = "title_units_best_low" if lower else "title_units_best"
        title = w(key, best=best, count=len(ranked), national=shown.value(nat_value) if nat_value is not None else "–")
    selection = w(f"level_{level}") if units is None else ", ".join(ix.name(u, w("national")) for u in units)
    table_rows = ([national] if national is not None else []) + ranked + rest
    return UnitBars(
        title=title, subtitle=_subtitle(w, d, selection, period), scale=scale, rows=rows,
        bands=_bands(d, scale, w), national=nat_value, national_label=nat_label,
        zero_line=not shown.percent and scale.low < 0 < scale.high,
        table=_table(ix, table_rows, d, shown, w, f"{w.text(d.title)}, {period}"),
    )


def pages_of(chart: Chart, rows: int) -> list[Chart]:
    """A chart of many units as several of at most `rows` bars each (the same scale, bands and
    national line), for pages of paper; other kinds stay whole."""
    if isinstance(chart, UnitBars):
        items: list[Row] | list[Group]
        field, items, per = "rows", chart.rows, rows
    elif isinstance(chart, Grouped):
        field, items, per = "groups", chart.groups, max(1, rows // max(1, len(chart.series)))
    else:
        return [chart]
    if len(items) <= per:
        return [chart]
    return [msgspec.structs.replace(chart, **{field: items[i:i + per]}) for i in range(0, len(items), per)]


def funnel(ix: Index, indicator: str, period: str, w: Words, *, level: str | None = None) -> Funnel | None:
    """Value against denominator with 95 % and 99.8 % limits around the national value (the
    engine's exact binomial limits, `stats.binomial_limits`); only for shares, only published
    cells. None when there is no national value to centre on."""
    d = ix.definitions[indicator]
    shown = Shown(d, w)
    national = ix.cell(indicator, period, NATIONAL)
    if not shown.percent or national is None or national.suppressed or national.value is None:
        return None
    if not 0 < national.value < 1:  # binomial limits need a share strictly between 0 and 1
        return None
    level = level or ix.chart_level(d)
    cells = [c for c in ix.cells(indicator, period, level) if not c.suppressed and c.value is not None]
    points = [Point(unit=c.unit, label=ix.name(c.unit, ""), n=c.denominator, value=_value(c),
                    status=_funnel_status(c)) for c in sorted(cells, key=lambda c: c.denominator)]
    x_max = nice_range(0, max([p.n for p in points] + [d.min_denominator]) * 1.05)[1]
    p0 = national.value
    ns = _funnel_ns(d.min_denominator, x_max)
    low95, high95 = stats.binomial_limits(p0, ns, 0.95)
    low998, high998 = stats.binomial_limits(p0, ns, 0.998)
    limits = [Limit(float(n), float(a), float(b), float(c), float(e)) for n, a, b, c, e in zip(ns, low95, high95, low998, high998, strict=True)]
    outside = sum(1 for c in cells if c.funnel_998 in ("above", "below"))
    title = w("title_funnel", outside=outside, count=len(points)) if outside else w("title_funnel_none", count=len(points))
    rows = [[ix.name(c.unit, ""), shown.value(_value(c)), w.count(c.denominator),
             w(f"funnel_{c.funnel}") if c.funnel else "", w(f"funnel_{c.funnel_998}") if c.funnel_998 else ""]
            for c in sorted(cells, key=lambda c: c.denominator)]
    return Funnel(
        title=title, subtitle=_subtitle(w, d, w(f"level_{level}"), period), scale=_scale(shown, []),
        x_max=x_max, x_label=w("denominator_axis"), centre=p0,
        centre_label=f"{w('national')} ({shown.value(p0)})", limits=limits,
        limit_labels=[w("limit95"), w("limit998")], points=points,
        table=Table(f"{w.text(d.title)}, {period}", [w("unit"), w("value"), "N", w("funnel95"), w("funnel998")], rows),
    )


def _funnel_status(c: Result) -> str:
    """inside; above95/below95 (outside the 95 % limits only); above/below (outside 99.8 %)."""
    if c.funnel_998 in ("above", "below"):
        return c.funnel_998
    if c.funnel in ("above", "below"):
        return f"{c.funnel}95"
    return "inside"


def _funnel_ns(start: int, stop: float) -> list[int]:
    """Whole denominators at which the limits are evaluated: dense where they bend most."""
    ns, n = [], max(start, 1)
    while n < stop:
        ns.append(n)
        n = max(n + 1, round(n * 1.12))
    return [*ns, int(stop)]


def trend(ix: Index, indicator: str, w: Words, *, units: Sequence[str] = (NATIONAL,), periods: int = TREND_PERIODS) -> Trend:
    """The value over the last `periods` single years with intervals, one line per unit (the
    first unit is the one the title speaks of)."""
    d = ix.definitions[indicator]
    shown = Shown(d, w)
    years = ix.periods(indicator)[-periods:]
    series, values, rows = [], [], []
    for unit in units:
        points = []
        for year in years:
            r = ix.cell(indicator, year, unit)
            if r is None:
                points.append(SeriesPoint(period=year, note=w("no_data")))
            elif r.suppressed or r.value is None:
                points.append(SeriesPoint(period=year, note=_withheld(r, d, w) if r.suppressed else w("no_data")))
            else:
                points.append(SeriesPoint(period=year, value=r.value, low=r.ci_low, high=r.ci_high))
                values += [v for v in (r.value, r.ci_low, r.ci_high) if v is not None]
        name = ix.name(unit, w("national"))
        series.append(Series(label=name, points=points))
        rows += [[name, p.period, shown.value(p.value) if p.value is not None else p.note,
                  f"{shown.value(p.low)} – {shown.value(p.high)}" if p.low is not None and p.high is not None else ""]
                 for p in points]
    shown_points = [p for p in series[0].points if p.value is not None] if series else []
    if len(shown_points) >= 1:
        first, last = shown_points[0], shown_points[-1]
        assert first.value is not None and last.value is not None
        title = w("title_trend", name=series[0].label, first=shown.value(first.value), first_period=first.period,
                  last=shown.value(last.value), last_period=last.period)
    else:
        title = w("title_units_none")
    selection = ", ".join(s.label for s in series)
    period = f"{years[0]}–{years[-1]}" if years else ""
    return Trend(
        title=title, subtitle=_subtitle(w, d, selection, period), scale=_scale(shown, values, zero=False),
        periods=years, series=series,
        table=Table(f"{w.text(d.title)}, {period}", [w("unit"), w("period"), w("value"), w("interval_short")], rows),
    )


def response_rates(ix: Index, period: str, w: Words, *, level: str = "hospital",
                   units: list[str] | None = None) -> Grouped | None:
    """Response rate per time point (one series per response-rate indicator) for each unit at
    `level` (or the given units), the whole country first. None without response-rate indicators."""
    defs = [d for d in ix.indicators() if d.measure == "response_rate"]
    if not defs:
        return None
    series = [w.text(d.title) for d in defs]
    unit_ids = units if units is not None else [NATIONAL] + [
        u for u in ix.units if ix.level_of(u) == level and any(ix.cell(d.id, period, u) for d in defs)]
    groups, rows = [], []
    for unit in unit_ids:
        bars = []
        for i, d in enumerate(defs):
            shown = Shown(d, w)
            r = ix.cell(d.id, period, unit)
            if r is None or r.value is None or r.suppressed:
                text = _withheld(r, d, w) if r is not None and r.suppressed else w("no_data")
                bars.append(GroupBar(series=i, text=text))
                rows.append([ix.name(unit, w("national")), series[i], text, ""])
            else:
                bars.append(GroupBar(series=i, value=r.value, text=shown.value(r.value)))
                rows.append([ix.name(unit, w("national")), series[i], shown.value(r.value), shown.counts(r)])
        groups.append(Group(label=ix.name(unit, w("national")), bars=bars))
    national = groups[0].bars if groups and unit_ids[0] == NATIONAL else []
    valued = [(b.value, series[b.series], b.text) for b in national if b.value is not None]
    if valued:
        _, lowest, text = min(valued)
        title = w("title_response", lowest=lowest, value=text)
    else:
        title = w("title_units_none")
    selection = w(f"level_{level}") if units is None else ", ".join(g.label for g in groups)
    return Grouped(
        title=title, subtitle=w("subtitle", selection=selection, period=period), scale=Scale(0.0, 1.0, True, 0, w("percent")),
        series=series, groups=groups,
        table=Table(f"{w('coverage_response')}, {period}", [w("unit"), w("time_point"), w("value"), w("n_of_N", n="n", N="N")], rows),
    )
