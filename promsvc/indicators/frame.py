"""The indicator engine's input: one row per episode of one protocol, as a polars DataFrame.

Both ways in give exactly the same frame for the same data (a test compares them):

- `from_database(engine, registry, needs)`: set-based queries of only the columns `needs` names;
- `from_csv(path, registry, needs)`: a CSV in the export's format (promsvc.episodes.export: one
  row per episode × time point), e.g. data collected elsewhere.

Columns (names built by the helpers below; only those `needs` asks for besides the fixed ones):

    episode                            Utf8      the registry's external id of the episode
    unit, protocol                     Utf8
    event_date                         Date
    withdrawn_at, deceased_at          Datetime(us, UTC), null when not
    attr.{id}                          a declared episode attribute: category → Utf8,
                                       integer → Int64, boolean → Boolean, date → Date
    {tp}.status                        Utf8      the invitation's status; null: no invitation
    {tp}.due_at, {tp}.expires_at,
    {tp}.submitted_at                  Datetime(us, UTC)
    {tp}.{instrument}.{score}          Float64 (bands and other text scores: Utf8), the score
                                       by the instrument's first scoring in the registry
    {tp}.{instrument}.{scoring}.{score}  the same by a further scoring (as the export names it)
"""

from __future__ import annotations

from pathlib import Path

import msgspec

FIXED_COLUMNS = ("episode", "unit", "protocol", "event_date", "withdrawn_at", "deceased_at")
TIME_POINT_FIELDS = ("status", "due_at", "expires_at", "submitted_at")


class ScoreRef(msgspec.Struct, frozen=True, order=True):
    time_point: str
    instrument: str
    score: str
    scoring: str | None = None  # None: the instrument's first scoring in the registry


class Needs(msgspec.Struct, frozen=True):
    """What an indicator computation reads, beyond the fixed columns."""

    protocol: str
    attributes: frozenset[str] = frozenset()
    time_points: frozenset[str] = frozenset()  # whose status and times are read
    scores: frozenset[ScoreRef] = frozenset()


def attribute_column(attribute: str) -> str:
    return f"attr.{attribute}"


def time_point_column(time_point: str, field: str) -> str:
    return f"{time_point}.{field}"


def score_column(ref: ScoreRef) -> str:
    middle = f"{ref.scoring}." if ref.scoring else ""
    return f"{ref.time_point}.{ref.instrument}.{middle}{ref.score}"


def from_database(engine, registry, needs: Needs):  # -> polars.DataFrame
    raise NotImplementedError("promsvc.indicators.frame.from_database")


def from_csv(path: str | Path, registry, needs: Needs):  # -> polars.DataFrame
    raise NotImplementedError("promsvc.indicators.frame.from_csv")
