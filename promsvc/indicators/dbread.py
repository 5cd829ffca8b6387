"""The indicator frame from the database: a few set-based queries of only the columns needed,
fetched as Arrow and joined in polars. Use `frame.from_database`.

One query per table, each a scan of one table with no join (the same SQL on SQLite and
PostgreSQL but for `_Sql`'s few expressions):

1. the protocol's episodes: id, unit, event date, withdrawal and death, and the attributes
   needed (extracted from the JSON column in SQL);
2. if time points or scores are needed: the registry's invitations of those time points
   (status, due and expiry times), and its responses (invitation, submission time);
3. if scores are needed: the current scores of the instruments and scorings needed, each score
   needed extracted from `score.values` in SQL into a column of its own (NULL on the rows of
   other instruments).

Times come out of SQL as whole seconds since 1970 (the export's precision). On PostgreSQL the
rows travel as Arrow through ADBC (`adbc-driver-postgresql`), never as Python objects; on
SQLite through the `sqlite3` module (see `_connect` for why not ADBC there). Polars joins them
on their ids (in parallel). Joining in SQL instead costs the database more
than it saves here: SQLite looks every joined row up by its primary key, and PostgreSQL's joins
with a JSON extraction per score and query took 25 of the 27 CPU seconds per million rows
(docs/indicators.md, "Speed").
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import polars as pl
from sqlalchemy.engine import Engine

from promsvc import numbers
from promsvc.indicators import frame as F
from promsvc.registries.schema import Registry


class Query:
    """One SELECT and the types of its result columns (each fetched column is cast to its type:
    a text column of no value comes from ADBC as integers)."""

    def __init__(self, sql: str, columns: Mapping[str, pl.DataType]):
        self.sql, self.columns = sql, columns


def read(engine: Engine, registry: Registry, needs: F.Needs) -> pl.DataFrame:
    plan = F.plan(registry, needs)
    sql = _Sql(engine.dialect.name)
    where = {"registry": registry.id, "protocol": plan.protocol.id}
    with _connect(engine) as fetch:
        episodes = _episodes(fetch(_episode_query(sql, plan, where)), plan)
        long = []
        time_points = sorted(set(plan.time_points) | {r.time_point for r in plan.scores})
        if time_points:
            invitations = fetch(_invitation_query(sql, time_points, where))
            responses = fetch(_response_query(sql, bool(plan.scores), where))
            long.append(_per_time_point(plan, sql, episodes, invitations, responses, fetch))
    return F.assemble(plan, episodes.drop("id"), long)


def _per_time_point(plan: F.Plan, sql: _Sql, episodes: pl.DataFrame, invitations: pl.DataFrame,
                    responses: pl.DataFrame, fetch) -> pl.DataFrame:
    """One row per invitation of the protocol's episodes: `episode`, `time_point`, its fields
    and its scores (named as the frame's columns without their `{tp}.`)."""
    long = invitations.join(episodes.select("id", "episode"), left_on="episode_id", right_on="id", how="inner")
    submitted = responses.group_by("invitation_id").agg(pl.col("submitted_at").max())
    long = long.join(submitted, left_on="id", right_on="invitation_id", how="left")
    long = long.with_columns(_seconds(c) for c in ("due_at", "expires_at", "submitted_at"))
    if plan.scores:
        scores = fetch(_score_query(sql, plan))
        values = [c for c in scores.columns if c != "response_id"]
        # one current score row per response and scoring, one response per invitation and
        # instrument: each value column has at most one value per invitation
        per_invitation = (scores.join(responses.select("id", "invitation_id"), left_on="response_id", right_on="id", how="inner")
                          .group_by("invitation_id").agg(pl.col(values).max()))
        # as the export writes them (promsvc.numbers), so that a CSV export gives the same frame
        long = long.join(numbers.clean_frame(per_invitation), left_on="id", right_on="invitation_id", how="left")
    return long.drop("id", "episode_id")


class _Sql:
    """The few expressions that differ between SQLite and PostgreSQL, and literals (ADBC's
    parameter markers differ too: `?` and `$1`; every value here is an id from the checked
    registry and indicator definitions, quoted as SQL quotes text)."""

    def __init__(self, dialect: str):
        self.sqlite = dialect == "sqlite"

    def seconds(self, column: str) -> str:
        if self.sqlite:  # the fraction cut off first: SQLite before 3.42 rounds .9995 s and more up
            return f"CAST(strftime('%s', substr({column}, 1, 19)) AS INTEGER)"
        return f"CAST(floor(extract(epoch FROM {column})) AS BIGINT)"

    def json_text(self, column: str, key: str) -> str:
        if self.sqlite:
            return f"CAST(json_extract({column}, {_json_path(key)}) AS TEXT)"
        return f"({column} ->> {literal(key)})"

    def json_number(self, column: str, key: str) -> str:
        if self.sqlite:
            return f"CAST(json_extract({column}, {_json_path(key)}) AS REAL)"
        return f"CAST({column} ->> {literal(key)} AS DOUBLE PRECISION)"


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _in(values: list[str]) -> str:
    return f"({', '.join(map(literal, values))})"


def _name(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _json_path(key: str) -> str:
    """SQLite's JSON path of a top-level key, quoted (score ids may hold `-` or `.`)."""
    return literal('$."' + key.replace('"', '\\"') + '"')


def _episode_query(sql: _Sql, plan: F.Plan, where: dict[str, str]) -> Query:
    select = ["id", "external_id AS episode", "unit_id AS unit", "protocol_id AS protocol",
              "CAST(event_date AS TEXT) AS event_date", f"{sql.seconds('withdrawn_at')} AS withdrawn_at",
              f"{sql.seconds('deceased_at')} AS deceased_at"]
    select += [f"{sql.json_text('attributes', a)} AS {_name(F.attribute_column(a))}" for a in plan.attributes]
    columns = (dict.fromkeys(["id", "episode", "unit", "protocol", "event_date"], pl.String())
               | {"withdrawn_at": pl.Int64(), "deceased_at": pl.Int64()}
               | dict.fromkeys(map(F.attribute_column, plan.attributes), pl.String()))  # in the order selected
    return Query(f"SELECT {', '.join(select)} FROM episode "
                 f"WHERE registry_id = {literal(where['registry'])} AND protocol_id = {literal(where['protocol'])}", columns)


def _invitation_query(sql: _Sql, time_points: list[str], where: dict[str, str]) -> Query:
    return Query(f"SELECT id, episode_id, time_point, status, {sql.seconds('due_at')} AS due_at, "
            f"{sql.seconds('expires_at')} AS expires_at FROM invitation "
            f"WHERE registry_id = {literal(where['registry'])} AND time_point IN {_in(time_points)}",
                 dict.fromkeys(["id", "episode_id", "time_point", "status"], pl.String())
                 | {"due_at": pl.Int64(), "expires_at": pl.Int64()})


def _response_query(sql: _Sql, with_id: bool, where: dict[str, str]) -> Query:
    return Query(f"SELECT {'id, ' if with_id else ''}invitation_id, {sql.seconds('submitted_at')} AS submitted_at "
            f"FROM response WHERE registry_id = {literal(where['registry'])}",
                 ({"id": pl.String()} if with_id else {}) | {"invitation_id": pl.String(), "submitted_at": pl.Int64()})


def _score_query(sql: _Sql, plan: F.Plan) -> Query:
    """The current scores of the instruments and scorings needed: `response_id`, then one column
    per score needed, named as the frame's score columns without their time point."""
    select, groups = ["response_id"], set()
    columns: dict[str, pl.DataType] = {"response_id": pl.String()}
    for ref, (scoring_id, _) in plan.scores.items():
        groups.add((ref.instrument, scoring_id))
        suffix = F.score_column(ref).removeprefix(f"{ref.time_point}.")
        if suffix in columns:
            continue
        text = plan.schema[F.score_column(ref)] == pl.String()
        columns[suffix] = pl.String() if text else pl.Float64()
        value = sql.json_text('"values"', ref.score) if text else sql.json_number('"values"', ref.score)
        select.append(f"CASE WHEN instrument_id = {literal(ref.instrument)} AND scoring = {literal(scoring_id)} "
                      f"THEN {value} END AS {_name(suffix)}")
    which = " OR ".join(f"(instrument_id = {literal(i)} AND scoring = {literal(s)})" for i, s in sorted(groups))
    return Query(f"SELECT {', '.join(select)} FROM score WHERE current AND ({which})", columns)


# ------------------------------------------------------------------ typed columns


def _seconds(column: str) -> pl.Expr:
    return (pl.from_epoch(pl.col(column), time_unit="s").dt.replace_time_zone("UTC")
            .dt.cast_time_unit("us"))


def _episodes(raw: pl.DataFrame, plan: F.Plan) -> pl.DataFrame:
    kinds = {a.id: a.kind for a in plan.protocol.attributes}
    out = [pl.col("event_date").str.to_date("%Y-%m-%d"), _seconds("withdrawn_at"), _seconds("deceased_at")]
    for a in plan.attributes:
        column = pl.col(F.attribute_column(a))
        if kinds[a] == "boolean":  # SQLite gives 1/0, PostgreSQL true/false
            out.append(column.is_in(["1", "true"]).alias(F.attribute_column(a)))
        elif kinds[a] == "integer":
            out.append(column.cast(pl.Int64))
        elif kinds[a] == "date":
            out.append(column.str.to_date("%Y-%m-%d"))
        else:
            out.append(column)
    return raw.with_columns(out)


# ------------------------------------------------------------------ fetching as Arrow


BLOCK = 200_000  # rows fetched at a time on SQLite


@contextmanager
def _connect(engine: Engine) -> Iterator:
    """A function that runs a Query on `engine`'s database and returns its rows as a DataFrame.

    PostgreSQL: through ADBC, as Arrow (never as Python objects), on a connection of its own.
    SQLite: through the engine's own driver (the `sqlite3` module), a block of rows at a time.
    Not through ADBC's SQLite driver: it links a second copy of the SQLite library into the
    process, and two copies in one process that open the same file break each other's POSIX
    locks, which corrupts the database (sqlite.org, "How To Corrupt An SQLite Database File",
    2.2.1); the tests saw "file is not a database" on the next write."""
    if engine.dialect.name == "postgresql":
        import adbc_driver_postgresql.dbapi as adbc

        connection = adbc.connect(engine.url.set(drivername="postgresql").render_as_string(hide_password=False))

        def fetch(query: Query) -> pl.DataFrame:
            with connection.cursor() as cursor:
                cursor.execute(query.sql)
                rows = pl.DataFrame(cursor.fetch_arrow())
            return rows.cast({c: t for c, t in query.columns.items() if c in rows.columns})

        try:
            yield fetch
        finally:
            connection.close()
        return

    with engine.connect() as sqlite:
        def fetch(query: Query) -> pl.DataFrame:
            # the driver's own cursor: plain tuples, not SQLAlchemy's rows
            cursor = sqlite.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            cursor.execute(query.sql)  # as written: literals, no parameters
            parts = [pl.DataFrame(rows, schema=query.columns, orient="row") for rows in iter(lambda: cursor.fetchmany(BLOCK), [])]
            return pl.concat(parts) if parts else pl.DataFrame(schema=query.columns)

        yield fetch
