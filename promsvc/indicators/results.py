"""What the indicator engine returns.

A `Result` is one cell: one indicator (id and version) × period × unit at one level. The
internal CSV (`promsvc indicators compute --format csv`) writes `CSV_COLUMNS` in this order
(DESIGN.md, "Contracts"); the JSON carries every field. Numerators and denominators of the
children of a unit add up to the unit's own. A suppressed cell keeps its numerator and
denominator here (this file is internal) but has no value, interval, target level or funnel
status; open data and the portal's rows leave suppressed cells out.
"""

from __future__ import annotations

import datetime as dt

import msgspec

from promsvc.indicators.schema import Level, Measure

NATIONAL = ""  # the unit id (and orgnr) of the national row

CSV_COLUMNS = (
    "indicator", "version", "measure", "period", "level", "unit", "orgnr", "numerator", "denominator",
    "value", "ci_low", "ci_high", "interval", "target_level", "funnel", "suppressed", "reason",
)


class Result(msgspec.Struct, frozen=True, kw_only=True):
    indicator: str
    version: int
    measure: Measure
    period: str  # a year ("2025") or a pooled range ("2024-2025")
    level: Level
    unit: str  # unit id; NATIONAL for the national row
    orgnr: str  # the unit's organisation number; "" when it has none
    numerator: float | None  # proportion/response rate/coverage: the count; mean/qaly: the sum; median: None
    denominator: int
    value: float | None  # None when suppressed or when there is nothing to count
    ci_low: float | None = None
    ci_high: float | None = None
    interval: str = ""  # wilson, clopper-pearson, t, order, or "" when there is none
    target_level: str = ""  # high, moderate, low, or "" (no target, or suppressed)
    target_rule: str = ""  # the rule that gave the level, e.g. "high: ≥ 0.70; low: < 0.50"
    funnel: str = ""  # inside, above, below the 95 % funnel limits around the national value, or ""
    funnel_998: str = ""  # the same against the 99.8 % limits
    suppressed: bool = False
    reason: str = ""  # why suppressed: "denominator 3 < 10", "complementary: …"
    data_share: float | None = None  # share of the population's episodes with the data the formula needs
    crude: float | None = None  # the crude value when `value` is standardised
    counts: dict[str, int] = {}  # extra counts, e.g. response rate: {"withdrawn": 3, "deceased": 1}


class DefinitionStamp(msgspec.Struct, frozen=True):
    indicator: str
    version: int
    approved: dt.date
    method: str = ""  # how the values were computed, in words (interval, period, standardisation, QALY method)


class ResultSet(msgspec.Struct, frozen=True, kw_only=True):
    """Results with what produced them; every output file carries this stamp."""

    registry: str
    computed_at: dt.datetime  # UTC
    data_until: dt.date  # the data date: windows closed and answers counted up to this day
    source: str  # "database" or the CSV file's name
    definitions: list[DefinitionStamp]
    provenance: list[str]  # scoring provenance of the scores used, e.g. "eq5d-5l 1 · index 1 · EQ-5D-5L · VT · Norway"
    results: list[Result]
