"""Group commit on the event loop: submissions that arrive with their answers (the JSON API's
common case) are read, checked, scored and stored together, in one transaction.

A durable commit costs one fsync (SQLite `synchronous=FULL`, PostgreSQL's WAL flush), and on
SQLite only one transaction writes at a time. One transaction for every submission that is
waiting turns N fsyncs and N turns of the write lock into one, with no delay added: while a
batch is written, the next one gathers. Each request awaits its own outcome, which it gets only
after the commit has returned, so an acknowledged submission is on disk. Before it takes a
batch, the writer lets the loop run a few turns, so that requests already read join it.

Why on the event loop and not in a thread: a writer thread shares the process's GIL with the
busy event loop, and the sqlite3 and psycopg drivers release the GIL around every statement and
every row. Each release hands the GIL to the loop and back, which measured doubled the writer's
CPU and quadrupled its time per batch. On the loop, a batch runs from start to end without a
hand-over. The price is that the loop waits while a batch's statements run: on SQLite a few
milliseconds of the same work the thread did, on PostgreSQL two round trips (read the links,
then one statement that writes everything). Waiting for a lock never stands the loop still for
long: on SQLite the writer never waits inside a statement (`busy_timeout=0`; the batch tries
again shortly, and what arrives meanwhile joins it); on PostgreSQL, where a row lock held by
another transaction (a draft being saved, a job expiring the invitation) would make the
statement wait, the writer's connection has a `lock_timeout` and a `statement_timeout`: past
them the batch is not written and its requests take the full path, in a worker thread, where
waiting costs the loop nothing.

The writer keeps one connection while it has work, in autocommit mode: the links are read
outside any transaction (on SQLite, without the write lock). On SQLite the writes run in a
transaction the writer begins (`BEGIN IMMEDIATE`) and commits itself, the commit in a thread;
on PostgreSQL `store` is a single statement, which commits itself.

A submission that cannot be stored as it arrived (an unusable link, invalid answers, a proxy
where none is allowed, a lost race, a database error) comes back as None, and its request takes
the full path, which says precisely what is wrong. When a batch fails, it is written again one
submission at a time, each inside its own savepoint of one transaction, so one failure does not
take the others down.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import time
from collections.abc import Callable
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from promsvc.db import SQLITE_BUSY_TIMEOUT_MS
from promsvc.responses.submission import Prepared, Receipt, store

log = logging.getLogger("promsvc.responses.writer")

GATHER_TURNS = 6  # turns of the event loop a batch waits for more arrivals (see _run)
MAX_BATCH = 64  # submissions per transaction: bounds the time the loop and the write lock are held
IDLE_SECONDS = 1.0  # the connection goes back to the pool after this long without work
LOCK_PAUSE = 0.0001, 0.001  # first and longest pause before trying SQLite's write lock again
LOCK_TIMEOUT = SQLITE_BUSY_TIMEOUT_MS / 1000
# PostgreSQL: the longest the loop may wait for a row lock, and for any statement of a batch
# (a batch's statement takes a few milliseconds). Both fail the batch, which then takes the full path.
PG_LOCK_TIMEOUT_MS = 50
PG_STATEMENT_TIMEOUT_MS = 1000


class Arrival(msgspec.Struct, frozen=True, kw_only=True):
    """A submission as it arrived: nothing read or checked yet."""

    token: str
    answers: dict[str, Any]
    language: str | None
    respondent: str | None
    at: dt.datetime


# Reads, checks and scores a batch of arrivals (promsvc.patient.submission.prepare_arrivals): a
# Prepared for each one that can be stored as it is, else None.
Resolve = Callable[[sa.Connection, list[Arrival]], list[Prepared | None]]

_Waiting = tuple[Arrival, "asyncio.Future[Receipt | None]"]
_Ready = tuple[Prepared, "asyncio.Future[Receipt | None]"]


class LockBusy(Exception):
    """Another process holds SQLite's write lock."""


class Writer:
    """The group-committing writer of one application (engine and event loop)."""

    def __init__(self, engine: Engine, resolve: Resolve):
        self._engine = engine
        self._resolve = resolve
        self._sqlite = engine.dialect.name == "sqlite"
        self._waiting: list[_Waiting] = []
        self._ready: list[_Ready] = []  # read, checked and scored; waiting for the write lock
        self._connection: sa.Connection | None = None
        self._task: asyncio.Task | None = None
        self._idle: asyncio.TimerHandle | None = None
        self._pause = LOCK_PAUSE[0]
        self._lock_wait_since: float | None = None

    async def take(self, arrival: Arrival) -> Receipt | None:
        """Store `arrival` with the others waiting and wait for the commit: its receipt, or
        None when it needs the full path (see the module's docstring)."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._waiting.append((arrival, future))
        if self._task is None:
            self._task = loop.create_task(self._run())
        return await future

    async def close(self) -> None:
        """Finish the batch being written and give the connection back (at shutdown); what
        still waits takes the full path."""
        for _, future in self._waiting:
            _answer(future, None)
        self._waiting = []
        if self._task is not None:
            await self._task
        if self._idle is not None:
            self._idle.cancel()
        self._disconnect()

    # -------------------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            while self._waiting or self._ready:
                try:
                    # Requests that have already arrived reach the writer first, so that they
                    # join this batch: a request takes a few turns of the loop from its
                    # socket to `take`, and a turn costs microseconds when nothing else is
                    # ready. Under load, batches of about 4 became about 15 (bench/).
                    for _ in range(GATHER_TURNS):
                        await asyncio.sleep(0)
                    await self._write_batch()
                except LockBusy:
                    await asyncio.sleep(self._pause * (0.5 + random.random()))
                    self._pause = min(self._pause * 1.5, LOCK_PAUSE[1])
                except Exception as e:  # the connection or the database failed: the requests take the full path
                    log.warning("the submission writer failed (%s); its submissions take the full path", type(e).__name__)
                    self._disconnect()
                    for _, future in self._ready + self._waiting:
                        _answer(future, None)
                    self._ready, self._waiting = [], []
        finally:
            self._task = None
        if self._idle is not None:
            self._idle.cancel()
        self._idle = asyncio.get_running_loop().call_later(IDLE_SECONDS, self._disconnect_if_idle)

    async def _write_batch(self) -> None:
        connection = self._connect()
        arrivals = self._waiting[:MAX_BATCH - len(self._ready)]
        ready = self._resolved(connection, arrivals)  # if it fails, the arrivals still wait, and _run answers them
        del self._waiting[:len(arrivals)]
        self._ready += ready
        if not self._ready:
            return
        prepared = [p for p, _ in self._ready]
        # SQLite has one write lock for the database: take it without waiting (another process
        # may hold it) and write several statements under it. PostgreSQL's store is one
        # statement that commits itself.
        if self._sqlite:
            self._begin_immediate(connection)
            outcomes = await self._store_in_transaction(connection, prepared)
        else:
            outcomes = self._store_alone(connection, prepared)
        for (p, future), stored in zip(self._ready, outcomes, strict=True):
            _answer(future, p.receipt if stored else None)
        self._ready = []

    def _resolved(self, connection: sa.Connection, arrivals: list[_Waiting]) -> list[_Ready]:
        if not arrivals:
            return []
        prepared = self._resolve(connection, [a for a, _ in arrivals])
        ready = []
        for (_, future), p in zip(arrivals, prepared, strict=True):
            if p is None:
                _answer(future, None)
            else:
                ready.append((p, future))
        return ready

    def _store_alone(self, connection: sa.Connection, prepared: list[Prepared]) -> list[bool | None]:
        """PostgreSQL: `store` is one statement, which in autocommit mode commits itself. A
        failing batch wrote nothing; it is then written one by one, in one transaction. A batch
        that waited too long for a lock is not tried again here: its requests take the full path."""
        try:
            return list(store(connection, prepared))
        except sa.exc.DBAPIError as e:
            if _timed_out(e):
                log.warning("a batch of %d submissions waited too long for a lock; they take the full path", len(prepared))
                return [None] * len(prepared)
            log.warning("a batch of %d submissions failed (%s); writing them one by one", len(prepared), type(e).__name__)
        connection.exec_driver_sql("BEGIN")
        try:
            outcomes = self._one_by_one(connection, prepared)
            connection.exec_driver_sql("COMMIT")
        except BaseException:
            _rollback(connection)
            raise
        return outcomes

    def _begin_immediate(self, connection: sa.Connection) -> None:
        """SQLite: begin the write transaction, or raise LockBusy (another process writes)."""
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")  # busy_timeout is 0 on this connection
        except sa.exc.OperationalError as e:
            if "locked" not in str(e.orig) and "busy" not in str(e.orig):
                raise
            now = time.monotonic()
            self._lock_wait_since = self._lock_wait_since or now
            if now - self._lock_wait_since > LOCK_TIMEOUT:
                self._lock_wait_since = None
                raise
            raise LockBusy() from None
        self._lock_wait_since = None
        self._pause = LOCK_PAUSE[0]

    async def _store_in_transaction(self, connection: sa.Connection, prepared: list[Prepared]) -> list[bool | None]:
        """SQLite: write the batch in the open transaction and commit. A failing batch is
        rolled back to its savepoint and written one by one, each in a savepoint of its own."""
        try:
            connection.exec_driver_sql("SAVEPOINT batch")
            try:
                outcomes: list[bool | None] = list(store(connection, prepared))
            except Exception as e:
                connection.exec_driver_sql("ROLLBACK TO SAVEPOINT batch")
                log.warning("a batch of %d submissions failed (%s); writing them one by one", len(prepared), type(e).__name__)
                outcomes = self._one_by_one(connection, prepared)
            # The commit waits for the disk (fsync): in a thread, so that the loop goes on
            # meanwhile, reading the requests that will make the next batch.
            await asyncio.to_thread(connection.exec_driver_sql, "COMMIT")
        except BaseException:
            _rollback(connection)
            raise
        return outcomes

    @staticmethod
    def _one_by_one(connection: sa.Connection, prepared: list[Prepared]) -> list[bool | None]:
        outcomes: list[bool | None] = []
        for p in prepared:
            connection.exec_driver_sql("SAVEPOINT one")
            try:
                outcomes.append(store(connection, [p])[0])
                connection.exec_driver_sql("RELEASE SAVEPOINT one")
            except Exception:
                connection.exec_driver_sql("ROLLBACK TO SAVEPOINT one")
                outcomes.append(None)
        return outcomes

    def _connect(self) -> sa.Connection:
        if self._connection is None:
            connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            # Never wait long for a lock inside a statement: the loop would stand still. Each
            # database says so in its own words (a busy timeout; lock and statement timeouts).
            if self._sqlite:
                connection.exec_driver_sql("PRAGMA busy_timeout=0")
            else:
                connection.exec_driver_sql(f"SET lock_timeout = {PG_LOCK_TIMEOUT_MS}")
                connection.exec_driver_sql(f"SET statement_timeout = {PG_STATEMENT_TIMEOUT_MS}")
            self._connection = connection
        return self._connection

    def _disconnect_if_idle(self) -> None:
        self._idle = None
        if self._task is None:
            self._disconnect()

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            if self._sqlite:  # back to the waits of every other connection, in each database's words
                connection.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            else:
                connection.exec_driver_sql("RESET lock_timeout")
                connection.exec_driver_sql("RESET statement_timeout")
            connection.close()
        except Exception:
            connection.invalidate()


def _timed_out(e: sa.exc.DBAPIError) -> bool:
    """PostgreSQL gave up on a statement: lock_timeout (55P03) or statement_timeout (57014)."""
    return getattr(e.orig, "sqlstate", None) in ("55P03", "57014")


def _rollback(connection: sa.Connection) -> None:
    try:
        connection.exec_driver_sql("ROLLBACK")
    except Exception:
        pass  # the connection is broken: the writer drops it, and nothing was committed


def _answer(future: asyncio.Future, value: Receipt | None) -> None:
    if not future.done():  # a request whose client went away was cancelled
        future.set_result(value)
