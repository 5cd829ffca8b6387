"""Dispatch: claim due e-mail and SMS messages, check each again, send, record (docs/delivery.md)."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import sqlalchemy as sa

from promsvc.db import unindexed
from promsvc.delivery.channels import ChannelDown, DeliveryFailure
from promsvc.delivery.config import Delivery, durable_transaction
from promsvc.delivery.decide import Fail, Send, Skip, ToLetters, Wait, decide
from promsvc.delivery.email import SmtpChannel
from promsvc.delivery.messages import HealthInformation, Rendered, last_day
from promsvc.delivery.outbox import CLAIMABLE, Item, M, Outcomes, Report, claim, failure_chain, load, mark_sending
from promsvc.delivery.sms import SmsChannel
from promsvc.invitations import links
from promsvc.models import utcnow

log = logging.getLogger("promsvc.delivery")


def dispatch(d: Delivery, now: dt.datetime | None = None, *, max_batches: int | None = None) -> Report:
    """Send due e-mail and SMS messages, batch after batch, until none are due.

    Nothing leaves outside the sending window. Each batch: claim, check every message again
    (decide.py), write the decisions and a fresh link per message, then share the messages among
    `dispatch_workers` threads, each sending one message at a time over its own channel
    connection, recording `sending` (committed) before each message leaves; failures are
    written with the next commit, successes in groups; the last commit waits for the disk.

    The next batch is claimed and prepared while the workers send the current one, so that the
    channels are never idle while the database works."""
    report = Report()
    batches = 0
    sending: Batch | None = None
    with ThreadPoolExecutor(max_workers=2 * d.workers, thread_name_prefix="dispatch") as pool:
        try:
            while (max_batches is None or batches < max_batches) and not d.stopping.is_set():
                at = now or utcnow()
                if not d.config.window.contains(at):
                    report.add("window closed")
                    break
                prepared = _prepare_batch(d, at, report)
                previous, sending = sending, None
                if previous is not None:
                    try:
                        previous.finish(report)
                    except Exception:
                        if prepared is not None:
                            prepared.release()
                        raise
                if prepared is None:
                    break
                sending = prepared.start(pool)
                batches += 1
        finally:
            if sending is not None:
                sending.finish(report)
    return report


@dataclass
class Batch:
    """Claimed messages, decided and linked, to be shared among the sending workers."""

    d: Delivery
    conn: sa.Connection  # holds nothing open between the steps; releases the claim at the end
    ids: list[str]
    now: dt.datetime
    work: list[tuple[str, list[Item]]]
    futures: list = field(default_factory=list)

    def start(self, pool: ThreadPoolExecutor) -> Batch:
        self.futures = [pool.submit(_send, self.d, channel, chunk, self.now) for channel, chunk in self.work]
        return self

    def finish(self, report: Report) -> None:
        """Wait for the workers, then give up the claim on whatever an error left unsent."""
        try:
            for future in self.futures:
                report.merge(future.result())
        except Exception:
            self.release()  # an error stopped the batch: let the rest go at once
            raise
        self.release()

    def release(self) -> None:
        try:
            _release(self.d, self.conn, self.ids)
        finally:
            self.conn.close()


def _prepare_batch(d: Delivery, now: dt.datetime, report: Report) -> Batch | None:
    conn = d.engine.connect()
    try:
        ids = claim(d, conn, now, letters=False)
    except Exception:
        conn.close()
        raise
    if not ids:
        conn.close()
        return None
    try:
        conn.begin()
        items = load(d, conn, ids)
        outcomes = Outcomes(d, now, report)
        by_channel: dict[str, list[Item]] = defaultdict(list)
        link_rows: list[dict] = []
        for item in items:
            decision = decide(item.facts, d.config, now)
            if isinstance(decision, Skip):
                outcomes.skip(item, decision.reason)
            elif isinstance(decision, Wait):
                outcomes.wait(item, decision.until)
            elif isinstance(decision, ToLetters):
                outcomes.to_letters(item, decision.at)
            elif isinstance(decision, Fail):
                outcomes.give_up(item, "; ".join(filter(None, [item.last_error, decision.cause])))
            else:
                assert isinstance(decision, Send)
                item.address = decision.address
                item.token, _, rows = links.link_rows(item.invitation_id, decision.channel, now)
                link_rows.extend(rows)
                by_channel[decision.channel].append(item)
        linked = [item for item in items if item.token is not None]
        outcomes.write(conn)
        if link_rows:
            # A link whose message never leaves (a crash, a failure) is harmless: nobody has its token.
            link_ids = links.issue(conn, link_rows)
            for item, link_id in zip(linked, link_ids, strict=True):
                item.link_id = link_id
        conn.commit()
    except Exception:
        _release(d, conn, ids)
        conn.close()
        raise
    # Each worker: its share of one channel's messages, its own channel connection and its own
    # database connection.
    work = [(channel, chunk) for channel in ("email", "sms") for chunk in _split(by_channel.get(channel, []), d.workers)]
    return Batch(d, conn, ids, now, work)


def _release(d: Delivery, conn: sa.Connection, ids: list[str]) -> None:
    """Give up the claim on messages of the batch still waiting (skipped over by an error)."""
    if conn.in_transaction():
        conn.rollback()
    with conn.begin():
        conn.execute(sa.update(M).where(M.c.id.in_(ids), M.c.claimed_by == d.instance, unindexed(M.c.status).in_(CLAIMABLE))
                     .values(claimed_by=None, claimed_until=None))


def _split(items: list[Item], parts: int) -> list[list[Item]]:
    parts = max(1, min(parts, len(items)))
    return [items[i::parts] for i in range(parts)] if items else []


def _send(d: Delivery, channel: str, items: list[Item], now: dt.datetime) -> Report:
    """Send `items` over one connection of `channel`; the outcomes are written at the end, by a
    commit that waits for the disk. Returns what happened."""
    outcomes = Outcomes(d, now, Report())
    # PostgreSQL: each `sending` record is one statement committing by itself (one round trip)
    # on a second, AUTOCOMMIT connection. SQLite: a short transaction of its own on this
    # connection (BEGIN IMMEDIATE, waited for in short steps: outbox.mark_sending); a second
    # connection would only be one more writer queueing for the same lock.
    with d.engine.connect() as conn:
        marks = d.engine.connect().execution_options(isolation_level="AUTOCOMMIT") \
            if conn.dialect.name == "postgresql" else None
        try:
            _send_over(d, channel, conn, marks, items, now, outcomes)
        finally:
            try:
                with durable_transaction(conn):
                    outcomes.flush(conn)
            finally:
                if marks is not None:
                    marks.close()
    return outcomes.report


FLUSH_EVERY = 100  # invitations of the successes brought up to date at least this often


def _mark(d: Delivery, conn: sa.Connection, marks: sa.Connection | None, item: Item, channel: str,
          outcomes: Outcomes) -> bool:
    """Commit the failures decided so far, then record this attempt (committed) before it leaves."""
    if outcomes.pending or len(outcomes.done) >= FLUSH_EVERY:
        with conn.begin():
            outcomes.write(conn) if len(outcomes.done) < FLUSH_EVERY else outcomes.flush(conn)
    sent, outcomes.unrecorded = outcomes.unrecorded, []
    return mark_sending(d, marks if marks is not None else conn, item, channel, sent, outcomes.now)


def link_url(d: Delivery, token: str) -> str:
    return f"{d.config.base_url}/q/{token}"


def _render(d: Delivery, item: Item, channel: str):
    assert item.token is not None  # every item sent by email or SMS got its link in _prepare_batch
    return d.templates.render(item.registry_id, item.kind, channel, item.language, link=link_url(d, item.token),
                              expires=last_day(item.expires_at, d.config.tz))


def _refused(item: Item, channel: str, e: HealthInformation) -> str:
    return failure_chain(item.last_error, channel, f"text refused: {e.term!r} could reveal health information")


_CHANNEL_NAMES = {"email": "e-mail", "sms": "SMS"}  # as the log says them


def _open(d: Delivery, channel: str) -> SmtpChannel | SmsChannel:
    """A connection of `channel`, opened by its first message (each worker has its own)."""
    if channel == "email":
        assert d.config.smtp is not None
        return SmtpChannel(d.config.smtp)
    assert d.config.sms is not None
    return SmsChannel(d.config.sms)


def _hand_over(d: Delivery, connection: SmtpChannel | SmsChannel, item: Item, text: Rendered,
               now: dt.datetime) -> None:
    """Give one rendered message to its channel; raises the channel's DeliveryFailure."""
    assert item.address is not None  # given with its token in _prepare_batch
    if isinstance(connection, SmtpChannel):
        prepared = connection.prepare(message_id=item.id, to=item.address, from_name=d.templates.sender(item.registry_id),
                                      subject=text.subject or "", body=text.body, now=now)
        connection.finish(prepared)
    else:
        connection.send(reference=item.id, to=item.address, text=text.body)


def _send_over(d: Delivery, channel: str, conn: sa.Connection, marks: sa.Connection | None, items: list[Item],
               now: dt.datetime, outcomes: Outcomes) -> None:
    """Send `items` one after the other over one connection of `channel` ("email" or "sms")."""
    with _open(d, channel) as connection:
        for n, item in enumerate(items):
            if _stopping(d, items[n:], now, outcomes):
                return
            try:
                text = _render(d, item, channel)
            except HealthInformation as e:
                outcomes.give_up(item, _refused(item, channel, e))
                continue
            # Recorded (with the success before it) before anything of it goes out: so a message
            # is `sending` only from here to its reply, and a crash leaves at most this one.
            if not _mark(d, conn, marks, item, channel, outcomes):
                outcomes.report.add("lost claim")  # another dispatcher took it over (our claim ran out)
                continue
            try:
                _hand_over(d, connection, item, text, now)
            except ChannelDown as e:
                outcomes.failed(item, channel, e)
                _put_back(d, items[n + 1:], now, outcomes)
                log.warning("%s channel down: %s", _CHANNEL_NAMES[channel], e.reason)
                return
            except DeliveryFailure as e:
                outcomes.failed(item, channel, e)
                continue
            outcomes.sent(item, channel)


def _put_back(d: Delivery, items: list[Item], now: dt.datetime, outcomes: Outcomes) -> None:
    at = d.config.window.next_open(now + d.config.backoff.base)
    for item in items:
        outcomes.release(item, at)


def _stopping(d: Delivery, rest: list[Item], now: dt.datetime, outcomes: Outcomes) -> bool:
    """When the dispatcher is stopping: give `rest` back unchanged (due as before), for the next one."""
    if not d.stopping.is_set():
        return False
    for item in rest:
        outcomes._message(item, next_attempt_at=item.next_attempt_at)
    outcomes.report.add("given back (stopping)", len(rest))
    return True
