"""What is published: a `Publication` (results, the definitions that produced them, and score
summaries), and an `Index` that answers the questions charts, reports and pages ask of it.

A publication is self-contained: it carries the definitions (with their versions) it was
computed with, so that a page or report shows the definition that produced each number even
after the definitions file has changed. Score summaries are aggregates only (counts, mean and
percentiles of groups of at least `SUMMARY_MIN` episodes): no patient-level row is ever stored
in a publication.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import msgspec

from promsvc.indicators.results import NATIONAL, Result, ResultSet
from promsvc.indicators.schema import Indicator
from promsvc.registries.schema import Registry, Unit

PERCENT_MEASURES = frozenset({"proportion", "response_rate", "coverage"})
LOW_COVERAGE = 0.60  # the national results portal flags coverage under 60 % (reference/indicators.md)
TREND_PERIODS = 5  # the portal shows the newest year and four before


class Summary(msgspec.Struct, frozen=True, kw_only=True):
    """The distribution of one score at one time point (or its change from baseline) in one unit
    and period, from at least `SUMMARY_MIN` episodes."""

    period: str
    unit: str  # NATIONAL for the whole registry
    time_point: str
    instrument: str
    score: str
    change_from: str | None = None  # the baseline time point when this is a change
    n: int
    mean: float
    p10: float
    p25: float
    p50: float
    p75: float
    p90: float


class Publication(msgspec.Struct, frozen=True, kw_only=True):
    """One published set of results of one registry (stored in the table `publication`)."""

    registry: str
    published_at: dt.datetime
    results: ResultSet
    definitions: list[Indicator]
    summaries: list[Summary] = []


def is_percent(definition: Indicator) -> bool:
    return definition.measure in PERCENT_MEASURES


def is_small(result: Result) -> bool:
    """Suppressed because its own denominator is under the minimum (not complementary)."""
    return result.suppressed and not result.reason.startswith("complementary")


class Index:
    """Look-ups over a publication and its registry's unit tree."""

    def __init__(self, publication: Publication, registry: Registry):
        self.publication = publication
        self.registry = registry
        self.definitions = {d.id: d for d in publication.definitions}
        self._cells: dict[tuple[str, str, str], Result] = {}
        self._periods: dict[str, set[str]] = defaultdict(set)
        for r in publication.results.results:
            self._cells[(r.indicator, r.period, r.unit)] = r
            self._periods[r.indicator].add(r.period)
        self.units: dict[str, Unit] = {}  # in the tree's order, parents before children
        self.parent: dict[str, str] = {}
        stack = [(u, NATIONAL) for u in reversed(registry.units)]
        while stack:
            unit, parent = stack.pop()
            self.units[unit.id] = unit
            self.parent[unit.id] = parent
            stack.extend((c, unit.id) for c in reversed(unit.children))

    @property
    def results(self) -> ResultSet:
        return self.publication.results

    def indicators(self) -> list[Indicator]:
        return list(self.publication.definitions)

    def cell(self, indicator: str, period: str, unit: str) -> Result | None:
        return self._cells.get((indicator, period, unit))

    def periods(self, indicator: str, pooled: bool = False) -> list[str]:
        """The indicator's periods, oldest first; single years only unless `pooled`."""
        periods = [p for p in self._periods.get(indicator, ()) if pooled or "-" not in p]
        return sorted(periods, key=lambda p: (p.split("-")[-1], p))

    def latest_period(self, indicator: str) -> str | None:
        periods = self.periods(indicator)
        return periods[-1] if periods else None

    def report_period(self) -> str | None:
        """What a report is about by default, as an annual report is: the newest year that has
        ended by the data date (the newest at all when none has) in which at least half of the
        indicators have a published national value (12-month results counted by answer year
        reach a year further than the rest), else the newest year with the most."""
        data_until = self.publication.results.data_until
        ended = {r.period for r in self.publication.results.results
                 if "-" not in r.period and (int(r.period) < data_until.year or data_until.strftime("%m-%d") == "12-31")}
        shown: dict[str, int] = defaultdict(int)
        for r in self.publication.results.results:
            if r.unit == NATIONAL and "-" not in r.period and not r.suppressed and r.value is not None:
                if r.period in ended or not ended:
                    shown[r.period] += 1
        if not shown:
            years = {p for ind in self.definitions for p in self.periods(ind)}
            return max(years) if years else None
        enough = [p for p, n in shown.items() if 2 * n >= len(self.definitions)]
        return max(enough) if enough else max(shown, key=lambda p: (shown[p], p))

    def cells(self, indicator: str, period: str, level: str) -> list[Result]:
        return [r for r in self.publication.results.results
                if r.indicator == indicator and r.period == period and r.level == level]

    def name(self, unit: str, national: str) -> str:
        return national if unit == NATIONAL else self.units[unit].name

    def level_of(self, unit: str) -> str:
        return "national" if unit == NATIONAL else self.units[unit].level

    def ancestors(self, unit: str) -> list[str]:
        """The unit's parents from the nearest up, without the national row."""
        out = []
        while (unit := self.parent.get(unit, NATIONAL)) != NATIONAL:
            out.append(unit)
        return out

    def chart_level(self, definition: Indicator) -> str:
        """The level whose units a chart compares: hospitals where published, else the
        lowest level below national."""
        below = [lv for lv in definition.levels if lv != "national"]
        if "hospital" in below:
            return "hospital"
        order = ("department", "hospital", "hf", "rhf")
        return next((lv for lv in order if lv in below), "national")

    def coverage(self, period: str, unit: str) -> float | None:
        """The unit's coverage in `period` from the registry's coverage indicator, if it has one
        and the cell is published."""
        for d in self.publication.definitions:
            if d.measure == "coverage":
                r = self.cell(d.id, period, unit)
                if r is not None and not r.suppressed and r.value is not None:
                    return r.value
        return None

    def summaries(self, period: str, unit: str) -> list[Summary]:
        return [s for s in self.publication.summaries if s.period == period and s.unit == unit]

    def summary_periods(self) -> list[str]:
        return sorted({s.period for s in self.publication.summaries})
