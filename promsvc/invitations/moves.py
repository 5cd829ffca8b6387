"""Every change of an invitation's status, each written with its `invitation_event` row.

A move is a conditional UPDATE (`WHERE status IN from_`), so that two requests, two jobs or
two service processes cannot both make the same change: the second finds the status already
changed and is told so (False, or the invitation left out of the answer). The caller commits.

Writers that do more in the same round trip or store many invitations at once use the same
rule in another form, never their own: `move_many_sql` is `move_many` as SQL text for one
PostgreSQL statement (the submission's store), and `check_history` checks the statuses a
writer stores as the outcome of several moves at once (the cohort load).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Session

from promsvc.db import unindexed
from promsvc.invitations.states import check_move
from promsvc.models import Invitation, InvitationEvent, Status, table

_I = table(Invitation)
_E = table(InvitationEvent)
_INSERT_EVENT = sa.insert(_E)

# The notes of the events of moves made in more than one place.
LINK_ISSUED = "link issued"
WINDOW_CLOSED = "window closed"
EPISODE_WITHDRAWN = "episode withdrawn"


def event_row(invitation_id: Any, status: Status | str, at: Any, note: Any = None) -> dict[str, Any]:
    """The `invitation_event` row of a status an invitation took (or was created with) at `at`
    (values, or in `move_many_sql` the SQL expressions that give them)."""
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


def _many(from_: tuple[Status, ...], to: Status, open_at: bool, ids: sa.ColumnElement[bool], at: sa.ColumnElement) -> sa.Update:
    """The UPDATE of a move of many invitations, in both forms (`ids` matches the ids given,
    `at` is the time given): the moved ids come back."""
    where: list[sa.ColumnElement[bool]] = [ids, _I.c.status.in_(from_)]  # status: not indexed
    if open_at:
        where.append(unindexed(_I.c.expires_at) > at)
    return sa.update(_I).where(*where).values(status=to, status_at=at).returning(_I.c.id)


def _many_statement(from_: tuple[Status, ...], to: Status, open_at: bool) -> sa.Update:
    key = (from_, to, open_at)
    if key not in _MANY:
        _MANY[key] = _many(from_, to, open_at, _I.c.id.in_(sa.bindparam("ids", expanding=True)),
                           sa.bindparam("at", type_=_I.c.status_at.type))
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


# Rendered with the values written into the text (statuses, notes); `named` so that the `%` of
# the psycopg placeholders below is kept as it is (a `pyformat` dialect would double it).
_POSTGRESQL = postgresql.psycopg.dialect(paramstyle="named")


def move_many_sql(from_: Iterable[Status | str], to: Status | str, *, only_open: bool = False,
                  note: str | None = None, name: str = "moved") -> str:
    """`move_many` as two data-modifying CTEs of a PostgreSQL statement that does more in the
    same round trip, to follow `WITH`: `{name}` (the moved ids) and `{name}_events` (their
    events, each with `note`). psycopg parameters: `%(ids)s` (the ids, a list) and `%(at)s`.
    The same check, UPDATE and event rows as `move_many`: built by the same code."""
    sources = tuple(Status(s) for s in from_)
    check_move(sources, to)
    at = sa.literal_column("%(at)s", _I.c.status_at.type)
    update = _many(sources, Status(to), only_open, _I.c.id == sa.any_(sa.literal_column("%(ids)s::varchar[]")), at)
    moved = sa.table(name, sa.column("id"))
    row = event_row(moved.c.id, to, at, note)
    events = sa.insert(_E).from_select(list(row), sa.select(*(
        v if isinstance(v, sa.ColumnElement) else sa.literal(v, _E.c[k].type) for k, v in row.items())))

    def text(statement: sa.ClauseElement) -> str:
        return str(statement.compile(dialect=_POSTGRESQL, compile_kwargs={"literal_binds": True}))

    return f"{name} AS ({text(update)}), {name}_events AS ({text(events)})"


def check_history(statuses: Sequence[Status | str]) -> None:
    """Refuse a history (the statuses an invitation took, in order, from the one it is created
    with) that takes a move the state machine does not have: for a writer that stores the
    outcome of several moves at once, with their events (the cohort load)."""
    if not statuses or Status(statuses[0]) is not Status.planned:
        raise ValueError(f"an invitation is created planned, not {Status(statuses[0]).value if statuses else 'without a status'}")
    for before, after in pairwise(statuses):
        check_move((before,), after)
