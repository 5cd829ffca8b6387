"""The scores of responses: which scorings a protocol asks for, and scoring one response (a
submission) or many (re-scoring), each with what produced it."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
import numpy as np

import scoring
from instruments import Instrument
from instruments.schema import ValueSetIndex
from promsvc.registries.schema import InstrumentUse
from scoring.engine import per_definition


class Scored(msgspec.Struct, frozen=True):
    """The scores of one scoring for a batch of responses, and what produced them."""

    scoring: str
    scoring_version: str
    instrument_version: str
    value_set: str | None
    values: list[dict[str, float | str | None]]  # one per response, in order

    def provenance(self) -> tuple[str, str, str | None]:
        return (self.instrument_version, self.scoring_version, self.value_set)


def scorings_of(instrument: Instrument, use: InstrumentUse, scoring_id: str | None = None) -> list[str]:
    """The scorings to compute: `scoring_id` if given, else the protocol's, else the default."""
    if scoring_id is not None:
        return [scoring_id]
    return list(use.scorings) or [instrument.scoring().id]


def uses_value_set(instrument: Instrument, scoring_id: str) -> bool:
    return per_definition(instrument, ("uses_value_set", scoring_id),  # once per definition: asked per score
                          lambda: any(isinstance(s, ValueSetIndex) for s in instrument.scoring(scoring_id).scales))


def score_batch(
    instrument: Instrument,
    rows: Sequence[Mapping[str, int | None]],
    scoring_id: str,
    *,
    method: str | None = None,
    country: str | None = None,
) -> Scored:
    """Score many responses (item → code or None each) with one scoring, vectorised.

    `method` and `country` choose the EQ-5D value set and are used only by scorings that have
    one. "No score" (NaN, or an empty band) is stored as null.
    """
    columns = {  # numbers as floats (NaN: no answer); multi-select answers as their lists; text is never read
        item.id: [r.get(item.id) for r in rows] if item.kind == "multi"
        else np.array([np.nan if (v := r.get(item.id)) is None else float(v) for r in rows], dtype=np.float64)
        for item in instrument.items if item.kind != "text"
    }
    if not uses_value_set(instrument, scoring_id):
        method = country = None
    result = scoring.score(instrument, columns, scoring=scoring_id, method=method, country=country)
    values = [
        {name: _stored(column[row]) for name, column in result.scores.items()}
        for row in range(len(rows))
    ]
    return _scored(result.provenance, values)


def score_one(
    instrument: Instrument,
    answers: Mapping[str, int | None],
    scoring_id: str,
    *,
    method: str | None = None,
    country: str | None = None,
) -> Scored:
    """`score_batch` for a single response, without numpy's per-call cost (scoring.score_one
    gives the engine's numbers exactly)."""
    if not uses_value_set(instrument, scoring_id):
        method = country = None
    scores, provenance = scoring.score_one(instrument, answers, scoring=scoring_id, method=method, country=country)
    return _scored(provenance, [{name: _stored(value) for name, value in scores.items()}])


def _scored(p: scoring.Provenance, values: list[dict[str, float | str | None]]) -> Scored:
    return Scored(
        scoring=p.scoring,
        scoring_version=p.scoring_version,
        instrument_version=p.instrument_version,
        value_set=p.value_set.name if p.value_set is not None else None,
        values=values,
    )


def _stored(value: Any) -> float | str | None:
    if isinstance(value, str):
        return value or None
    number = float(value)
    return None if math.isnan(number) else number
