"""The indicator definition format: one YAML file per registry, `{registry id}.indicators.yaml`,
beside the registry file (the demo's: promsvc/registries/demo.indicators.yaml).

The fields follow the national template for describing a quality indicator (kvalitetsregistre.no,
"Mal for indikatorbeskrivelse", after Helsedirektoratet IS-2690): id, version, approval date,
optional national number, title and description, quality dimension, type, measurement area,
rationale, target, population and exclusions, numerator and denominator (or the value of a mean
or median) with the unit of measure, publication levels, minimum denominator, period rule, data
source and frequency, comparability. See docs/indicators.md.

Formulas (`population`, `numerator`, `denominator`, `value`, and each exclusion) are expressions
in a small SQL subset over named variables: the declared `variables` and the built-in ones
(`unit`, `protocol`, `event_date`, `event_year`, `withdrawn`, `deceased`). They are parsed and
checked when the file is loaded; nothing is ever `eval`-ed.

Proportions are values in [0, 1] (shown as percentages); targets are in the unit of the value.
Everything that spans several fields (and every formula) is checked by
`promsvc.indicators.loader.problems`, with the path and a fix for each problem.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from instruments.schema import InstrumentId, Name, Text

Measure = Literal["proportion", "mean", "median", "count", "response_rate", "coverage", "qaly"]
Level = Literal["national", "rhf", "hf", "hospital", "department"]
LEVELS: tuple[Level, ...] = ("national", "rhf", "hf", "hospital", "department")
Dimension = Literal["effective", "safe", "user_involving", "coordinated", "resource_efficient", "accessible"]
IndicatorType = Literal["structure", "process", "outcome"]
IntervalMethod = Literal["wilson", "clopper-pearson", "t", "order"]
TimePointField = Literal["status", "due_at", "expires_at", "submitted_at"]
Expression = Annotated[str, Meta(min_length=1, max_length=2000)]

MIN_PUBLISHED_DENOMINATOR = 5  # no published cell below this, whatever a definition says


class _Strict(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    pass


class Variable(_Strict, frozen=True, kw_only=True):
    """What a variable name refers to; exactly one form:

    - an episode attribute declared by the protocol: `{attribute: asa_class}`
    - a time point's field: `{time_point: m12, field: status}` (`status`, `due_at`,
      `expires_at`, `submitted_at`)
    - a time point's score: `{time_point: baseline, instrument: eq5d-5l, score: index}`, by the
      instrument's first scoring in the registry, or another: `scoring: sf36v1`
    """

    attribute: Name | None = None
    time_point: Name | None = None
    field: TimePointField | None = None
    instrument: InstrumentId | None = None
    score: Name | None = None
    scoring: Name | None = None


class Target(_Strict, frozen=True, kw_only=True):
    """Target levels as the national results portal judges them (SKDE `defineLevel`):
    high if the value reaches `green` in `direction`, low if it falls short of `yellow`,
    moderate between. Without `yellow` there are two levels (yellow = green)."""

    direction: Literal["higher", "lower"]
    green: float
    yellow: float | None = None


class Period(_Strict, frozen=True, kw_only=True):
    """Which year a result belongs to: the event's year, or the year the patient answered
    time point `time_point` (e.g. 12-month results counted in the year after surgery).
    `pooled`: also publish rolling periods of this many years (2 or 3) for small units."""

    by: Literal["event_year", "answer_year"] = "event_year"
    time_point: Name | None = None
    pooled: Annotated[int, Meta(ge=2, le=3)] | None = None


class Standardise(_Strict, frozen=True, kw_only=True):
    """Direct standardisation of a proportion or mean by attributes (e.g. age group × sex) to the
    registry's whole population in the same period; the crude value is kept beside it."""

    by: Annotated[list[Name], Meta(min_length=1)]


class Indicator(_Strict, frozen=True, kw_only=True):
    id: Annotated[str, Meta(min_length=1, max_length=60)]
    version: Annotated[int, Meta(ge=1)]
    approved: dt.date  # approval date of this version
    national_number: str | None = None  # e.g. "N-044"
    title: Text
    description: Text
    clinical_field: Text  # groups indicators into packages on result pages
    dimension: Dimension
    type: IndicatorType
    area: str  # measurement area, e.g. "health-related quality of life"
    rationale: str
    protocol: Name  # the protocol whose episodes the indicator counts
    variables: dict[Name, Variable] = {}
    population: Expression = "TRUE"  # who is counted, before exclusions
    exclusions: list[Expression] = []  # each removes the episodes for which it is true
    measure: Measure
    numerator: Expression | None = None  # proportion: which of the denominator count
    denominator: Expression | None = None  # proportion: who has the data (default: the population)
    value: Expression | None = None  # mean, median: the per-episode value
    time_point: Name | None = None  # response_rate: the time point
    utility: Variable | None = None  # qaly: the utility score (an EQ-5D index) at every time point that asks it:
    #   `{instrument: eq5d-5l, score: index}` (no time point)
    reference: str | None = None  # coverage: CSV of reference counts (unit, year, count), relative to this file
    unit_of_measure: str  # e.g. "percent", "points", "index", "QALY"
    interval: IntervalMethod | None = None  # default by measure: wilson, t, order
    target: Target | None = None
    levels: Annotated[list[Level], Meta(min_length=1)] = msgspec.field(
        default_factory=lambda: ["national", "rhf", "hf", "hospital"])
    min_denominator: Annotated[int, Meta(ge=MIN_PUBLISHED_DENOMINATOR)] = 10
    period: Period = msgspec.field(default_factory=Period)
    standardise: Standardise | None = None
    data_source: str
    frequency: str = "yearly"
    comparability: str = ""


    def interval_method(self) -> str:
        """The interval this indicator's values get: its own, or its measure's default."""
        return self.interval or DEFAULT_INTERVAL[self.measure]

    def threshold(self) -> int:
        """The smallest denominator a published cell may have."""
        return max(self.min_denominator, MIN_PUBLISHED_DENOMINATOR)


# The interval each measure gets by default ("" where none applies).
DEFAULT_INTERVAL: dict[str, str] = {
    "proportion": "wilson", "response_rate": "wilson", "coverage": "wilson",
    "mean": "t", "qaly": "t", "median": "order", "count": "",
}


class IndicatorFile(_Strict, frozen=True, kw_only=True):
    registry: Annotated[str, Meta(pattern=r"^[a-z][a-z0-9-]*$")]
    indicators: Annotated[list[Indicator], Meta(min_length=1)]
