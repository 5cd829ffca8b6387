"""Database tables (SQLModel). API schemas live beside their controllers, not here.

Times are UTC (`timezone-aware` in Python, stored as UTC). Answers are stored once and never
changed. Contact details are kept in their own table so that they can be deleted when no
longer needed without touching anything else.
"""

from __future__ import annotations

import datetime as dt
import enum
import os
import time
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(sa.types.TypeDecorator):
    """A timestamp that goes in and comes out as UTC, on SQLite (which has no time zones) too."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC times")
        return value.astimezone(dt.UTC) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value


def _time(**kw: Any) -> Any:  # Any, as sqlmodel.Field itself returns: the column's value type
    return Field(sa_type=UTCDateTime, **kw)


def table(model: type[SQLModel]) -> sa.Table:
    """The `sa.Table` of a table model, for Core statements (bulk inserts, joins, `.c` columns)."""
    # SQLModel's metaclass sets `__table__` on every `table=True` class, but its types do not declare it.
    return model.__table__  # type: ignore[attr-defined]


def new_id() -> str:
    """A new row id: a UUID version 7 (RFC 9562, section 5.7) as 32 hex digits.

    Its first 48 bits are the time in milliseconds, and the rest is random (74 bits). Rows made
    one after the other get ids in about the same order, so each insert lands at the end of the
    primary key's index instead of on a random page of it: a batch of submissions then writes a
    few pages to the write-ahead log, not one page per row.
    """
    ms = time.time_ns() // 1_000_000
    random = int.from_bytes(os.urandom(10), "big")
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | (random >> 68 & 0xFFF) << 64 | 0b10 << 62 | random & (1 << 62) - 1
    return f"{value:032x}"


class Role(str, enum.Enum):
    system = "system"  # enrol episodes, issue links
    registry = "registry"  # patient-level data of its own registry
    analyst = "analyst"  # aggregates only
    admin = "admin"


class Status(str, enum.Enum):
    """Invitation status; every change is also written to `invitation_event`."""

    planned = "planned"
    open = "open"
    started = "started"
    completed = "completed"
    expired = "expired"
    withdrawn = "withdrawn"
    failed = "failed"


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"
    id: str = Field(default_factory=new_id, primary_key=True)
    key_hash: str = Field(unique=True, index=True)  # SHA-256 of the key; the key is shown once
    role: Role
    registry_id: str | None = Field(default=None, index=True)
    label: str = ""
    created_at: dt.datetime = _time(default_factory=utcnow)
    revoked_at: dt.datetime | None = _time(default=None)


class Episode(SQLModel, table=True):
    """One patient's course in one protocol, e.g. one primary hip replacement."""

    __tablename__ = "episode"
    __table_args__ = (sa.UniqueConstraint("registry_id", "external_id"),)
    id: str = Field(default_factory=new_id, primary_key=True)
    registry_id: str = Field(index=True)
    external_id: str  # the id in the registry's own platform
    pseudonym: str  # the registry's pseudonym of the patient; never logged
    unit_id: str
    protocol_id: str
    event_date: dt.date
    language: str
    proxy_allowed: bool = False
    payload_hash: str  # SHA-256 of the enrolment payload: same id + other payload → 409
    withdrawn_at: dt.datetime | None = _time(default=None)
    withdrawn_reason: str | None = None
    created_at: dt.datetime = _time(default_factory=utcnow)
    # The protocol's declared attributes (registries.schema.Attribute) that are known: {id: value},
    # values as JSON (category: text, integer, boolean, date: "YYYY-MM-DD"). Never identifying.
    attributes: dict = Field(default_factory=dict, sa_type=sa.JSON, sa_column_kwargs={"server_default": "{}"})
    # Set by the registry (PUT /api/v1/episodes/{id}/delivery-flags); checked before every message.
    deceased_at: dt.datetime | None = _time(default=None)
    reserved_address: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})  # *sperret adresse*
    consent_withdrawn_at: dt.datetime | None = _time(default=None)


class Contact(SQLModel, table=True):
    """How to reach the patient of an episode; deleted when no longer needed."""

    __tablename__ = "contact"
    id: int | None = Field(default=None, primary_key=True)
    episode_id: str = Field(foreign_key="episode.id", index=True)
    channel: str  # email, sms, letter
    address: str


class Invitation(SQLModel, table=True):
    """A request to answer one time point of one episode."""

    __tablename__ = "invitation"
    # Indexes cost every write that changes their columns: no index on `status` (a handful of
    # values; the jobs find their rows by `due_at` and `expires_at`), and none on `episode_id`
    # alone (the unique (episode_id, time_point) serves it).
    __table_args__ = (sa.UniqueConstraint("episode_id", "time_point"),)
    id: str = Field(default_factory=new_id, primary_key=True)
    episode_id: str = Field(foreign_key="episode.id")
    registry_id: str = Field(index=True)
    time_point: str
    due_at: dt.datetime = _time(index=True)
    expires_at: dt.datetime = _time(index=True)
    status: Status = Field(default=Status.planned)
    channel: str | None = None  # the channel of the last link issued
    status_at: dt.datetime = _time(default_factory=utcnow)
    failure: str | None = None


class InvitationEvent(SQLModel, table=True):
    """Every status change of an invitation, with its time."""

    __tablename__ = "invitation_event"
    id: int | None = Field(default=None, primary_key=True)
    invitation_id: str = Field(foreign_key="invitation.id", index=True)
    status: Status
    at: dt.datetime = _time(default_factory=utcnow)
    note: str | None = None  # a reason (withdrawn, failed); never personal data


class Draft(SQLModel, table=True):
    """Answers saved before submission; one per invitation, replaced on every save."""

    __tablename__ = "draft"
    invitation_id: str = Field(foreign_key="invitation.id", primary_key=True)
    answers: dict = Field(default_factory=dict, sa_type=sa.JSON)  # {instrument: {item: code}}
    # {instrument: [item, …]}: the items of every page the patient has saved, so that "Continue"
    # skips what was seen and left blank (promsvc.patient.paging). NULL in drafts saved before
    # it was kept: their answered items count as seen.
    seen: dict | None = Field(default=None, sa_type=sa.JSON, nullable=True)
    language: str
    respondent: str = "patient"  # patient | proxy
    started_at: dt.datetime = _time(default_factory=utcnow)
    updated_at: dt.datetime = _time(default_factory=utcnow)


class Response(SQLModel, table=True):
    """Submitted answers to one instrument; written once, never changed."""

    __tablename__ = "response"
    __table_args__ = (sa.UniqueConstraint("invitation_id", "instrument_id"),)
    id: str = Field(default_factory=new_id, primary_key=True)
    # no index of its own: the unique (invitation_id, instrument_id) serves lookups by invitation
    invitation_id: str = Field(foreign_key="invitation.id")
    episode_id: str = Field(foreign_key="episode.id", index=True)
    registry_id: str = Field(index=True)
    instrument_id: str
    instrument_version: str
    answers: dict = Field(sa_type=sa.JSON)  # {item: code or None}
    language: str
    channel: str
    respondent: str  # patient | proxy
    started_at: dt.datetime = _time()
    submitted_at: dt.datetime = _time(default_factory=utcnow)


class Score(SQLModel, table=True):
    """Scores of one response by one scoring, with what produced them.

    Re-scoring adds a row and clears `current` on the old one, so differences stay visible.
    """

    __tablename__ = "score"
    id: int | None = Field(default=None, primary_key=True)
    response_id: str = Field(foreign_key="response.id", index=True)
    instrument_id: str
    instrument_version: str
    scoring: str
    scoring_version: str
    value_set: str | None = None  # e.g. "EQ-5D-5L · VT · Norway"
    values: dict = Field(sa_type=sa.JSON)  # {score id: number, text or None}
    current: bool = True
    computed_at: dt.datetime = _time(default_factory=utcnow)


class AuditEntry(SQLModel, table=True):
    """Every read or write of patient-level data: who, in which role, what, which episode, when."""

    __tablename__ = "audit"
    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = _time(default_factory=utcnow, index=True)
    actor: str  # api key id, or "patient" for the holder of a link
    role: str
    action: str  # e.g. episode.read, episode.enrol, responses.export, response.submit
    registry_id: str | None = None
    episode_id: str | None = Field(default=None, index=True)
    outcome: str  # audit.OUTCOMES


# ---- delivery (promsvc.delivery): the outbox, links and letter batches


class MessageStatus(str, enum.Enum):
    """Where a message is; see docs/delivery.md for the transitions."""

    queued = "queued"  # waiting for its time (next_attempt_at)
    sending = "sending"  # an attempt is under way: recorded before the message leaves
    sent = "sent"
    unconfirmed = "unconfirmed"  # cut between the final dot and the reply; held for staff (protocol: hold)
    retrying = "retrying"  # a temporary failure; tried again at next_attempt_at
    failed = "failed"  # every channel failed
    skipped = "skipped"  # not sent, on purpose (skip_reason)


class InvitationLink(SQLModel, table=True):
    """A way into an invitation: a link issued in the clinic, the token of one message's link, or
    a letter's short code (promsvc.invitations.links).

    Each message gets its own token, so a reminder never needs an earlier token (which is only
    stored as a hash); every unrevoked link works until its invitation expires.
    """

    __tablename__ = "invitation_link"
    id: int | None = Field(default=None, primary_key=True)
    invitation_id: str = Field(foreign_key="invitation.id", index=True)
    token_hash: str = Field(unique=True, index=True)  # SHA-256 of the token or of the normalised code
    kind: str = "token"  # token | code
    channel: str  # the channel that carried it: clinic, email, sms, letter, code (entry page)
    issued_at: dt.datetime = _time(default_factory=utcnow)
    revoked_at: dt.datetime | None = _time(default=None)


class LetterBatch(SQLModel, table=True):
    """One day's printable letters of one registry: a PDF kept until staff fetch it."""

    __tablename__ = "letter_batch"
    id: str = Field(default_factory=new_id, primary_key=True)
    registry_id: str = Field(index=True)
    created_at: dt.datetime = _time(default_factory=utcnow)
    letters: int
    pdf: bytes | None = Field(default=None, sa_type=sa.LargeBinary)  # cleared once fetched
    fetched_at: dt.datetime | None = _time(default=None)


class Message(SQLModel, table=True):
    """One message to a patient: the invitation (number 0) or a reminder (1, 2 …) of one invitation.

    The database decides what is due: a message is claimed when `next_attempt_at` has passed.
    (invitation, kind, number) is unique, so no message can be planned, or sent, twice.
    """

    __tablename__ = "message"
    # Each message is updated three times on its way out (claimed, sending, sent): only the
    # indexes the jobs search by. The unique (invitation_id, kind, number) serves `invitation_id`.
    __table_args__ = (
        sa.UniqueConstraint("invitation_id", "kind", "number"),
        sa.Index("ix_message_status_next_attempt_at", "status", "next_attempt_at"),
        # The few rows a dispatcher holds: what the recovery looks through after a crash.
        # Partial on both databases; SQLAlchemy takes the condition once per dialect.
        sa.Index("ix_message_claimed_until", "claimed_until", sqlite_where=sa.text("claimed_by IS NOT NULL"),
                 postgresql_where=sa.text("claimed_by IS NOT NULL")),
    )
    id: str = Field(default_factory=new_id, primary_key=True)
    invitation_id: str = Field(foreign_key="invitation.id")
    registry_id: str
    kind: str  # invitation | reminder
    number: int  # 0 for the invitation, 1 … K for reminders
    channel: str | None = None  # channel of the current or last attempt; None until the first
    status: MessageStatus = Field(default=MessageStatus.queued)
    due_at: dt.datetime = _time()  # when it was planned to leave (inside the sending window)
    next_attempt_at: dt.datetime = _time()
    attempts: int = 0  # all attempts, on every channel
    channel_attempts: int = 0  # attempts on the current channel (backoff counts these)
    last_error: str | None = None  # cause of the last failure, per channel; never personal data
    claimed_by: str | None = None  # the dispatcher holding the lease
    claimed_until: dt.datetime | None = _time(default=None)
    sent_at: dt.datetime | None = _time(default=None)
    skip_reason: str | None = None
    link_id: int | None = Field(default=None, foreign_key="invitation_link.id")
    batch_id: str | None = Field(default=None, foreign_key="letter_batch.id")
    created_at: dt.datetime = _time(default_factory=utcnow)


class PublicationRow(SQLModel, table=True):
    """One published set of a registry's results (promsvc.reports.publication): the engine's
    results with the definitions that produced them and aggregate score summaries, as msgspec
    JSON. Result pages and open data serve the newest row; `etag` is the SHA-256 of `content`."""

    __tablename__ = "publication"
    __table_args__ = (sa.Index("ix_publication_registry_published", "registry_id", "published_at"),)
    id: str = Field(default_factory=new_id, primary_key=True)
    registry_id: str
    published_at: dt.datetime = _time(default_factory=utcnow)
    period: str  # the newest year it holds, what reports are about by default
    etag: str
    content: bytes = Field(sa_type=sa.LargeBinary)


class FailedTry(SQLModel, table=True):
    """A wrong letter code (or a forged post of the code page) from one client: the rate limit
    of the code page, shared by every worker and instance (promsvc.delivery.ratelimit)."""

    __tablename__ = "failed_try"
    __table_args__ = (sa.Index("ix_failed_try_client_at", "client", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    client: str  # a keyed hash of the client's address, never the address itself
    at: dt.datetime = _time(index=True)
