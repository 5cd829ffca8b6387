"""`promsvc retention run`: contact details and drafts deleted once no longer needed, by each registry's
period or the settings' default; answers and invitations kept; each deletion audited with ids only, and
the output and log counts only (issue 12, point 7)."""

from __future__ import annotations

import argparse
import datetime as dt
import io
import logging

import sqlalchemy as sa
from service_helpers import TEST_REGISTRIES, bearer

from promsvc.commands.retention import run_retention
from promsvc.models import AuditEntry, Contact, Draft, Episode, Invitation

NOW = dt.datetime.now(dt.UTC)


def _enrol(client, key, registry: str, external_id: str, protocol: str, unit: str) -> str:
    body = {"external_id": external_id, "pseudonym": f"PSEUDO-{external_id}", "unit": unit, "protocol": protocol,
            "event_date": NOW.date().isoformat(),
            "contacts": [{"channel": "email", "address": f"{external_id.lower()}@example.no"}]}
    r = client.post(f"/api/v1/registries/{registry}/episodes", json=body, headers=bearer(key))
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _close(session, episode_id: str, days_ago: int, *, status: str = "expired", keep_one_planned: bool = False):
    invitations = session.execute(sa.select(Invitation.id).where(Invitation.episode_id == episode_id)
                                  .order_by(Invitation.due_at)).scalars().all()
    for n, invitation in enumerate(invitations):
        still = keep_one_planned and n == len(invitations) - 1
        session.execute(sa.update(Invitation).where(Invitation.id == invitation).values(
            status="planned" if still else status, status_at=NOW - dt.timedelta(days=days_ago)))
    return invitations


def _run(database_url, dry_run: bool = False) -> str:
    out = io.StringIO()
    environ = {"PROMSVC_DATABASE_URL": database_url, "PROMSVC_REGISTRIES_DIR": str(TEST_REGISTRIES)}
    assert run_retention(argparse.Namespace(registry=None, dry_run=dry_run), environ, out, now=NOW) == 0
    return out.getvalue()


def test_contacts_and_drafts_no_longer_needed_are_deleted_and_audited(client, keys, session, database_url, caplog):
    old = _enrol(client, keys.system, "demo", "RET-OLD", "hip_primary", "dal-fjell")  # all closed 40 days ago
    recent = _enrol(client, keys.system, "demo", "RET-RECENT", "hip_primary", "dal-fjell")  # closed 5 days ago
    pending = _enrol(client, keys.system, "demo", "RET-PENDING", "hip_primary", "dal-fjell")  # one still planned
    own = _enrol(client, keys.system, "other", "RET-OTHER", "knee", "other-hospital")  # 40 days: within its 60
    old_invitations = _close(session, old, 40, status="completed")
    recent_invitations = _close(session, recent, 5)
    _close(session, pending, 40, keep_one_planned=True)
    _close(session, own, 40)
    for invitation in (old_invitations[0], recent_invitations[0]):  # drafts closed 40 and 5 days ago (period 7)
        session.add(Draft(invitation_id=invitation, answers={"eq5d-5l": {"MO": 1}}, language="nb"))
    session.commit()
    contacts_before = session.execute(sa.select(sa.func.count()).select_from(Contact)).scalar()

    assert _run(database_url, dry_run=True).splitlines() == [
        "demo: contact details of 1 episode(s) (1 address(es), kept 30 days) and 1 draft(s) (kept 7 days) would be deleted",
        "other: contact details of 0 episode(s) (0 address(es), kept 60 days) and 0 draft(s) (kept 7 days) would be deleted",
    ]
    assert session.execute(sa.select(sa.func.count()).select_from(Contact)).scalar() == contacts_before == 4

    with caplog.at_level(logging.INFO, logger="promsvc.retention"):
        output = _run(database_url)
    assert output.splitlines()[0].endswith("1 draft(s) (kept 7 days) deleted")
    left = set(session.execute(sa.select(Contact.episode_id)).scalars())
    assert left == {recent, pending, own}
    assert session.execute(sa.select(Draft.invitation_id)).scalars().all() == [recent_invitations[0]]
    # the episode and its invitations are the registry's data: kept
    assert session.get(Episode, old) is not None
    assert len(session.execute(sa.select(Invitation.id).where(Invitation.episode_id == old)).all()) == len(old_invitations)
    audited = session.execute(sa.select(AuditEntry.actor, AuditEntry.action, AuditEntry.registry_id,
                                        AuditEntry.episode_id).where(AuditEntry.actor == "retention")).all()
    assert sorted(audited) == [("retention", "contacts.delete", "demo", old), ("retention", "draft.delete", "demo", old)]
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "1 episode(s) (1 address(es)), 1 draft(s) deleted" in logged
    assert "example.no" not in logged + output and "PSEUDO" not in logged + output and old not in logged + output
    assert _run(database_url).splitlines()[0].startswith("demo: contact details of 0 episode(s)")  # nothing twice
