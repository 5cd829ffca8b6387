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
"""

from __future__ import annotations

import logging
import queue
import threading
import weakref
from collections.abc import Sequence
from concurrent.futures import Future

from sqlalchemy.engine import Engine

from promsvc.responses.services import Prepared, store

log = logging.getLogger("promsvc.responses.writer")

MAX_BATCH = 64  # submissions per transaction: bounds the time the write lock is held
IDLE_SECONDS = 1.0


class Writer:
    """The group-committing writer of one engine (`writer_for(engine)`)."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self._queue: queue.SimpleQueue[tuple[Prepared, Future]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._running = False

    def submit(self, prepared: Prepared) -> bool:
        """Write `prepared` and wait for the commit: True if stored now, False if its invitation
        could no longer take answers (promsvc.responses.services.store). Raises what writing
        this submission raised."""
        future: Future[bool] = Future()
        with self._lock:
            self._queue.put((prepared, future))
            if not self._running:
                self._start()
        return future.result()

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

    def _write(self, batch: list[tuple[Prepared, Future]]) -> None:
        prepared = [p for p, _ in batch]
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
        for (_, future), outcome in zip(batch, outcomes):
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

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


def writer_for(engine: Engine) -> Writer:
    """The writer of `engine` in this process."""
    with _writers_lock:
        writer = _writers.get(engine)
        if writer is None:
            writer = _writers[engine] = Writer(engine)
        return writer
