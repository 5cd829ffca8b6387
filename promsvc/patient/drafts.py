"""A patient's draft: answers saved before submission, one per invitation, replaced on every save.

The first saved answer moves the invitation from open to started (promsvc.invitations.moves).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from promsvc.invitations import moves
from promsvc.models import Draft, Status
from promsvc.patient.links import Link


def save_draft(
    session: Session,
    link: Link,
    answers: Mapping[str, Mapping[str, int | None]],
    *,
    now: dt.datetime,
    language: str | None = None,
    respondent: str | None = None,
    replace: bool = False,
    seen: Mapping[str, list[str]] | None = None,
) -> Draft:
    """Save answers to the link's draft and commit.

    With `replace`, the draft's answers become `answers` (the JSON API's PUT); otherwise each
    instrument in `answers` replaces that instrument's part (a page of the HTML form). Only
    given codes are kept. `seen`, when given, replaces the record of the items seen. The first
    saved answer moves the invitation from open to started (unless it has expired meanwhile:
    then the answers are still kept, see the patient pages).
    """
    for attempt in (1, 2):
        draft = session.exec(select(Draft).where(Draft.invitation_id == link.invitation.id).with_for_update()).first()
        merged: dict[str, dict[str, int]] = {} if replace or draft is None else {k: dict(v) for k, v in draft.answers.items()}
        for instrument_id, given in answers.items():
            merged[instrument_id] = {item: code for item, code in given.items() if code is not None}
        merged = {k: v for k, v in merged.items() if v}
        if draft is None:
            draft = Draft(
                invitation_id=link.invitation.id,
                answers=merged,
                language=language or link.episode.language,
                respondent=respondent or "patient",
                seen=dict(seen) if seen is not None else None,
                started_at=now,
                updated_at=now,
            )
            session.add(draft)
        else:
            draft.answers = merged  # a new dict: SQLAlchemy sees the change
            draft.language = language or draft.language
            draft.respondent = respondent or draft.respondent
            if seen is not None:
                draft.seen = dict(seen)
            draft.updated_at = now
        if merged:
            moves.change(session, link.invitation, (Status.open,), Status.started, now)
        try:
            session.commit()
        except IntegrityError:
            # Two first saves at once (two devices): the other made the draft; save onto it.
            session.rollback()
            if attempt == 2:
                raise
            continue
        link.draft = draft
        return draft
    raise AssertionError("unreachable")


def set_language(session: Session, link: Link, language: str, now: dt.datetime) -> None:
    """Remember a language chosen with the switch (once a draft exists)."""
    if link.draft is not None and link.draft.language != language:
        link.draft.language = language
        link.draft.updated_at = now
        session.add(link.draft)
        session.commit()
