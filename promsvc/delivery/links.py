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


_HASHES = sa.bindparam("hashes", expanding=True)
_FIND_CARRIED = select(InvitationLink.token_hash, InvitationLink.invitation_id).where(
    InvitationLink.token_hash.in_(_HASHES), InvitationLink.kind == "token", InvitationLink.revoked_at.is_(None))
_FIND_DIRECT = select(Invitation.token_hash, Invitation.id).where(Invitation.token_hash.in_(_HASHES))


def find_links(session: Session, token_hashes: list[str]) -> dict[str, str]:
    """`find_link` for many tokens: token hash → the id of the invitation it opens (the same
    rule: the in-clinic link first, else an unrevoked token a message carried)."""
    opens = dict(session.exec(_FIND_CARRIED, params={"hashes": token_hashes}).all())
    opens.update(session.exec(_FIND_DIRECT, params={"hashes": token_hashes}).all())
    return opens


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
