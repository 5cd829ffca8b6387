"""Every change of an invitation's status, each written with its `invitation_event` row.

A move is a conditional UPDATE (`WHERE status IN from_`), so that two requests, two jobs or
two service processes cannot both make the same change: the second finds the status already
changed and is told so (False, or the invitation left out of the answer). The caller commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence

import sqlalchemy as sa
from sqlmodel import Session

from promsvc.db import unindexed
from promsvc.invitations.states import check_move
from promsvc.models import Invitation, InvitationEvent, Status, table

_I = table(Invitation)
_E = table(InvitationEvent)
_INSERT_EVENT = sa.insert(_E)


def event_row(invitation_id: str, status: Status | str, at: dt.datetime, note: str | None = None) -> dict:
    """The `invitation_event` row of a status an invitation took (or was created with) at `at`."""
    return {"invitation_id": invitation_id, "status": Status(status), "at": at, "note": note}


def move(db: Session | sa.Connection, invitation_id: str, from_: Iterable[Status | str], to: Status | str,
         at: dt.datetime, note: str | None = None) -> bool:
    """Move one invitation to `to` if it is in one of `from_`, with its event; False if it was not."""
    from_ = [Status(s) for s in from_]
    check_move(from_, to)
    # In a session, the ORM-enabled UPDATE also brings an Invitation already loaded up to date.
    target = Invitation if isinstance(db, Session) else _I
    changed = db.execute(
        sa.update(target).where(_I.c.id == invitation_id, _I.c.status.in_(from_)).values(status=Status(to), status_at=at)
    ).rowcount  # type: ignore[attr-defined]  # a DML statement gives a CursorResult; Session.execute is typed as giving Result
    if changed != 1:
        return False
    db.execute(_INSERT_EVENT, [event_row(invitation_id, to, at, note)])
    return True


def change(session: Session, invitation: Invitation, from_: Iterable[Status | str], to: Status | str,
           at: dt.datetime, note: str | None = None) -> bool:
    """`move` for an invitation the caller holds (an ORM object or a read-only view of the row),
    which then shows the new status too."""
    if not move(session, invitation.id, from_, to, at, note):
        return False
    invitation.status, invitation.status_at = Status(to), at
    return True


_MANY: dict[tuple, sa.Update] = {}  # built once each: building a statement costs more than running it


def _many_statement(from_: tuple[Status, ...], to: Status, open_at: bool) -> sa.Update:
    key = (from_, to, open_at)
    if key not in _MANY:
        where: list[sa.ColumnElement[bool]] = [_I.c.id.in_(sa.bindparam("ids", expanding=True)), _I.c.status.in_(from_)]  # status: not indexed
        if open_at:
            where.append(unindexed(_I.c.expires_at) > sa.bindparam("at", type_=_I.c.expires_at.type))
        _MANY[key] = (sa.update(_I).where(*where)
                      .values(status=to, status_at=sa.bindparam("at", type_=_I.c.status_at.type)).returning(_I.c.id))
    return _MANY[key]


def move_many(conn: sa.Connection, ids: Sequence[str], from_: Iterable[Status | str], to: Status | str,
              at: dt.datetime, notes: Mapping[str, str | None] | None = None, *, only_open: bool = False) -> set[str]:
    """`move` for many invitations in two statements: the ids that moved. `notes` gives each its
    event's note; `only_open` moves only those whose window is still open at `at`."""
    sources = tuple(Status(s) for s in from_)
    check_move(sources, to)
    if not ids:
        return set()
    moved = set(conn.execute(_many_statement(sources, Status(to), only_open), {"ids": list(ids), "at": at}).scalars())
    if moved:
        notes = notes or {}
        conn.execute(_INSERT_EVENT, [event_row(i, to, at, notes.get(i)) for i in ids if i in moved])
    return moved
