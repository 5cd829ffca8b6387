"""The statuses of an invitation, the moves allowed between them and the sets the rest of the
service asks about (docs/delivery.md and docs/patient.md describe what each status means).

    planned ──► open ──► started ──► completed
       │  ▲       │         │
       │  └─ failed         ├──────► expired      (past `expires_at`, or the window closed)
       └────────┴───────────┴──────► withdrawn    (the episode was withdrawn)

A planned invitation can also expire or be withdrawn before it was ever sent, and one whose
messages all failed (`failed`) opens again when staff issue a link in the clinic.
"""

from __future__ import annotations

from collections.abc import Iterable

from promsvc.models import Status

# Not closed yet: may still be sent, answered, expired or withdrawn.
PENDING = (Status.planned, Status.open, Status.started)
# A link to it opens the form.
TAKES_ANSWERS = (Status.open, Status.started)
# A link to it is "gone" (HTTP 410), with the word the patient is told.
GONE = {Status.completed: "completed", Status.expired: "expired", Status.withdrawn: "withdrawn"}
# Reached the patient, or could have (the denominator of a response rate).
INVITED = (Status.open, Status.started, Status.completed, Status.expired)

MOVES: dict[Status, frozenset[Status]] = {
    Status.planned: frozenset({Status.open, Status.failed, Status.expired, Status.withdrawn}),
    Status.open: frozenset({Status.started, Status.completed, Status.expired, Status.withdrawn}),
    Status.started: frozenset({Status.completed, Status.expired, Status.withdrawn}),
    Status.failed: frozenset({Status.open}),
    Status.completed: frozenset(),
    Status.expired: frozenset(),
    Status.withdrawn: frozenset(),
}


def check_move(from_: Iterable[Status | str], to: Status | str) -> None:
    """Refuse a move the state machine does not have (a programming error, not bad input)."""
    wrong = [Status(s).value for s in from_ if Status(to) not in MOVES[Status(s)]]
    if wrong:
        raise ValueError(f"an invitation cannot move from {', '.join(wrong)} to {Status(to).value}")
