"""A synthetic cohort (promsvc.episodes.synthetic) written out: as the export's CSV, or into the
database in bulk (`promsvc cohort -o FILE | --load`).

The CSV has exactly the export's header (promsvc.episodes.export.export_columns) and one row per
episode × time point, so `frame.from_csv` reads it as it reads an export.

Loading writes the rows the service itself would have written for the same story (episodes,
invitations with their status events, responses with their answers, current scores with their
provenance, one audit row), table by table and a chunk of episodes at a time, each chunk in one
transaction: `COPY … FROM STDIN` on PostgreSQL, `executemany` on SQLite. No contact details
are made, so nothing is ever sent to these patients.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col

from promsvc import numbers
from promsvc.audit import row as audit_row
from promsvc.episodes import synthetic
from promsvc.episodes.export import ATTRIBUTE_PREFIX, export_columns
from promsvc.episodes.synthetic import Chunk
from promsvc.invitations import moves
from promsvc.models import AuditEntry, Episode, Invitation, InvitationEvent, Response, Score, Status, new_id, table
from promsvc.registries.schema import Registry

EXPORT_TIME = "%Y-%m-%dT%H:%M:%SZ"
ACTOR = "promsvc-cohort"  # the audit's actor of a load


# ------------------------------------------------------------------ the export's CSV


def write_csv(registry: Registry, chunks: Iterable[Chunk], output: str | Path, counts: list[pl.DataFrame]) -> int:
    """Write every chunk's rows to `output` (whole or not at all); return the number of rows.
    Appends each chunk's episode counts by unit and event year to `counts`."""
    header, columns = export_columns(registry)
    names = {(c.instrument, c.scoring, c.key): c.name for c in columns if c.kind == "score"}
    target = Path(output)
    temporary = target.with_name(f".{target.name}.part")
    rows = 0
    try:
        with open(temporary, "wb") as f:
            text = io.StringIO()
            csv.writer(text, lineterminator="\n").writerow(header)
            f.write(text.getvalue().encode("utf-8"))
            for chunk in chunks:
                counts.append(synthetic.episode_counts(chunk))
                table = numbers.clean_frame(_export_rows(chunk, header, names))  # as the export writes scores
                table.write_csv(f, include_header=False, datetime_format=EXPORT_TIME, date_format="%Y-%m-%d")
                rows += table.height
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return rows


def _export_rows(chunk: Chunk, header: list[str], names: dict) -> pl.DataFrame:
    episodes = chunk.episodes.select(
        pl.int_range(pl.len()).alias("e"), "external_id", "pseudonym", "unit", "protocol", "event_date", "language",
        "withdrawn_at", "deceased_at", pl.col("^attr\\..*$").name.map(lambda c: ATTRIBUTE_PREFIX + c.removeprefix("attr.")))
    rows = chunk.invitations.with_row_index("i").join(episodes, on="e", how="left", maintain_order="left")
    for instrument_id, answers in chunk.answers.items():
        parts = [answers.rename({c: f"{instrument_id}.{c}" for c in answers.columns if c != "i"})]
        for (ins, scoring_id), (scores, _) in chunk.scores.items():
            if ins == instrument_id:
                parts.append(scores.rename({c: names[(ins, scoring_id, c)] for c in scores.columns}))
        rows = rows.join(pl.concat(parts, how="horizontal"), on="i", how="left", maintain_order="left")
    missing = [pl.lit(None, pl.String).alias(c) for c in header if c not in rows.columns]
    return rows.with_columns(missing).select(header)


# ------------------------------------------------------------------ into the database


def already_loaded(engine: Engine, registry: Registry, external_id: str) -> bool:
    with engine.connect() as connection:
        return connection.execute(
            sa.select(col(Episode.id)).where(col(Episode.registry_id) == registry.id, col(Episode.external_id) == external_id)
        ).first() is not None


def load(engine: Engine, registry: Registry, chunks: Iterable[Chunk], counts: list[pl.DataFrame],
         now: dt.datetime | None = None) -> dict[str, int]:
    """Write every chunk into the database, one transaction per chunk; return the rows written
    per table. Appends each chunk's episode counts by unit and event year to `counts`."""
    ids = _Ids()
    written: dict[str, int] = {}
    raw = engine.raw_connection()
    try:
        # Each database's fastest way in: PostgreSQL's COPY, SQLite's executemany (it has no COPY).
        postgresql = engine.dialect.name == "postgresql"
        writer = _postgresql if postgresql else _sqlite
        if postgresql:
            _without_triggers(raw)
        for chunk in chunks:
            counts.append(synthetic.episode_counts(chunk))
            tables = _tables(registry, chunk, ids)
            writer(raw, tables)
            for target, frame in tables:
                written[target.name] = written.get(target.name, 0) + frame.height
        audit = pl.DataFrame([audit_row(ACTOR, "admin", "cohort.load", registry.id, None, "ok", now or dt.datetime.now(dt.UTC))],
                             schema={"at": pl.Datetime("us", "UTC"), "actor": pl.String, "role": pl.String, "action": pl.String,
                                     "registry_id": pl.String, "episode_id": pl.String, "outcome": pl.String})
        writer(raw, [(table(AuditEntry), audit)])
        if postgresql:  # statistics for the planner: without them the readers' joins run as nested loops
            with raw.cursor() as cursor:  # type: ignore[attr-defined]  # psycopg's cursor is a context manager; the DB-API type does not say so
                cursor.execute("RESET session_replication_role")
                for name in ("episode", "invitation", "invitation_event", "response", "score"):
                    cursor.execute(f'ANALYZE "{name}"')
            raw.commit()
    finally:
        raw.close()
    return written


def _without_triggers(raw) -> None:
    """Skip the per-row foreign key checks on PostgreSQL, where the role may (a superuser):
    they cost more than the rows themselves, and every row written here refers to a row written
    before it in the same transaction. Otherwise the checks run, only slower."""
    import psycopg

    try:
        with raw.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")
        raw.commit()
    except psycopg.errors.InsufficientPrivilege:
        raw.rollback()


class _Ids:
    """Row ids for a load: 32 hex digits, time first (as models.new_id), then a counter."""

    def __init__(self):
        self.prefix = new_id()[:16]
        self.next = 0

    def take(self, n: int) -> pl.Expr:
        start, self.next = self.next, self.next + n
        return pl.lit(self.prefix) + pl.int_range(start, start + n, dtype=pl.Int64).cast(pl.String).str.zfill(16)


def _tables(registry: Registry, chunk: Chunk, ids: _Ids) -> list[tuple[sa.Table, pl.DataFrame]]:
    attribute_columns = [c for c in chunk.episodes.columns if c.startswith("attr.")]
    episodes = chunk.episodes.with_columns(id=ids.take(chunk.episodes.height))
    # As the service stores them: known values only (polars writes unknown ones as null: removed).
    attributes = (pl.struct(pl.col(c).cast(pl.String) if chunk.episodes.schema[c] == pl.Date() else pl.col(c).alias(c)
                            for c in attribute_columns).struct.json_encode()
                  .str.replace_all(r'"attr\.[a-z0-9_]+":null,?', "").str.replace(",}", "}", literal=True)
                  .str.replace_all(r'"attr\.', '"') if attribute_columns else pl.lit("{}"))
    episode = episodes.select(
        "id", pl.lit(registry.id).alias("registry_id"), "external_id", "pseudonym", pl.col("unit").alias("unit_id"),
        pl.col("protocol").alias("protocol_id"), "event_date", "language", pl.col("proxy").alias("proxy_allowed"),
        pl.lit("0" * 64).alias("payload_hash"), "withdrawn_at",
        pl.when(pl.col("withdrawn_at").is_not_null()).then(pl.lit("synthetic")).alias("withdrawn_reason"),
        "created_at", "deceased_at", pl.lit(False).alias("reserved_address"),
        pl.lit(None, pl.Datetime("us", "UTC")).alias("consent_withdrawn_at"), attributes.alias("attributes"))
    episode_ids = episodes.select(pl.int_range(pl.len()).alias("e"), pl.col("id").alias("episode_id"),
                                  "created_at", "withdrawn_at", "language")
    rows = chunk.invitations.with_row_index("i").join(episode_ids, on="e", how="left", maintain_order="left")
    rows = rows.with_columns(id=ids.take(rows.height))
    invitation = rows.select(
        "id", "episode_id", pl.lit(registry.id).alias("registry_id"), "time_point", "due_at", "expires_at", "status",
        "channel", "status_at", pl.lit(None, pl.String).alias("failure"))
    event = _events(rows)
    responses, scores = [], []
    for instrument_id, answers in chunk.answers.items():
        items = [c for c in answers.columns if c != "i"]
        done = answers.select("i", pl.struct(items).struct.json_encode().alias("answers")).join(
            rows.select("i", pl.col("id").alias("invitation_id"), "episode_id", "language", "channel", "respondent",
                        "started_at", "submitted_at"), on="i", how="left", maintain_order="left")
        done = done.with_columns(id=ids.take(done.height))
        version = next(p.instrument_version for (ins, _), (_, p) in chunk.scores.items() if ins == instrument_id)
        responses.append(done.select(
            "id", "invitation_id", "episode_id", pl.lit(registry.id).alias("registry_id"),
            pl.lit(instrument_id).alias("instrument_id"), pl.lit(version).alias("instrument_version"), "answers",
            "language", pl.col("channel").fill_null("link"), "respondent", "started_at", "submitted_at"))
        for (ins, scoring_id), (values, p) in chunk.scores.items():
            if ins != instrument_id:
                continue
            scores.append(pl.DataFrame({
                "response_id": done["id"], "instrument_id": instrument_id, "instrument_version": p.instrument_version,
                "scoring": scoring_id, "scoring_version": p.scoring_version,
                "value_set": p.value_set.name if p.value_set is not None else None,
            }, schema_overrides={"value_set": pl.String}).with_columns(
                values.select(pl.struct(values.columns).struct.json_encode().alias("values")).to_series(),
                pl.lit(True).alias("current"), done["submitted_at"].alias("computed_at")))
    return [(table(Episode), episode), (table(Invitation), invitation), (table(InvitationEvent), event),
            (table(Response), pl.concat(responses)), (table(Score), pl.concat(scores))]


# The moves the service makes to bring an invitation to each status a synthetic one ends in:
# (status, the column of its time, the note of its event). `_events` checks each against the
# state machine (promsvc.invitations.moves.check_history) before it writes any.
_HISTORIES: dict[Status, list[tuple[Status, str, str | None]]] = {
    Status.planned: [(Status.planned, "created_at", None)],
    Status.open: [(Status.planned, "created_at", None), (Status.open, "due_at", moves.LINK_ISSUED)],
    Status.completed: [(Status.planned, "created_at", None), (Status.open, "due_at", moves.LINK_ISSUED),
                       (Status.completed, "status_at", None)],
    Status.expired: [(Status.planned, "created_at", None), (Status.open, "due_at", moves.LINK_ISSUED),
                     (Status.expired, "status_at", moves.WINDOW_CLOSED)],
    Status.withdrawn: [(Status.planned, "created_at", None), (Status.withdrawn, "status_at", moves.EPISODE_WITHDRAWN)],
}


def _events(rows: pl.DataFrame) -> pl.DataFrame:
    """Each invitation's status changes, as `invitation_event` rows (the columns of
    promsvc.invitations.moves.event_row): the moves of `_HISTORIES` to its status."""
    invitation_id, status, at, note = moves.event_row("", Status.planned, None)  # the column names
    parts: list[pl.DataFrame] = []
    for final in rows["status"].unique().to_list():
        if Status(final) not in _HISTORIES:
            raise ValueError(f"a synthetic invitation cannot be loaded as {final}: no history leads there")
        history = _HISTORIES[Status(final)]
        moves.check_history([step for step, _, _ in history])
        ending = rows.filter(pl.col("status") == final)
        parts.extend(ending.select(
            pl.col("id").alias(invitation_id), pl.lit(step.value).alias(status), pl.col(column).alias(at),
            pl.lit(text, pl.String).alias(note), pl.col("i"), pl.lit(n).alias("n")) for n, (step, column, text) in enumerate(history))
    return pl.concat(parts).sort("i", "n").drop("i", "n")


# ------------------------------------------------------------------ one writer per database


def _postgresql(raw, tables: list[tuple[sa.Table, pl.DataFrame]]) -> None:
    with raw.cursor() as cursor:
        for table, frame in tables:
            names = ", ".join(f'"{c}"' for c in frame.columns)
            with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN (FORMAT csv)') as copy:
                copy.write(frame.write_csv(include_header=False, datetime_format="%Y-%m-%dT%H:%M:%S%.6fZ"))
    raw.commit()


def _sqlite(raw, tables: list[tuple[sa.Table, pl.DataFrame]]) -> None:
    """SQLite stores times as SQLAlchemy does (`YYYY-MM-DD HH:MM:SS.ffffff`, UTC) and booleans as 0/1."""
    cursor = raw.cursor()
    # The indexes of the tables grow with every row, at keys all over them (due times, episode
    # ids): with SQLite's default page cache (2 MB) nearly every insert reads and writes pages.
    cursor.execute("PRAGMA cache_size = -1000000")  # 1 GB for this connection
    cursor.execute("BEGIN IMMEDIATE")
    try:
        for table, frame in tables:
            values = frame.with_columns(
                [pl.col(c).dt.strftime("%Y-%m-%d %H:%M:%S%.6f") for c, t in frame.schema.items() if isinstance(t, pl.Datetime)]
                + [pl.col(c).dt.strftime("%Y-%m-%d") for c, t in frame.schema.items() if t == pl.Date()]
                + [pl.col(c).cast(pl.Int8) for c, t in frame.schema.items() if t == pl.Boolean()])
            names = ", ".join(f'"{c}"' for c in values.columns)
            marks = ", ".join("?" * len(values.columns))
            cursor.executemany(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})', _rows(values))
        cursor.execute("COMMIT")
    except BaseException:
        cursor.execute("ROLLBACK")
        raise
    finally:
        cursor.close()


def _rows(frame: pl.DataFrame, size: int = 20_000) -> Iterator[tuple]:
    for start in range(0, frame.height, size):
        yield from frame.slice(start, size).iter_rows()
