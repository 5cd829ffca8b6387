"""The database: one engine per application, sync sessions, SQLite or PostgreSQL.

The same code runs on both, except where a database offers what the other lacks; each such branch
(`dialect.name`) says why where it is taken: making the engine (below), the submission store
(PostgreSQL's data-modifying CTEs), the writer's locking, delivery's durability, `sending`
records and insert-or-ignore, bulk loading (COPY), the indicator reader, and migrations (the
lock that serialises them, SQLite's batch mode).

How handlers use it (one way only): route handlers are plain `def` functions declared with
`sync_to_thread=True`, and take the dependency `db_session: Session`. Services commit
explicitly (`session.commit()`) when their unit of work is complete; whatever was not committed
when the handler ends (an error was raised) is rolled back, so a failed request leaves nothing
half-written.

One rule keeps this free of deadlocks: a request's transaction begins and ends inside one call
into a worker thread. Work that runs before the handler in another thread hop (such as the
`caller` dependency that finds the API key) uses `reader`, which holds no transaction: a
transaction left open across a thread hop could hold SQLite's write lock while every worker
thread waits for that lock, and the handler that would release it waits for a thread.

SQLite gets, on every connection: WAL journal (readers do not block the writer),
`synchronous=FULL` (a commit is on disk when it returns, in WAL mode too), foreign keys
enforced, and a busy timeout so that concurrent writers wait instead of failing.
Transactions start with `BEGIN IMMEDIATE` so that a read-then-write transaction takes the write
lock up front rather than failing with "database is locked" when it later writes.
"""

from __future__ import annotations

import random
import sqlite3
import time
import weakref
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path

import msgspec
import sqlalchemy as sa
from litestar.datastructures import State
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Session

from promsvc.settings import Settings

SQLITE_BUSY_TIMEOUT_MS = 10_000


class unindexed(FunctionElement):
    """A column whose condition SQLite must check row by row rather than search an index for.

    Without statistics, SQLite's planner guesses that any equality on an indexed column matches
    about ten rows, so `id IN (500 keys) AND status = 'queued'` is answered from the index on
    `status`: a walk over every queued row, for a statement that should touch 500. The unary
    `+` of SQLite (a no-op on the value) takes the column out of the index search, leaving the
    keys to the primary key. Other databases see the plain column (PostgreSQL has statistics).
    """

    inherit_cache = True
    name = "unindexed"

    def __init__(self, column: sa.ColumnElement):
        super().__init__(column)
        self.type = column.type


@compiles(unindexed)
def _as_column(element: unindexed, compiler, **kw) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(unindexed, "sqlite")
def _unary_plus(element: unindexed, compiler, **kw) -> str:
    return "+" + compiler.process(element.clauses, **kw)


def make_engine(settings: Settings | str, *, autocommit: bool = False, **kw) -> Engine:
    """An engine for the settings' database (or a URL); creates a SQLite file's directory.

    `autocommit=True` runs every statement in a transaction of its own: for tests and tools
    that look at the database while the service works (a session of such an engine never
    holds SQLite's write lock or an old snapshot between statements). Never for the service.
    """
    url = make_url(settings if isinstance(settings, str) else settings.database_url)
    if autocommit:
        kw["isolation_level"] = "AUTOCOMMIT"
    # JSON columns (answers, score values) through msgspec: several times faster than `json`
    kw.setdefault("json_serializer", _json_text)
    kw.setdefault("json_deserializer", msgspec.json.decode)
    # SQLite is a file this process opens (its directory may need making, and every connection
    # its pragmas); PostgreSQL a server whose connections may drop while idle (pre-ping).
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            # Every request thread reads on a connection of its own: keep as many open as there are
            # threads (anyio's default limit is 40), rather than opening and closing the overflow.
            kw.setdefault("pool_size", 40)
            kw.setdefault("max_overflow", 10)
        engine = sa.create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}, **kw
        )
        _sqlite_pragmas(engine, immediate=not autocommit)
        return engine
    kw.setdefault("pool_pre_ping", True)
    kw.setdefault("pool_size", 10)
    kw.setdefault("max_overflow", 20)
    return sa.create_engine(url, **kw)


def _json_text(value) -> str:
    return msgspec.json.encode(value).decode()


def _sqlite_pragmas(engine: Engine, *, immediate: bool) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    if immediate:
        @sa.event.listens_for(engine, "begin")
        def _on_begin(connection):
            if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
                begin_immediate(connection.connection.dbapi_connection)


def begin_immediate(dbapi_connection, timeout: float = SQLITE_BUSY_TIMEOUT_MS / 1000) -> None:
    """Take SQLite's write lock, waiting up to `timeout` seconds for another writer."""
    when_unlocked(dbapi_connection, "BEGIN IMMEDIATE", timeout=timeout).close()


def when_unlocked(dbapi_connection, sql: str, params=(), *, timeout: float = SQLITE_BUSY_TIMEOUT_MS / 1000):
    """Run one statement that takes SQLite's write lock, waiting up to `timeout` seconds for
    another writer; returns the cursor.

    SQLite's own busy handler waits in growing steps (1, 2, 5, 10 … 100 ms), so under load a
    waiting writer sleeps long after the lock is free, and the tail latency grows to seconds.
    Here the wait is short, jittered steps instead; other statements keep the busy timeout.
    """
    deadline = time.monotonic() + timeout
    pause = 0.0002
    dbapi_connection.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                return dbapi_connection.execute(sql, params)
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) and "busy" not in str(e):
                    raise
                if time.monotonic() >= deadline:
                    raise
            time.sleep(pause * (0.5 + random.random()))
            pause = min(pause * 1.5, 0.002)
    finally:
        dbapi_connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")


@contextmanager
def opened(settings: Settings | str, **kw) -> Iterator[Engine]:
    """`make_engine` for the length of a `with` block (a command's run): its connections are
    closed at the end, whatever happens."""
    engine = make_engine(settings, **kw)
    try:
        yield engine
    finally:
        engine.dispose()


def reader(engine: Engine) -> Session:
    """A session whose every statement is a transaction of its own (autocommit): for reads that
    must not hold a lock, such as finding the API key of a request or streaming an export."""
    return Session(autocommit(engine), expire_on_commit=False)


def autocommit(engine: Engine) -> Engine:
    """`engine` with every statement a transaction of its own: for reads, which then hold no
    lock afterwards and, on SQLite, never take the write lock (`BEGIN IMMEDIATE`)."""
    shared = _autocommit.get(engine)
    if shared is None:
        shared = _autocommit[engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
    return shared


_autocommit: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def session(engine: Engine) -> Session:
    """A new session; `expire_on_commit=False` so that objects stay readable after commit."""
    return Session(engine, expire_on_commit=False)


def provide_session(state: State) -> Generator[Session, None, None]:
    """Litestar dependency `db_session`: a session for one request, rolled back if uncommitted."""
    db = session(state.engine)
    try:
        yield db
    finally:
        db.rollback()
        db.close()
