"""A patient link issued now, for the clinic (the outbox issues the links that messages carry)."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, select

from promsvc import audit
from promsvc.episodes.schemas import LinkOut
from promsvc.episodes.services import episode_for, utcnow
from promsvc.errors import Conflict, NotFound
from promsvc.invitations import links, moves
from promsvc.models import Invitation, Status
from promsvc.registries.schema import Registry
from promsvc.security import Caller
from promsvc.settings import Settings

LINK_CHANNEL = links.CLINIC


def issue_link(session: Session, caller: Caller, registry: Registry, external_id: str, time_point: str,
               settings: Settings, now: dt.datetime | None = None) -> LinkOut:
    """A new patient link for one time point, now (the in-clinic channel).

    Only the token's hash is stored; issuing again replaces the previous clinic link, so only the
    newest one works (promsvc.invitations.links). A planned invitation becomes open; answers
    already saved are kept.
    """
    now = now or utcnow()
    action = "link.issue"
    episode = episode_for(session, caller, registry, external_id, action)
    protocol = registry.protocol(episode.protocol_id)
    invitation = session.exec(
        select(Invitation).where(Invitation.episode_id == episode.id, Invitation.time_point == time_point)
    ).first()
    if invitation is None:
        known = ", ".join(tp.id for tp in protocol.time_points) if protocol else ""
        audit.refuse(session, caller, action, registry.id, episode.id, "not_found", NotFound(
            f"protocol {episode.protocol_id} has no time point {time_point!r}", where="path",
            fix=f"use one of: {known}",
        ))

    def refuse(detail: str, fix: str) -> None:
        audit.refuse(session, caller, action, registry.id, episode.id, "conflict",
                     Conflict(detail, where="path", fix=fix))

    if episode.withdrawn_at is not None:
        refuse(f"episode {external_id!r} is withdrawn", "a withdrawn episode gets no links; enrol a new episode if the patient rejoins")
    if protocol is None or LINK_CHANNEL not in protocol.channels:
        refuse(f"protocol {episode.protocol_id} does not use the in-clinic channel",
               "add 'clinic' to the protocol's channels in the registry configuration")
    status = Status(invitation.status)
    if status is Status.completed:
        refuse(f"time point {time_point} has been answered", "nothing to do: the answers are stored")
    if status in (Status.expired, Status.withdrawn) or invitation.expires_at <= now:
        refuse(f"time point {time_point} can no longer be answered (its window closed at {invitation.expires_at.isoformat()})",
               "an answer outside the window does not count; nothing to do")

    if status in (Status.planned, Status.failed):
        if not moves.change(session, invitation, (status,), Status.open, now, note=f"{moves.LINK_ISSUED} ({LINK_CHANNEL})"):
            session.rollback()
            return issue_link(session, caller, registry, external_id, time_point, settings, now)
    token = links.issue_clinic_link(session, invitation.id, now)
    invitation.channel = LINK_CHANNEL
    session.add(invitation)
    audit.record(session, caller.key_id, caller.role, action, registry.id, episode.id, "ok")
    session.commit()
    return LinkOut(url=f"{settings.base_url}/q/{token}", time_point=time_point,
                   status=Status(invitation.status), expires_at=invitation.expires_at)
