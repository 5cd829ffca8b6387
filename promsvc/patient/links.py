"""What a patient link opens: the database side of the patient pages and of the JSON form API
(drafts: promsvc.patient.drafts; submitting: promsvc.patient.submission).

A link is usable while its invitation is `open` or `started`, its episode is not withdrawn and
it has not expired. Expired, withdrawn and completed links are "gone" (HTTP 410); any other
token, whether it never existed or belongs to an invitation in another state, is "not found"
(404) and the two cannot be told apart by what they say about the token.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from types import SimpleNamespace
from typing import cast

import sqlalchemy as sa
from sqlmodel import Session

from instruments import Instrument
from promsvc.invitations import links as invitation_links
from promsvc.invitations import moves
from promsvc.invitations.states import GONE, TAKES_ANSWERS
from promsvc.models import Draft, Episode, Invitation, Status
from promsvc.registries.loader import Registries
from promsvc.registries.overlays import Overlays
from promsvc.registries.schema import Protocol, Registry, TimePoint
from promsvc.security import hash_token

# A link token is 43 URL-safe characters (promsvc.security.new_token); allow some slack, but do
# not hash arbitrary input.
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class LinkNotFound(Exception):
    """No usable link has this token (or it never existed: the two look the same)."""


class LinkGone(Exception):
    """The link existed but can no longer be used: completed, expired or withdrawn. Carries
    what the page that says so needs: the invitation, its registry and expiry."""

    def __init__(self, reason: str, language: str, invitation: Invitation):
        super().__init__(reason)
        self.reason, self.language = reason, language
        self.invitation_id = invitation.id
        self.registry_id = invitation.registry_id
        self.expires_at = invitation.expires_at


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
    """The invitation of a token with its episode and draft, in one query: any unrevoked link,
    issued in the clinic or carried by a message (each e-mail, SMS and letter has its own token)."""
    if not _usable_token(token):
        return None
    return invitation_links.find_link(session, hash_token(token))


def open_link(session: Session, registries: Registries, token: str, now: dt.datetime) -> Link:
    """The usable link of `token`; LinkGone or LinkNotFound otherwise.

    An open or started invitation found past its expiry is marked expired here (with its
    event), so the patient sees the same as the scheduler will record.
    """
    link = read_link(session, registries, token, now)
    if isinstance(link, Link):
        return link
    if moves.change(session, link, TAKES_ANSWERS, Status.expired, now):
        session.commit()
    raise LinkGone("expired", link_language(session, link), link)


def read_link(session: Session, registries: Registries, token: str, now: dt.datetime) -> Link | Invitation:
    """What `open_link` finds, without writing: the Link, or the invitation that has expired
    but is not yet marked so (the caller marks it, see `expire`). Raises LinkGone, LinkNotFound."""
    found = _find(session, token)
    if found is None:
        raise LinkNotFound()
    return _checked(registries, *found, now)


def usable_links(connection: sa.Connection, registries: Registries, tokens: list[str],
                 now: dt.datetime) -> dict[str, Link]:
    """`read_link` for many tokens in one query: the tokens whose link is usable now, each with
    its Link. A token missing from the answer is not usable, or not found, or expired:
    `read_link` tells which. The Link holds read-only views of the rows, with the columns that
    checking and scoring read (promsvc.invitations.links.LINK_COLUMNS), not ORM objects."""
    hashes = {hash_token(t): t for t in dict.fromkeys(tokens) if _usable_token(t)}
    if not hashes:
        return {}
    found = {}
    for token_hash, row in invitation_links.find_links(connection, list(hashes)).items():
        try:
            link = _checked(registries, *_views(row), now)
        except (LinkGone, LinkNotFound):
            continue
        if isinstance(link, Link):
            found[hashes[token_hash]] = link
    return found


def _views(row: sa.Row) -> tuple[Invitation, Episode, Draft | None]:
    # cast: read-only views with the columns a Link's readers use (LINK_COLUMNS) stand in for the rows
    values = row._mapping
    invitation, episode, draft = (
        SimpleNamespace(**{c: values[f"{table}_{c}"] for c in columns})
        for table, columns in invitation_links.LINK_COLUMNS.items()
    )
    return cast(tuple[Invitation, Episode, Draft | None], (invitation, episode, draft if draft.invitation_id is not None else None))


def _checked(registries: Registries, invitation: Invitation, episode: Episode, draft: Draft | None,
             now: dt.datetime) -> Link | Invitation:
    status = Status(invitation.status)
    if status in GONE:
        raise LinkGone(GONE[status], episode.language, invitation)
    if status not in TAKES_ANSWERS:
        raise LinkNotFound()
    if episode.withdrawn_at is not None:
        raise LinkGone("withdrawn", episode.language, invitation)
    if invitation.expires_at <= now:
        return invitation
    return _link(registries, invitation, episode, draft)


def late_link(session: Session, registries: Registries, token: str, now: dt.datetime) -> Link | None:
    """The link of an invitation past its expiry (open, started or already marked expired; its
    episode not withdrawn), so that what a patient posts after the deadline can still be kept in
    the draft. None for any other token."""
    found = _find(session, token)
    if found is None:
        return None
    invitation, episode, draft = found
    status = Status(invitation.status)
    late = status is Status.expired or (status in TAKES_ANSWERS and invitation.expires_at <= now)
    if not late or episode.withdrawn_at is not None:
        return None
    try:
        return _link(registries, invitation, episode, draft)
    except LinkNotFound:
        return None


def _link(registries: Registries, invitation: Invitation, episode: Episode, draft: Draft | None) -> Link:
    registry = registries.get(invitation.registry_id)
    protocol = registry.protocol(episode.protocol_id) if registry is not None else None
    time_point = protocol.time_point(invitation.time_point) if protocol is not None else None
    if time_point is None:
        # The configuration no longer has this registry, protocol or time point.
        raise LinkNotFound()
    assert registry is not None and protocol is not None  # the time point was found in them
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
        if moves.change(session, invitation, TAKES_ANSWERS, Status.expired, now):
            session.commit()
        return LinkGone("expired", link_language(session, invitation), invitation)


def link_language(session: Session, invitation: Invitation) -> str:
    episode = session.get(Episode, invitation.episode_id)
    return episode.language if episode is not None else "nb"


# ---------------------------------------------------------------------------------------------
# Wording: the registry's overlay, else ours


def wordings(link: Link, overlays: Overlays, lang: str):
    """The words of each instrument of a link in `lang`: the registry's overlay (from
    `Registries.overlays`, read at start-up), else ours."""
    from promsvc.patient.forms import Wording

    return [Wording(i, lang, overlays.get(link.registry.id, i)) for i in link.instruments]


