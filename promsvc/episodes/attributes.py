"""Episode attributes: the non-identifying facts a protocol declares for its indicators
(diagnosis group, urgency, ASA class, sex, age group …; registries.schema.Attribute).

They are sent at enrolment and changed later by the `system` role (`update`), and every value
is checked here, in one place, against what the protocol declares. Stored on the episode as
JSON, `{id: value}`, with values as JSON has them: a category's value as text, an integer as a
number, a boolean as true/false, a date as "YYYY-MM-DD". An attribute not known is absent
(null in exports and indicator frames), never a default.

Attributes never identify a patient: no birth date, name, address or national id belongs here
(an age group does, a birth date does not).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Annotated, Any

import msgspec
import sqlalchemy as sa
from msgspec import Meta
from sqlmodel import Session, col, select

from promsvc import audit
from promsvc.errors import FieldError, Invalid
from promsvc.models import Episode, Role
from promsvc.registries.schema import Attribute, Protocol, Registry
from promsvc.security import Caller

UPDATE_ROLES = (Role.system,)

Value = str | int | bool | None
Values = Annotated[dict[str, Value], Meta(
    max_length=100,
    description="Attribute id → value, as the protocol declares them: a category's value as text, an integer, "
                "true/false, or a date as YYYY-MM-DD. Never identifying (no birth date, no name).",
)]

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class AttributesIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """A change of an episode's attributes: each attribute given is set, `null` clears one
    (unknown again), and those left out keep their value."""

    attributes: Values


class AttributesOut(msgspec.Struct, kw_only=True):
    external_id: str
    attributes: dict[str, Any]


def allowed(attribute: Attribute) -> str:
    """What an attribute accepts, as error messages say it."""
    if attribute.kind == "category":
        return f"one of {', '.join(attribute.values)}"
    if attribute.kind == "integer":
        low = "" if attribute.min is None else f" from {attribute.min}"
        high = "" if attribute.max is None else f" to {attribute.max}"
        return f"a whole number{low}{high}"
    if attribute.kind == "boolean":
        return "true or false"
    return "a date, YYYY-MM-DD"


def fits(attribute: Attribute, value: Any) -> bool:
    """Is `value` (as JSON gives it, not null) a value of `attribute`?"""
    kind = attribute.kind
    if kind == "category":
        return isinstance(value, str) and value in attribute.values
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)
                and (attribute.min is None or value >= attribute.min) and (attribute.max is None or value <= attribute.max))
    if kind == "boolean":
        return isinstance(value, bool)
    if not (isinstance(value, str) and _DATE.match(value)):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def problems(protocol: Protocol, values: Mapping[str, Any], at: str) -> list[FieldError]:
    """Every value that the protocol does not declare or accept, at `{at}.attributes.{id}`."""
    declared = {a.id: a for a in protocol.attributes}
    out: list[FieldError] = []
    for key, value in values.items():
        path = f"{at}.attributes.{key}"
        attribute = declared.get(key)
        if attribute is None:
            known = ", ".join(declared) or "none"
            out.append(FieldError(path, f"protocol {protocol.id} declares no attribute {key!r}; its attributes: {known}"))
        elif value is not None and not fits(attribute, value):
            out.append(FieldError(path, f"{key} is {allowed(attribute)}; found {value!r}", found=value,
                                  allowed=allowed(attribute)))
    return out


def known(values: Mapping[str, Any]) -> dict[str, Any]:
    """The values to store: nulls (unknown) left out."""
    return {k: v for k, v in values.items() if v is not None}


def cell(value: Any) -> str:
    """An attribute's value in a CSV cell: empty when unknown, `true`/`false` for a boolean."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def update(session: Session, caller: Caller, registry: Registry, episode: Episode, change: AttributesIn) -> AttributesOut:
    """Set the attributes given, clear those given as null, keep the rest; audited as
    `episode.attributes`. 422 naming `$.attributes.{id}` for a value the protocol does not accept."""
    action = "episode.attributes"
    protocol = registry.protocol(episode.protocol_id)
    found = problems(protocol, change.attributes, "$") if protocol else []
    if found:
        audit.refuse(session, caller, action, registry.id, episode.id, "invalid", Invalid(
            found[0].message if len(found) == 1 else f"{len(found)} attributes cannot be stored; nothing was changed",
            where=found[0].path, errors=found,
            fix="send only the attributes the protocol declares, each with a value it allows (null clears one)",
        ))
    # Read again under a row lock, so that two changes at once both count (PostgreSQL; SQLite
    # holds its write lock from the start of the transaction).
    current = session.exec(select(Episode.attributes).where(Episode.id == episode.id).with_for_update()).one()
    merged = {**(current or {}), **change.attributes}
    stored = known(merged)
    session.execute(sa.update(Episode).where(col(Episode.id) == episode.id).values(attributes=stored))
    audit.record(session, caller.key_id, caller.role, action, registry.id, episode.id, "ok")
    session.commit()
    return AttributesOut(external_id=episode.external_id, attributes=stored)
