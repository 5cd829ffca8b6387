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
from scoring.engine import per_definition
from instruments import Instrument
from instruments.schema import ValueSetIndex
from promsvc import audit
from promsvc.db import unindexed
from promsvc.errors import Gone, Invalid
from promsvc.models import AuditEntry, Draft, Episode, Invitation, InvitationEvent, Response, Score, Status, new_id
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
    return per_definition(instrument, ("uses_value_set", scoring_id),  # once per definition: asked per score
                          lambda: any(isinstance(s, ValueSetIndex) for s in instrument.scoring(scoring_id).scales))


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
    columns = {  # numbers as floats (NaN: no answer); multi-select answers as their lists; text is never read
        item.id: [r.get(item.id) for r in rows] if item.kind == "multi"
        else np.array([np.nan if r.get(item.id) is None else float(r[item.id]) for r in rows], dtype=np.float64)
        for item in instrument.items if item.kind != "text"
    }
    if not uses_value_set(instrument, scoring_id):
        method = country = None
    result = scoring.score(instrument, columns, scoring=scoring_id, method=method, country=country)
    values = [
        {name: _stored(column[row]) for name, column in result.scores.items()}
        for row in range(len(rows))
    ]
    return _scored(result.provenance, values)


def score_one(
    instrument: Instrument,
    answers: Mapping[str, int | None],
    scoring_id: str,
    *,
    method: str | None = None,
    country: str | None = None,
) -> Scored:
    """`score_batch` for a single response, without numpy's per-call cost (scoring.score_one
    gives the engine's numbers exactly)."""
    if not uses_value_set(instrument, scoring_id):
        method = country = None
    scores, provenance = scoring.score_one(instrument, answers, scoring=scoring_id, method=method, country=country)
    return _scored(provenance, [{name: _stored(value) for name, value in scores.items()}])


def _scored(p: scoring.Provenance, values: list[dict[str, float | str | None]]) -> Scored:
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
#
# In two steps, so that the write transaction holds nothing but writes: `prepare` does all the
# CPU work (validation, scoring) before any transaction is open, and `store` writes prepared
# submissions with a handful of set-based statements (on PostgreSQL, one). On SQLite the write
# lock is then held for the writes only; `promsvc.responses.writer` commits many prepared
# submissions in one transaction (one fsync for all of them).


class Prepared(msgspec.Struct, frozen=True, kw_only=True):
    """A checked and scored submission, ready to be written: the rows of its responses and
    scores, and what the audit row and the status change need."""

    invitation_id: str
    episode_id: str
    registry_id: str
    responses: list[dict[str, Any]]
    scores: list[dict[str, Any]]
    receipt: Receipt


def prepare(
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
) -> Prepared:
    """Validate and score a submission; no database. Raises InvalidAnswers naming every bad answer."""
    clean, problems = validate(list(instruments), answers)
    if problems:
        raise InvalidAnswers(problems)
    responses: list[dict[str, Any]] = []
    scores: list[dict[str, Any]] = []
    for ins in instruments:
        given = clean.get(ins.id, {})
        row = {
            "id": new_id(),
            "invitation_id": invitation.id,
            "episode_id": episode.id,
            "registry_id": episode.registry_id,
            "instrument_id": ins.id,
            "instrument_version": ins.version,
            "answers": {item.id: given.get(item.id) for item in ins.items},
            "language": language,
            "channel": invitation.channel or "link",
            "respondent": respondent,
            "started_at": started_at or now,
            "submitted_at": now,
        }
        responses.append(row)
        use = uses.get(ins.id) or InstrumentUse(instrument=ins.id)
        for scoring_id in scorings_of(ins, use):
            scored = score_one(ins, row["answers"], scoring_id, method=use.method, country=use.country)
            scores.append(_score_row(row["id"], ins, scored, scored.values[0], now))
    return Prepared(
        invitation_id=invitation.id,
        episode_id=episode.id,
        registry_id=episode.registry_id,
        responses=responses,
        scores=scores,
        receipt=Receipt(received_at=now, instruments=[i.id for i in instruments]),
    )


_INVITATION, _EVENT, _RESPONSE, _SCORE, _DRAFT, _AUDIT = (
    m.__table__ for m in (Invitation, InvitationEvent, Response, Score, Draft, AuditEntry)
)
_TAKES_ANSWERS = (Status.open, Status.started)
# Built once: building a statement costs more than running it.
_COMPLETE = (
    sa.update(_INVITATION)
    .where(
        _INVITATION.c.id.in_(sa.bindparam("ids", expanding=True)),
        _INVITATION.c.status.in_(_TAKES_ANSWERS),  # not indexed (models.Invitation)
        unindexed(_INVITATION.c.expires_at) > sa.bindparam("now", type_=_INVITATION.c.expires_at.type),
    )
    .values(status=Status.completed, status_at=sa.bindparam("at", type_=_INVITATION.c.status_at.type))
    .returning(_INVITATION.c.id)
)
_INSERT_EVENT, _INSERT_RESPONSE, _INSERT_SCORE, _INSERT_AUDIT = (sa.insert(t) for t in (_EVENT, _RESPONSE, _SCORE, _AUDIT))
_DELETE_DRAFT = sa.delete(_DRAFT).where(_DRAFT.c.invitation_id.in_(sa.bindparam("ids", expanding=True)))


def _columns(table: sa.Table, *skip: str) -> str:
    return ", ".join(f'"{c.name}"' for c in table.columns if c.name not in skip)


# The same writes as `store`'s statements, on PostgreSQL in ONE statement (data-modifying
# CTEs), with the rows passed as two JSON documents. One round trip instead of eight, and no
# per-row work in the driver: psycopg adapting a row's values cost more than PostgreSQL
# writing it. A single statement is atomic on its own, so in autocommit mode it is its own
# transaction. The foreign keys of `score` are checked at the end of the statement, when the
# responses it refers to are there.
_STORE_POSTGRESQL = f"""
WITH done AS (
    UPDATE invitation SET status = '{Status.completed.value}', status_at = %(at)s
    WHERE id = ANY(%(ids)s::varchar[])
      AND status IN ({", ".join(f"'{s.value}'" for s in _TAKES_ANSWERS)})
      AND expires_at > %(at)s
    RETURNING id, episode_id, registry_id
), events AS (
    INSERT INTO invitation_event (invitation_id, status, at)
    SELECT id, '{Status.completed.value}', %(at)s FROM done
), responses AS (
    INSERT INTO response ({_columns(_RESPONSE)})
    SELECT {_columns(_RESPONSE)} FROM json_populate_recordset(NULL::response, %(responses)s)
    WHERE invitation_id IN (SELECT id FROM done)
    RETURNING id
), scores AS (
    INSERT INTO score ({_columns(_SCORE, "id")})
    SELECT {_columns(_SCORE, "id")} FROM json_populate_recordset(NULL::score, %(scores)s)
    WHERE response_id IN (SELECT id FROM responses)
), drafts AS (
    DELETE FROM draft WHERE invitation_id IN (SELECT id FROM done)
), audits AS (
    INSERT INTO audit (at, actor, role, action, registry_id, episode_id, outcome)
    SELECT %(at)s, 'patient', 'patient', 'response.submit', registry_id, episode_id, 'ok' FROM done
)
SELECT id FROM done
"""
_json = msgspec.json.Encoder()


def store(connection: sa.Connection, batch: Sequence[Prepared], at: dt.datetime | None = None) -> list[bool]:
    """Write prepared submissions in `connection`'s transaction; the caller commits.

    Returns, for each, whether it was stored now. False: its invitation could no longer take
    answers (stored before, by another tab or a retry, or expired or withdrawn meanwhile).
    The guard is one conditional UPDATE for the whole batch, so two requests (or two service
    processes) cannot both complete an invitation; the unique (invitation, instrument)
    constraint of `response` backs it up (IntegrityError). `at` (default: the latest
    submission's time) is when the invitations changed status. On PostgreSQL all of it is one
    statement, so with an autocommit connection nothing needs to be committed.
    """
    if not batch:
        return []
    at = at or max(p.receipt.received_at for p in batch)
    first: dict[str, Prepared] = {}  # the same invitation twice in one batch: the first one is stored
    for p in batch:
        first.setdefault(p.invitation_id, p)
    written = list(first.values())
    if connection.dialect.name == "postgresql":
        changed = set(connection.exec_driver_sql(_STORE_POSTGRESQL, {
            "at": at,
            "ids": list(first),
            "responses": _json.encode([r for p in written for r in p.responses]).decode(),
            "scores": _json.encode([s for p in written for s in p.scores]).decode(),
        }).scalars())
    else:
        changed = _store_each_table(connection, written, at)
    return [first[p.invitation_id] is p and p.invitation_id in changed for p in batch]


def _store_each_table(connection: sa.Connection, batch: list[Prepared], at: dt.datetime) -> set[str]:
    """`store` with a statement per table: the invitations completed now."""
    changed = set(connection.execute(_COMPLETE, {"ids": [p.invitation_id for p in batch], "now": at, "at": at}).scalars())
    written = [p for p in batch if p.invitation_id in changed]
    if not written:
        return changed
    connection.execute(_INSERT_EVENT, [
        {"invitation_id": p.invitation_id, "status": Status.completed, "at": at, "note": None} for p in written
    ])
    connection.execute(_INSERT_RESPONSE, [r for p in written for r in p.responses])
    scores = [s for p in written for s in p.scores]
    if scores:
        connection.execute(_INSERT_SCORE, scores)
    connection.execute(_DELETE_DRAFT, {"ids": [p.invitation_id for p in written]})
    connection.execute(_INSERT_AUDIT, [
        audit.row("patient", "patient", "response.submit", p.registry_id, p.episode_id, "ok", at) for p in written
    ])
    return changed


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
    Whatever the session holds is committed first: the checks and the scoring run outside any
    transaction (on SQLite, without the write lock).
    """
    if Status(invitation.status) is Status.completed:
        stored = stored_receipt(session, invitation.id)
        if stored is not None:
            return stored, False
    session.commit()
    try:
        prepared = prepare(
            invitation=invitation, episode=episode, instruments=instruments, uses=uses, answers=answers,
            language=language, respondent=respondent, started_at=started_at, now=now,
        )
    except InvalidAnswers:
        audit.record_apart(session.get_bind(), "patient", "patient", "response.submit", episode.registry_id, episode.id, "invalid")
        raise
    try:
        created = store(session.connection(), [prepared])[0]
        if created:
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
    if created:
        invitation.status, invitation.status_at = Status.completed, now
        return prepared.receipt, True
    session.rollback()
    return stored_or_gone(session, invitation.id), False


def stored_or_gone(session: Session, invitation_id: str) -> Receipt:
    """The receipt of a submission that was not stored now: the one stored before, or Gone."""
    stored = stored_receipt(session, invitation_id)
    if stored is None:
        raise Gone("the form can no longer be answered", fix="ask the registry for a new link")
    return stored


def _score_row(response_id: str, ins: Instrument, scored: Scored, values: dict, now: dt.datetime) -> dict[str, Any]:
    return {
        "response_id": response_id,
        "instrument_id": ins.id,
        "instrument_version": scored.instrument_version,
        "scoring": scored.scoring,
        "scoring_version": scored.scoring_version,
        "value_set": scored.value_set,
        "values": values,
        "current": True,
        "computed_at": now,
    }


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
