"""What a patient link opens, and saving a draft: the database side of the patient pages and
of the JSON form API.

A link is usable while its invitation is `open` or `started`, its episode is not withdrawn and
it has not expired. Expired, withdrawn and completed links are "gone" (HTTP 410); any other
token, whether it never existed or belongs to an invitation in another state, is "not found"
(404) and the two cannot be told apart by what they say about the token.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

import instruments
from instruments import Instrument
from promsvc.delivery import links as delivery_links
from promsvc.models import Draft, Episode, Invitation, Status
from promsvc.registries.overlays import Overlays
from promsvc.registries.schema import Protocol, Registry, TimePoint
from promsvc.responses import services as responses
from promsvc.responses.services import change_status
from promsvc.responses.writer import Arrival
from promsvc.security import hash_token

USABLE = (Status.open, Status.started)
GONE = {Status.completed: "completed", Status.expired: "expired", Status.withdrawn: "withdrawn"}

# A link token is 43 URL-safe characters (promsvc.security.new_token); allow some slack, but do
# not hash arbitrary input.
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class LinkNotFound(Exception):
    """No usable link has this token (or it never existed: the two look the same)."""


class LinkGone(Exception):
    """The link existed but can no longer be used: completed, expired or withdrawn. Carries
    what the page that says so needs: the invitation, its registry and expiry."""

    def __init__(self, reason: str, language: str, invitation=None):
        super().__init__(reason)
        self.reason, self.language = reason, language
        self.invitation_id = getattr(invitation, "id", None)
        self.registry_id = getattr(invitation, "registry_id", None)
        self.expires_at = getattr(invitation, "expires_at", None)


@dataclass
class Link:
    """Everything one usable link opens. From `usable_links` (the submission writer's batch
    read), `invitation`, `episode` and `draft` are read-only views with some columns only."""

    invitation: Invitation
    episode: Episode
    registry: Registry
    protocol: Protocol
    time_point: TimePoint
    instruments: list[Instrument]
    draft: Draft | None

    @property
    def proxy_allowed(self) -> bool:
        """Whether someone may answer on the patient's behalf: the protocol lists `proxy` among
        its respondents and the episode was enrolled with `proxy: true` (enrolment refuses the
        latter when the protocol does not allow proxies)."""
        return "proxy" in self.protocol.respondents and bool(self.episode.proxy_allowed)

    @property
    def answers(self) -> dict[str, dict[str, int | None]]:
        return dict(self.draft.answers) if self.draft is not None else {}

    @property
    def seen(self) -> dict[str, list[str]] | None:
        """The items of the pages the patient has saved (promsvc.patient.paging); None when the
        draft has no record of it."""
        seen = getattr(self.draft, "seen", None)  # the writer's read-only views leave it out
        return dict(seen) if seen is not None else None

    @property
    def respondent(self) -> str:
        return self.draft.respondent if self.draft is not None else "patient"

    def instrument_number(self, instrument_id: str) -> int:
        return next(n for n, i in enumerate(self.instruments, start=1) if i.id == instrument_id)


def find_invitation(session: Session, token: str) -> Invitation | None:
    found = _find(session, token)
    return found[0] if found is not None else None


def _usable_token(token: str) -> bool:
    return 16 <= len(token) <= 128 and set(token) <= _TOKEN_CHARS


def _find(session: Session, token: str) -> tuple[Invitation, Episode, Draft | None] | None:
    """The invitation of a token with its episode and draft, in one query: the in-clinic link
    or any unrevoked link a message carried (each e-mail, SMS and letter has its own token)."""
    if not _usable_token(token):
        return None
    return delivery_links.find_link(session, hash_token(token))


def open_link(session: Session, registries: Mapping[str, Registry], token: str, now: dt.datetime) -> Link:
    """The usable link of `token`; LinkGone or LinkNotFound otherwise.

    An open or started invitation found past its expiry is marked expired here (with its
    event), so the patient sees the same as the scheduler will record.
    """
    link = read_link(session, registries, token, now)
    if isinstance(link, Link):
        return link
    if change_status(session, link, (Status.open, Status.started), Status.expired, now):
        session.commit()
    raise LinkGone("expired", link_language(session, link), link)


def read_link(session: Session, registries: Mapping[str, Registry], token: str, now: dt.datetime) -> Link | Invitation:
    """What `open_link` finds, without writing: the Link, or the invitation that has expired
    but is not yet marked so (the caller marks it, see `expire`). Raises LinkGone, LinkNotFound."""
    found = _find(session, token)
    if found is None:
        raise LinkNotFound()
    return _checked(registries, *found, now)


def usable_links(connection: sa.Connection, registries: Mapping[str, Registry], tokens: list[str],
                 now: dt.datetime) -> dict[str, Link]:
    """`read_link` for many tokens in one query: the tokens whose link is usable now, each with
    its Link. A token missing from the answer is not usable, or not found, or expired:
    `read_link` tells which. The Link holds read-only views of the rows, with the columns that
    checking and scoring read (promsvc.delivery.links.LINK_COLUMNS), not ORM objects."""
    hashes = {hash_token(t): t for t in dict.fromkeys(tokens) if _usable_token(t)}
    if not hashes:
        return {}
    found = {}
    for token_hash, row in delivery_links.find_links(connection, list(hashes)).items():
        try:
            link = _checked(registries, *_views(row), now)
        except (LinkGone, LinkNotFound):
            continue
        if isinstance(link, Link):
            found[hashes[token_hash]] = link
    return found


def _views(row: sa.Row) -> tuple[SimpleNamespace, SimpleNamespace, SimpleNamespace | None]:
    values = row._mapping
    invitation, episode, draft = (
        SimpleNamespace(**{c: values[f"{table}_{c}"] for c in columns})
        for table, columns in delivery_links.LINK_COLUMNS.items()
    )
    return invitation, episode, (draft if draft.invitation_id is not None else None)


def prepare_arrivals(registries: Mapping[str, Registry], connection: sa.Connection,
                     arrivals: list[Arrival]) -> list[responses.Prepared | None]:
    """Read, check and score submissions that arrived with their answers (the writer's
    `resolve`): a Prepared for each that can be stored as it is; None for any other, whose
    request then takes the full path (which says what is wrong)."""
    found = usable_links(connection, registries, [a.token for a in arrivals], max(a.at for a in arrivals))
    out: list[responses.Prepared | None] = []
    for arrival in arrivals:
        link = found.get(arrival.token)
        if link is None or (arrival.respondent == "proxy" and not link.proxy_allowed):
            out.append(None)
            continue
        try:
            out.append(prepare_link(link, arrival.answers, language=arrival.language, respondent=arrival.respondent,
                                    now=arrival.at))
        except responses.InvalidAnswers:
            out.append(None)
    return out


def prepare_link(link: Link, answers, *, language: str | None, respondent: str | None,
                 now: dt.datetime) -> responses.Prepared:
    """Validate and score answers to a link (promsvc.responses.services.prepare); language and
    respondent default to the draft's, else the episode's language and the patient."""
    return responses.prepare(
        invitation=link.invitation, episode=link.episode, instruments=link.instruments,
        uses={i.id: link.protocol.instrument_use(i.id) for i in link.instruments},
        answers=answers,
        language=language or (link.draft.language if link.draft is not None else link.episode.language),
        respondent=respondent or link.respondent,
        started_at=link.draft.started_at if link.draft is not None else None,
        now=now,
    )


def _checked(registries: Mapping[str, Registry], invitation: Invitation, episode: Episode, draft: Draft | None,
             now: dt.datetime) -> Link | Invitation:
    status = Status(invitation.status)
    if status in GONE:
        raise LinkGone(GONE[status], episode.language, invitation)
    if status not in USABLE:
        raise LinkNotFound()
    if episode.withdrawn_at is not None:
        raise LinkGone("withdrawn", episode.language, invitation)
    if invitation.expires_at <= now:
        return invitation
    return _link(registries, invitation, episode, draft)


def late_link(session: Session, registries: Mapping[str, Registry], token: str, now: dt.datetime) -> Link | None:
    """The link of an invitation past its expiry (open, started or already marked expired; its
    episode not withdrawn), so that what a patient posts after the deadline can still be kept in
    the draft. None for any other token."""
    found = _find(session, token)
    if found is None:
        return None
    invitation, episode, draft = found
    status = Status(invitation.status)
    late = status is Status.expired or (status in USABLE and invitation.expires_at <= now)
    if not late or episode.withdrawn_at is not None:
        return None
    try:
        return _link(registries, invitation, episode, draft)
    except LinkNotFound:
        return None


def _link(registries: Mapping[str, Registry], invitation: Invitation, episode: Episode, draft: Draft | None) -> Link:
    registry = registries.get(invitation.registry_id)
    protocol = registry.protocol(episode.protocol_id) if registry is not None else None
    time_point = protocol.time_point(invitation.time_point) if protocol is not None else None
    if time_point is None:
        # The configuration no longer has this registry, protocol or time point.
        raise LinkNotFound()
    return Link(
        invitation=invitation,
        episode=episode,
        registry=registry,
        protocol=protocol,
        time_point=time_point,
        instruments=[registries.instrument(protocol, i) for i in time_point.instruments],
        draft=draft,
    )


def expire(engine, invitation: Invitation, now: dt.datetime) -> LinkGone:
    """Mark an invitation found past its expiry as expired (with its event) in a transaction of
    its own; the LinkGone to raise."""
    from promsvc import db

    with db.session(engine) as session:
        if change_status(session, invitation, (Status.open, Status.started), Status.expired, now):
            session.commit()
        return LinkGone("expired", link_language(session, invitation), invitation)


def link_language(session: Session, invitation: Invitation) -> str:
    episode = session.get(Episode, invitation.episode_id)
    return episode.language if episode is not None else "nb"


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
            change_status(session, link.invitation, (Status.open,), Status.started, now)
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


# ---------------------------------------------------------------------------------------------
# Wording: the registry's overlay, else ours


def wordings(link: Link, overlays: Overlays, lang: str):
    """The words of each instrument of a link in `lang`: the registry's overlay (from
    `Registries.overlays`, read at start-up), else ours."""
    from promsvc.patient.forms import Wording

    return [Wording(i, lang, overlays.get(link.registry.id, i)) for i in link.instruments]


def submit(session: Session, link: Link, answers, lang: str, respondent: str, now: dt.datetime):
    """Submit a link's answers (promsvc.responses.services.submit): (receipt, stored now)."""
    from promsvc.responses import services as responses

    return responses.submit(
        session,
        invitation=link.invitation,
        episode=link.episode,
        instruments=link.instruments,
        uses={i.id: link.protocol.instrument_use(i.id) for i in link.instruments},
        answers=answers,
        language=lang,
        respondent=respondent,
        started_at=link.draft.started_at if link.draft is not None else None,
        now=now,
    )
