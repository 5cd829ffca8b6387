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


def test_0009_moves_the_clinic_links_into_the_link_table_and_back(engine):
    """The in-clinic link kept in `invitation.token_hash` until 0008 becomes a row of
    `invitation_link` (channel clinic), and goes back on a downgrade: the link keeps working."""
    import datetime as dt

    import sqlalchemy as sa
    from alembic import command

    from promsvc.models import Episode, InvitationLink
    from promsvc.security import hash_token

    def to(revision: str, down: bool = False) -> None:
        with engine.connect() as connection:
            (command.downgrade if down else command.upgrade)(migrations.config(connection), revision)
            connection.commit()

    at = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)
    to("0008", down=True)
    try:
        with engine.begin() as c:
            c.execute(sa.insert(Episode.__table__).values(
                id="e1", registry_id="demo", external_id="x1", pseudonym="p1", unit_id="u", protocol_id="p",
                event_date=at.date(), language="nb", proxy_allowed=False, payload_hash="0" * 64, created_at=at,
                attributes={}, reserved_address=False))
            for n, token_hash in ((1, hash_token("clinic-token")), (2, None)):
                c.execute(sa.text(
                    "INSERT INTO invitation (id, episode_id, registry_id, time_point, due_at, expires_at, status, token_hash, "
                    "channel, status_at) VALUES (:id, 'e1', 'demo', :tp, :at, :at, 'open', :hash, 'clinic', :at)"),
                    {"id": f"i{n}", "tp": f"t{n}", "at": at, "hash": token_hash})
        to("head")
        with engine.connect() as c:
            rows = c.execute(sa.select(InvitationLink.__table__)).mappings().all()
        assert [(r["invitation_id"], r["token_hash"], r["kind"], r["channel"], r["revoked_at"]) for r in rows] == [
            ("i1", hash_token("clinic-token"), "token", "clinic", None)]
        to("0008", down=True)
        with engine.connect() as c:
            back = dict(c.execute(sa.text("SELECT id, token_hash FROM invitation")).all())
            assert back == {"i1": hash_token("clinic-token"), "i2": None}
            assert c.execute(sa.text("SELECT count(*) FROM invitation_link")).scalar() == 0
    finally:
        to("head")
    assert migrations.current(engine) == migrations.head()
