"""API schemas of episodes (msgspec structs; not database tables).

Requests are strict: unknown fields and wrong types are refused with their JSON path.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from promsvc import numbers
from promsvc.episodes.attributes import Values
from promsvc.models import Status

Language = Literal["nb", "nn", "en"]
ContactChannel = Literal["email", "sms", "letter"]

# External ids appear in URLs (…/episodes/{external_id}), so they are kept URL-safe.
ExternalId = Annotated[str, Meta(
    pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$",
    description="The episode's id in the registry's own platform: 1-100 of A-Z a-z 0-9 . _ : - (starting with a letter or digit).",
)]
Pseudonym = Annotated[str, Meta(min_length=1, max_length=200, description="The registry's pseudonym of the patient.")]


class _Request(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    pass


class ContactIn(_Request, frozen=True):
    """How to reach the patient; kept apart from the episode and deleted when no longer needed."""

    channel: ContactChannel
    address: Annotated[str, Meta(min_length=1, max_length=500)]


class EnrolIn(_Request, frozen=True):
    """One episode to enrol. Enrolling the same external id again with the same fields returns
    the same episode; with other fields it is refused (409)."""

    external_id: ExternalId
    pseudonym: Pseudonym
    unit: Annotated[str, Meta(description="A unit id of the registry (e.g. a hospital).")]
    protocol: Annotated[str, Meta(description="A protocol id of the registry.")]
    event_date: Annotated[dt.date, Meta(description="The date of the event the time points follow (YYYY-MM-DD).")]
    language: Language = "nb"
    contacts: Annotated[list[ContactIn], Meta(max_length=10)] = []
    proxy: Annotated[bool, Meta(description="A proxy (parent, carer) may answer for the patient.")] = False
    attributes: Values = {}


EnrolBatchIn = Annotated[list[EnrolIn], Meta(min_length=1, max_length=1000)]  # length checked by the service too


class WithdrawIn(_Request, frozen=True):
    reason: Annotated[str, Meta(min_length=1, max_length=500, description="Why the episode is withdrawn; kept with it.")]


# ---------------------------------------------------------------- responses


class InvitationOut(msgspec.Struct, kw_only=True):
    time_point: str
    due_at: dt.datetime
    expires_at: dt.datetime
    status: Status
    status_at: dt.datetime


class EpisodeOut(msgspec.Struct, kw_only=True):
    """An enrolled episode and its planned invitations (what enrolment returns)."""

    id: str
    registry: str
    external_id: str
    unit: str
    protocol: str
    event_date: dt.date
    language: str
    proxy: bool
    created_at: dt.datetime
    withdrawn_at: dt.datetime | None = None
    attributes: dict[str, Any] = {}
    invitations: list[InvitationOut] = []


class BatchEntryOut(msgspec.Struct, kw_only=True):
    external_id: str
    id: str
    created: bool


class BatchOut(msgspec.Struct, kw_only=True):
    created: int
    existing: int
    episodes: list[BatchEntryOut]


class EventOut(msgspec.Struct, kw_only=True):
    status: Status
    at: dt.datetime
    note: str | None = None


class ScoreOut(msgspec.Struct, kw_only=True):
    scoring: str
    scoring_version: str
    value_set: str | None
    values: dict[str, Any]
    computed_at: dt.datetime

    def __post_init__(self) -> None:
        # numbers leave as promsvc.numbers writes them; the stored values keep full precision
        self.values = {k: numbers.clean(v) if isinstance(v, float) else v for k, v in self.values.items()}


class ResponseOut(msgspec.Struct, kw_only=True):
    instrument: str
    instrument_version: str
    language: str
    channel: str
    respondent: str
    started_at: dt.datetime
    submitted_at: dt.datetime
    answers: dict[str, Any]
    scores: list[ScoreOut]


class TimePointOut(msgspec.Struct, kw_only=True):
    id: str
    title: str
    instruments: list[str]
    due_at: dt.datetime
    expires_at: dt.datetime
    status: Status
    status_at: dt.datetime
    channel: str | None
    history: list[EventOut]
    responses: list[ResponseOut]


class EpisodeDetailOut(msgspec.Struct, kw_only=True):
    """An episode with everything the registry may read: time points, invitation statuses with
    their history, responses and their current scores."""

    id: str
    registry: str
    external_id: str
    pseudonym: str
    unit: str
    protocol: str
    event_date: dt.date
    language: str
    proxy: bool
    contact_channels: list[str]
    created_at: dt.datetime
    withdrawn_at: dt.datetime | None
    withdrawn_reason: str | None
    attributes: dict[str, Any]
    time_points: list[TimePointOut]


class LinkOut(msgspec.Struct, kw_only=True):
    """A patient link issued now. The token in `url` is shown only here; only its hash is kept."""

    url: str
    time_point: str
    status: Status
    expires_at: dt.datetime
