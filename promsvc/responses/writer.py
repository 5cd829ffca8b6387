"""Group commit: one writer thread per process and database commits the submissions that
arrived while it was writing the previous ones, in one transaction.

A durable commit costs one fsync (SQLite `synchronous=FULL`, PostgreSQL's WAL flush), and on
SQLite only one transaction writes at a time. One transaction for every submission that is
waiting turns N fsyncs and N turns of the write lock into one, with no delay added: while a
batch commits, the next one gathers. Each request thread waits for its own outcome, which it
gets only after the commit has returned, so an acknowledged submission is on disk.

A submission that fails (a unique-constraint race, a database error) must not take the others
down: when a batch fails, it is written again one submission at a time, each inside its own
savepoint of one transaction, and only the failing one gets the error.

The thread ends after a second without work and is started again by the next submission, so
an engine that is no longer used (tests make many) leaves no thread behind.

Submissions come in two forms. A `Prepared` one was read, checked and scored by its request
thread. An `Arrival` (the JSON API's common case) is just the token and the answers: the writer
reads the links of every arrival in its batch in a few queries, checks and scores them, and
stores them with the rest. An arrival it cannot store as it is (an unusable link, invalid
answers, a proxy where none is allowed, a race lost) comes back as None, and its request takes
the full path, which says precisely what is wrong. The event loop thus hands each submission
over once, instead of to a thread that reads, then to the writer, then back.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import queue
import threading
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

import msgspec
from sqlalchemy.engine import Engine

from promsvc.responses.services import Prepared, Receipt, store

log = logging.getLogger("promsvc.responses.writer")

MAX_BATCH = 64  # submissions per transaction: bounds the time the write lock is held
IDLE_SECONDS = 1.0


class Arrival(msgspec.Struct, frozen=True, kw_only=True):
    """A submission as it arrived: nothing read or checked yet."""

    token: str
    answers: dict[str, Any]
    language: str | None
    respondent: str | None
    at: dt.datetime


# Reads, checks and scores a batch of arrivals (promsvc.patient.services.prepare_arrivals): a
# Prepared for each one that can be stored as it is, else None.
Resolve = Callable[[Engine, list[Arrival]], list[Prepared | None]]


class Writer:
    """The group-committing writer of one engine (`writer_for(engine)`)."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self._queue: queue.SimpleQueue[tuple[Prepared | Arrival, Future]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._running = False
        self.resolve: Resolve | None = None

    def submit(self, prepared: Prepared) -> bool:
        """Write `prepared` and wait for the commit: True if stored now, False if its invitation
        could no longer take answers (promsvc.responses.services.store). Raises what writing
        this submission raised."""
        return self._put(prepared).result()

    async def take(self, arrival: Arrival) -> Receipt | None:
        """Read, check, score and write `arrival` with the others waiting, and wait for the
        commit: its receipt, or None when it needs the full path (see the module's docstring)."""
        assert self.resolve is not None, "set Writer.resolve before taking arrivals"
        return await asyncio.wrap_future(self._put(arrival))

    def _put(self, item: Prepared | Arrival) -> Future:
        future: Future = Future()
        with self._lock:
            self._queue.put((item, future))
            if not self._running:
                self._start()
        return future

    def _run(self) -> None:
        batch: list[tuple[Prepared, Future]] = []
        try:
            while True:
                try:
                    first = self._queue.get(timeout=IDLE_SECONDS)
                except queue.Empty:
                    with self._lock:  # nothing can be queued unseen while we decide to stop
                        if self._queue.empty():
                            self._running = False
                            return
                    continue
                batch = [first]
                while len(batch) < MAX_BATCH:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                self._write(batch)
        except BaseException as e:
            # Never leave a request waiting on a thread that is gone: fail what it held, and
            # let the next submission start a new thread.
            for _, future in batch:
                if not future.done():
                    future.set_exception(e)
            with self._lock:
                self._running = False
                if not self._queue.empty():
                    self._start()
            raise

    def _start(self) -> None:
        self._running = True
        threading.Thread(target=self._run, name="promsvc-submit-writer", daemon=True).start()

    def _write(self, batch: list[tuple[Prepared | Arrival, Future]]) -> None:
        ready = self._prepare_arrivals(batch)
        if not ready:
            return
        prepared = [p for p, _, _ in ready]
        try:
            outcomes: Sequence[bool | BaseException] = self._all(prepared)
        except Exception as e:
            if len(batch) == 1:
                outcomes = [e]
            else:
                log.warning("a batch of %d submissions failed (%s); writing them one by one", len(batch), type(e).__name__)
                try:
                    outcomes = self._one_by_one(prepared)
                except Exception as e2:  # the commit itself failed: nothing was stored
                    outcomes = [e2] * len(batch)
        for (p, future, arrived), outcome in zip(ready, outcomes):
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            elif arrived:  # an arrival not stored now takes the full path
                future.set_result(p.receipt if outcome else None)
            else:
                future.set_result(outcome)

    def _prepare_arrivals(self, batch: list[tuple[Prepared | Arrival, Future]]) -> list[tuple[Prepared, Future, bool]]:
        """The batch to store, each with whether it came as an arrival. Arrivals are read,
        checked and scored here; those that cannot be stored as they are get None at once."""
        ready = [(item, future, False) for item, future in batch if not isinstance(item, Arrival)]
        arrivals = [(item, future) for item, future in batch if isinstance(item, Arrival)]
        if not arrivals:
            return ready
        try:
            resolved = self.resolve(self._engine, [a for a, _ in arrivals])
        except Exception as e:
            for _, future in arrivals:
                future.set_exception(e)
            return ready
        for (_, future), prepared in zip(arrivals, resolved, strict=True):
            if prepared is None:
                future.set_result(None)
            else:
                ready.append((prepared, future, True))
        return ready

    def _all(self, prepared: list[Prepared]) -> list[bool]:
        with self._engine.connect() as connection, connection.begin():
            return store(connection, prepared)

    def _one_by_one(self, prepared: list[Prepared]) -> list[bool | BaseException]:
        outcomes: list[bool | BaseException] = []
        with self._engine.connect() as connection, connection.begin():
            for p in prepared:
                try:
                    with connection.begin_nested():
                        outcomes.append(store(connection, [p])[0])
                except Exception as e:
                    outcomes.append(e)
        return outcomes


_writers: weakref.WeakKeyDictionary[Engine, Writer] = weakref.WeakKeyDictionary()
_writers_lock = threading.Lock()


def writer_for(engine: Engine, resolve: Resolve | None = None) -> Writer:
    """The writer of `engine` in this process; `resolve` (set once) lets it take arrivals."""
    with _writers_lock:
        writer = _writers.get(engine)
        if writer is None:
            writer = _writers[engine] = Writer(engine)
        if writer.resolve is None:
            writer.resolve = resolve
        return writer
