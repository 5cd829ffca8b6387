"""The outbox: claiming due messages, what is known about each, and recording what happened.

Used by the jobs (promsvc.delivery.jobs) and the dry run. Core SQL on one connection, because a
batch makes thousands of small writes.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from promsvc.db import when_unlocked
from promsvc.delivery.channels import Ambiguous, ChannelDown, DeliveryFailure, Temporary
from promsvc.delivery.config import Delivery
from promsvc.delivery.decide import Facts, next_channel
from promsvc.delivery.timing import next_daily
from promsvc.invitations import moves
from promsvc.models import Contact, Episode, Invitation, Message, Status, table

M = table(Message)
I = table(Invitation)  # noqa: E741
E = table(Episode)
C = table(Contact)
CLAIMABLE = ("queued", "retrying")


@dataclass
class Report:
    """What one job did, as counts (no personal data)."""

    counts: Counter = field(default_factory=Counter)

    def add(self, key: str, n: int = 1) -> None:
        if n:
            self.counts[key] += n

    def merge(self, other: Report) -> Report:
        self.counts.update(other.counts)
        return self

    def __str__(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items())) or "nothing to do"


def claim(d: Delivery, conn: sa.Connection, now: dt.datetime, *, letters: bool, limit: int | None = None) -> list[str]:
    """Claim up to `limit` due messages for this dispatcher: one UPDATE per status, committed.

    PostgreSQL: the candidate rows are locked with FOR UPDATE SKIP LOCKED, so two dispatchers
    claiming at once get disjoint batches without waiting for each other. SQLite: the
    transaction starts with BEGIN IMMEDIATE (promsvc.db), so claims run one at a time. A claim
    expires after `dispatch_lease`; a message still `queued` under an expired claim (its
    dispatcher died before sending it) is claimed again."""
    channel_filter = (M.c.channel == "letter") if letters else sa.or_(M.c.channel.is_(None), M.c.channel != "letter")
    wanted = limit or d.config.batch
    ids: list[str] = []
    with conn.begin():
        # One status at a time, so that the index on (status, next_attempt_at) hands the rows over
        # already in order and the database stops after `wanted`, however long the backlog.
        for status in ("retrying", "queued"):
            candidates = (
                sa.select(M.c.id)
                .where(M.c.status == status, M.c.next_attempt_at <= now, channel_filter,
                       sa.or_(M.c.claimed_until.is_(None), M.c.claimed_until < now))
                .order_by(M.c.next_attempt_at)
                .limit(wanted - len(ids))
                .with_for_update(skip_locked=True)
            )
            ids += conn.execute(
                sa.update(M).where(M.c.id.in_(candidates.scalar_subquery()))
                .values(claimed_by=d.instance, claimed_until=now + d.config.lease)
                .returning(M.c.id)
            ).scalars().all()
            if len(ids) >= wanted:
                break
    return sorted(ids)


@dataclass
class Item:
    """One claimed message with what is known about it."""

    id: str
    invitation_id: str
    registry_id: str
    kind: str
    number: int
    channel: str | None
    attempts: int
    channel_attempts: int
    last_error: str | None
    expires_at: dt.datetime
    language: str
    next_attempt_at: dt.datetime
    facts: Facts
    unconfirmed: str = "resend"  # the protocol's choice for this kind of message (when_unconfirmed)
    # filled in while sending
    link_id: int | None = None
    token: str | None = None
    code: str | None = None
    address: str | None = None
    marked: bool = False  # recorded as `sending`


def load(d: Delivery, conn: sa.Connection, ids: list[str]) -> list[Item]:
    rows = conn.execute(
        sa.select(M.c.id, M.c.invitation_id, M.c.registry_id, M.c.kind, M.c.number, M.c.channel, M.c.attempts,
                  M.c.channel_attempts, M.c.last_error, M.c.next_attempt_at, I.c.status, I.c.expires_at, I.c.episode_id, E.c.protocol_id,
                  E.c.language, E.c.withdrawn_at, E.c.deceased_at, E.c.consent_withdrawn_at, E.c.reserved_address)
        .join(I, I.c.id == M.c.invitation_id).join(E, E.c.id == I.c.episode_id)
        .where(M.c.id.in_(ids)).order_by(M.c.id)
    ).all()
    episode_ids = {r.episode_id for r in rows}
    contacts: dict[str, dict[str, str]] = defaultdict(dict)
    for episode_id, channel, address in conn.execute(
            sa.select(C.c.episode_id, C.c.channel, C.c.address).where(C.c.episode_id.in_(episode_ids)).order_by(C.c.id)):
        contacts[episode_id].setdefault(channel, address)
    previous: dict[tuple[str, int], tuple[str, dt.datetime | None]] = {}
    reminder_invitations = {r.invitation_id for r in rows if r.kind == "reminder"}
    if reminder_invitations:
        for inv_id, number, status, sent_at in conn.execute(
                sa.select(M.c.invitation_id, M.c.number, M.c.status, M.c.sent_at)
                .where(M.c.invitation_id.in_(reminder_invitations))):
            previous[(inv_id, number)] = (str(status.value if hasattr(status, "value") else status), sent_at)
    items = []
    for r in rows:
        registry = d.registries.get(r.registry_id)
        protocol = registry.protocol(r.protocol_id) if registry is not None else None
        prev = previous.get((r.invitation_id, r.number - 1)) if r.kind == "reminder" else None
        facts = Facts(
            kind=r.kind, number=r.number, channel=r.channel, invitation_status=_value(r.status),
            expires_at=r.expires_at, withdrawn=r.withdrawn_at is not None, deceased=r.deceased_at is not None,
            consent_withdrawn=r.consent_withdrawn_at is not None, reserved_address=bool(r.reserved_address),
            contacts=contacts.get(r.episode_id, {}), channels=tuple(protocol.channels) if protocol else (),
            reminder_after=protocol.reminders.after if protocol and protocol.reminders else None,
            previous_status=prev[0] if prev else None, previous_sent_at=prev[1] if prev else None,
        )
        items.append(Item(r.id, r.invitation_id, r.registry_id, r.kind, r.number, r.channel, r.attempts,
                          r.channel_attempts, r.last_error, r.expires_at, r.language, r.next_attempt_at, facts,
                          when_unconfirmed(d, r.registry_id, r.protocol_id, r.kind)))
    return items


def when_unconfirmed(d: Delivery, registry_id: str, protocol_id: str, kind: str) -> str:
    """`resend` or `hold`: what the protocol wants done with a message of `kind` whose send was cut
    between its final dot and the reply (promsvc.registries.schema.WhenUnconfirmed)."""
    registry = d.registries.get(registry_id)
    protocol = registry.protocol(protocol_id) if registry is not None else None
    return getattr(protocol.unconfirmed, kind, "resend") if protocol is not None else "resend"


def _value(status) -> str:
    return status.value if hasattr(status, "value") else str(status)


# ----------------------------------------------------------------------- recording outcomes


def failure_chain(old: str | None, channel: str, reason: str) -> str:
    """The failure history of a message, one segment per channel: `email: SMTP RCPT: 550; sms: …`."""
    segments = old.split("; ") if old else []
    new = f"{channel}: {reason}"
    if segments and segments[-1].startswith(channel + ":"):
        segments[-1] = new
    else:
        segments.append(new)
    return "; ".join(segments)[-500:]


class Outcomes:
    """State changes decided during a batch.

    Failures, skips and waits (`pending`) are written with the next commit, so that a crash can
    never leave a failed attempt looking like a delivered one. Successes (`done`) are written
    together, at the end of the batch (`flush`): until then such a message is `sending`, which
    after a crash counts as delivered too (`unconfirmed`), so batching them loses nothing.
    """

    def __init__(self, d: Delivery, now: dt.datetime, report: Report):
        self.d, self.now, self.report = d, now, report
        self.pending: list[Callable[[sa.Connection], object]] = []  # run for their effect
        self.done: list[tuple[Item, str, str, str | None]] = []  # item, status, channel, letter batch
        self.unrecorded: list[str] = []  # successes whose `sent` goes with the next `sending` record

    def write(self, conn: sa.Connection) -> None:
        for change in self.pending:
            change(conn)
        self.pending.clear()

    def flush(self, conn: sa.Connection) -> None:
        """Write everything: the pending changes and the successes (in a few statements)."""
        self.write(conn)
        self.unrecorded.clear()
        if not self.done:
            return
        common = dict(sent_at=self.now, claimed_by=None, claimed_until=None)
        # Messages recorded as `sending` differ only in status and channel: one statement per
        # pair rather than one per message.
        marked: dict[tuple[str, str], list[str]] = defaultdict(list)
        for i, st, ch, _ in self.done:
            if i.marked:
                marked[st, ch].append(i.id)
        for (status, channel), ids in marked.items():
            conn.execute(sa.update(M).where(M.c.id.in_(ids), M.c.claimed_by == self.d.instance)
                         .values(status=status, channel=channel, **common))
        unmarked = [dict(b_id=i.id, b_status=st, b_channel=ch, b_attempts=i.attempts + 1,
                         b_channel_attempts=i.channel_attempts + 1, b_link=i.link_id, b_batch=batch)
                    for i, st, ch, batch in self.done if not i.marked]
        if unmarked:  # letters: no separate `sending` record
            conn.execute(sa.update(M).where(M.c.id == sa.bindparam("b_id"), M.c.claimed_by == self.d.instance).values(
                status=sa.bindparam("b_status"), channel=sa.bindparam("b_channel"),
                attempts=sa.bindparam("b_attempts"), channel_attempts=sa.bindparam("b_channel_attempts"),
                link_id=sa.bindparam("b_link"), batch_id=sa.bindparam("b_batch"), **common), unmarked)
        # `invitation.channel` is the channel of the last link issued (what a response records).
        by_channel: dict[str, list[str]] = defaultdict(list)
        for i, _, ch, _ in self.done:
            by_channel[ch].append(i.invitation_id)
        for channel, invitation_ids in by_channel.items():
            conn.execute(sa.update(I).where(I.c.id.in_(invitation_ids)).values(channel=channel))
        notes = {i.invitation_id: f"invitation sent ({ch}{', unconfirmed' if st == 'unconfirmed' else ''})"
                 for i, st, ch, _ in self.done if i.kind == "invitation"}
        moves.move_many(conn, list(notes), (Status.planned,), Status.open, self.now, notes)
        self.done.clear()

    def _message(self, item: Item, **values) -> None:
        values.setdefault("claimed_by", None)
        values.setdefault("claimed_until", None)
        # Only while this dispatcher holds the claim: a message taken over by another (our lease
        # ran out) is theirs to record.
        self.pending.append(lambda conn: conn.execute(
            sa.update(M).where(M.c.id == item.id, M.c.claimed_by == self.d.instance).values(**values)))

    def skip(self, item: Item, reason: str) -> None:
        self._message(item, status="skipped", skip_reason=reason)
        self.report.add(f"skipped ({reason})")

    def wait(self, item: Item, until: dt.datetime) -> None:
        self._message(item, next_attempt_at=until)
        self.report.add("waiting")

    def to_letters(self, item: Item, at: dt.datetime) -> None:
        self._message(item, channel="letter", channel_attempts=0, next_attempt_at=at)
        self.report.add("to the letter batch")

    def release(self, item: Item, at: dt.datetime) -> None:
        self._message(item, next_attempt_at=at)
        self.report.add("put back (channel down)")

    def sent(self, item: Item, channel: str, *, unconfirmed: bool = False, batch_id: str | None = None) -> None:
        status = "unconfirmed" if unconfirmed else "sent"
        self.done.append((item, status, channel, batch_id))
        if item.marked and not unconfirmed:
            self.unrecorded.append(item.id)
        self.report.add(f"{status} {channel}")

    def failed(self, item: Item, channel: str, failure: DeliveryFailure) -> None:
        """A failed attempt: retry later, or move on to the next channel, or give up."""
        attempts = item.attempts + (0 if item.marked else 1)
        channel_attempts = item.channel_attempts + (0 if item.marked else 1)
        history = failure_chain(item.last_error, channel, failure.reason)
        # Ambiguous: the connection broke between the final dot and the reply. SMS repeats the
        # same reference (the gateway sends it once); e-mail does what the protocol chose.
        retryable = isinstance(failure, (Temporary, ChannelDown)) or (
            isinstance(failure, Ambiguous) and (channel == "sms" or item.unconfirmed == "resend"))
        if isinstance(failure, Ambiguous) and not retryable:
            self.sent(item, channel, unconfirmed=True)
            history = failure_chain(item.last_error, channel, f"{failure.reason}; held for staff")
            self.pending.append(lambda conn: conn.execute(
                sa.update(M).where(M.c.id == item.id).values(last_error=history)))
            return
        if isinstance(failure, Ambiguous) and channel != "sms":
            history = failure_chain(item.last_error, channel, f"{failure.reason}; sent again (possible duplicate)")
        if retryable:
            again = self.d.config.backoff.next_attempt(channel_attempts, self.now)
            if again is not None and again < item.expires_at:
                self._message(item, status="retrying", attempts=attempts, channel_attempts=channel_attempts,
                              channel=channel, next_attempt_at=self.d.config.window.next_open(again),
                              last_error=history)
                self.report.add(f"retrying {channel}")
                return
        self.fall_back(item, channel, history, attempts)

    def fall_back(self, item: Item, channel: str, history: str, attempts: int) -> None:
        nxt, passed = next_channel(item.facts, self.d.config, channel)
        for reason in passed:
            history = failure_chain(history, *reason.split(": ", 1))
        if nxt is not None:
            at = next_daily(self.now, self.d.config.letter_time, self.d.config.tz) if nxt == "letter" else self.now
            self._message(item, status="queued", attempts=attempts, channel=nxt, channel_attempts=0,
                          next_attempt_at=at, last_error=history)
            self.report.add(f"fell back {channel}→{nxt}")
            return
        self.give_up(item, history, attempts=attempts, channel=channel)

    def give_up(self, item: Item, cause: str, *, attempts: int | None = None, channel: str | None = None) -> None:
        values: dict[str, object] = dict(status="failed", last_error=cause[-500:])
        if attempts is not None:
            values["attempts"] = attempts
        if channel is not None:
            values["channel"] = channel
        self._message(item, **values)
        if item.kind == "invitation":
            self.pending.append(lambda conn: moves.move(conn, item.invitation_id, (Status.planned,), Status.failed,
                                                        self.now, f"not delivered: {cause}"[:500]))
        self.report.add("failed")


# The one statement run for every message, written out for the driver: through SQLAlchemy it
# costs several times more than the database takes to run it. Parameters in each driver's style.
_MARK_SQL = ("UPDATE message SET status = 'sending', channel = {channel}, attempts = attempts + 1, "
             "channel_attempts = channel_attempts + 1, link_id = {link} "
             "WHERE id = {id} AND claimed_by = {by} AND status IN ('queued', 'retrying')")
_MARK = {
    "sqlite": _MARK_SQL.format(channel=":channel", link=":link", id=":id", by=":by"),
    "postgresql": _MARK_SQL.format(channel="%(channel)s", link="%(link)s", id="%(id)s", by="%(by)s"),
}
# The successes since the last record, written with it: `sent`, still claimed (the invitations
# are brought up to date when the batch's outcomes are flushed, or by the recovery after a crash).
_SENT_SQL = "UPDATE message SET status = 'sent', sent_at = {now} WHERE id {ids} AND claimed_by = {by} AND status = 'sending'"
_MARK_AFTER_SENT = "WITH done AS ({sent}) {mark}".format(
    sent=_SENT_SQL.format(now="%(now)s", ids="= ANY(%(done)s)", by="%(by)s"), mark=_MARK["postgresql"])


def mark_sending(d: Delivery, conn: sa.Connection, item: Item, channel: str, sent: Sequence[str] = (),
                 now: dt.datetime | None = None) -> bool:
    """Record the attempt before the message leaves, only if this dispatcher still holds the
    claim, together with the successes `sent` since the last record (sent at `now`): so that after
    a crash at most the message between its final dot and the reply is `sending`. One commit
    (`conn` must have no transaction open; on PostgreSQL it is an AUTOCOMMIT connection and this is
    one statement; on SQLite one short transaction)."""
    assert not conn.in_transaction()
    raw = conn.connection.driver_connection
    assert raw is not None  # the pool's connection is open: it has its driver's connection
    params: dict[str, object] = {"channel": channel, "link": item.link_id, "id": item.id, "by": d.instance}
    if sent:
        assert now is not None  # the successes come with the time they were sent (dispatch passes both)
        params.update(done=list(sent), now=_bound_time(conn.dialect, now))
    # SQLite: the driver's own transaction, whose BEGIN IMMEDIATE waits for another writer in
    # short steps (when_unlocked), and no data-modifying CTE to join the two updates. PostgreSQL:
    # one statement on an AUTOCOMMIT connection, row locks instead of a database lock.
    if conn.dialect.name == "sqlite":
        if sent:
            when_unlocked(raw, "BEGIN IMMEDIATE").close()
            try:
                marks = ", ".join(f":d{n}" for n in range(len(sent)))
                raw.execute(_SENT_SQL.format(now=":now", ids=f"IN ({marks})", by=":by"),
                            {"now": params["now"], "by": d.instance, **{f"d{n}": i for n, i in enumerate(sent)}})
                cursor = raw.execute(_MARK["sqlite"], params)
                raw.execute("COMMIT")
            except BaseException:
                raw.execute("ROLLBACK")
                raise
        else:
            cursor = when_unlocked(raw, _MARK["sqlite"], params)
    else:
        cursor = raw.execute(_MARK_AFTER_SENT if sent else _MARK["postgresql"], params)
    done = cursor.rowcount == 1
    cursor.close()
    if done:
        item.marked = True
        item.attempts += 1
        item.channel_attempts += 1
    return done


def _bound_time(dialect, value: dt.datetime):
    """A time as the column stores it, for a statement sent to the driver directly."""
    process = M.c.sent_at.type.bind_processor(dialect)
    return process(value) if process is not None else value
