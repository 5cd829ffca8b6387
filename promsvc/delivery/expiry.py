"""Expiry: invitations whose window has closed become `expired`, and their waiting messages are skipped."""

from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa

from promsvc.db import unindexed
from promsvc.delivery.config import Delivery
from promsvc.delivery.outbox import CLAIMABLE, I, M, Report
from promsvc.invitations import moves
from promsvc.invitations.states import PENDING
from promsvc.models import Status

log = logging.getLogger("promsvc.delivery")


def expire(d: Delivery, now: dt.datetime, chunk: int = 1000) -> Report:
    """Invitations whose window has closed become `expired` (with their event); their messages
    still waiting are skipped. A late answer is then refused by the patient pages."""
    report = Report()
    with d.engine.connect() as conn:
        while True:
            conn.begin()
            ids = conn.execute(
                sa.select(I.c.id).where(I.c.status.in_(PENDING), I.c.expires_at <= now)
                .order_by(I.c.id).limit(chunk)
            ).scalars().all()
            if not ids:
                conn.rollback()
                break
            for inv_id in ids:
                if moves.move(conn, inv_id, PENDING, Status.expired, now, moves.WINDOW_CLOSED):
                    report.add("invitations expired")
            skipped = conn.execute(
                sa.update(M).where(M.c.invitation_id.in_(ids), unindexed(M.c.status).in_(CLAIMABLE))
                .values(status="skipped", skip_reason="expired", claimed_by=None, claimed_until=None)
            ).rowcount
            report.add("messages skipped (expired)", skipped)
            conn.commit()
            if len(ids) < chunk:
                break
    return report
