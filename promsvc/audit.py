"""The audit trail: every read or write of patient-level data, allowed or not.

`record` adds a row to the caller's session, so an allowed action and its audit row are
committed together (or not at all). A refused or failed action is recorded with
`refuse`, which rolls back the request's own work, commits the audit row alone and raises.

Actions are `noun.verb`: episode.enrol, episode.read, episode.withdraw, link.issue,
responses.export, response.submit, audit.read, indicators.read (definitions), indicators.results
(aggregates); and, by `promsvc retention run` (actor `retention`), contacts.delete and draft.delete.
Outcomes: ok, denied, not_found, invalid, conflict.
Rows hold ids only (key id, registry id, episode id): never a pseudonym, answer or token.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, NoReturn

from sqlalchemy.engine import Engine
from sqlmodel import Session

from promsvc.models import AuditEntry, utcnow

OUTCOMES = ("ok", "denied", "not_found", "invalid", "conflict", "gone", "busy")


def record(
    session: Session,
    actor: str,
    role: str,
    action: str,
    registry_id: str | None,
    episode_id: str | None,
    outcome: str,
) -> AuditEntry:
    """Add one audit row to `session` (committed with the caller's unit of work)."""
    entry = AuditEntry(**row(actor, role, action, registry_id, episode_id, outcome, utcnow()))
    session.add(entry)
    return entry


def row(
    actor: str,
    role: str,
    action: str,
    registry_id: str | None,
    episode_id: str | None,
    outcome: str,
    at: dt.datetime,
) -> dict[str, Any]:
    """The values of one audit row, for a bulk insert (`sa.insert(AuditEntry.__table__)`)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown audit outcome {outcome!r}; one of {', '.join(OUTCOMES)}")
    return {
        "at": at,
        "actor": actor,
        "role": str(getattr(role, "value", role)),
        "action": action,
        "registry_id": registry_id,
        "episode_id": episode_id,
        "outcome": outcome,
    }


def record_apart(
    engine: Engine,
    actor: str,
    role: str,
    action: str,
    registry_id: str | None,
    episode_id: str | None,
    outcome: str,
) -> None:
    """Write one audit row in a transaction of its own (for refused and failed actions)."""
    with Session(engine) as session:
        record(session, actor, role, action, registry_id, episode_id, outcome)
        session.commit()


def refuse(session: Session, caller, action: str, registry_id: str | None, episode_id: str | None,
           outcome: str, error: Exception) -> NoReturn:
    """Record a refused action and raise `error`.

    Whatever the request had written is rolled back first; the audit row is then committed on
    its own, so the refusal stays on record although the request fails.
    """
    session.rollback()
    record(session, caller.key_id, caller.role, action, registry_id, episode_id, outcome)
    session.commit()
    raise error
