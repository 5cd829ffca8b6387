"""Score a JSON batch with `scoring.score`: check every answer first, then score all at once."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from instruments import Catalogue
from instruments.answers import accepts, describe_allowed, shown
from promsvc import numbers
from promsvc.errors import FieldError, Invalid
from promsvc.scoring_api.schemas import ProvenanceOut, ScoreIn, ScoreOut, ValueSetOut
from scoring import engine
from scoring.errors import ScoringError, UnknownName

MAX_REPORTED = 50  # problems listed in one 422; more are counted


def score(request: ScoreIn, known: Catalogue) -> ScoreOut:
    """Scores of every response, or Invalid (422) naming every wrong field and answer.
    `known`: the service's instruments (an id gives its newest version)."""
    ins = known.get(request.instrument)
    if ins is None:
        raise Invalid(f"unknown instrument {request.instrument!r}", where="$.instrument",
                      fix=f"use one of: {', '.join(sorted(known))}")
    if request.version is not None:
        ins = known.version(request.instrument, request.version)
        if ins is None:
            raise Invalid(f"{request.instrument} has no version {request.version!r}", where="$.version",
                          fix=f"use one of: {', '.join(known.versions(request.instrument))}, or leave it out for the newest")
    try:
        chosen = engine.choose_scoring(ins, request.scoring)
    except ScoringError as e:
        raise Invalid(str(e), where="$.scoring", fix="leave scoring out for the default, or use one listed") from None
    try:
        engine.choose_value_set(ins, chosen, request.method, request.country)
    except UnknownName as e:
        raise Invalid(str(e), where=f"$.{e.field}", fix="choose a value set listed by `promsvc valuesets`") from None

    columns, problems, more = _columns(ins, request.responses)
    if problems:
        tail = f" (and {more} more)" if more else ""
        raise Invalid(f"{len(problems) + more} answer(s) cannot be scored{tail}; nothing was scored",
                      where=problems[0].path, errors=problems,
                      fix="give each item one of its codes (see `allowed`), or null for no answer")
    result = engine.score(ins, columns, scoring=chosen.id, method=request.method, country=request.country)
    n = len(request.responses)
    rows: list[dict[str, float | str | None]] = [{} for _ in range(n)]
    for score_id, values in result.scores.items():
        if values.dtype.kind == "f":
            values = numbers.clean(values)  # numbers leave to 12 significant digits
        for i, value in enumerate(values.tolist()):
            rows[i][score_id] = _json_value(value)
    p = result.provenance
    vs = p.value_set
    return ScoreOut(
        provenance=ProvenanceOut(
            instrument=p.instrument, instrument_version=p.instrument_version,
            scoring=p.scoring, scoring_version=p.scoring_version,
            value_set=ValueSetOut(name=vs.name, version=vs.version, method=vs.method, country=vs.country,
                                  citation=vs.citation, doi=vs.doi) if vs else None,
        ),
        scores=rows,
    )


def _columns(ins, responses: list[dict[str, Any]]) -> tuple[dict[str, Any], list[FieldError], int]:
    items = ins.items_by_id
    # numbers in float arrays (NaN: no answer); a multi item's lists of codes as a list
    columns: dict[str, Any] = {
        item_id: [None] * len(responses) if item.kind == "multi" else np.full(len(responses), np.nan)
        for item_id, item in items.items() if item.kind != "text"
    }
    problems: list[FieldError] = []
    more = 0

    def problem(error: FieldError) -> None:
        nonlocal more
        if len(problems) < MAX_REPORTED:
            problems.append(error)
        else:
            more += 1

    for row, answers in enumerate(responses):
        for item_id, code in answers.items():
            path = f"$.responses[{row}].{item_id}"
            item = items.get(item_id)
            if item is None:
                problem(FieldError(path, f"{ins.id} has no item {item_id!r}", found=item_id,
                                   allowed=f"items {', '.join(items)}"))
                continue
            if not accepts(ins, item, code):
                found = shown(item, code)  # never free text: it may name a person
                problem(FieldError(path, f"{found!r} is not an answer to {item_id}", found=found,
                                   allowed=describe_allowed(ins, item)))
                continue
            if code is not None and item_id in columns:
                columns[item_id][row] = code
    return columns, problems, more


def _json_value(value: Any) -> float | str | None:
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, str):
        return value or None
    return value
