"""The delivery jobs: plain functions over the database, each given `now`, each in its module.

    tick(delivery, now)                     # what the scheduler runs: all of the below, in this order
    recovery.recover(delivery, now)         # messages left `sending` by a dispatcher that died
    planning.plan(delivery, now)            # message rows for invitations that have none yet
    expiry.expire(delivery, now)            # invitations past their window → expired (and their pending messages skipped)
    dispatch.dispatch(delivery, now)        # claim due e-mail/SMS messages, check, send, record
    letter_batches.letters(delivery, now)   # the day's letters of each registry as one PDF batch

The scheduler only decides when they run; a test calls them with the `now` it wants. Every
job is safe to run in several processes at once and to repeat: claims use row locks with SKIP
LOCKED on PostgreSQL (SQLite has a single writer), and every state change is a conditional
UPDATE. docs/delivery.md explains why nothing is lost and nothing is sent twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from promsvc.delivery.config import Delivery
from promsvc.delivery.dispatch import dispatch
from promsvc.delivery.expiry import expire
from promsvc.delivery.letter_batches import letters
from promsvc.delivery.outbox import Report
from promsvc.delivery.planning import plan
from promsvc.delivery.recovery import recover
from promsvc.models import utcnow

log = logging.getLogger("promsvc.delivery")


def tick(d: Delivery, now: dt.datetime | None = None) -> Report:
    """One tick of the scheduler: recover, plan, expire, dispatch, letters."""
    started = time.perf_counter()
    at = now or utcnow()
    report = Report()
    report.merge(recover(d, at)).merge(plan(d, at)).merge(expire(d, at))
    report.merge(dispatch(d, now))
    report.merge(letters(d, now or utcnow()))
    if report.counts:
        log.info("tick: %s (%.1f s)", report, time.perf_counter() - started)
    return report
