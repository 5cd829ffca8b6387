"""API schemas of the stateless scoring endpoint."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

MAX_RESPONSES = 10_000


class ScoreIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """A batch of responses to one instrument. Each response maps item ids to codes (as printed
    on the form; null or absent = no answer). Answers are read as any JSON value so that a
    wrong one is reported per item ($.responses[3].q7) with what was found and what is allowed."""

    instrument: Annotated[str, Meta(description="Instrument id, e.g. rand36, eq5d-5l, sf12, or one of the service's own (PROMSVC_INSTRUMENTS_DIR).")]
    version: Annotated[str | None, Meta(description="Instrument version (default: the newest the service has).")] = None
    scoring: Annotated[str | None, Meta(description="Scoring id (default: the instrument's default scoring).")] = None
    method: Annotated[str | None, Meta(description="EQ-5D value set method, e.g. VT, TTO, CW.")] = None
    country: Annotated[str | None, Meta(description="EQ-5D value set country, e.g. Norway.")] = None
    responses: Annotated[list[dict[str, Any]], Meta(min_length=1, max_length=MAX_RESPONSES)]


class ValueSetOut(msgspec.Struct, kw_only=True):
    name: str
    version: str
    method: str
    country: str
    citation: str
    doi: str | None = None


class ProvenanceOut(msgspec.Struct, kw_only=True):
    instrument: str
    instrument_version: str
    scoring: str
    scoring_version: str
    value_set: ValueSetOut | None


class ScoreOut(msgspec.Struct, kw_only=True):
    """One entry of `scores` per response, in the order given; null = no score (too few answers)."""

    provenance: ProvenanceOut
    scores: list[dict[str, float | str | None]]
