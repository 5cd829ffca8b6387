"""Alembic migrations of the promsvc database, run from code (no alembic.ini needed).

    promsvc db upgrade            # the command line
    migrations.upgrade(url)       # what `promsvc serve`, `promsvc demo` and the tests call

Revisions live in `versions/`; SQLite gets batch mode (`render_as_batch`) because it cannot
ALTER most things in place. On PostgreSQL an advisory lock makes concurrent upgrades (several
instances starting at once) run one after the other.

A new revision: change promsvc/models.py, then
    .venv/bin/alembic -c promsvc/migrations/alembic.ini revision --autogenerate -m "what changed"
and check it; tests/integration/test_migrations.py fails while models and migrations differ.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection, Engine

HERE = Path(__file__).parent
PG_LOCK_ID = 0x70726F6D  # "prom": the advisory lock id that serialises migrations


def config(connection: Connection | None = None, url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(target: Engine | str, revision: str = "head") -> None:
    """Bring the database up to `revision` (default: the newest)."""
    from promsvc.db import make_engine

    engine = make_engine(target) if isinstance(target, str) else target
    try:
        with engine.connect() as connection, _one_at_a_time(connection):
            command.upgrade(config(connection), revision)
            connection.commit()
    finally:
        if isinstance(target, str):
            engine.dispose()


@contextmanager
def _one_at_a_time(connection: Connection) -> Iterator[None]:
    """Two processes starting at once must not both migrate. PostgreSQL: an advisory lock held
    around the migration. SQLite needs none: the migration's first statement takes the
    database's write lock (BEGIN IMMEDIATE, promsvc.db), so the second process waits for it (up
    to the busy timeout) and then finds the database migrated."""
    if connection.dialect.name != "postgresql":
        yield
        return
    connection.execute(sa.text("SELECT pg_advisory_lock(:id)"), {"id": PG_LOCK_ID})
    connection.commit()
    try:
        yield
    finally:
        connection.execute(sa.text("SELECT pg_advisory_unlock(:id)"), {"id": PG_LOCK_ID})
        connection.commit()


def current(engine: Engine) -> str | None:
    """The revision the database is at (None: not migrated)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head() -> str:
    from alembic.script import ScriptDirectory

    revision = ScriptDirectory.from_config(config()).get_current_head()
    if revision is None:  # the package ships its migrations, so none means a broken install
        raise RuntimeError("no migration found in promsvc/migrations/versions")
    return revision
