"""Recovery: what a dispatcher that died left `sending` or `sent` (docs/delivery.md)."""

from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa

from promsvc.db import unindexed
from promsvc.delivery.config import Delivery
from promsvc.delivery.outbox import E, I, M, Report, failure_chain, when_unconfirmed
from promsvc.invitations import moves
from promsvc.models import Status

log = logging.getLogger("promsvc.delivery")


def recover(d: Delivery, now: dt.datetime) -> Report:
    """The messages a dispatcher held when its lease ran out (it died), `sending` or `sent`.

    `sent`: the success was recorded, but not yet what follows from it (the invitation opened,
    its channel, the claim given up): done now.

    `sending`: the message was recorded before its final dot, and no outcome after it. Each
    sending connection has at most one such message (the successes before it are recorded with
    its `sending`), and nobody knows whether it arrived: the server may have taken it, or dropped
    it when the connection broke before its reply. SMS is simply repeated (the gateway sends a
    reference once). E-mail does what the protocol chose (`unconfirmed` in the registry file):
    `resend` (the default) sends it again, accepting a possible duplicate; `hold` keeps it as
    `unconfirmed` for staff to decide (`promsvc outbox unconfirmed`)."""
    report = Report()
    with d.engine.connect() as conn, conn.begin():
        held = conn.execute(
            sa.select(M.c.id, M.c.invitation_id, M.c.registry_id, M.c.kind, M.c.channel, M.c.status, M.c.last_error,
                      E.c.protocol_id)
            .join(I, I.c.id == M.c.invitation_id).join(E, E.c.id == I.c.episode_id)
            .where(M.c.claimed_by.is_not(None), M.c.claimed_until < now, unindexed(M.c.status).in_(("sending", "sent")))
            .with_for_update(skip_locked=True, of=M)
        ).all()
        for row in held:
            unheld = dict(claimed_by=None, claimed_until=None)
            where = sa.update(M).where(M.c.id == row.id, M.c.status == row.status)
            if _value(row.status) == "sent":
                conn.execute(where.values(**unheld))
                _opened(conn, row.invitation_id, row.kind, row.channel, now, "")
                report.add("recovered: sent, recorded")
                continue
            cut = "dispatcher stopped between the final dot and the reply"
            if row.channel == "sms":
                conn.execute(where.values(status="retrying", next_attempt_at=now, **unheld, last_error=failure_chain(
                    row.last_error, "sms", f"{cut}; repeated with the same reference")))
                report.add("recovered: retried (idempotent)")
            elif when_unconfirmed(d, row.registry_id, row.protocol_id, row.kind) == "resend":
                conn.execute(where.values(status="retrying", next_attempt_at=now, **unheld, last_error=failure_chain(
                    row.last_error, row.channel, f"{cut}; sent again (possible duplicate)")))
                report.add("recovered: sent again (possible duplicate)")
            else:
                conn.execute(where.values(status="unconfirmed", sent_at=now, **unheld, last_error=failure_chain(
                    row.last_error, row.channel, f"{cut}; held for staff")))
                _opened(conn, row.invitation_id, row.kind, row.channel, now, ", unconfirmed")
                report.add("recovered: held for staff (unconfirmed)")
    return report


def _opened(conn: sa.Connection, invitation_id: str, kind: str, channel: str, now: dt.datetime, note: str) -> None:
    """What a message that (may have) reached the patient does to its invitation, as `Outcomes.flush`."""
    conn.execute(sa.update(I).where(I.c.id == invitation_id).values(channel=channel))
    if kind == "invitation":
        moves.move(conn, invitation_id, (Status.planned,), Status.open, now, f"invitation sent ({channel}{note})")


def _value(status) -> str:
    return status.value if hasattr(status, "value") else str(status)
