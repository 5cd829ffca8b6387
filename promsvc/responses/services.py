"""Submission: answers checked, stored once, scored, all in one transaction; and re-scoring.

A submission writes, in ONE transaction: the invitation's move to `completed` (with its
event), one response per instrument of the time point, the scores of each response with
what produced them, the audit row, and the removal of the draft. Any error rolls all of it
back. The database enforces one response per (invitation, instrument), so a second
submission (two tabs, a retry) finds the first one's receipt instead of storing again.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
import numpy as np
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

import scoring
from instruments import Instrument
from instruments.schema import ValueSetIndex
from promsvc import audit
from promsvc.errors import Gone, Invalid
from promsvc.models import Draft, Episode, Invitation, InvitationEvent, Response, Score, Status
from promsvc.registries.schema import InstrumentUse
from promsvc.responses.validation import AnswerProblem, validate


class Receipt(msgspec.Struct, frozen=True, kw_only=True):
    """What a patient (or app) gets back: when the answers were received, nothing more."""

    received_at: dt.datetime
    instruments: list[str]


class InvalidAnswers(Invalid):
    """Answers that cannot be stored; each problem names the item, what was found and what is allowed."""

    def __init__(self, problems: Sequence[AnswerProblem]):
        first = problems[0]
        super().__init__(
            f"{len(problems)} answer(s) cannot be stored: {first.message}",
            where=first.path,
            fix="send only the instrument's items, each with one of its codes (or null), and no answer to an item whose condition is not met",
        )
        self.problems = list(problems)

    def problem(self) -> dict[str, Any]:
        body = super().problem()
        body["errors"] = [
            {"path": p.path, "message": p.message, "found": p.found, "allowed": p.allowed} for p in self.problems
        ]
        return body


# ---------------------------------------------------------------------------------------------
# Scoring


class Scored(msgspec.Struct, frozen=True):
    """The scores of one scoring for a batch of responses, and what produced them."""

    scoring: str
    scoring_version: str
    instrument_version: str
    value_set: str | None
    values: list[dict[str, float | str | None]]  # one per response, in order

    def provenance(self) -> tuple[str, str, str | None]:
        return (self.instrument_version, self.scoring_version, self.value_set)


def scorings_of(instrument: Instrument, use: InstrumentUse, scoring_id: str | None = None) -> list[str]:
    """The scorings to compute: `scoring_id` if given, else the protocol's, else the default."""
    if scoring_id is not None:
        return [scoring_id]
    return list(use.scorings) or [instrument.scoring().id]


def uses_value_set(instrument: Instrument, scoring_id: str) -> bool:
    return any(isinstance(s, ValueSetIndex) for s in instrument.scoring(scoring_id).scales)


def score_batch(
    instrument: Instrument,
    rows: Sequence[Mapping[str, int | None]],
    scoring_id: str,
    *,
    method: str | None = None,
    country: str | None = None,
) -> Scored:
    """Score many responses (item → code or None each) with one scoring, vectorised.

    `method` and `country` choose the EQ-5D value set and are used only by scorings that have
    one. "No score" (NaN, or an empty band) is stored as null.
    """
    columns = {
        item.id: np.array([np.nan if r.get(item.id) is None else float(r[item.id]) for r in rows], dtype=np.float64)
        for item in instrument.items
    }
    if not uses_value_set(instrument, scoring_id):
        method = country = None
    result = scoring.score(instrument, columns, scoring=scoring_id, method=method, country=country)
    values = [
        {name: _stored(column[row]) for name, column in result.scores.items()}
        for row in range(len(rows))
    ]
    p = result.provenance
    return Scored(
        scoring=p.scoring,
        scoring_version=p.scoring_version,
        instrument_version=p.instrument_version,
        value_set=p.value_set.name if p.value_set is not None else None,
        values=values,
    )


def _stored(value: Any) -> float | str | None:
    if isinstance(value, str):
        return value or None
    number = float(value)
    return None if math.isnan(number) else number


# ---------------------------------------------------------------------------------------------
# Submission


def submit(
    session: Session,
    *,
    invitation: Invitation,
    episode: Episode,
    instruments: Sequence[Instrument],
    uses: Mapping[str, InstrumentUse],
    answers: Mapping[str, Any],
    language: str,
    respondent: str,
    started_at: dt.datetime | None,
    now: dt.datetime,
) -> tuple[Receipt, bool]:
    """Validate, store and score a submission; commit. Returns the receipt and whether this
    call stored it (False: it had been stored before, and that receipt is returned).

    Raises InvalidAnswers (422) naming every bad answer, Gone when the invitation can no longer
    take answers. `uses` gives each instrument's scorings and value set (protocol.instrument_use).
    """
    if Status(invitation.status) is Status.completed:
        stored = stored_receipt(session, invitation.id)
        if stored is not None:
            return stored, False
    clean, problems = validate(list(instruments), answers)
    if problems:
        registry_id, episode_id = episode.registry_id, episode.id
        session.rollback()  # end this transaction first: on SQLite it holds the write lock
        audit.record_apart(session.get_bind(), "patient", "patient", "response.submit", registry_id, episode_id, "invalid")
        raise InvalidAnswers(problems)

    try:
        if not change_status(session, invitation, (Status.open, Status.started), Status.completed, now):
            session.rollback()
            stored = stored_receipt(session, invitation.id)
            if stored is not None:
                return stored, False
            raise Gone("the form can no longer be answered", fix="ask the registry for a new link")
        for ins in instruments:
            given = clean.get(ins.id, {})
            response = Response(
                invitation_id=invitation.id,
                episode_id=episode.id,
                registry_id=episode.registry_id,
                instrument_id=ins.id,
                instrument_version=ins.version,
                answers={item.id: given.get(item.id) for item in ins.items},
                language=language,
                channel=invitation.channel or "link",
                respondent=respondent,
                started_at=started_at or now,
                submitted_at=now,
            )
            session.add(response)
            session.flush()  # the unique (invitation, instrument) constraint speaks here
            use = uses.get(ins.id) or InstrumentUse(instrument=ins.id)
            for scoring_id in scorings_of(ins, use):
                scored = score_batch(ins, [response.answers], scoring_id, method=use.method, country=use.country)
                session.add(_score_row(response, ins, scored, scored.values[0], now))
        draft = session.get(Draft, invitation.id)
        if draft is not None:
            session.delete(draft)
        audit.record(session, "patient", "patient", "response.submit", episode.registry_id, episode.id, "ok")
        session.commit()
    except IntegrityError:
        # Another request stored this submission between our check and our insert.
        session.rollback()
        stored = stored_receipt(session, invitation.id)
        if stored is None:
            raise
        return stored, False
    except BaseException:
        session.rollback()
        raise
    return Receipt(received_at=now, instruments=[i.id for i in instruments]), True


def _score_row(response: Response, ins: Instrument, scored: Scored, values: dict, now: dt.datetime) -> Score:
    return Score(
        response_id=response.id,
        instrument_id=ins.id,
        instrument_version=scored.instrument_version,
        scoring=scored.scoring,
        scoring_version=scored.scoring_version,
        value_set=scored.value_set,
        values=values,
        current=True,
        computed_at=now,
    )


def stored_receipt(session: Session, invitation_id: str) -> Receipt | None:
    """The receipt of an invitation's stored submission, if there is one."""
    rows = session.exec(
        select(Response.instrument_id, Response.submitted_at).where(Response.invitation_id == invitation_id)
    ).all()
    if not rows:
        return None
    return Receipt(received_at=min(r[1] for r in rows), instruments=[r[0] for r in rows])



def change_status(
    session: Session, invitation: Invitation, from_: tuple[Status, ...], to: Status, now: dt.datetime, note: str | None = None
) -> bool:
    """Move an invitation to `to` if it is in one of `from_`, with its event; False if it was not.

    A conditional UPDATE, so that two requests (two tabs, two service processes) cannot both
    make the same change: the second finds the status already changed. The caller commits.
    """
    result = session.execute(
        sa.update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.status.in_(list(from_)))
        .values(status=to, status_at=now)
    )
    if result.rowcount != 1:
        return False
    session.add(InvitationEvent(invitation_id=invitation.id, status=to, at=now, note=note))
    invitation.status, invitation.status_at = to, now
    return True
