"""Alembic environment: runs against a connection handed in by promsvc.migrations.upgrade,
or against the URL of alembic.ini / PROMSVC_DATABASE_URL when the alembic command is used."""

from __future__ import annotations

import os

from alembic import context
from sqlmodel import SQLModel

import promsvc.models  # noqa: F401  (registers the tables on SQLModel.metadata)

config = context.config
target_metadata = SQLModel.metadata


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters little in place: a changed table is copied
        compare_type=True,
    )


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    from promsvc.db import make_engine
    from promsvc.settings import Settings

    url = config.get_main_option("sqlalchemy.url") or Settings.from_mapping(os.environ).database_url
    engine = make_engine(url)
    with engine.connect() as connection:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
run_online()
