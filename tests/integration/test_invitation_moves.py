"""The writers that change many invitations at once in their own form (the one-statement store
of a submission on PostgreSQL, the cohort load) take the state machine's rule from
promsvc.invitations.moves: they refuse a move it refuses and write the event rows it writes."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from patient_fixtures import fetch, make_link, now
from sqlmodel import col, select

from promsvc.commands import demo as demo_command
from promsvc.episodes import bulk, synthetic
from promsvc.invitations import moves, states
from promsvc.invitations.states import PENDING, TAKES_ANSWERS
from promsvc.models import Invitation, InvitationEvent, Status
from promsvc.registries import loader
from promsvc.responses import submission
from promsvc.settings import Settings


@pytest.fixture
def no_completing(monkeypatch):
    """A state machine in which an open invitation can no longer be completed."""
    monkeypatch.setitem(states.MOVES, Status.open, states.MOVES[Status.open] - {Status.completed})


def test_the_one_statement_store_refuses_a_move_the_machine_refuses(no_completing):
    with pytest.raises(ValueError, match="from open to completed") as per_row:
        moves.check_move(TAKES_ANSWERS, Status.completed)
    with pytest.raises(ValueError) as one_statement:
        submission._store_statement()
    assert str(one_statement.value) == str(per_row.value)


def test_the_cohort_load_refuses_a_history_the_machine_refuses(no_completing):
    rows = pl.DataFrame({"id": ["a", "b"], "status": ["open", "completed"], "i": [0, 1]})
    times = {c: [now(), now()] for c in ("created_at", "due_at", "status_at")}
    with pytest.raises(ValueError, match="from open to completed"):
        bulk._events(rows.with_columns(**{c: pl.Series(v) for c, v in times.items()}))
    with pytest.raises(ValueError, match="created planned"):
        moves.check_history([Status.open, Status.completed])


def test_the_cohort_load_writes_the_events_of_the_services_moves():
    """Every loaded invitation's events are `moves.event_row`s whose statuses follow allowed
    moves from `planned` to the invitation's status, with the notes the service's moves write."""
    demo, options = loader.demo(), demo_command.cohort_options()
    chunk = next(synthetic.chunks(demo, synthetic.Options(episodes=300, today=options.today), Settings()))
    tables = dict((t.name, frame) for t, frame in bulk._tables(demo, chunk, bulk._Ids()))
    invitations, events = tables["invitation"], tables["invitation_event"]
    assert events.columns == list(moves.event_row("", Status.planned, None))
    histories = events.group_by("invitation_id", maintain_order=True).agg("status", "note", "at")
    seen = set()
    for invitation, history in zip(invitations.iter_rows(named=True), histories.iter_rows(named=True), strict=True):
        assert history["invitation_id"] == invitation["id"]
        moves.check_history(history["status"])
        assert history["status"][-1] == invitation["status"] and history["at"][-1] == invitation["status_at"]
        assert history["at"] == sorted(history["at"])
        seen.add(invitation["status"])
        notes = dict(zip(history["status"], history["note"], strict=True))
        assert notes.get("expired", moves.WINDOW_CLOSED) == moves.WINDOW_CLOSED  # as the expiry job writes it
        assert notes.get("withdrawn", moves.EPISODE_WITHDRAWN) == moves.EPISODE_WITHDRAWN  # as withdrawal writes it
        assert notes.get("completed") is None and notes["planned"] is None  # as a submission and enrolment write them
    assert seen == {"planned", "open", "completed", "expired", "withdrawn"}


def _moved_by_one_statement(engine, ids, from_, to, at, note, only_open) -> set[str]:
    with engine.begin() as c:
        return set(c.exec_driver_sql(f"WITH {moves.move_many_sql(from_, to, only_open=only_open, note=note)} SELECT id FROM moved",
                                     {"ids": ids, "at": at}).scalars())


def _moved_by_move_many(engine, ids, from_, to, at, note, only_open) -> set[str]:
    with engine.begin() as c:
        return moves.move_many(c, ids, from_, to, at, dict.fromkeys(ids, note), only_open=only_open)


@pytest.mark.parametrize("to, from_, note, only_open", [
    (Status.completed, TAKES_ANSWERS, None, True),
    (Status.expired, PENDING, moves.WINDOW_CLOSED, False),
])
def test_the_one_statement_move_writes_what_move_many_writes(engine, to, from_, note, only_open):
    if engine.dialect.name != "postgresql":
        pytest.skip("the one-statement form is PostgreSQL's (SQLite has no data-modifying CTEs)")
    at = now().replace(microsecond=0)
    written = []
    for write in (_moved_by_one_statement, _moved_by_move_many):
        # open, started, closed already, and (for only_open) open but past its window
        made = {s: make_link(engine, status=s)[1] for s in (Status.open, Status.started, Status.completed)}
        made["late"] = make_link(engine, expires_in=-dt.timedelta(minutes=1))[1]
        moved = write(engine, list(made.values()), from_, to, at, note, only_open)

        def read(s, made=made):
            def when(t):  # the time of this move, or of the making of the invitation before it
                return t if t == at else "before"

            invitations = {k: (s.get(Invitation, i).status, when(s.get(Invitation, i).status_at)) for k, i in made.items()}
            events = {k: [(e.status, when(e.at), e.note) for e in s.exec(
                select(InvitationEvent).where(InvitationEvent.invitation_id == i).order_by(col(InvitationEvent.id)))]
                for k, i in made.items()}
            return invitations, events

        written.append(({k for k, i in made.items() if i in moved}, *fetch(engine, read)))
    by_statement, by_move_many = written
    assert by_statement[0] == by_move_many[0] == ({Status.open, Status.started} if only_open else {Status.open, Status.started, "late"})
    assert by_statement[1:] == by_move_many[1:]
