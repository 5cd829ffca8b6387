"""The indicator frame from the database: a few set-based queries of only the columns needed,
fetched into polars in bulk. Use `frame.from_database`.

Three kinds of query, each one statement over the whole protocol:

1. the episodes: id, unit, event date, withdrawal and death, and, if attributes are needed,
   their JSON column (decoded by polars);
2. if time points are needed: their invitations (status, the submission time, which is a
   completed invitation's status time, and the due and expiry times if a formula names them);
3. per instrument and scoring needed: the current scores needed (extracted from `score.values`
   in SQL), with the episode and time point of their response.

Times come out of SQL as UTC text cut to the second (the export's precision), which polars
parses with one format: on SQLite the stored text's first 19 characters, where seconds since
1970 (`strftime`) cost 2.2 CPU s per column of 5 M rows against 0.4; on PostgreSQL `to_char`,
about as dear as `extract(epoch …)`. On PostgreSQL each query's rows come as CSV through
`COPY … TO STDOUT`, parsed by polars, and the queries run side by side on connections of their
own, planned as hash joins (`PG_SETTINGS`); on SQLite a block of rows at a time through the
driver's cursor, by worker processes, one per core, when the file is big (`_sqlite_read`).
Every query is a transaction of its own (autocommit), so that a read that takes minutes holds no
writer off (SQLite's transactions here take the write lock: db.py). The joins run in the
database: PostgreSQL hashes them in parallel; SQLite looks each row up by its primary key, in
the process that asks, which is what makes it the slower route (docs/indicators.md, "Speed",
has the figures). Reading each table whole and joining in polars was tried twice and lost both
times: through Python rows, and (commit 1ee7702 on branch indspeed) with PostgreSQL's rows as
Arrow through ADBC: the server's CPU fell five-fold, but every id travels, and at 5 M rows the
reading process took 80.6 CPU s and 5.4 GB against 57.7 s and 2.1 GB.
"""

from __future__ import annotations

import functools
import io
import itertools
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import polars as pl
from sqlalchemy.engine import Engine

from promsvc import db, numbers
from promsvc.indicators import frame as F
from promsvc.models import Status
from promsvc.registries.schema import Registry


class Query:
    """One SELECT, its parameters, its result columns with their types as fetched, and what
    makes a block of its rows typed (applied block by block, so that a conversion's scratch
    memory is a block's: polars decoding all episodes' JSON at once peaked 1.3 GB higher)."""

    def __init__(self, sql: str, params: dict, columns: dict[str, pl.DataType],
                 typed: Callable[[pl.DataFrame], pl.DataFrame]):
        self.sql, self.params, self.columns, self.typed = sql, params, columns, typed


def read(engine: Engine, registry: Registry, needs: F.Needs) -> pl.DataFrame:
    plan = F.plan(registry, needs)
    work = queries(engine.dialect.name, registry, plan)
    if engine.dialect.name == "sqlite":
        *long, episodes = _sqlite_read(engine, work)
    else:
        # On PostgreSQL the queries run side by side, each on a connection of its own: the
        # server works on them in parallel while this process parses (1 M rows: 11.3–12.1 s
        # against 14.0–15.5 s one after the other). Each query sees the data as they were when
        # it started, as in turn.
        with ThreadPoolExecutor(min(len(work), READERS)) as pool:
            *long, episodes = pool.map(functools.partial(_run, engine), work)
    return F.assemble(plan, episodes, long)


def queries(dialect: str, registry: Registry, plan: F.Plan) -> list[Query]:
    """The queries that read `plan`: the time points' (the longest, first), each instrument's
    scores, the episodes' (last)."""
    sql = _Sql(dialect)
    params = {"registry": registry.id, "protocol": plan.protocol.id}
    work: list[Query] = []
    if plan.time_points:
        work.append(_time_point_query(sql, plan, params))
    for (instrument, scoring_id), refs in _score_groups(plan).items():
        work.append(_score_query(sql, plan, params, instrument, scoring_id, refs))
    return [*work, _episode_query(sql, plan, params)]


READERS = min(4, os.cpu_count() or 1)  # queries at a time at most: more would hold more rows at once
# A SQLite file at least this big is read by worker processes; a smaller one (a test's, a new
# registry's) in this process, where starting the workers (about a second) would cost more.
PROCESS_BYTES = 64 * 2**20


def _run(engine: Engine, query: Query) -> pl.DataFrame:
    # autocommit: a read in a transaction of SQLite's would take the write lock (db.py) and
    # hold every writer off for as long as it reads
    with db.autocommit(engine).connect() as connection:
        return _fetcher(connection)(query)


def _sqlite_read(engine: Engine, work: list[Query]) -> list[pl.DataFrame]:
    """The queries' rows from a SQLite file, by as many worker processes as there are cores,
    each with a connection of its own, or one after the other in this process.

    Not by threads: SQLite does its joins in the process that asks (with Python's GIL released),
    but the module builds each row's Python objects under the GIL, and two connections of one
    process took 33 CPU s where one after the other took 20 (docs/indicators.md, "Speed").
    Worker processes share nothing but the file, which SQLite lets many processes read at once
    (WAL). At 5 M rows all five queries took 34.7 s in two processes against 66.0 s in one.
    Each query sees the data as they were when it started, as in turn."""
    database = engine.url.database
    workers = min(len(work), os.cpu_count() or 1)
    if workers < 2 or not database or database == ":memory:" or os.path.getsize(database) < PROCESS_BYTES:
        return [_run(engine, query) for query in work]
    # spawned, not forked: the caller may be the service, with threads and open connections
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(_run_in_worker, itertools.repeat(engine.url.render_as_string(hide_password=False)), work))


def _run_in_worker(url: str, query: Query) -> pl.DataFrame:
    return _run(_worker_engine(url), query)


@functools.cache
def _worker_engine(url: str) -> Engine:
    """A worker process's engine, made once for the queries it is given."""
    return db.make_engine(url)


class _Sql:
    """The few expressions that differ between SQLite and PostgreSQL."""

    def __init__(self, dialect: str):
        self.sqlite = dialect == "sqlite"

    def time_text(self, column: str) -> str:
        """A time as `YYYY-MM-DD HH:MM:SS` in UTC, the fraction cut off."""
        if self.sqlite:  # stored as UTC text with microseconds (SQLAlchemy's format)
            return f"substr({column}, 1, 19)"
        return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')"

    def json_text(self, column: str, key: str) -> str:
        if self.sqlite:
            return f"CAST(json_extract({column}, {_json_path(key)}) AS TEXT)"
        return f"({column} ->> {_literal(key)})"

    def json_number(self, column: str, key: str) -> str:
        if self.sqlite:
            return f"CAST(json_extract({column}, {_json_path(key)}) AS REAL)"
        return f"CAST({column} ->> {_literal(key)} AS DOUBLE PRECISION)"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _json_path(key: str) -> str:
    """SQLite's JSON path of a top-level key, quoted (score ids may hold `-` or `.`)."""
    return _literal('$."' + key.replace('"', '\\"') + '"')


def _episode_query(sql: _Sql, plan: F.Plan, params: dict) -> Query:
    columns: dict[str, pl.DataType] = {"episode": pl.String(), "unit": pl.String(), "protocol": pl.String(),
                                       "event_date": pl.String(), "withdrawn_at": pl.String(), "deceased_at": pl.String()}
    select = ["e.external_id", "e.unit_id", "e.protocol_id", "e.event_date", sql.time_text("e.withdrawn_at"),
              sql.time_text("e.deceased_at")]
    if plan.attributes:  # the JSON whole, decoded by polars (`_episodes`)
        select.append("e.attributes")
        columns["attributes"] = pl.String()
    return Query(f"SELECT {', '.join(select)} FROM episode e WHERE e.registry_id = :registry AND e.protocol_id = :protocol",
                 params, columns, functools.partial(_episodes, plan=plan))


def _time_point_query(sql: _Sql, plan: F.Plan, params: dict) -> Query:
    """The time points' invitations. A time point's submission time is its invitation's status
    time once it is completed: the submission store writes the two as one time, and migration
    0010 made them one for what was stored before (tests/integration/test_submission.py and
    test_migrations.py hold them to it). Taking the latest submission of each invitation's
    responses instead (grouped over all of them) was 42 of SQLite's 93 s of reading at 5 M
    rows."""
    names = _names("tp", plan.time_points)
    select = {"status": "i.status", "due_at": sql.time_text("i.due_at"), "expires_at": sql.time_text("i.expires_at"),
              "submitted_at": f"CASE WHEN i.status = {_literal(Status.completed.value)} THEN {sql.time_text('i.status_at')} END"}
    return Query(
        f"SELECT e.external_id, i.time_point, {', '.join(select[f] for f in plan.fields)} "
        f"FROM invitation i JOIN episode e ON e.id = i.episode_id "
        f"WHERE i.registry_id = :registry AND e.protocol_id = :protocol AND i.time_point IN ({', '.join(':' + n for n in names)})",
        params | dict(zip(names, plan.time_points, strict=True)),
        dict.fromkeys(["episode", "time_point", *plan.fields], pl.String()),
        _times,
    )


def _score_groups(plan: F.Plan) -> dict[tuple[str, str], list[F.ScoreRef]]:
    groups: dict[tuple[str, str], list[F.ScoreRef]] = {}
    for ref, (scoring_id, _) in plan.scores.items():
        groups.setdefault((ref.instrument, scoring_id), []).append(ref)
    return groups


def _score_query(sql: _Sql, plan: F.Plan, params: dict, instrument: str, scoring_id: str, refs: list[F.ScoreRef]) -> Query:
    """The current scores of one instrument by one scoring: one column per score needed, named
    as the frame's score columns without their time point. The registry is asked of the
    invitation, not of the response (the same, as a response is of its invitation's registry),
    so that SQLite starts from the invitations of the time points needed and finds each one's
    response by (invitation, instrument), instead of reading every response of the registry
    (at 5 M rows, `sqlite3` alone: 41 against 49 CPU s for the three instruments)."""
    time_points = sorted({r.time_point for r in refs})
    names = _names("tp", time_points)
    columns: dict[str, pl.DataType] = {"episode": pl.String(), "time_point": pl.String()}
    select = ["e.external_id", "i.time_point"]
    for ref in refs:
        suffix = F.score_column(ref).removeprefix(f"{ref.time_point}.")
        if suffix in columns:
            continue
        text = plan.schema[F.score_column(ref)] == pl.String()
        select.append(sql.json_text('s."values"', ref.score) if text else sql.json_number('s."values"', ref.score))
        columns[suffix] = pl.String() if text else pl.Float64()
    return Query(
        f"SELECT {', '.join(select)} FROM score s "
        "JOIN response r ON r.id = s.response_id JOIN invitation i ON i.id = r.invitation_id "
        "JOIN episode e ON e.id = r.episode_id "
        "WHERE i.registry_id = :registry AND r.instrument_id = :instrument AND s.scoring = :scoring AND s.current "
        f"AND e.protocol_id = :protocol AND i.time_point IN ({', '.join(':' + n for n in names)})",
        params | {"instrument": instrument, "scoring": scoring_id} | dict(zip(names, time_points, strict=True)),
        # as the export writes them (promsvc.numbers), so that a CSV export gives the same frame
        columns, numbers.clean_frame,
    )


def _names(prefix: str, values: list[str]) -> list[str]:
    return [f"{prefix}{n}" for n in range(len(values))]


# ------------------------------------------------------------------ typed columns


def _time(column: str) -> pl.Expr:
    return pl.col(column).str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="us", time_zone="UTC")


def _episodes(raw: pl.DataFrame, plan: F.Plan) -> pl.DataFrame:
    """Typed episode columns. The attributes needed are decoded from each episode's JSON once,
    by polars: extracting each in SQL parsed the JSON once per attribute (at 5 M rows, four
    attributes: SQLite 11.1 CPU s against 5.4 for the query and 2.4 for decoding; PostgreSQL's
    `->>` on its `json` type 9.0 s against 1.3 s for the query)."""
    out = [pl.col("event_date").str.to_date("%Y-%m-%d"), _time("withdrawn_at"), _time("deceased_at")]
    if plan.attributes:
        kinds = {a.id: a.kind for a in plan.protocol.attributes}
        # as the service stores them (promsvc.episodes.attributes): dates as text
        types = {a: pl.String() if kinds[a] == "date" else F.ATTRIBUTE_TYPES[kinds[a]] for a in plan.attributes}
        decoded = pl.col("attributes").str.json_decode(pl.Struct(types))
        for a in plan.attributes:
            value = decoded.struct.field(a)
            out.append((value.str.to_date("%Y-%m-%d") if kinds[a] == "date" else value).alias(F.attribute_column(a)))
    return raw.with_columns(out).drop("attributes", strict=False)


def _times(raw: pl.DataFrame) -> pl.DataFrame:
    return raw.with_columns(_time(c) for c in raw.columns if F.TIME_POINT_FIELDS.get(c) == F.TIME)


# ------------------------------------------------------------------ fetching in bulk


# Every query reads all of a registry's rows of its tables: hash joins are the plan for that,
# with the memory to hold their tables. PostgreSQL estimates far fewer joined rows than there are
# (23 661 for 1 146 785 in the GS-PEQ score query at 5 M rows) and looks each row's episode up by
# its key instead; with these settings that query took 7.8 s against 12.1 s (EXPLAIN ANALYZE).
PG_SETTINGS = {"enable_nestloop": "off", "work_mem": "64MB"}
BLOCK = 200_000  # rows fetched (SQLite), or about as many bytes × 256 parsed (PostgreSQL), at a time


def _fetcher(connection):
    """A function that runs a Query on `connection` and returns its rows as a typed DataFrame,
    a block at a time, so that the rows are never held twice whole (as Python objects or text,
    and as the frame)."""
    from sqlalchemy import text

    if connection.dialect.name == "postgresql":
        def fetch(query: Query) -> pl.DataFrame:
            compiled = text(query.sql).bindparams(**query.params).compile(dialect=connection.dialect)
            cursor = connection.connection.dbapi_connection.cursor()
            parts, buffer = [], io.BytesIO()

            def parse() -> None:
                if buffer.tell():
                    parts.append(query.typed(pl.read_csv(buffer.getvalue(), has_header=False, schema=query.columns)))
                    buffer.seek(0)
                    buffer.truncate()

            try:
                for name, value in PG_SETTINGS.items():
                    cursor.execute("SELECT set_config(%s, %s, false)", (name, value))
                # COPY sends a message per row; parsed a block of rows at a time
                with cursor.copy(f"COPY ({compiled.string}) TO STDOUT (FORMAT csv)", compiled.params) as copy:
                    for row in copy:
                        buffer.write(row)
                        if buffer.tell() > BLOCK * 256:
                            parse()
            finally:  # the connection goes back to the pool as it came
                for name in PG_SETTINGS:
                    cursor.execute(f"RESET {name}")
            parse()
            return _joined(query, parts)
        return fetch

    def fetch(query: Query) -> pl.DataFrame:
        # the driver's own cursor (which takes `:name` parameters as they are): SQLAlchemy's
        # rows cost a third more than the query (1 M time point rows: 8.5 against 5.0 s)
        cursor = connection.connection.dbapi_connection.cursor()
        try:
            cursor.execute(query.sql, query.params)
            parts = [query.typed(pl.DataFrame(rows, schema=query.columns, orient="row"))
                     for rows in iter(lambda: cursor.fetchmany(BLOCK), [])]
        finally:
            cursor.close()
        return _joined(query, parts)
    return fetch


def _joined(query: Query, parts: list[pl.DataFrame]) -> pl.DataFrame:
    return pl.concat(parts) if parts else query.typed(pl.DataFrame(schema=query.columns))
