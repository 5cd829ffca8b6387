"""The delivery jobs: plain functions over the database, each given `now`.

    tick(delivery, now)      # what the scheduler runs: all of the below, in this order
    recover(delivery, now)   # messages left `sending` by a dispatcher that died
    plan(delivery, now)      # message rows for invitations that have none yet
    expire(delivery, now)    # invitations past their window → expired (and their pending messages skipped)
    dispatch(delivery, now)  # claim due e-mail/SMS messages, check, send, record
    letters(delivery, now)   # the day's letters of each registry as one PDF batch

The scheduler only decides when they run; a test calls them with the `now` it wants. Every
job is safe to run in several processes at once and to repeat: claims use row locks with SKIP
LOCKED on PostgreSQL (SQLite has a single writer), and every state change is a conditional
UPDATE. docs/delivery.md explains why nothing is lost and nothing is sent twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from promsvc.db import unindexed
from promsvc.delivery.channels import ChannelDown, DeliveryFailure
from promsvc.delivery.config import Delivery, durable_transaction
from promsvc.delivery.decide import Fail, Send, Skip, ToLetters, Wait, decide, delivery_channels
from promsvc.delivery.email import SmtpChannel
from promsvc.delivery.letters import Letter, render_batch
from promsvc.delivery.messages import HealthInformation, last_day
from promsvc.delivery.outbox import (
    CLAIMABLE, E, I, Item, M, Outcomes, Report, claim, failure_chain, load, mark_sending, when_unconfirmed,
)
from promsvc.delivery.sms import SmsChannel
from promsvc.delivery.timing import next_daily
from promsvc.invitations import links, moves
from promsvc.invitations.states import PENDING
from promsvc.models import LetterBatch, Status, new_id

log = logging.getLogger("promsvc.delivery")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ------------------------------------------------------------------------------------- plan


def _insert_ignore(dialect: str):
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
        at = window.next_open(due_at + k * reminders.after)
        if at >= expires_at:
            break
        rows.append(dict(base, id=_id(), kind="reminder", number=k, status="queued", skip_reason=None, due_at=at,
                         next_attempt_at=at))
    return rows


def _id() -> str:
    return new_id()


# ----------------------------------------------------------------------------------- expire


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
                if moves.move(conn, inv_id, PENDING, Status.expired, now, "window closed"):
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


# ---------------------------------------------------------------------------------- recover


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


# -------------------------------------------------------------------------------- dispatch


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
    # PostgreSQL: each `sending` record is one statement committing by itself (one round trip).
    # SQLite: a short transaction of its own (its BEGIN IMMEDIATE takes the write lock).
    with d.engine.connect() as conn:
        marks = d.engine.connect().execution_options(isolation_level="AUTOCOMMIT") \
            if conn.dialect.name == "postgresql" else None
        try:
            (_send_email if channel == "email" else _send_sms)(d, conn, marks, items, now, outcomes)
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


def _link(d: Delivery, token: str) -> str:
    return f"{d.config.base_url}/q/{token}"


def _render(d: Delivery, item: Item, channel: str):
    return d.templates.render(item.registry_id, item.kind, channel, item.language, link=_link(d, item.token),
                              expires=last_day(item.expires_at, d.config.tz))


def _refused(item: Item, channel: str, e: HealthInformation) -> str:
    return failure_chain(item.last_error, channel, f"text refused: {e.term!r} could reveal health information")


def _send_email(d: Delivery, conn: sa.Connection, marks: sa.Connection | None, items: list[Item], now: dt.datetime,
                outcomes: Outcomes) -> None:
    assert d.config.smtp is not None
    with SmtpChannel(d.config.smtp) as smtp:
        for n, item in enumerate(items):
            if _stopping(d, items[n:], now, outcomes):
                return
            try:
                text = _render(d, item, "email")
            except HealthInformation as e:
                outcomes.give_up(item, _refused(item, "email", e))
                continue
            # Recorded (with the success before it) before anything of it goes out: so a message
            # is `sending` only from here to its reply, and a crash leaves at most this one.
            if not _mark(d, conn, marks, item, "email", outcomes):
                outcomes.report.add("lost claim")  # another dispatcher took it over (our claim ran out)
                continue
            try:
                prepared = smtp.prepare(message_id=item.id, to=item.address,
                                        from_name=d.templates.sender(item.registry_id), subject=text.subject or "",
                                        body=text.body, now=now)
                smtp.finish(prepared)
            except ChannelDown as e:
                outcomes.failed(item, "email", e)
                _put_back(d, items[n + 1:], now, outcomes)
                log.warning("e-mail channel down: %s", e.reason)
                return
            except DeliveryFailure as e:
                outcomes.failed(item, "email", e)
                continue
            outcomes.sent(item, "email")


def _send_sms(d: Delivery, conn: sa.Connection, marks: sa.Connection | None, items: list[Item], now: dt.datetime,
              outcomes: Outcomes) -> None:
    assert d.config.sms is not None
    with SmsChannel(d.config.sms) as gateway:
        for n, item in enumerate(items):
            if _stopping(d, items[n:], now, outcomes):
                return
            try:
                text = _render(d, item, "sms")
            except HealthInformation as e:
                outcomes.give_up(item, _refused(item, "sms", e))
                continue
            if not _mark(d, conn, marks, item, "sms", outcomes):
                outcomes.report.add("lost claim")
                continue
            try:
                gateway.send(reference=item.id, to=item.address, text=text.body)
            except ChannelDown as e:
                outcomes.failed(item, "sms", e)
                _put_back(d, items[n + 1:], now, outcomes)
                log.warning("SMS channel down: %s", e.reason)
                return
            except DeliveryFailure as e:
                outcomes.failed(item, "sms", e)
                continue
            outcomes.sent(item, "sms")


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


# --------------------------------------------------------------------------------- letters


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
        try:
            text = d.templates.render(registry_id, item.kind, "letter", item.language, link=_link(d, token),
                                      expires=last_day(item.expires_at, d.config.tz))
        except HealthInformation as e:
            outcomes.give_up(item, f"letter: text refused: {e.term!r} could reveal health information")
            continue
        link_rows.extend(rows)
        printable.append((item, Letter(sender=d.templates.sender(registry_id), address=item.address or "",
                                       text=text.body, link=_link(d, token), code=links.format_code(code),
                                       code_url=f"{d.config.base_url}/code", language=item.language,
                                       date=now.astimezone(d.config.tz).date())))
    if not printable:
        return
    pdf = render_batch([letter for _, letter in printable])
    batch_id = _id()
    conn.execute(sa.insert(LetterBatch.__table__).values(id=batch_id, registry_id=registry_id, created_at=now,
                                                         letters=len(printable), pdf=pdf, fetched_at=None))
    link_ids = links.issue(conn, link_rows)
    for (item, _), link_id in zip(printable, link_ids[::2], strict=True):
        item.link_id = link_id
        outcomes.sent(item, "letter", batch_id=batch_id)
    log.info("letter batch of %d for registry %s", len(printable), registry_id)


# ------------------------------------------------------------------------------------ tick


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

