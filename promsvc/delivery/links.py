"""Links and short codes: a fresh way into the invitation for every message.

Tokens are stored only as hashes, so a reminder cannot repeat the token of the invitation
message. Instead every message gets its own token (a row of `invitation_link`), and every
unrevoked link of an invitation works until the invitation expires: the patient may open the
first e-mail or the reminder, whichever is at hand.

A letter also carries a *short code* for staff to type at `{base_url}/code` for a patient who
cannot go online: 12 characters of Crockford's base 32 (no I, L, O or U; 60 bits), printed as
`7K3M-Q9TD-2XHB`, stored hashed like a token. Typing it opens the invitation through a fresh
token (channel `code`), so the patient pages only ever see ordinary tokens. 60 bits cannot be
guessed online (the whole space would take millions of years at thousands of tries a second);
a stolen database could be searched for codes offline, which is why the code works only
while its invitation is open and a letter's code is a second way in, not the only one.
"""

from __future__ import annotations

import datetime as dt
import secrets

import sqlalchemy as sa
from sqlmodel import Session, select

from promsvc.models import Draft, Episode, Invitation, InvitationLink
from promsvc.security import hash_token, new_token

CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base 32
CODE_LENGTH = 12
_TYPO = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_code() -> str:
    """A new short code, unformatted (12 characters)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def format_code(code: str) -> str:
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


def normalise_code(typed: str) -> str | None:
    """What staff typed as a code: case, spaces, dashes, O/0 and I/L/1 do not matter; None if it
    cannot be a code."""
    cleaned = "".join(ch for ch in typed.upper() if ch not in " -\t").translate(_TYPO)
    if len(cleaned) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in cleaned):
        return None
    return cleaned


def code_hash(code: str) -> str:
    # A prefix keeps codes and tokens apart even if a code were ever typed where a token goes.
    return hash_token("code:" + code)


def link_rows(invitation_id: str, channel: str, now: dt.datetime, with_code: bool = False) -> tuple[str, str | None, list[dict]]:
    """A new token (and code) for one message: (token, code, rows for `invitation_link`)."""
    token = new_token()
    rows = [{"invitation_id": invitation_id, "token_hash": hash_token(token), "kind": "token",
             "channel": channel, "issued_at": now, "revoked_at": None}]
    code = None
    if with_code:
        code = new_code()
        rows.append({"invitation_id": invitation_id, "token_hash": code_hash(code), "kind": "code",
                     "channel": channel, "issued_at": now, "revoked_at": None})
    return token, code, rows


def _find_statement():
    # The in-clinic link (`invitation.token_hash`, the newest issued) first, else any unrevoked
    # token a message carried (`invitation_link`): one query, with the episode and the draft.
    token_hash = sa.bindparam("token_hash")
    direct = select(Invitation.id).where(Invitation.token_hash == token_hash).scalar_subquery()
    carried = (
        select(InvitationLink.invitation_id)
        .where(InvitationLink.token_hash == token_hash, InvitationLink.kind == "token", InvitationLink.revoked_at.is_(None))
        .scalar_subquery()
    )
    return (
        select(Invitation, Episode, Draft)
        .join(Episode, Episode.id == Invitation.episode_id)
        .outerjoin(Draft, Draft.invitation_id == Invitation.id)
        .where(Invitation.id == sa.func.coalesce(direct, carried))
    )


_FIND = _find_statement()  # built once: building a statement costs more than running it


def find_link(session: Session, token_hash: str) -> tuple[Invitation, Episode, Draft | None] | None:
    """The invitation a link token opens, with its episode and draft."""
    row = session.exec(_FIND, params={"token_hash": token_hash}).first()
    return tuple(row) if row is not None else None


def _find_many_statement():
    # `find_link` for many tokens in one query, in plain columns (no ORM objects: this is the
    # submission writer's read, once per batch). `direct` tells an in-clinic link, which wins.
    hashes = sa.bindparam("hashes", expanding=True)
    i, e, d, l = (t.__table__ for t in (Invitation, Episode, Draft, InvitationLink))
    opens = sa.union_all(
        sa.select(i.c.token_hash.label("hash"), i.c.id.label("opens"), sa.true().label("direct"))
        .where(i.c.token_hash.in_(hashes)),
        sa.select(l.c.token_hash, l.c.invitation_id, sa.false())
        .where(l.c.token_hash.in_(hashes), l.c.kind == "token", l.c.revoked_at.is_(None)),
    ).subquery()
    columns = [opens.c.hash, opens.c.direct]
    columns += [c.label(f"invitation_{c.name}") for c in i.c if c.name in LINK_COLUMNS["invitation"]]
    columns += [c.label(f"episode_{c.name}") for c in e.c if c.name in LINK_COLUMNS["episode"]]
    columns += [c.label(f"draft_{c.name}") for c in d.c if c.name in LINK_COLUMNS["draft"]]
    return (
        sa.select(*columns)
        .join(i, i.c.id == opens.c.opens)
        .join(e, e.c.id == i.c.episode_id)
        .outerjoin(d, d.c.invitation_id == i.c.id)
    )


# What the writer's check and scoring read of each (promsvc.patient.services.usable_links).
LINK_COLUMNS = {
    "invitation": {"id", "status", "expires_at", "registry_id", "time_point", "channel", "episode_id"},
    "episode": {"id", "registry_id", "protocol_id", "language", "withdrawn_at", "proxy_allowed"},
    "draft": {"invitation_id", "language", "started_at", "respondent"},
}
_FIND_MANY = _find_many_statement()


def find_links(connection: sa.Connection, token_hashes: list[str]) -> dict[str, sa.Row]:
    """`find_link` for many tokens: token hash → one row with the invitation's, the episode's
    and the draft's `LINK_COLUMNS`, named `invitation_id`, `episode_language`, `draft_started_at` …"""
    found: dict[str, sa.Row] = {}
    for row in connection.execute(_FIND_MANY, {"hashes": token_hashes}):
        if row.direct or row.hash not in found:
            found[row.hash] = row
    return found


def find_invitation(session: Session, token_hash: str) -> Invitation | None:
    """The invitation a link token opens (see `find_link`)."""
    found = find_link(session, token_hash)
    return found[0] if found is not None else None


def open_code(session: Session, typed: str, now: dt.datetime) -> tuple[Invitation, str] | None:
    """The invitation of a typed short code and a fresh token for it (stored; the caller commits);
    None when the code is unknown, revoked or its invitation can no longer be answered."""
    code = normalise_code(typed)
    if code is None:
        return None
    row = session.exec(
        select(InvitationLink).where(InvitationLink.token_hash == code_hash(code), InvitationLink.kind == "code",
                                     InvitationLink.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    invitation = session.get(Invitation, row.invitation_id)
    if invitation is None or invitation.status not in ("open", "started") or invitation.expires_at <= now:
        return None
    token, _, rows = link_rows(invitation.id, "code", now)
    session.execute(sa.insert(InvitationLink), rows)
    return invitation, token


def revoke(session: Session, invitation_id: str, now: dt.datetime) -> int:
    """Revoke every link and code of an invitation (the caller commits)."""
    result = session.execute(
        sa.update(InvitationLink)
        .where(InvitationLink.invitation_id == invitation_id, InvitationLink.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount
