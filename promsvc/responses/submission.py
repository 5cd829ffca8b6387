"""A submission's answers checked and scored (`prepare`), then stored once (`store`).

A submission writes, in ONE transaction: the invitation's move to `completed` (with its
event), one response per instrument of the time point, the scores of each response with
what produced them, the audit row, and the removal of the draft. Any error rolls all of it
back. The database enforces one response per (invitation, instrument), so a second
submission (two tabs, a retry) finds the first one's receipt instead of storing again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlmodel import Session, select

from instruments import Instrument
from promsvc import audit
from promsvc.errors import Invalid
from promsvc.invitations import moves
from promsvc.invitations.states import TAKES_ANSWERS
from promsvc.models import AuditEntry, Draft, Episode, Invitation, Response, Score, Status, new_id, table
from promsvc.registries.schema import InstrumentUse
from promsvc.responses.scores import Scored, score_one, scorings_of
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
        row: dict[str, Any] = {
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
        }  # `submitted_at`: set by `store`, when it is stored
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


_INVITATION, _RESPONSE, _SCORE, _DRAFT, _AUDIT = (table(m) for m in (Invitation, Response, Score, Draft, AuditEntry))
# Built once: building a statement costs more than running it.
_INSERT_RESPONSE, _INSERT_SCORE, _INSERT_AUDIT = (sa.insert(t) for t in (_RESPONSE, _SCORE, _AUDIT))
_DELETE_DRAFT = sa.delete(_DRAFT).where(_DRAFT.c.invitation_id.in_(sa.bindparam("ids", expanding=True)))


def _columns(table: sa.Table, *skip: str) -> str:
    return ", ".join(f'"{c.name}"' for c in table.columns if c.name not in skip)


# The same writes as `_store_each_table`, on PostgreSQL in ONE statement (data-modifying
# CTEs), with the rows passed as JSON documents. One round trip instead of seven, and no
# per-row work in the driver: psycopg adapting a row's values cost more than PostgreSQL
# writing it. A single statement is atomic on its own, so in autocommit mode it is its own
# transaction. The foreign keys of `score` are checked at the end of the statement, when the
# responses it refers to are there. `done` and `done_events` are the move of `_store_each_table`
# (TAKES_ANSWERS → completed, only while open) as promsvc.invitations.moves writes it in SQL;
# the rows of every other table are built by the same Python as on SQLite (tests/integration/
# test_submission.py proves that both write the same rows).
def _store_statement() -> str:
    return f"""
WITH {moves.move_many_sql(TAKES_ANSWERS, Status.completed, only_open=True, name="done")},
responses AS (
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
    INSERT INTO audit ({_columns(_AUDIT, "id")})
    SELECT {", ".join(f"r.{c}" for c in _columns(_AUDIT, "id").split(", "))}
    FROM json_array_elements(%(audits)s::json) AS a, LATERAL json_populate_record(NULL::audit, a) AS r
    WHERE a->>'invitation_id' IN (SELECT id FROM done)
)
SELECT id FROM done
"""


_STORE_POSTGRESQL = _store_statement()  # built once: building it costs more than running it
_json = msgspec.json.Encoder()


def _audit_row(p: Prepared, at: dt.datetime) -> dict[str, Any]:
    """The audit row of a stored submission, on every database."""
    return audit.row("patient", "patient", "response.submit", p.registry_id, p.episode_id, "ok", at)


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
    if connection.dialect.name == "postgresql":  # one round trip (data-modifying CTEs, which SQLite lacks)
        changed = set(connection.exec_driver_sql(_STORE_POSTGRESQL, {
            "at": at,
            "ids": list(first),
            "responses": _json.encode(_responses(written, at)).decode(),
            "scores": _json.encode([s for p in written for s in p.scores]).decode(),
            "audits": _json.encode([{**_audit_row(p, at), "invitation_id": p.invitation_id} for p in written]).decode(),
        }).scalars())
    else:
        changed = _store_each_table(connection, written, at)
    return [first[p.invitation_id] is p and p.invitation_id in changed for p in batch]


def _responses(batch: list[Prepared], at: dt.datetime) -> list[dict[str, Any]]:
    """The response rows of `batch`, submitted `at`: one time for all a submission writes (its
    invitation's status time and event, its responses' submission time), so that a time
    point's submission time can be read off its invitation (promsvc.indicators.dbread)."""
    return [{**r, "submitted_at": at} for p in batch for r in p.responses]


def _store_each_table(connection: sa.Connection, batch: list[Prepared], at: dt.datetime) -> set[str]:
    """`store` with a statement per table: the invitations completed now."""
    changed = moves.move_many(connection, [p.invitation_id for p in batch], TAKES_ANSWERS, Status.completed, at,
                              only_open=True)
    written = [p for p in batch if p.invitation_id in changed]
    if not written:
        return changed
    connection.execute(_INSERT_RESPONSE, _responses(written, at))
    scores = [s for p in written for s in p.scores]
    if scores:
        connection.execute(_INSERT_SCORE, scores)
    connection.execute(_DELETE_DRAFT, {"ids": [p.invitation_id for p in written]})
    connection.execute(_INSERT_AUDIT, [_audit_row(p, at) for p in written])
    return changed


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
