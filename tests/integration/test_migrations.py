"""The migrated schema is exactly the schema of promsvc/models.py, on both databases."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from promsvc import migrations
from promsvc.models import Episode

AT = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)


def _migrate(engine, revision: str, down: bool = False) -> None:
    with engine.connect() as connection:
        (command.downgrade if down else command.upgrade)(migrations.config(connection), revision)
        connection.commit()


def _episode(connection) -> None:
    """Episode e1 of registry demo, for a migration test's rows to belong to."""
    connection.execute(sa.insert(Episode.__table__).values(
        id="e1", registry_id="demo", external_id="x1", pseudonym="p1", unit_id="u", protocol_id="p",
        event_date=AT.date(), language="nb", proxy_allowed=False, payload_hash="0" * 64, created_at=AT,
        attributes={}, reserved_address=False))


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
    from promsvc.models import InvitationLink
    from promsvc.security import hash_token

    _migrate(engine, "0008", down=True)
    try:
        with engine.begin() as c:
            _episode(c)
            for n, token_hash in ((1, hash_token("clinic-token")), (2, None)):
                c.execute(sa.text(
                    "INSERT INTO invitation (id, episode_id, registry_id, time_point, due_at, expires_at, status, token_hash, "
                    "channel, status_at) VALUES (:id, 'e1', 'demo', :tp, :at, :at, 'open', :hash, 'clinic', :at)"),
                    {"id": f"i{n}", "tp": f"t{n}", "at": AT, "hash": token_hash})
        _migrate(engine, "head")
        with engine.connect() as c:
            rows = c.execute(sa.select(InvitationLink.__table__)).mappings().all()
        assert [(r["invitation_id"], r["token_hash"], r["kind"], r["channel"], r["revoked_at"]) for r in rows] == [
            ("i1", hash_token("clinic-token"), "token", "clinic", None)]
        _migrate(engine, "0008", down=True)
        with engine.connect() as c:
            back = dict(c.execute(sa.text("SELECT id, token_hash FROM invitation")).all())
            assert back == {"i1": hash_token("clinic-token"), "i2": None}
            assert c.execute(sa.text("SELECT count(*) FROM invitation_link")).scalar() == 0
    finally:
        _migrate(engine, "head")
    assert migrations.current(engine) == migrations.head()


def test_0010_gives_a_completed_invitation_its_responses_submission_time(engine):
    """Before 0010 a batch's invitations took the batch's time and each response its own; the
    indicator reader reads a time point's submission time off its invitation from 0010 on."""
    from promsvc.models import Invitation, Response, Status

    ms = dt.timedelta(milliseconds=1)
    _migrate(engine, "0009", down=True)
    try:
        with engine.begin() as c:
            _episode(c)
            c.execute(sa.insert(Invitation.__table__), [
                {"id": i, "episode_id": "e1", "registry_id": "demo", "time_point": i, "due_at": AT, "expires_at": AT,
                 "status": status, "status_at": AT + 9 * ms}
                for i, status in (("done", Status.completed), ("empty", Status.completed), ("open", Status.open))])
            c.execute(sa.insert(Response.__table__), [
                {"id": f"r{n}", "invitation_id": "done", "episode_id": "e1", "registry_id": "demo", "instrument_id": instrument,
                 "instrument_version": "1", "answers": {}, "language": "nb", "channel": "link", "respondent": "patient",
                 "started_at": AT, "submitted_at": submitted}
                for n, (instrument, submitted) in enumerate((("eq5d-5l", AT + 2 * ms), ("rand36", AT + 5 * ms)))])
        _migrate(engine, "head")
        with engine.connect() as c:
            rows = c.execute(sa.select(Invitation.__table__.c.id, Invitation.__table__.c.status_at)).all()
        assert dict(rows) == {"done": AT + 5 * ms, "empty": AT + 9 * ms, "open": AT + 9 * ms}
    finally:
        with engine.begin() as c:
            for name in ("response", "invitation", "episode"):
                c.execute(sa.text(f"DELETE FROM {name} WHERE {'id' if name == 'episode' else 'episode_id'} = 'e1'"))
        _migrate(engine, "head")
    assert migrations.current(engine) == migrations.head()
