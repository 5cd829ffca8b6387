"""Planning: the message rows (invitation and reminders) of every pending invitation soon due."""

from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from promsvc.delivery.config import Delivery
from promsvc.delivery.decide import delivery_channels
from promsvc.delivery.outbox import E, I, M, Report
from promsvc.invitations.states import PENDING
from promsvc.models import new_id

log = logging.getLogger("promsvc.delivery")


def _insert_ignore(dialect: str):
    # Both databases say ON CONFLICT DO NOTHING, but SQLAlchemy has it only in each dialect's own
    # `insert`: the branch chooses the construct, not what the statement does.
    return (postgresql.insert(M) if dialect == "postgresql" else sqlite.insert(M)).on_conflict_do_nothing(
        index_elements=["invitation_id", "kind", "number"])


PLAN_AHEAD = dt.timedelta(days=2)


def plan(d: Delivery, now: dt.datetime, chunk: int = 2000) -> Report:
    """Message rows for every pending invitation due within `PLAN_AHEAD` that has none: the
    invitation message at its due time and each reminder `after`, 2·`after` … later, all moved
    into the sending window; reminders that would fall after the expiry are not planned.

    Only invitations not yet expired and due within two days are looked at, so a tick's cost
    does not grow with the invitations planned for next year. Safe to run concurrently: the
    unique (invitation, kind, number) makes a second insert do nothing."""
    report = Report()
    with d.engine.connect() as conn:
        while True:
            conn.begin()
            rows = conn.execute(
                sa.select(I.c.id, I.c.registry_id, I.c.due_at, I.c.expires_at, E.c.protocol_id)
                .join(E, E.c.id == I.c.episode_id)
                .where(I.c.status.in_(PENDING), I.c.expires_at > now, I.c.due_at <= now + PLAN_AHEAD,
                       ~sa.exists().where(M.c.invitation_id == I.c.id, M.c.kind == "invitation", M.c.number == 0))
                .order_by(I.c.due_at)
                .limit(chunk)
            ).all()
            if not rows:
                conn.rollback()
                break
            values = [v for row in rows for v in planned_rows(d, *row, now=now)]
            # Another dispatcher may plan the same invitations at the same moment: count only the
            # rows this one inserted, so that each reports what it did.
            inserted = set(conn.execute(_insert_ignore(conn.dialect.name).returning(M.c.id), values).scalars())
            conn.commit()
            for v in values:
                if v["id"] not in inserted:
                    continue
                if v["kind"] == "invitation":
                    report.add("planned invitations")
                if v["status"] == "skipped":
                    report.add(f"planned skipped ({v['skip_reason']})")
            report.add("planned messages", len(inserted))
            if len(rows) < chunk:
                break
    return report


def planned_rows(d: Delivery, invitation_id: str, registry_id: str, due_at: dt.datetime, expires_at: dt.datetime,
                 protocol_id: str, *, now: dt.datetime) -> list[dict]:
    """The message rows of one invitation, as `plan` writes them."""
    window = d.config.window
    registry = d.registries.get(registry_id)
    protocol = registry.protocol(protocol_id) if registry is not None else None
    base = dict(invitation_id=invitation_id, registry_id=registry_id, channel=None, attempts=0, channel_attempts=0,
                created_at=now, claimed_by=None, claimed_until=None, sent_at=None, last_error=None, link_id=None,
                batch_id=None)
    if protocol is None or not delivery_channels(protocol.channels):
        reason = "no_delivery_channel" if protocol is not None else "unknown_protocol"
        return [dict(base, id=_id(), kind="invitation", number=0, status="skipped", skip_reason=reason,
                     due_at=due_at, next_attempt_at=due_at)]
    first = window.next_open(due_at)
    rows = [dict(base, id=_id(), kind="invitation", number=0, status="queued", skip_reason=None, due_at=first,
                 next_attempt_at=first)]
    reminders = protocol.reminders
    for k in range(1, (reminders.max if reminders else 0) + 1):
        assert reminders is not None  # the loop runs only when there are reminders
        at = window.next_open(due_at + k * reminders.after)
        if at >= expires_at:
            break
        rows.append(dict(base, id=_id(), kind="reminder", number=k, status="queued", skip_reason=None, due_at=at,
                         next_attempt_at=at))
    return rows


def _id() -> str:
    return new_id()
