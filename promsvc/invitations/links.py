"""Links and short codes: every way into an invitation, in one table (`invitation_link`).

A link is issued in the clinic (channel `clinic`: the newest one works, see
`issue_clinic_link`), carried by a message (its own token each), or typed as a letter's short
code; all are looked up the same way (`_lookup`).

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
from sqlmodel import Session, col

from promsvc.invitations.states import TAKES_ANSWERS
from promsvc.models import Draft, Episode, Invitation, InvitationLink, table
from promsvc.security import hash_token, new_token

_L = table(InvitationLink)
TOKEN, CODE = "token", "code"  # the kinds of link
CLINIC = "clinic"  # the channel of a link issued in the clinic (promsvc.episodes.links)

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
    rows = [{"invitation_id": invitation_id, "token_hash": hash_token(token), "kind": TOKEN,
             "channel": channel, "issued_at": now, "revoked_at": None}]
    code = None
    if with_code:
        code = new_code()
        rows.append({"invitation_id": invitation_id, "token_hash": code_hash(code), "kind": CODE,
                     "channel": channel, "issued_at": now, "revoked_at": None})
    return token, code, rows


def issue(db: Session | sa.Connection, rows: list[dict]) -> list[int]:
    """Store the links of `link_rows` (the caller commits): their ids, in order."""
    return list(db.execute(sa.insert(_L).returning(_L.c.id, sort_by_parameter_order=True), rows).scalars().all())


def issue_clinic_link(session: Session, invitation_id: str, now: dt.datetime) -> str:
    """A new in-clinic link (channel `clinic`) for an invitation: its token. Issuing again
    revokes the previous clinic link, so only the newest one works; the links that messages
    carried keep working. The caller commits."""
    session.execute(
        sa.update(_L).where(_L.c.invitation_id == invitation_id, _L.c.channel == CLINIC, _L.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    token, _, rows = link_rows(invitation_id, CLINIC, now)
    issue(session, rows)
    return token


# What the submission writer's check and scoring read of each row (promsvc.patient.links.usable_links).
LINK_COLUMNS = {
    "invitation": {"id", "status", "expires_at", "registry_id", "time_point", "channel", "episode_id"},
    "episode": {"id", "registry_id", "protocol_id", "language", "withdrawn_at", "proxy_allowed"},
    "draft": {"invitation_id", "language", "started_at", "respondent"},
}


def _lookup(kind: str, *columns, hashes: sa.ColumnElement) -> sa.Select:
    """The one lookup of a link: the unrevoked links of `kind` whose hash is in `hashes`, joined
    to their invitation, its episode and its draft (if any), selecting `columns`."""
    return (
        sa.select(*columns)
        .select_from(_L)
        .join(Invitation, col(Invitation.id) == _L.c.invitation_id)
        .join(Episode, col(Episode.id) == Invitation.episode_id)
        .outerjoin(Draft, col(Draft.invitation_id) == Invitation.id)
        .where(hashes, _L.c.kind == kind, _L.c.revoked_at.is_(None))
    )


# Built once: building a statement costs more than running it.
_FIND = _lookup(TOKEN, Invitation, Episode, Draft, hashes=_L.c.token_hash == sa.bindparam("token_hash"))
_FIND_MANY = _lookup(
    TOKEN,
    _L.c.token_hash.label("hash"),
    *[c.label(f"{t.name}_{c.name}") for t in (table(Invitation), table(Episode), table(Draft))
      for c in t.c if c.name in LINK_COLUMNS[t.name]],
    hashes=_L.c.token_hash.in_(sa.bindparam("hashes", expanding=True)),
)
_FIND_CODE = _lookup(CODE, Invitation, hashes=_L.c.token_hash == sa.bindparam("token_hash"))


def find_link(session: Session, token_hash: str) -> tuple[Invitation, Episode, Draft | None] | None:
    """The invitation a link token opens, with its episode and draft."""
    row = session.execute(_FIND, {"token_hash": token_hash}).first()
    return tuple(row) if row is not None else None


def find_links(connection: sa.Connection, token_hashes: list[str]) -> dict[str, sa.Row]:
    """`find_link` for many tokens, in plain columns (no ORM objects: this is the submission
    writer's read, once per batch): token hash → one row with the invitation's, the episode's and
    the draft's `LINK_COLUMNS`, named `invitation_id`, `episode_language`, `draft_started_at` …"""
    return {row.hash: row for row in connection.execute(_FIND_MANY, {"hashes": token_hashes})}


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
    invitation = session.execute(_FIND_CODE, {"token_hash": code_hash(code)}).scalars().first()
    if invitation is None or invitation.status not in TAKES_ANSWERS or invitation.expires_at <= now:
        return None
    token, _, rows = link_rows(invitation.id, "code", now)
    issue(session, rows)
    return invitation, token


def revoke(session: Session, invitation_id: str, now: dt.datetime) -> int:
    """Revoke every link and code of an invitation (the caller commits)."""
    result = session.execute(
        sa.update(_L).where(_L.c.invitation_id == invitation_id, _L.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount  # type: ignore[attr-defined]  # a DML statement gives a CursorResult; Session.execute is typed as giving Result
