"""Per-episode step of the engine: from the episode frame to one row per episode with what
each measure adds up (vectorised polars; the reference engine in tests/property does the same
one episode at a time).

Output columns: `unit` (its code, `UnitTree.codes`), `year`, `pop` (1 if in the population after exclusions), `den`, `num`,
`sq` (value², for means), `val` (the value, for medians), `withdrawn`, `deceased` (response
rates) and, when standardised, `stratum`.

The data date (`as_of`) is applied first: episodes after it are left out, answers submitted
after it do not exist yet (their time point is still open), and `withdrawn`/`deceased` are true
only when that happened on or before it.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from promsvc.indicators import frame as fr
from promsvc.indicators.definitions import DECEASED, EVENT_YEAR, WITHDRAWN, Compiled
from promsvc.indicators.expressions import to_polars

_UTC = pl.Datetime("us", "UTC")
UNIT_CODE = "unit_code"
DAYS_PER_YEAR = 365.25


def cutoff(as_of: dt.date) -> dt.datetime:
    """The first moment after the data date (UTC): what happened before it counts."""
    return dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


def at_data_date(df: pl.DataFrame, protocol_id: str, as_of: dt.date, unit_codes: dict[str, int]) -> pl.DataFrame:
    """One protocol's episodes as they stood at the end of the data date, with the derived
    built-in columns and `unit_code` (-1: a unit the registry does not declare); done once per
    frame, shared by every indicator of the protocol."""
    end = cutoff(as_of)
    lazy = df.lazy().filter((pl.col("protocol") == protocol_id) & (pl.col("event_date") <= as_of))
    columns: list[pl.Expr] = []
    for submitted in (c for c in df.columns if c.endswith(".submitted_at")):
        tp = submitted.removesuffix(".submitted_at")
        late = (pl.col(submitted) >= end).fill_null(False)
        status = fr.time_point_column(tp, "status")
        for column in df.columns:
            if column.startswith(f"{tp}.") and column != status:
                columns.append(pl.when(late).then(None).otherwise(pl.col(column)).alias(column))
        if status in df.columns:
            columns.append(pl.when(late).then(pl.lit("open")).otherwise(pl.col(status)).alias(status))
    columns += [
        pl.col("event_date").dt.year().cast(pl.Int64).alias(EVENT_YEAR),
        (pl.col("withdrawn_at") < end).fill_null(False).alias(WITHDRAWN),
        (pl.col("deceased_at") < end).fill_null(False).alias(DECEASED),
        pl.col("unit").cast(pl.String).replace_strict(unit_codes, default=-1, return_dtype=pl.Int32).alias(UNIT_CODE),
    ]
    return lazy.with_columns(columns).collect()


def per_episode(df: pl.DataFrame, compiled: Compiled, as_of: dt.date) -> pl.DataFrame:
    """One row per episode of the population (`df` from `at_data_date`): what its measure adds up."""
    ind, v = compiled.indicator, compiled.variables
    pop = to_polars(compiled.population, v).fill_null(False)
    for exclusion in compiled.exclusions:
        pop = pop & ~to_polars(exclusion, v).fill_null(False)
    lazy = df.lazy().filter(pop).with_columns(_year(compiled).alias("year"))
    zero = pl.lit(0.0)
    if ind.measure == "proportion":
        assert compiled.numerator is not None  # the loader checked: a proportion needs a numerator
        den = to_polars(compiled.denominator, v).fill_null(False) if compiled.denominator else pl.lit(True)
        num = den & to_polars(compiled.numerator, v).fill_null(False)
        cols = [den.alias("den"), num.cast(pl.Float64).alias("num")]
    elif ind.measure in ("mean", "median"):
        assert compiled.value is not None  # the loader checked: a mean or median needs a value
        value = to_polars(compiled.value, v).cast(pl.Float64)
        cols = [pl.when(value.is_finite()).then(value).alias("val")]  # NaN and ±inf are no value
    elif ind.measure == "count":
        num = to_polars(compiled.numerator, v).fill_null(False) if compiled.numerator else pl.lit(True)
        cols = [num.alias("den"), num.cast(pl.Float64).alias("num")]
    elif ind.measure == "response_rate":
        cols = _response(compiled, cutoff(as_of))
    elif ind.measure == "coverage":
        cols = [pl.lit(True).alias("den"), pl.lit(1.0).alias("num")]  # den is replaced by the reference counts
    else:  # qaly
        utility = lazy.select(UNIT_CODE, "year", *(c for _, c, _ in compiled.utility), *(c for c, _ in compiled.strata)).collect()
        lazy = utility.lazy().with_columns(pl.Series("val", qaly_gain(utility, compiled.utility), dtype=pl.Float64).fill_nan(None))
        cols = []
    lazy = lazy.with_columns(cols)
    has_value = ind.measure in ("mean", "median", "qaly")
    if has_value:
        lazy = lazy.with_columns(pl.col("val").is_not_null().alias("den"), pl.col("val").fill_null(zero).alias("num"),
                                 (pl.col("val") ** 2).fill_null(zero).alias("sq"))
    keep = [pl.col(UNIT_CODE).alias("unit"), pl.col("year"), pl.lit(1, dtype=pl.Int64).alias("pop"),
            pl.col("den").cast(pl.Int64), pl.col("num").cast(pl.Float64)]
    keep += [pl.col(c) for c in ("sq", "val") if has_value]
    if ind.measure == "response_rate":
        keep += [pl.col(c).cast(pl.Int64) for c in ("n_withdrawn", "n_deceased")]
    if compiled.strata:
        keep.append(stratum(compiled.strata))
    return lazy.select(keep).filter(pl.col("year").is_not_null()).collect()


def stratum(strata: list[tuple[str, list]]) -> pl.Expr:
    """A number per combination of the standardising attributes' values (unknown is a value of
    its own): each attribute's value's position in its list, in mixed radix."""
    code = pl.lit(0, dtype=pl.Int64)
    for column, values in strata:
        position = pl.col(column).replace_strict(values, list(range(len(values))), default=len(values),
                                                 return_dtype=pl.Int64)
        code = code * (len(values) + 1) + position
    return code.alias("stratum")


def _year(compiled: Compiled) -> pl.Expr:
    """The year a result belongs to: the event's, or the year the patient answered the period's
    time point (for one who did not answer: the year that time point fell due)."""
    period = compiled.indicator.period
    if period.by == "event_year":
        return pl.col(EVENT_YEAR)
    # compile_indicator checked: results by answer year name a time point of the protocol
    assert period.time_point is not None
    tp = compiled.protocol.time_point(period.time_point)
    assert tp is not None
    due = (pl.col("event_date") + pl.duration(days=tp.offset.days)).dt.year().cast(pl.Int64)
    submitted = fr.time_point_column(tp.id, "submitted_at")
    return pl.col(submitted).dt.year().cast(pl.Int64).fill_null(due)


def window_closes(compiled: Compiled, time_point: str) -> pl.Expr:
    """When a time point's window closes for each episode: event date + offset + window."""
    tp = compiled.protocol.time_point(time_point)
    assert tp is not None  # compile_indicator checked: a time point of the protocol
    return pl.col("event_date").cast(_UTC) + pl.duration(seconds=(tp.offset + tp.window).total_seconds())


def _response(compiled: Compiled, end: dt.datetime) -> list[pl.Expr]:
    """Response rate: due = the window has closed by the data date; withdrawn or deceased before
    it closed without answering are counted apart; the rest are the denominator."""
    tp = compiled.indicator.time_point
    assert tp is not None  # the loader checked: a response rate names its time point
    closes = window_closes(compiled, tp)
    due = closes < pl.lit(end, dtype=_UTC)
    answered = (pl.col(fr.time_point_column(tp, "status")) == "completed").fill_null(False)
    withdrawn = due & ~answered & (pl.col("withdrawn_at") < closes).fill_null(False)
    deceased = due & ~answered & ~withdrawn & (pl.col("deceased_at") < closes).fill_null(False)
    den = due & ~withdrawn & ~deceased
    return [den.alias("den"), (den & answered).cast(pl.Float64).alias("num"),
            withdrawn.alias("n_withdrawn"), deceased.alias("n_deceased")]


def qaly_gain(df: pl.DataFrame, utility: list[tuple[str, str, int]]) -> np.ndarray:
    """QALYs gained over the baseline state carried forward, per episode (NaN: not computable).

    Time of each time point: its offset from the event in days / 365.25, a time point before
    the event counting at the event. The area under the utility curve is the sum of trapezoids
    between the time points answered (a missing middle point is interpolated linearly); it needs
    the first (baseline) and the last time point. Gain = area − baseline utility × follow-up time.
    """
    times = np.array([max(offset, 0) / DAYS_PER_YEAR for _, _, offset in utility])
    u = np.column_stack([df[c].cast(pl.Float64).fill_null(np.nan).to_numpy() for _, c, _ in utility]) if len(df) else np.empty((0, len(utility)))
    area = np.zeros(len(u))
    last_u, last_t = u[:, 0].copy(), np.full(len(u), times[0])
    for j in range(1, len(times)):
        here = ~np.isnan(u[:, j])
        area = np.where(here, area + (times[j] - last_t) * (u[:, j] + last_u) / 2, area)
        last_u = np.where(here, u[:, j], last_u)
        last_t = np.where(here, times[j], last_t)
    gain = area - u[:, 0] * (times[-1] - times[0])
    return np.where(np.isnan(u[:, 0]) | np.isnan(u[:, -1]), np.nan, gain)
