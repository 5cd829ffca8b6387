"""Reading one episode: its time points, invitation statuses and history, responses and
current scores; every read audited."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col, select

from promsvc import audit
from promsvc.episodes.schemas import EpisodeDetailOut, EventOut, ResponseOut, ScoreOut, TimePointOut
from promsvc.episodes.services import episode_for
from promsvc.models import Contact, Invitation, InvitationEvent, Response, Score, Status
from promsvc.registries.schema import Registry
from promsvc.security import Caller


def read(session: Session, caller: Caller, registry: Registry, external_id: str) -> EpisodeDetailOut:
    """An episode with its time points, invitation statuses and history, responses and current scores."""
    episode = episode_for(session, caller, registry, external_id, "episode.read")
    protocol = registry.protocol(episode.protocol_id)
    invitations = {i.time_point: i for i in session.exec(select(Invitation).where(Invitation.episode_id == episode.id))}
    events: dict[str, list[InvitationEvent]] = {}
    for ev in session.exec(
        select(InvitationEvent)
        .join(Invitation, col(InvitationEvent.invitation_id) == Invitation.id)
        .where(Invitation.episode_id == episode.id)
        .order_by(col(InvitationEvent.at), col(InvitationEvent.id))
    ):
        events.setdefault(ev.invitation_id, []).append(ev)
    responses = session.exec(select(Response).where(Response.episode_id == episode.id).order_by(col(Response.submitted_at))).all()
    scores: dict[str, list[Score]] = {}
    if responses:
        for s in session.exec(
            select(Score).where(col(Score.response_id).in_([r.id for r in responses]), Score.current == sa.true()).order_by(col(Score.id))
        ):
            scores.setdefault(s.response_id, []).append(s)
    by_invitation: dict[str, list[Response]] = {}
    for r in responses:
        by_invitation.setdefault(r.invitation_id, []).append(r)
    channels = sorted({c.channel for c in session.exec(select(Contact).where(Contact.episode_id == episode.id))})

    time_points = []
    known = [tp.id for tp in protocol.time_points] if protocol else []
    for tp_id in known + sorted(set(invitations) - set(known)):
        inv = invitations.get(tp_id)
        if inv is None:
            continue
        tp = protocol.time_point(tp_id) if protocol else None
        time_points.append(TimePointOut(
            id=tp_id,
            title=getattr(tp.title, episode.language) if tp else tp_id,
            instruments=list(tp.instruments) if tp else [],
            due_at=inv.due_at, expires_at=inv.expires_at, status=Status(inv.status), status_at=inv.status_at,
            channel=inv.channel,
            history=[EventOut(status=Status(e.status), at=e.at, note=e.note) for e in events.get(inv.id, [])],
            responses=[
                ResponseOut(
                    instrument=r.instrument_id, instrument_version=r.instrument_version, language=r.language,
                    channel=r.channel, respondent=r.respondent, started_at=r.started_at, submitted_at=r.submitted_at,
                    answers=r.answers,
                    scores=[ScoreOut(scoring=s.scoring, scoring_version=s.scoring_version, value_set=s.value_set,
                                     values=s.values, computed_at=s.computed_at) for s in scores.get(r.id, [])],
                )
                for r in by_invitation.get(inv.id, [])
            ],
        ))
    out = EpisodeDetailOut(
        id=episode.id, registry=episode.registry_id, external_id=episode.external_id, pseudonym=episode.pseudonym,
        unit=episode.unit_id, protocol=episode.protocol_id, event_date=episode.event_date, language=episode.language,
        proxy=episode.proxy_allowed, contact_channels=channels, created_at=episode.created_at,
        withdrawn_at=episode.withdrawn_at, withdrawn_reason=episode.withdrawn_reason,
        attributes=episode.attributes or {}, time_points=time_points,
    )
    audit.record(session, caller.key_id, caller.role, "episode.read", registry.id, episode.id, "ok")
    session.commit()
    return out
