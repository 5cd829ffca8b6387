"""Helpers for the service's integration tests (import them: `from service_helpers import bearer`)."""

from __future__ import annotations

from pathlib import Path

TEST_REGISTRIES = Path(__file__).parent / "registries"  # the test registry `other`


def bearer(key: str) -> dict[str, str]:
    """Request headers that present an API key."""
    return {"Authorization": f"Bearer {key}"}


def write_without_waiting(engine) -> None:
    """Write (and roll back) on a connection of its own, failing at once if a lock held elsewhere
    stops it: on SQLite "database is locked" when another connection holds the write lock."""
    from promsvc import db

    raw = engine.raw_connection()
    try:
        if engine.dialect.name == "sqlite":
            db.begin_immediate(raw.dbapi_connection, timeout=0.5)
        else:
            raw.cursor().execute("SET lock_timeout = '500ms'")
        raw.cursor().execute("UPDATE episode SET language = language")
    finally:
        raw.rollback()
        raw.close()
