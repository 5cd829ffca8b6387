"""Registry configuration as data: one YAML file per registry, decoded into strict structs.

A registry declares its units (a tree: regional health authority → health trust → hospital →
department) and its protocols: the event they follow, the time points with their offset from
the event date and the window in which an answer counts, the instruments asked, how each is
scored (and with which EQ-5D value set), reminders, channels and who may answer.
Durations are ISO 8601 (`P90D`, `PT5M`).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from instruments.schema import InstrumentId, Name, Text

Channel = Literal["email", "sms", "letter", "clinic"]
Language = Literal["nb", "nn", "en"]
Respondent = Literal["patient", "proxy"]
UnitLevel = Literal["rhf", "hf", "hospital", "department"]
LEVELS = ("rhf", "hf", "hospital", "department")  # from the top of the tree down


class _Strict(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    pass


# The spelling of a unit's id and organisation number is checked by the registry checks
# (`promsvc.registries.loader`), not with Meta(pattern=…): a unit contains units, and a pattern
# inside a recursive struct can crash msgspec at interpreter exit (instruments/yamlfile.py).
UNIT_ID = r"[a-z0-9][a-z0-9-]*"
ORG_NUMBER = r"[0-9]{9}"


class Unit(_Strict, frozen=True, kw_only=True):
    id: str
    name: str
    level: UnitLevel
    org_number: str | None = None
    children: list[Unit] = []


class InstrumentUse(_Strict, frozen=True, kw_only=True):
    """How the registry asks and scores one instrument: which version (default: the newest
    loaded), which scorings (default: the instrument's default scoring) and, for EQ-5D, which
    value set (default: the instrument's default)."""

    instrument: InstrumentId
    version: str | None = None
    scorings: list[Name] = []
    method: str | None = None
    country: str | None = None


class TimePoint(_Strict, frozen=True, kw_only=True):
    id: Name
    title: Text
    offset: dt.timedelta  # from the event date (negative: before it, e.g. a baseline)
    window: dt.timedelta  # an answer counts from the due time until due + window
    instruments: Annotated[list[InstrumentId], Meta(min_length=1)]


class Attribute(_Strict, frozen=True, kw_only=True):
    """A non-identifying fact about an episode that indicators need (diagnosis group, urgency,
    ASA class, sex, age group …), sent at enrolment and updatable by the `system` role.

    `category`: one of `values`; `integer`: a whole number from `min` to `max`; `boolean`;
    `date` (ISO 8601). An attribute not sent is unknown (null), never a default.
    """

    id: Name
    kind: Literal["category", "integer", "boolean", "date"]
    title: Text
    values: list[str] = []  # category: the allowed values
    min: int | None = None  # integer: the range
    max: int | None = None


class Reminders(_Strict, frozen=True, kw_only=True):
    after: dt.timedelta  # remind this long after the invitation if not completed
    max: Annotated[int, Meta(ge=0, le=5)] = 1


Unconfirmed = Literal["resend", "hold"]


class WhenUnconfirmed(_Strict, frozen=True, kw_only=True):
    """What happens to a message whose send was cut between its final dot and the server's reply
    (the dispatcher or the connection died): nobody knows whether it arrived. `resend`: send it
    again, accepting a possible duplicate. `hold`: keep it as `unconfirmed` until staff decide
    (`promsvc outbox unconfirmed`). docs/delivery.md."""

    invitation: Unconfirmed = "resend"
    reminder: Unconfirmed = "resend"


class Protocol(_Strict, frozen=True, kw_only=True):
    id: Name
    title: Text
    event: str  # what the time points follow, e.g. "primary hip replacement"
    time_points: Annotated[list[TimePoint], Meta(min_length=1)]
    instruments: list[InstrumentUse] = []  # scoring choices; instruments not listed use defaults
    channels: Annotated[list[Channel], Meta(min_length=1)]  # in order of preference
    respondents: Annotated[list[Respondent], Meta(min_length=1)] = msgspec.field(default_factory=lambda: ["patient"])
    reminders: Reminders | None = None
    unconfirmed: WhenUnconfirmed = WhenUnconfirmed()
    attributes: list[Attribute] = []  # episode attributes the registry's indicators need

    def time_point(self, time_point_id: str) -> TimePoint | None:
        return next((t for t in self.time_points if t.id == time_point_id), None)

    def instrument_use(self, instrument_id: str) -> InstrumentUse:
        """How this protocol scores an instrument (the instrument's defaults when not listed)."""
        found = next((u for u in self.instruments if u.instrument == instrument_id), None)
        return found or InstrumentUse(instrument=instrument_id)


# ---- what a patient is entitled to know (docs/patient.md, "What a patient is told")


class Contact(_Strict, frozen=True, kw_only=True):
    """Where patients reach the registry with questions about the questionnaire or their data."""

    name: Text  # who answers, e.g. "Sekretariatet for Nasjonalt hofteregister"
    phone: Annotated[str, Meta(pattern=r"^\+?[0-9][0-9 ]{4,19}$")]  # e.g. "+47 55 00 00 00"
    email: Annotated[str, Meta(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
    postal: Annotated[str, Meta(min_length=1)]  # the whole address; lines separated by newlines


class Privacy(_Strict, frozen=True, kw_only=True):
    """The privacy information patients are given before they answer: who is responsible
    for their data (the data controller, *behandlingsansvarlig*), on what legal basis the data
    are processed, and a short statement of what is collected, why, for how long and the
    patient's rights. Each in every patient language."""

    controller: Text
    legal_basis: Text
    statement: Text


class Retention(_Strict, frozen=True, kw_only=True):
    """Days this registry keeps contact details (after an episode's last invitation closed) and drafts
    (after their invitation closed), for promsvc.retention; each one unset is the settings' default."""

    contact_days: Annotated[int, Meta(ge=0, le=3650)] | None = None
    draft_days: Annotated[int, Meta(ge=0, le=3650)] | None = None


class Registry(_Strict, frozen=True, kw_only=True):
    id: Annotated[str, Meta(pattern=r"^[a-z][a-z0-9-]*$")]
    name: Text
    sender: str  # how messages to patients name the sender, e.g. "Nasjonalt demoregister"
    units: Annotated[list[Unit], Meta(min_length=1)]
    protocols: Annotated[list[Protocol], Meta(min_length=1)]
    # The languages the registry's patients may answer in (the language switch offers these);
    # each licensed instrument it asks needs the registry's overlay in every one of them.
    languages: Annotated[list[Language], Meta(min_length=1)] = msgspec.field(default_factory=lambda: ["nb", "nn", "en"])
    # A demo registry has synthetic patients only: it may leave out `contact` and `privacy`,
    # and ask licensed instruments in our short labels (no overlay needed).
    demo: bool = False
    contact: Contact | None = None  # required unless `demo`
    privacy: Privacy | None = None  # required unless `demo`
    retention: Retention | None = None

    def protocol(self, protocol_id: str) -> Protocol | None:
        return next((p for p in self.protocols if p.id == protocol_id), None)

    def unit_ids(self) -> list[str]:
        out: list[str] = []
        stack = list(reversed(self.units))
        while stack:
            unit = stack.pop()
            out.append(unit.id)
            stack.extend(reversed(unit.children))
        return out
