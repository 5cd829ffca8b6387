"""The operations view of delivery: the outbox status, a dry run of today, and the episode flags
a registry sets. Counts and ids only; never an address, a pseudonym or a token."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Annotated

import msgspec
import sqlalchemy as sa
from msgspec import Meta
from sqlmodel import Session, col

from promsvc import audit
from promsvc.delivery.config import Delivery
from promsvc.delivery.decide import Fail, Send, Skip, ToLetters, Wait, decide
from promsvc.delivery.outbox import CLAIMABLE, load
from promsvc.delivery.planning import planned_rows
from promsvc.delivery.timing import local_day_bounds
from promsvc.invitations.states import INVITED, PENDING
from promsvc.models import Episode, Invitation, LetterBatch, Message, MessageStatus, Status, table
from promsvc.security import Caller

MESSAGE_STATUSES = [s.value for s in MessageStatus]


class ChannelCounts(msgspec.Struct, kw_only=True):
    registry: str
    channel: str  # "-" while no channel has been chosen yet
    due: int = 0  # queued or retrying, and its time has come: the dispatcher takes it now
    later: int = 0  # queued or retrying, its time not yet come
    queued: int = 0
    sending: int = 0
    sent: int = 0
    unconfirmed: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0


class SkipCount(msgspec.Struct, kw_only=True):
    registry: str
    reason: str
    messages: int


class TimePointRate(msgspec.Struct, kw_only=True):
    """Response rate so far: answered / invited, where invited counts invitations that are open,
    started, completed or expired (not those still planned, withdrawn or failed)."""

    registry: str
    protocol: str
    time_point: str
    invitations: int
    invited: int
    answered: int
    response_rate: float | None
    by_status: dict[str, int]


class OutboxStatus(msgspec.Struct, kw_only=True):
    at: dt.datetime
    # Totals over `messages`: what is left to send (due now, later; the next time), and what needs a look.
    due: int
    later: int
    next_at: dt.datetime | None  # when the next of `later` falls due
    sending: int
    unconfirmed: int  # cut between the final dot and the reply, held for staff (`promsvc outbox unconfirmed`)
    failed: int
    nothing_left_to_send: bool  # nothing due, later or being sent
    messages: list[ChannelCounts]
    skipped: list[SkipCount]
    response_rates: list[TimePointRate]
    letter_batches_waiting: int  # PDF batches not yet fetched (`promsvc outbox letters`)


def outbox_status(session: Session, registry: str | None, now: dt.datetime) -> OutboxStatus:
    M, I, E = table(Message), table(Invitation), table(Episode)  # noqa: E741
    where_m = [M.c.registry_id == registry] if registry else []
    counts: dict[tuple[str, str], ChannelCounts] = {}
    for reg, channel, status, n in session.execute(
            sa.select(M.c.registry_id, M.c.channel, M.c.status, sa.func.count())
            .where(*where_m).group_by(M.c.registry_id, M.c.channel, M.c.status)):
        key = (reg, channel or "-")
        row = counts.setdefault(key, ChannelCounts(registry=reg, channel=channel or "-"))
        setattr(row, _value(status), getattr(row, _value(status)) + n)
    next_at = None
    # One parameter used twice, so that PostgreSQL sees the grouped expression as the same one.
    come = M.c.next_attempt_at <= sa.bindparam("now", now, type_=M.c.next_attempt_at.type)
    for reg, channel, is_due, n, first in session.execute(
            sa.select(M.c.registry_id, M.c.channel, come, sa.func.count(), sa.func.min(M.c.next_attempt_at))
            .where(M.c.status.in_(CLAIMABLE), *where_m).group_by(M.c.registry_id, M.c.channel, come)):
        row = counts[(reg, channel or "-")]
        if is_due:
            row.due += n
        else:
            row.later += n
            next_at = first if next_at is None else min(next_at, first)
    skipped = [
        SkipCount(registry=reg, reason=reason or "-", messages=n)
        for reg, reason, n in session.execute(
            sa.select(M.c.registry_id, M.c.skip_reason, sa.func.count())
            .where(M.c.status == "skipped", *where_m).group_by(M.c.registry_id, M.c.skip_reason)
            .order_by(M.c.registry_id, M.c.skip_reason))
    ]
    where_i = [I.c.registry_id == registry] if registry else []
    rates: dict[tuple[str, str, str], dict[str, int]] = defaultdict(dict)
    for reg, protocol, tp, status, n in session.execute(
            sa.select(I.c.registry_id, E.c.protocol_id, I.c.time_point, I.c.status, sa.func.count())
            .join(E, E.c.id == I.c.episode_id).where(*where_i)
            .group_by(I.c.registry_id, E.c.protocol_id, I.c.time_point, I.c.status)):
        rates[(reg, protocol, tp)][_value(status)] = n
    response_rates = []
    for (reg, protocol, tp), by_status in sorted(rates.items()):
        invited = sum(by_status.get(s.value, 0) for s in INVITED)
        answered = by_status.get("completed", 0)
        response_rates.append(TimePointRate(
            registry=reg, protocol=protocol, time_point=tp, invitations=sum(by_status.values()), invited=invited,
            answered=answered, response_rate=round(answered / invited, 4) if invited else None,
            by_status={s.value: by_status.get(s.value, 0) for s in Status},
        ))
    L = table(LetterBatch)
    waiting = session.execute(
        sa.select(sa.func.count()).select_from(L).where(L.c.pdf.is_not(None),
                                                        *([L.c.registry_id == registry] if registry else []))
    ).scalar_one()
    rows = sorted(counts.values(), key=lambda c: (c.registry, c.channel))
    total = {k: sum(getattr(c, k) for c in rows) for k in ("due", "later", "sending", "unconfirmed", "failed")}
    return OutboxStatus(at=now, **total, next_at=next_at,
                        nothing_left_to_send=not (total["due"] or total["later"] or total["sending"]), messages=rows,
                        skipped=skipped, response_rates=response_rates, letter_batches_waiting=waiting)


def _value(status) -> str:
    return status.value if hasattr(status, "value") else str(status)


class HeldMessage(msgspec.Struct, kw_only=True):
    id: str
    invitation: str
    registry: str
    kind: str
    number: int
    channel: str
    since: dt.datetime


def held_messages(session: Session, registry: str | None) -> list[HeldMessage]:
    """Messages held for staff (`unconfirmed`), oldest first."""
    M = table(Message)
    rows = session.execute(
        sa.select(M.c.id, M.c.invitation_id, M.c.registry_id, M.c.kind, M.c.number, M.c.channel, M.c.sent_at)
        .where(M.c.status == "unconfirmed", *([M.c.registry_id == registry] if registry else []))
        .order_by(M.c.sent_at)).all()
    return [HeldMessage(id=r.id, invitation=r.invitation_id, registry=r.registry_id, kind=r.kind, number=r.number,
                        channel=r.channel or "-", since=r.sent_at) for r in rows]


def settle_held(session: Session, ids: list[str], *, resend: bool, now: dt.datetime) -> list[str]:
    """Staff's decision on held messages: send again now (`resend`), or record as delivered.
    Returns the ids settled (only messages still held)."""
    M = table(Message)
    values = dict(status="retrying", next_attempt_at=now) if resend else dict(status="sent")
    done = session.execute(sa.update(M).where(M.c.id.in_(ids), M.c.status == "unconfirmed").values(**values)
                           .returning(M.c.id)).scalars().all()
    session.commit()
    return list(done)


# ------------------------------------------------------------------------------- dry run


class DryRunEntry(msgspec.Struct, kw_only=True):
    message: str | None  # the message id (None: not planned yet)
    invitation: str
    registry: str
    kind: str
    number: int
    at: dt.datetime  # when it would be handled (UTC)
    verdict: str  # send, skip, wait, letter-batch, fail
    channel: str | None
    reason: str | None


class DryRun(msgspec.Struct, kw_only=True):
    day: dt.date
    time_zone: str
    totals: dict[str, int]  # "send email" → n, "skip deceased" → n …
    entries: list[DryRunEntry]


def dry_run(d: Delivery, now: dt.datetime, registry: str | None = None, day: dt.date | None = None) -> DryRun:
    """What the jobs would do with the messages due on one local day (default: today): checked
    as at the moment each falls due, with today's database; nothing is written or sent."""
    tz = d.config.tz
    start, end = local_day_bounds(now if day is None else dt.datetime.combine(day, dt.time(12), tz), tz)
    start = max(start, now) if day is None else start
    entries: list[DryRunEntry] = []
    M = table(Message)
    with d.engine.connect() as conn, conn.begin():
        # Messages the planner has not written yet, as it would write them.
        for row in _unplanned(d, conn, now, end):
            if row["next_attempt_at"] < end and (registry is None or row["registry_id"] == registry):
                entries.append(DryRunEntry(message=None, invitation=row["invitation_id"], registry=row["registry_id"],
                                           kind=row["kind"], number=row["number"], at=max(row["next_attempt_at"], start),
                                           verdict="send (not planned yet)", channel=None, reason=None))
        ids = conn.execute(
            sa.select(M.c.id).where(M.c.status.in_(CLAIMABLE), M.c.next_attempt_at < end,
                                    *([M.c.registry_id == registry] if registry else []))
        ).scalars().all()
        for start_i in range(0, len(ids), 1000):
            for item in load(d, conn, list(ids[start_i:start_i + 1000])):
                at = max(item.next_attempt_at, start)
                letters = item.channel == "letter"
                if not letters and not d.config.window.contains(at):
                    at = d.config.window.next_open(at)
                    if at >= end:
                        continue
                decision = decide(item.facts, d.config, at, letters=letters)
                verdict, channel, reason = _describe(decision)
                entries.append(DryRunEntry(message=item.id, invitation=item.invitation_id, registry=item.registry_id,
                                           kind=item.kind, number=item.number, at=at, verdict=verdict, channel=channel,
                                           reason=reason))
    totals: dict[str, int] = defaultdict(int)
    for e in entries:
        totals[" ".join(filter(None, [e.verdict, e.channel, e.reason]))] += 1
    entries.sort(key=lambda e: (e.at, e.registry, e.invitation, e.number))
    return DryRun(day=start.astimezone(tz).date(), time_zone=tz.key, totals=dict(sorted(totals.items())),
                  entries=entries)


def _describe(decision) -> tuple[str, str | None, str | None]:
    if isinstance(decision, Send):
        return "send", decision.channel, None
    if isinstance(decision, Skip):
        return "skip", None, decision.reason
    if isinstance(decision, ToLetters):
        return "letter-batch", "letter", None
    if isinstance(decision, Wait):
        return "wait", None, f"until {decision.until.isoformat()}"
    assert isinstance(decision, Fail)
    return "fail", None, decision.cause


def _unplanned(d: Delivery, conn: sa.Connection, now: dt.datetime, until: dt.datetime) -> list[dict]:
    I, E, M = table(Invitation), table(Episode), table(Message)  # noqa: E741
    rows = conn.execute(
        sa.select(I.c.id, I.c.registry_id, I.c.due_at, I.c.expires_at, E.c.protocol_id)
        .join(E, E.c.id == I.c.episode_id)
        .where(I.c.status.in_(PENDING), I.c.expires_at > now, I.c.due_at < until,
               ~sa.exists().where(M.c.invitation_id == I.c.id, M.c.kind == "invitation", M.c.number == 0))
    ).all()
    return [v for r in rows for v in planned_rows(d, *r, now=now) if v["status"] == "queued"]


# ------------------------------------------------------------------------------- episode flags


class FlagsIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Flags the registry sets on an episode; each stops every message still to be sent.
    Leave a flag out to keep it as it is; `false` clears it (a mistake corrected)."""

    deceased: Annotated[bool | None, Meta(description="The patient has died.")] = None
    reserved_address: Annotated[bool | None, Meta(description=(
        "The patient has a reserved address (*sperret adresse*): no message of any kind is sent."))] = None
    consent_withdrawn: Annotated[bool | None, Meta(description="The patient withdrew consent to be contacted.")] = None


class FlagsOut(msgspec.Struct, kw_only=True):
    external_id: str
    deceased_at: dt.datetime | None
    reserved_address: bool
    consent_withdrawn_at: dt.datetime | None
    withdrawn_at: dt.datetime | None
    pending_messages: int  # still to be sent; each is checked against the flags before it leaves


def set_flags(session: Session, caller: Caller, episode: Episode, flags: FlagsIn, now: dt.datetime) -> FlagsOut:
    values: dict = {}
    if flags.deceased is not None:
        values["deceased_at"] = (episode.deceased_at or now) if flags.deceased else None
    if flags.reserved_address is not None:
        values["reserved_address"] = flags.reserved_address
    if flags.consent_withdrawn is not None:
        values["consent_withdrawn_at"] = (episode.consent_withdrawn_at or now) if flags.consent_withdrawn else None
    if values:
        session.execute(sa.update(Episode).where(col(Episode.id) == episode.id).values(**values))
        for key, value in values.items():
            setattr(episode, key, value)
    audit.record(session, caller.key_id, caller.role, "episode.flags", episode.registry_id, episode.id, "ok")
    out = flags_out(session, episode)
    session.commit()
    return out


def flags_out(session: Session, episode: Episode) -> FlagsOut:
    M, I = table(Message), table(Invitation)  # noqa: E741
    pending = session.execute(
        sa.select(sa.func.count()).select_from(M).join(I, I.c.id == M.c.invitation_id)
        .where(I.c.episode_id == episode.id, M.c.status.in_(CLAIMABLE))
    ).scalar_one()
    return FlagsOut(external_id=episode.external_id, deceased_at=episode.deceased_at,
                    reserved_address=bool(episode.reserved_address), consent_withdrawn_at=episode.consent_withdrawn_at,
                    withdrawn_at=episode.withdrawn_at, pending_messages=pending)
