"""Withdrawing an episode: its pending invitations are withdrawn and its contact details deleted."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Session, col, select

from promsvc import audit
from promsvc.episodes.schemas import EpisodeOut
from promsvc.episodes.services import episode_for, episode_outs, utcnow
from promsvc.errors import Conflict
from promsvc.invitations import moves
from promsvc.invitations.states import PENDING
from promsvc.models import Contact, Episode, Invitation, Status
from promsvc.registries.schema import Registry
from promsvc.security import Caller


def withdraw(session: Session, caller: Caller, registry: Registry, external_id: str, reason: str,
             now: dt.datetime | None = None) -> EpisodeOut:
    """Withdraw an episode: pending invitations become `withdrawn` (their links stop working),
    the reason is kept with the episode, and its contact details are deleted (no longer needed)."""
    now = now or utcnow()
    episode = episode_for(session, caller, registry, external_id, "episode.withdraw")
    if episode.withdrawn_at is not None:
        audit.refuse(session, caller, "episode.withdraw", registry.id, episode.id, "conflict", Conflict(
            f"episode {external_id!r} was already withdrawn at {episode.withdrawn_at.isoformat()}",
            where="path", fix="nothing to do: a withdrawal cannot be repeated or undone",
        ))
    updated = session.execute(
        sa.update(Episode).where(col(Episode.id) == episode.id, col(Episode.withdrawn_at).is_(None))
        .values(withdrawn_at=now, withdrawn_reason=reason)
    )
    if updated.rowcount != 1:  # type: ignore[attr-defined]  # withdrawn by a concurrent request; a DML statement gives a CursorResult, typed as Result
        session.rollback()
        return withdraw(session, caller, registry, external_id, reason, now)
    episode.withdrawn_at, episode.withdrawn_reason = now, reason
    for inv in session.exec(select(Invitation).where(Invitation.episode_id == episode.id)).all():
        # The reason may name the patient's circumstances, so events only say what happened. The
        # link's token is kept: the status stops it, and the patient who opens it is told (410).
        moves.change(session, inv, PENDING, Status.withdrawn, now, note=moves.EPISODE_WITHDRAWN)
    session.execute(sa.delete(Contact).where(col(Contact.episode_id) == episode.id))
    audit.record(session, caller.key_id, caller.role, "episode.withdraw", registry.id, episode.id, "ok")
    session.flush()
    out = episode_outs(session, [episode])[0]
    session.commit()
    return out
