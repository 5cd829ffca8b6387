"""Letters: the day's letters of each registry as one printable PDF batch, with a link and a short code each."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict

import sqlalchemy as sa

from promsvc.delivery.config import Delivery, durable_transaction
from promsvc.delivery.decide import Fail, Send, Skip, Wait, decide
from promsvc.delivery.dispatch import link_url
from promsvc.delivery.letters import Letter, render_batch
from promsvc.delivery.messages import HealthInformation, last_day
from promsvc.delivery.outbox import Item, Outcomes, Report, claim, load
from promsvc.delivery.timing import next_daily
from promsvc.invitations import links
from promsvc.models import LetterBatch, new_id, table

log = logging.getLogger("promsvc.delivery")


def letters(d: Delivery, now: dt.datetime) -> Report:
    """Put every letter due now into one PDF batch per registry.

    Atomic: the batch (with its PDF), the links and codes it prints and the messages marked
    `sent` are written in one transaction, so a crash leaves either the whole batch or none of
    it; a letter is never in two batches."""
    report = Report()
    with d.engine.connect() as conn:
        while True:
            ids = claim(d, conn, now, letters=True, limit=max(d.config.batch, 2000))
            if not ids:
                break
            with conn.begin():
                items = load(d, conn, ids)
            outcomes = Outcomes(d, now, report)
            by_registry: dict[str, list[Item]] = defaultdict(list)
            for item in items:
                decision = decide(item.facts, d.config, now, letters=True)
                if isinstance(decision, Skip):
                    outcomes.skip(item, decision.reason)
                elif isinstance(decision, Wait):
                    outcomes.wait(item, next_daily(decision.until, d.config.letter_time, d.config.tz))
                elif isinstance(decision, Fail):
                    outcomes.give_up(item, decision.cause)
                elif isinstance(decision, Send) and decision.channel == "letter":
                    item.address = decision.address
                    by_registry[item.registry_id].append(item)
                else:  # the letter contact is gone but another channel works: back to the dispatcher
                    outcomes._message(item, channel=decision.channel if isinstance(decision, Send) else None,
                                      channel_attempts=0, next_attempt_at=now)
            with durable_transaction(conn):
                for registry_id, batch in by_registry.items():
                    _write_batch(d, conn, registry_id, batch, now, outcomes)
                outcomes.flush(conn)
            if len(ids) < max(d.config.batch, 2000):
                break
    return report


def _write_batch(d: Delivery, conn: sa.Connection, registry_id: str, items: list[Item], now: dt.datetime,
                 outcomes: Outcomes) -> None:
    printable: list[tuple[Item, Letter]] = []
    link_rows: list[dict] = []
    for item in items:
        token, code, rows = links.link_rows(item.invitation_id, "letter", now, with_code=True)
        assert code is not None  # with_code=True makes one
        try:
            text = d.templates.render(registry_id, item.kind, "letter", item.language, link=link_url(d, token),
                                      expires=last_day(item.expires_at, d.config.tz))
        except HealthInformation as e:
            outcomes.give_up(item, f"letter: text refused: {e.term!r} could reveal health information")
            continue
        link_rows.extend(rows)
        printable.append((item, Letter(sender=d.templates.sender(registry_id), address=item.address or "",
                                       text=text.body, link=link_url(d, token), code=links.format_code(code),
                                       code_url=f"{d.config.base_url}/code", language=item.language,
                                       date=now.astimezone(d.config.tz).date())))
    if not printable:
        return
    pdf = render_batch([letter for _, letter in printable])
    batch_id = new_id()
    conn.execute(sa.insert(table(LetterBatch)).values(id=batch_id, registry_id=registry_id, created_at=now,
                                                         letters=len(printable), pdf=pdf, fetched_at=None))
    link_ids = links.issue(conn, link_rows)
    for (item, _), link_id in zip(printable, link_ids[::2], strict=True):
        item.link_id = link_id
        outcomes.sent(item, "letter", batch_id=batch_id)
    log.info("letter batch of %d for registry %s", len(printable), registry_id)
