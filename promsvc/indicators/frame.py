"""The indicator engine's input: one row per episode of one protocol, as a polars DataFrame.

Both ways in give exactly the same frame for the same data (a test compares them):

- `from_database(engine, registry, needs)`: set-based queries of only the columns `needs` names
  (promsvc.indicators.dbread);
- `from_csv(path, registry, needs)`: a CSV in the export's format (promsvc.episodes.export: one
  row per episode × time point), e.g. data collected elsewhere.

Columns (names built by the helpers below; only those `needs` asks for besides the fixed ones),
in this order, rows sorted by `episode`:

    episode                            Utf8      the registry's external id of the episode
    unit, protocol                     Utf8
    event_date                         Date
    withdrawn_at, deceased_at          Datetime(us, UTC), null when not
    attr.{id}                          a declared episode attribute (in the protocol's order):
                                       category → Utf8, integer → Int64, boolean → Boolean,
                                       date → Date; null when unknown
    {tp}.status                        Utf8      the invitation's status; null: no invitation
    {tp}.due_at, {tp}.expires_at       Datetime(us, UTC), only of the time points in `needs.windows`
    {tp}.submitted_at                  Datetime(us, UTC) (time points in the protocol's order)
    {tp}.{instrument}.{score}          Float64 (bands and other text scores: Utf8), the score
                                       by the instrument's first scoring in the registry
                                       (time points in the protocol's order, then by name)
    {tp}.{instrument}.{scoring}.{score}  the same by a further scoring (as the export names it)

Times are whole seconds (the export's precision; the database's fractions are cut off), and
`submitted_at` is the latest submission time of the time point's responses, as in the export.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import msgspec
import polars as pl

import instruments
from instruments.schema import Bands
from promsvc.registries.schema import Protocol, Registry

FIXED_COLUMNS = ("episode", "unit", "protocol", "event_date", "withdrawn_at", "deceased_at")
TIME = pl.Datetime("us", "UTC")
TIME_POINT_FIELDS: dict[str, pl.DataType] = {"status": pl.String(), "due_at": TIME, "expires_at": TIME, "submitted_at": TIME}
WINDOW_FIELDS = ("due_at", "expires_at")  # read only when a formula names them (`Needs.windows`)
ATTRIBUTE_TYPES: dict[str, pl.DataType] = {"category": pl.String(), "integer": pl.Int64(), "boolean": pl.Boolean(), "date": pl.Date()}


class ScoreRef(msgspec.Struct, frozen=True, order=True):
    time_point: str
    instrument: str
    score: str
    scoring: str | None = None  # None: the instrument's first scoring in the registry


class Needs(msgspec.Struct, frozen=True):
    """What an indicator computation reads, beyond the fixed columns."""

    protocol: str
    attributes: frozenset[str] = frozenset()
    time_points: frozenset[str] = frozenset()  # whose status and submission time are read
    windows: frozenset[str] = frozenset()  # time points whose due and expiry times are read too
    scores: frozenset[ScoreRef] = frozenset()


def attribute_column(attribute: str) -> str:
    return f"attr.{attribute}"


def time_point_column(time_point: str, field: str) -> str:
    return f"{time_point}.{field}"


def score_column(ref: ScoreRef) -> str:
    middle = f"{ref.scoring}." if ref.scoring else ""
    return f"{ref.time_point}.{ref.instrument}.{middle}{ref.score}"


def from_database(engine, registry: Registry, needs: Needs) -> pl.DataFrame:
    """The frame of `needs.protocol`'s episodes in the database of `engine` (promsvc.indicators.dbread)."""
    from promsvc.indicators import dbread

    return dbread.read(engine, registry, needs)


def from_csv(path: str | Path, registry: Registry, needs: Needs) -> pl.DataFrame:
    """The frame of `needs.protocol`'s episodes in a CSV in the export's format (promsvc.indicators.csvread).
    Raises promsvc.csvio.CsvError naming the file, data row and column of anything wrong."""
    from promsvc.indicators import csvread

    return csvread.read(path, registry, needs)


# ------------------------------------------------------------------ shared by both readers


class Plan(msgspec.Struct, frozen=True):
    """What a reader fetches for `needs`, checked against the registry: the frame's schema, and
    for each score reference the instrument's scoring it is read from."""

    protocol: Protocol
    schema: dict[str, pl.DataType]
    attributes: list[str]  # attribute ids, in the protocol's order
    time_points: list[str]  # time points whose fields are read
    fields: list[str]  # their fields read, if any (the window's only for `needs.windows`)
    scores: dict[ScoreRef, tuple[str, bool]]  # ref → (scoring id, whether it is the first one)


def plan(registry: Registry, needs: Needs) -> Plan:
    """Check `needs` against the registry and say what to read. ValueError for anything the
    registry does not have (the indicator definitions' check reports these to the user first)."""
    from promsvc.episodes.export import exported_scorings

    protocol = registry.protocol(needs.protocol)
    if protocol is None:
        raise ValueError(f"registry {registry.id} has no protocol {needs.protocol!r}")
    declared = {a.id: a for a in protocol.attributes}
    _unknown("attribute", needs.attributes, declared, protocol)
    tps = {tp.id: tp for tp in protocol.time_points}
    _unknown("time point", needs.time_points | needs.windows | {r.time_point for r in needs.scores}, tps, protocol)

    schema: dict[str, pl.DataType] = {
        "episode": pl.String(), "unit": pl.String(), "protocol": pl.String(), "event_date": pl.Date(),
        "withdrawn_at": TIME, "deceased_at": TIME,
    }
    attributes = [a for a in declared if a in needs.attributes]
    for a in attributes:
        schema[attribute_column(a)] = ATTRIBUTE_TYPES[declared[a].kind]
    time_points = [tp for tp in tps if tp in needs.time_points | needs.windows]
    for tp in time_points:
        for field, dtype in TIME_POINT_FIELDS.items():
            if field not in WINDOW_FIELDS or tp in needs.windows:
                schema[time_point_column(tp, field)] = dtype
    scorings = exported_scorings(registry)
    scores: dict[ScoreRef, tuple[str, bool]] = {}
    order = {tp: n for n, tp in enumerate(tps)}
    for ref in sorted(needs.scores, key=lambda r: (order[r.time_point], score_column(r))):
        if ref.instrument not in tps[ref.time_point].instruments:
            raise ValueError(f"time point {ref.time_point} of protocol {protocol.id} does not ask {ref.instrument}")
        listed = scorings[ref.instrument]
        scoring_id = ref.scoring or listed[0]
        if scoring_id not in listed:
            raise ValueError(f"registry {registry.id} does not score {ref.instrument} by {scoring_id!r}; it uses {', '.join(listed)}")
        scoring = instruments.get(ref.instrument).scoring(scoring_id)
        kinds = {s.id: isinstance(s, Bands) for s in [*scoring.scales, *scoring.summaries]}
        if ref.score not in kinds:
            raise ValueError(f"{ref.instrument} scoring {scoring_id} has no score {ref.score!r}; its scores: {', '.join(kinds)}")
        scores[ref] = (scoring_id, scoring_id == listed[0])
        schema[score_column(ref)] = pl.String() if kinds[ref.score] else pl.Float64()
    fields = [f for f in TIME_POINT_FIELDS if f not in WINDOW_FIELDS or needs.windows] if time_points else []
    return Plan(protocol, schema, attributes, time_points, fields, scores)


def _unknown(what: str, asked: Iterable[str], known: dict, protocol: Protocol) -> None:
    missing = sorted(set(asked) - set(known))
    if missing:
        raise ValueError(f"protocol {protocol.id} has no {what} {', '.join(map(repr, missing))}; "
                         f"its {what}s: {', '.join(known) or 'none'}")


def by_episode(rows: pl.DataFrame) -> pl.DataFrame:
    """`rows` sorted by `episode`, keeping the order within an episode; not copied when they
    already are (an export is: a check costs a fraction of a sort's copy of every column)."""
    return rows if rows["episode"].is_sorted() else rows.sort("episode", maintain_order=True)


def assemble(plan: Plan, episodes: pl.DataFrame, per_time_point: list[pl.DataFrame]) -> pl.DataFrame:
    """The frame: `episodes` (one row each: the fixed and attribute columns) and, joined on
    `episode`, the columns of each long frame in `per_time_point` (`episode`, `time_point`, and
    value columns named as the frame's columns without their `{tp}.`; at most one row per
    episode and time point), spread out per time point.

    Each time point's rows of a long frame are joined to the episodes (hashed, keeping the
    episodes' order), so the long frames need no sorting: at 5 M rows 1.1 s against 1.7 s for a
    grouping of sorted rows on the CSV route, and 2.1 against 3.7 s on the database route,
    whose rows come unsorted (docs/indicators.md, "Speed")."""
    frame = by_episode(episodes)
    for long in per_time_point:
        for tp in (t.id for t in plan.protocol.time_points):
            values = [v for v in long.columns if f"{tp}.{v}" in plan.schema]
            if values and long.height:
                rows = long.filter(pl.col("time_point") == tp)
                frame = frame.join(rows.select("episode", *(pl.col(v).alias(f"{tp}.{v}") for v in values)),
                                   on="episode", how="left", maintain_order="left")
    if frame.height != episodes.height:  # a second row of an episode's time point would repeat the episode
        raise ValueError("an episode has two rows for one time point: the frame cannot be made")
    missing = [pl.lit(None, dtype).alias(name) for name, dtype in plan.schema.items() if name not in frame.columns]
    return frame.with_columns(missing).select(pl.col(n).cast(t) for n, t in plan.schema.items())
