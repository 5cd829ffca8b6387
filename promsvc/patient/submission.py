"""The one submission path of the patient pages and of the JSON form API.

`submit` is what both call. Answers that arrive with the request go to the application's
group-committing writer (promsvc.responses.writer), which reads the link, checks, scores and
stores them together with the other submissions waiting, in one transaction. Whatever the writer
cannot store as it arrived (no answers in the body: the draft's are sent; an unknown, gone or
expired link; invalid answers; a proxy where none is allowed; a lost race; a database error)
takes the full path, `submit_now`, in a worker thread: the same `prepare` and the same `store`,
with every check spelled out so that the caller can say precisely what is wrong.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from typing import Any

import anyio
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from promsvc import audit, db, errors
from promsvc.patient.links import Link, LinkGone, expire, read_link, usable_links
from promsvc.registries.loader import Registries
from promsvc.responses.submission import InvalidAnswers, Prepared, Receipt, prepare, store, stored_receipt
from promsvc.responses.writer import Arrival


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def submit(state, token: str, answers: Mapping[str, Any] | None, *, language: str | None,
                 respondent: str | None) -> tuple[Receipt, bool]:
    """Store and score the answers to the link of `token` (None: its draft's): the receipt, and
    whether they were stored now (False: stored before, by another tab or a retry).

    `state` is the application's (its `engine`, `registries` and `writer`). Raises LinkNotFound,
    LinkGone, InvalidAnswers (every bad answer named), errors.Invalid (a proxy where the form
    is for the patient only) and errors.Gone (the invitation closed while the answers were checked).
    """
    if answers is not None:
        receipt = await state.writer.take(Arrival(token=token, answers=dict(answers), language=language,
                                                  respondent=respondent, at=_now()))
        if receipt is not None:
            return receipt, True
    return await anyio.to_thread.run_sync(functools.partial(
        submit_now, state.engine, state.registries, token, answers, language=language, respondent=respondent, now=_now()))


def submit_now(engine: sa.Engine, registries: Registries, token: str, answers: Mapping[str, Any] | None,
               *, language: str | None, respondent: str | None, now: dt.datetime) -> tuple[Receipt, bool]:
    """The full path of `submit`, on its own (blocking; a worker thread or a script)."""
    # Read without a transaction, check and score; then a short write transaction.
    with db.reader(engine) as reader:
        try:
            link = read_link(reader, registries, token, now)
        except LinkGone as gone:
            return _stored_before(reader, gone.invitation_id, gone)
    if not isinstance(link, Link):
        raise expire(engine, link, now)
    respondent = check_respondent(link, respondent)
    try:
        prepared = prepare_link(link, link.answers if answers is None else answers, language=language,
                                respondent=respondent, now=now)
    except InvalidAnswers:
        audit.record_apart(engine, "patient", "patient", "response.submit", link.episode.registry_id, link.episode.id, "invalid")
        raise
    try:
        with engine.begin() as connection:
            created = store(connection, [prepared])[0]
    except IntegrityError as refused:
        # Stored by another request between its check and its insert (the unique response per
        # invitation and instrument); with nothing stored before, the database refused a row
        # for another reason: a fault of ours, not something the patient did.
        with db.reader(engine) as reader:
            return _stored_before(reader, link.invitation.id, refused)
    if created:
        return prepared.receipt, True
    with db.reader(engine) as reader:
        return _stored_before(reader, link.invitation.id,
                              errors.Gone("the form can no longer be answered", fix="ask the registry for a new link"))


def _stored_before(reader, invitation_id: str | None, problem: Exception) -> tuple[Receipt, bool]:
    """The receipt of the answers stored before (a second tab, a retry); else raise `problem`."""
    receipt = stored_receipt(reader, invitation_id) if invitation_id is not None else None
    if receipt is None:
        raise problem
    return receipt, False


def check_respondent(link: Link, given: str | None) -> str | None:
    """`given` if this respondent may answer the link's form; errors.Invalid otherwise."""
    if given == "proxy" and not link.proxy_allowed:
        raise errors.Invalid("this form may be answered by the patient only", where="$.respondent", fix='leave it out or send "patient"')
    return given


def prepare_arrivals(registries: Registries, connection: sa.Connection,
                     arrivals: list[Arrival]) -> list[Prepared | None]:
    """Read, check and score submissions that arrived with their answers (the writer's
    `resolve`): a Prepared for each that can be stored as it is; None for any other, whose
    request then takes the full path (which says what is wrong)."""
    found = usable_links(connection, registries, [a.token for a in arrivals], max(a.at for a in arrivals))
    out: list[Prepared | None] = []
    for arrival in arrivals:
        link = found.get(arrival.token)
        if link is None:
            out.append(None)
            continue
        try:
            out.append(prepare_link(link, arrival.answers, language=arrival.language,
                                    respondent=check_respondent(link, arrival.respondent), now=arrival.at))
        except (InvalidAnswers, errors.Invalid):
            out.append(None)
    return out


def prepare_link(link: Link, answers, *, language: str | None, respondent: str | None,
                 now: dt.datetime) -> Prepared:
    """Validate and score answers to a link (promsvc.responses.submission.prepare); language and
    respondent default to the draft's, else the episode's language and the patient."""
    return prepare(
        invitation=link.invitation, episode=link.episode, instruments=link.instruments,
        uses={i.id: link.protocol.instrument_use(i.id) for i in link.instruments},
        answers=answers,
        language=language or (link.draft.language if link.draft is not None else link.episode.language),
        respondent=respondent or link.respondent,
        started_at=link.draft.started_at if link.draft is not None else None,
        now=now,
    )
