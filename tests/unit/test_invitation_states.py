"""The invitation state machine (promsvc.invitations.states): the named sets agree with the moves."""

from __future__ import annotations

import pytest

from promsvc.invitations.states import GONE, INVITED, MOVES, PENDING, TAKES_ANSWERS, check_move
from promsvc.models import Status


def test_every_status_has_its_moves_and_closed_ones_have_none():
    assert set(MOVES) == set(Status)
    assert all(not MOVES[s] for s in GONE)
    assert set(PENDING) | set(GONE) | {Status.failed} == set(Status)


def test_the_sets_allow_what_their_callers_do():
    assert all({Status.expired, Status.withdrawn} <= MOVES[s] for s in PENDING)  # the expiry job, withdrawal
    assert all(Status.completed in MOVES[s] for s in TAKES_ANSWERS)  # a submission
    assert Status.started in MOVES[Status.open] and set(TAKES_ANSWERS) <= set(PENDING)
    assert set(TAKES_ANSWERS) <= set(INVITED) and Status.planned not in INVITED


def test_a_move_the_machine_does_not_have_is_refused():
    check_move(PENDING, Status.withdrawn)
    with pytest.raises(ValueError, match="from completed to open"):
        check_move((Status.completed,), Status.open)
    with pytest.raises(ValueError, match="from planned to started"):
        check_move((Status.planned, Status.open), Status.started)
