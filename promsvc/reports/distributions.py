"""Score distributions per time point and change from baseline: summarised from the episode
frame when results are published (aggregates only), drawn as box charts.

`summarise` reads the frame (one row per episode, promsvc.indicators.frame) and returns, per
event year (the newest two with answers at the last time point), unit (at every level of the tree, and the whole country), time point, instrument
and score: n, mean and the 10th, 25th, 50th, 75th and 90th percentiles; and the same of each
later time point's change from the first one (the baseline). A group of fewer than
`SUMMARY_MIN` episodes gives no summary at all. No minimum or maximum is kept: those would be
single patients' values.
"""

from __future__ import annotations

import datetime as dt

from instruments import loader as instruments
from instruments.schema import Bands
from promsvc.indicators.frame import Needs, ScoreRef, score_column
from promsvc.indicators.results import NATIONAL
from promsvc.indicators.schema import MIN_PUBLISHED_DENOMINATOR
from promsvc.registries.schema import Protocol, Registry
from promsvc.reports.charts import Box, Boxes, BoxGroup, Scale, Table, nice_range
from promsvc.reports.published import Index, Summary
from promsvc.reports.texts import Words

SUMMARY_MIN = max(10, MIN_PUBLISHED_DENOMINATOR)  # the registries' usual small-number limit
QUANTILES = {"p10": 0.10, "p25": 0.25, "p50": 0.50, "p75": 0.75, "p90": 0.90}
SUMMARY_YEARS = 2  # the charts show the newest year with answers at the last time point; one more for comparison


def score_refs(protocol: Protocol) -> list[ScoreRef]:
    """The PROM scores a protocol collects at each time point, by the instrument's first scoring
    in the registry: scales and numeric summary scores (not bands)."""
    refs = []
    for tp in protocol.time_points:
        for instrument_id in tp.instruments:
            instrument = instruments.get(instrument_id)
            if instrument.kind != "prom":
                continue
            use = protocol.instrument_use(instrument_id)
            scoring = _scoring(instrument, use.scorings[0] if use.scorings else None)
            ids = [s.id for s in scoring.scales] + [s.id for s in scoring.summaries if not isinstance(s, Bands)]
            refs += [ScoreRef(tp.id, instrument_id, score) for score in ids]
    return refs


def _scoring(instrument, scoring_id: str | None):
    if scoring_id is not None:
        return next(s for s in instrument.scorings if s.id == scoring_id)
    return next((s for s in instrument.scorings if s.default), instrument.scorings[0])


def needs(protocol: Protocol) -> Needs:
    return Needs(protocol=protocol.id, scores=frozenset(score_refs(protocol)))


def summarise(frame, registry: Registry, protocol: Protocol, years: int = SUMMARY_YEARS,
              as_of: dt.date | None = None) -> list[Summary]:
    """Summaries of every score of `protocol` in `frame` (a polars DataFrame), for the newest
    `years` event years in which the last time point has answers (what the charts show), or
    the newest years at all while no episode has reached the last time point."""
    import polars as pl

    refs = [r for r in score_refs(protocol) if score_column(r) in frame.columns]
    if not refs or frame.height == 0:
        return []
    baseline, last = protocol.time_points[0].id, protocol.time_points[-1].id
    columns: list[pl.Expr] = []
    specs: list[tuple[ScoreRef, str | None]] = []  # a score, or its change since the baseline
    for ref in refs:
        columns.append(pl.col(score_column(ref)).cast(pl.Float64).alias(f"v{len(specs)}"))
        specs.append((ref, None))
        base = ScoreRef(baseline, ref.instrument, ref.score, ref.scoring)
        if ref.time_point != baseline and base in refs:
            columns.append((pl.col(score_column(ref)).cast(pl.Float64) - pl.col(score_column(base)).cast(pl.Float64)).alias(f"v{len(specs)}"))
            specs.append((ref, baseline))
    if as_of is not None:  # as the engine: nothing after the data date
        frame = frame.filter(pl.col("event_date") <= as_of)
    wide = frame.select(pl.col("event_date").dt.year().cast(pl.Utf8).alias("period"), pl.col("unit"), *columns)
    answered_last = [f"v{i}" for i, (ref, change) in enumerate(specs) if ref.time_point == last and change is None]
    with_last = wide.filter(pl.any_horizontal(pl.col(c).is_not_null() for c in answered_last)) if answered_last else wide
    periods = sorted(with_last.get_column("period").unique().to_list())[-years:] or \
        sorted(wide.get_column("period").unique().to_list())[-years:]  # no answers at the last time point yet
    long = (
        wide.filter(pl.col("period").is_in(periods))
        .with_columns(pl.col("unit").replace_strict(_scopes(registry), default=[NATIONAL], return_dtype=pl.List(pl.Utf8)).alias("scope"))
        .explode("scope")
    )
    aggregations = []
    for i in range(len(specs)):
        v = pl.col(f"v{i}").drop_nulls()
        aggregations += [v.len().alias(f"n{i}"), v.mean().alias(f"mean{i}"),
                         *[v.quantile(q, interpolation="linear").alias(f"{name}{i}") for name, q in QUANTILES.items()]]
    table = long.group_by("period", "scope").agg(aggregations).sort("period", "scope")
    out: list[Summary] = []
    for row in table.iter_rows(named=True):
        for i, (ref, change_from) in enumerate(specs):
            if row[f"n{i}"] < SUMMARY_MIN:
                continue
            out.append(Summary(
                period=row["period"], unit=row["scope"], time_point=ref.time_point, instrument=ref.instrument,
                score=ref.score, change_from=change_from, n=row[f"n{i}"], mean=row[f"mean{i}"],
                **{name: row[f"{name}{i}"] for name in QUANTILES},
            ))
    return out


def _scopes(registry: Registry) -> dict[str, list[str]]:
    """Each unit id → itself, its ancestors and the whole country: where its episodes count."""
    scopes: dict[str, list[str]] = {}
    stack = [(u, [NATIONAL]) for u in registry.units]
    while stack:
        unit, above = stack.pop()
        scopes[unit.id] = [unit.id, *above]
        stack.extend((c, [unit.id, *above]) for c in unit.children)
    return scopes


# ---------------------------------------------------------------------------------------------
# Charts


def charts(ix: Index, unit: str, w: Words, period: str | None = None) -> list[Boxes]:
    """One chart of each instrument's scores per time point and one of their change from
    baseline, for `unit` (NATIONAL: the whole registry) in `period` (default: the newest year
    with summaries of the last time point)."""
    period = period or _period(ix, unit)
    if period is None:
        return []
    summaries = ix.summaries(period, unit)
    out = []
    for instrument_id in dict.fromkeys(s.instrument for s in summaries):
        mine = [s for s in summaries if s.instrument == instrument_id]
        for change in (False, True):
            chosen = [s for s in mine if (s.change_from is not None) == change]
            if chosen:
                out.append(_chart(ix, unit, period, w, instrument_id, chosen, change))
    return out


def _period(ix: Index, unit: str) -> str | None:
    periods = sorted({s.period for s in ix.publication.summaries if s.unit == unit})
    last_tp = {tp.time_points[-1].id for tp in ix.registry.protocols}
    full = [p for p in periods if any(s.time_point in last_tp for s in ix.summaries(p, unit))]
    found = full or periods
    return found[-1] if found else None


def _time_point_title(ix: Index, time_point: str, w: Words) -> str:
    for protocol in ix.registry.protocols:
        if (tp := protocol.time_point(time_point)) is not None:
            return w.text(tp.title)
    return time_point


def _score_title(instrument_id: str, score: str, w: Words) -> str:
    instrument = instruments.get(instrument_id)
    for scoring in instrument.scorings:
        for s in [*scoring.scales, *scoring.summaries]:
            if s.id == score:
                return w.text(s.label)
    return score


def _chart(ix: Index, unit: str, period: str, w: Words, instrument_id: str, summaries: list[Summary], change: bool) -> Boxes:
    instrument = instruments.get(instrument_id)
    series_ids = list(dict.fromkeys(s.time_point for s in summaries))
    series = [_time_point_title(ix, tp, w) for tp in series_ids]
    groups, rows, values = [], [], []
    decimals = 2 if max(abs(s.p90) for s in summaries) <= 1.5 else 1
    for score in dict.fromkeys(s.score for s in summaries):
        boxes = []
        for s in summaries:
            if s.score != score:
                continue
            boxes.append(Box(series=series_ids.index(s.time_point), n=s.n, mean=s.mean,
                             p10=s.p10, p25=s.p25, p50=s.p50, p75=s.p75, p90=s.p90))
            values += [s.p10, s.p90]
            rows.append([_score_title(instrument_id, score, w), series[series_ids.index(s.time_point)], w.count(s.n),
                         w.number(s.mean, decimals), w.number(s.p50, decimals),
                         f"{w.number(s.p25, decimals)} – {w.number(s.p75, decimals)}",
                         f"{w.number(s.p10, decimals)} – {w.number(s.p90, decimals)}"])
        groups.append(BoxGroup(label=_score_title(instrument_id, score, w), boxes=boxes))
    low, high = nice_range(min(values + ([0.0] if change else [])), max(values + ([0.0] if change else [])))
    name = w.text(instrument.title)
    first = groups[0]
    b0, b1 = first.boxes[0], first.boxes[-1]
    score_name = f"{name} – {first.label}" if len(groups) > 1 else name
    if change:
        title = w("title_change", score=score_name, value=w.number(b1.p50, decimals), tp=series[b1.series].lower())
    else:
        title = w("title_distribution", score=score_name, first=w.number(b0.p50, decimals), first_tp=series[b0.series].lower(),
                  last=w.number(b1.p50, decimals), last_tp=series[b1.series].lower())
    selection = f"{name}, {w('change').lower() if change else w('distributions').lower()}, {ix.name(unit, w('national'))}"
    columns = [w("score"), w("time_point"), "N", w("mean"), w("median"), w("p25_p75"), w("p10_p90")]
    return Boxes(
        title=title, subtitle=w("subtitle", selection=selection, period=period),
        scale=Scale(low, high, False, decimals, w("change") if change else w("score")),
        series=series, groups=groups, zero_line=change,
        table=Table(f"{name}, {period}", columns, rows),
    )
