"""Plain helpers for the command-line tests (fixtures are in conftest.py)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass


@dataclass
class Ran:
    """What a run of `promsvc` gave: exit status, standard output, standard error."""

    status: int
    out: str
    err: str


def rows(text: str, sep: str = ",") -> list[list[str]]:
    """CSV text as rows of cells (a small, obviously right reader for the expectations)."""
    return list(csv.reader(io.StringIO(text), delimiter=sep))


def no_traceback(ran: Ran) -> bool:
    return "Traceback" not in ran.err and "Traceback" not in ran.out
