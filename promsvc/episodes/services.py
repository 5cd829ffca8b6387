"""Enrolment, and finding the registry and episode of a request (reading: promsvc.episodes.reading;
withdrawal: .withdrawal; links issued now: .links; the export: .export).

Every function here takes the request's session and the caller, does one unit of work,
writes its audit row in the same transaction and commits; on refusal it records the refusal
(`audit.refuse`) and raises. Times come in as `now` (UTC) so that tests can fix them.

Due times: an invitation falls due at `settings.due_time` (default 09:00) local time in
`settings.time_zone` (default Europe/Oslo) on the day `event date + offset`, and expires
`window` later, also counted in local wall-clock time; both are stored in UTC. So a 3-month
invitation is due at 09:00 in Norway whether that day is in summer (07:00 UTC) or winter
(08:00 UTC) time. Wall-clock times become instants by the rule delivery's sending window uses
too (`promsvc.localtime`: a time in a daylight-saving gap means the end of the gap).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from promsvc import audit, localtime
from promsvc.addresses import valid_address
from promsvc.edge import day_problem
from promsvc.episodes import attributes
from promsvc.episodes.schemas import BatchEntryOut, BatchOut, EnrolIn, EpisodeOut, InvitationOut
from promsvc.errors import BadRequest, Conflict, FieldError, Invalid, NotFound
from promsvc.invitations import moves
from promsvc.models import Contact, Episode, Invitation, InvitationEvent, Role, Status
from promsvc.registries.schema import Protocol, Registry
from promsvc.security import Caller, require
from promsvc.settings import Settings

ENROL_ROLES = (Role.system,)
READ_ROLES = (Role.registry,)
WITHDRAW_ROLES = (Role.system, Role.registry)
LINK_ROLES = (Role.system,)
EXPORT_ROLES = (Role.registry,)

MAX_BATCH = 1000


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ------------------------------------------------------------------------- access


def registry_for(session: Session, caller: Caller, registries: Mapping[str, Registry], registry_id: str,
                 action: str, roles: tuple[Role, ...]) -> Registry:
    """The registry of a request, once the caller is allowed to do `action` on it."""
    require(session, caller, action, roles, registry_id)
    registry = registries.get(registry_id)
    if registry is None:
        audit.refuse(session, caller, action, registry_id, None, "not_found", NotFound(
            f"no registry {registry_id!r}", where="path",
            fix=f"use one of: {', '.join(sorted(registries))}" if caller.registry_id is None else None,
        ))
    return registry


def episode_for(session: Session, caller: Caller, registry: Registry, external_id: str, action: str) -> Episode:
    episode = session.exec(
        select(Episode).where(Episode.registry_id == registry.id, Episode.external_id == external_id)
    ).first()
    if episode is None:
        audit.refuse(session, caller, action, registry.id, None, "not_found", NotFound(
            f"registry {registry.id} has no episode with external id {external_id!r}", where="path",
            fix="check the external id, or enrol the episode first",
        ))
    return episode


# ------------------------------------------------------------------------- enrolment


def problems(registry: Registry, payload: EnrolIn, at: str = "$") -> list[FieldError]:
    """What in one enrolment does not fit the registry's configuration, with JSON paths."""
    out: list[FieldError] = []
    units = registry.unit_ids()
    if (why := day_problem(payload.event_date)) is not None:
        out.append(FieldError(f"{at}.event_date", f"{why}; give the date of the event"))
    if payload.unit not in units:
        out.append(FieldError(f"{at}.unit", f"registry {registry.id} has no unit {payload.unit!r}; units: {', '.join(units)}"))
    protocol = registry.protocol(payload.protocol)
    if protocol is None:
        known = ", ".join(p.id for p in registry.protocols)
        out.append(FieldError(f"{at}.protocol", f"registry {registry.id} has no protocol {payload.protocol!r}; protocols: {known}"))
        return out
    out += attributes.problems(protocol, payload.attributes, at)
    if payload.proxy and "proxy" not in protocol.respondents:
        out.append(FieldError(f"{at}.proxy", f"protocol {protocol.id} is answered by the patient only; leave proxy false"))
    for c, contact in enumerate(payload.contacts):
        if contact.channel not in protocol.channels:
            out.append(FieldError(f"{at}.contacts[{c}].channel",
                                  f"protocol {protocol.id} does not use {contact.channel!r}; its channels: {', '.join(protocol.channels)}"))
        elif not _address_fits(contact.channel, contact.address):
            out.append(FieldError(f"{at}.contacts[{c}].address", _ADDRESS_HINT[contact.channel]))
    return out


_ADDRESS_HINT = {
    "email": "not one e-mail address; give exactly one, like name@example.no (no name, list or line break)",
    "sms": "not a phone number; give 8 to 15 digits, optionally with a leading + and spaces",
    "letter": "give a postal address (lines of text)",
}


def _address_fits(channel: str, address: str) -> bool:
    """The rules the channels send by (promsvc.addresses; for SMS a stricter form of
    promsvc.delivery.sms's), so that an address is refused at enrolment rather than failing
    its invitation later."""
    if channel == "email":
        return valid_address(address)
    if channel == "sms":
        digits = address.replace(" ", "")
        return digits.lstrip("+").isdigit() and 8 <= len(digits.lstrip("+")) <= 15 and "+" not in digits[1:]
    return bool(address.strip()) and all(c.isprintable() or c == "\n" for c in address)


def payload_hash(payload: EnrolIn) -> str:
    """SHA-256 of the enrolment, independent of key order and of the order of contacts."""
    data = msgspec.to_builtins(payload)
    if not data.get("attributes"):  # so that payloads from before attributes keep their hash
        data.pop("attributes", None)
    data["contacts"] = sorted(data.get("contacts", []), key=lambda c: (c["channel"], c["address"]))
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def due_times(protocol: Protocol, event_date: dt.date, settings: Settings) -> dict[str, tuple[dt.datetime, dt.datetime]]:
    """Time point id → (due_at, expires_at) in UTC (see the module docstring)."""
    clock = settings.due_clock()
    assert isinstance(clock.tzinfo, ZoneInfo)  # due_clock gives the service's time zone
    start = dt.datetime.combine(event_date, clock.replace(tzinfo=None))  # the wall clock, kept across DST
    out = {}
    for tp in protocol.time_points:
        local_due = start + tp.offset
        out[tp.id] = (localtime.instant(local_due, clock.tzinfo), localtime.instant(local_due + tp.window, clock.tzinfo))
    return out


class _New(msgspec.Struct):
    """The rows of one new episode, inserted table by table (see `_insert`)."""

    episode: Episode
    contacts: list[Contact]
    invitations: list[Invitation]


def _new(registry: Registry, payload: EnrolIn, digest: str, settings: Settings, now: dt.datetime) -> _New:
    protocol = registry.protocol(payload.protocol)
    assert protocol is not None  # checked by problems()
    episode = Episode(
        registry_id=registry.id,
        external_id=payload.external_id,
        pseudonym=payload.pseudonym,
        unit_id=payload.unit,
        protocol_id=protocol.id,
        event_date=payload.event_date,
        language=payload.language,
        proxy_allowed=payload.proxy,
        payload_hash=digest,
        created_at=now,
        attributes=attributes.known(payload.attributes),
    )
    return _New(
        episode=episode,
        contacts=[Contact(episode_id=episode.id, channel=c.channel, address=c.address) for c in payload.contacts],
        invitations=[
            Invitation(episode_id=episode.id, registry_id=registry.id, time_point=tp_id,
                       due_at=due_at, expires_at=expires_at, status=Status.planned, status_at=now)
            for tp_id, (due_at, expires_at) in due_times(protocol, payload.event_date, settings).items()
        ],
    )


def _insert(session: Session, new: list[_New], now: dt.datetime) -> None:
    # The tables have no ORM relationships, so the unit of work does not order inserts by
    # foreign key: parents are flushed before their children, one table at a time (which is
    # also what makes a batch of a thousand episodes a few statements, not thousands).
    session.add_all([n.episode for n in new])
    session.flush()
    session.add_all([c for n in new for c in n.contacts])
    session.add_all([i for n in new for i in n.invitations])
    session.flush()
    session.add_all([InvitationEvent(**moves.event_row(i.id, Status.planned, now)) for n in new for i in n.invitations])


def _existing(session: Session, registry_id: str, external_ids: Iterable[str]) -> dict[str, Episode]:
    ids = list(set(external_ids))
    found: dict[str, Episode] = {}
    for start in range(0, len(ids), 500):
        rows = session.exec(
            select(Episode).where(Episode.registry_id == registry_id, col(Episode.external_id).in_(ids[start:start + 500]))
        ).all()
        found.update((e.external_id, e) for e in rows)
    return found


def enrol(session: Session, caller: Caller, registry: Registry, payload: EnrolIn, settings: Settings,
          now: dt.datetime | None = None) -> tuple[EpisodeOut, bool]:
    """Enrol one episode; (the episode, whether it was created now)."""
    batch, created = _enrol_all(session, caller, registry, [payload], settings, now or utcnow(), single=True)
    return batch[0], created[0]


def enrol_batch(session: Session, caller: Caller, registry: Registry, payloads: list[EnrolIn], settings: Settings,
                now: dt.datetime | None = None) -> BatchOut:
    """Enrol many episodes, all or nothing; each problem is reported with its entry's path ($[3].unit)."""
    if not 1 <= len(payloads) <= MAX_BATCH:
        raise BadRequest(f"a batch has {len(payloads)} entries; give 1 to {MAX_BATCH}", where="$",
                         fix=f"split the episodes into batches of at most {MAX_BATCH}")
    episodes, created = _enrol_all(session, caller, registry, payloads, settings, now or utcnow(), single=False)
    entries = [BatchEntryOut(external_id=e.external_id, id=e.id, created=c) for e, c in zip(episodes, created, strict=True)]
    n = sum(created)
    return BatchOut(created=n, existing=len(entries) - n, episodes=entries)


def _enrol_all(session: Session, caller: Caller, registry: Registry, payloads: list[EnrolIn], settings: Settings,
               now: dt.datetime, *, single: bool) -> tuple[list[EpisodeOut], list[bool]]:
    def at(i: int) -> str:
        return "$" if single else f"$[{i}]"

    errors: list[FieldError] = []
    digests = [payload_hash(p) for p in payloads]
    first_of: dict[str, int] = {}
    for i, payload in enumerate(payloads):
        errors += problems(registry, payload, at(i))
        j = first_of.setdefault(payload.external_id, i)
        if j != i and digests[j] != digests[i]:
            errors.append(FieldError(f"{at(i)}.external_id",
                                     f"external id {payload.external_id!r} is also at $[{j}] with other fields; enrol it once"))
    if errors:
        audit.refuse(session, caller, "episode.enrol", registry.id, None, "invalid", Invalid(
            f"{len(errors)} problem(s) in the enrolment; nothing was enrolled" if not single else errors[0].message,
            where=errors[0].path, errors=errors,
            fix="correct the fields named in `errors` (units and protocols are listed in the registry configuration)",
        ))

    for attempt in range(2):
        try:
            return _write(session, caller, registry, payloads, digests, settings, now, at)
        except IntegrityError:
            # Another request enrolled one of these ids at the same moment: look again.
            session.rollback()
            if attempt == 1:
                raise
    raise AssertionError("unreachable")


def _write(session, caller, registry, payloads, digests, settings, now, at):
    existing = _existing(session, registry.id, (p.external_id for p in payloads))
    conflicts = [
        FieldError(f"{at(i)}.external_id",
                   f"external id {p.external_id!r} is already enrolled in registry {registry.id} with other fields")
        for i, p in enumerate(payloads)
        if p.external_id in existing and existing[p.external_id].payload_hash != digests[i]
    ]
    if conflicts:
        episode_id = existing[payloads[0].external_id].id if len(payloads) == 1 else None
        audit.refuse(session, caller, "episode.enrol", registry.id, episode_id, "conflict", Conflict(
            conflicts[0].message if len(conflicts) == 1 else f"{len(conflicts)} external ids are already enrolled with other fields; nothing was enrolled",
            where=conflicts[0].path, errors=conflicts,
            fix="send the same fields as the first enrolment, or use a new external id for a new episode",
        ))
    episodes: list[Episode] = []
    created: list[bool] = []
    made: dict[str, _New] = {}
    for payload, digest in zip(payloads, digests, strict=True):
        if payload.external_id in existing:
            episodes.append(existing[payload.external_id])
            created.append(False)
        elif payload.external_id in made:  # the same entry twice in one batch
            episodes.append(made[payload.external_id].episode)
            created.append(False)
        else:
            made[payload.external_id] = new = _new(registry, payload, digest, settings, now)
            episodes.append(new.episode)
            created.append(True)
    _insert(session, list(made.values()), now)
    for episode_id in dict.fromkeys(e.id for e in episodes):  # once per episode, new or found again
        audit.record(session, caller.key_id, caller.role, "episode.enrol", registry.id, episode_id, "ok")
    session.flush()
    outs = episode_outs(session, episodes)
    session.commit()
    return outs, created


def episode_outs(session: Session, episodes: list[Episode]) -> list[EpisodeOut]:
    ids = list({e.id for e in episodes})
    invitations: dict[str, list[Invitation]] = {}
    for start in range(0, len(ids), 500):
        for inv in session.exec(select(Invitation).where(col(Invitation.episode_id).in_(ids[start:start + 500]))):
            invitations.setdefault(inv.episode_id, []).append(inv)
    return [episode_out(e, invitations.get(e.id, [])) for e in episodes]


def episode_out(episode: Episode, invitations: list[Invitation]) -> EpisodeOut:
    invitations = sorted(invitations, key=lambda i: (i.due_at, i.time_point))
    return EpisodeOut(
        id=episode.id, registry=episode.registry_id, external_id=episode.external_id, unit=episode.unit_id,
        protocol=episode.protocol_id, event_date=episode.event_date, language=episode.language,
        proxy=episode.proxy_allowed, created_at=episode.created_at, withdrawn_at=episode.withdrawn_at,
        attributes=episode.attributes or {},
        invitations=[
            InvitationOut(time_point=i.time_point, due_at=i.due_at, expires_at=i.expires_at,
                          status=Status(i.status), status_at=i.status_at)
            for i in invitations
        ],
    )
