"""The migrated schema is exactly the schema of promsvc/models.py, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from promsvc import migrations


def test_migrated_schema_equals_models(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == [], f"models and migrations differ; add a revision (see promsvc/migrations/__init__.py): {diff}"


def test_database_is_at_head(engine):
    assert migrations.current(engine) == migrations.head()


def test_upgrade_twice_is_harmless(engine):
    migrations.upgrade(engine)
    assert migrations.current(engine) == migrations.head()


def test_app_starts_and_serves_openapi(client):
    r = client.get("/schema/openapi.json")
    assert r.status_code == 200
    assert r.json()["info"]["title"] == "promsvc"
