"""Check answers against their instruments: pure functions, no database, no clock.

Answers come as ``{instrument id: {item id: answer or None}}``. Every problem is reported at
once, each with its JSON path (``$.answers.eq5d-5l.MO``), what was found and what is allowed,
so that an app can show it beside the right question. What an item accepts and when an item
is asked are the rules of `instruments.answers`, which the form and the scoring use too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from instruments import Instrument
from instruments.answers import accepts, describe_allowed, shown, stored

Answers = dict[str, dict[str, Any]]


class AnswerProblem(msgspec.Struct, frozen=True):
    """One answer that cannot be stored: where it is, what was found, what is allowed."""

    path: str
    found: Any
    allowed: str
    message: str


def validate(
    instruments: list[Instrument],
    answers: Mapping[str, Any],
    *,
    conditions: bool = True,
    prefix: str = "$.answers",
) -> tuple[Answers, list[AnswerProblem]]:
    """Check `answers` against the instruments of a time point.

    Problems: an instrument that is not asked here, an item the instrument does not have, a
    value that is not one of the item's codes, and (with `conditions`, as on submit) an answer
    to an item whose condition is not met. Returns the answers as ``{instrument: {item: code}}``
    (only items that were given; None for an explicit "no answer") and every problem found.
    """
    by_id = {ins.id: ins for ins in instruments}
    clean: Answers = {}
    found: list[AnswerProblem] = []
    if not isinstance(answers, Mapping):
        return clean, [AnswerProblem(prefix, _shown(answers), "an object of instrument ids", "answers must be an object")]
    for ins_id, given in answers.items():
        at = f"{prefix}.{ins_id}"
        ins = by_id.get(ins_id)
        if ins is None:
            allowed = ", ".join(by_id)
            found.append(AnswerProblem(at, ins_id, f"one of {allowed}", f"{ins_id!r} is not asked at this time point"))
            continue
        if not isinstance(given, Mapping):
            found.append(AnswerProblem(at, _shown(given), "an object of item ids", f"answers to {ins_id} must be an object"))
            continue
        items, whole = ins.items_by_id, ins.whole_codes
        codes: dict[str, Any] = {}
        for item_id, value in given.items():
            item = items.get(item_id)
            if item is not None and (value is None or (type(value) is int and value in whole.get(item_id, ()))):
                codes[item_id] = value  # the usual answer, as `accepts` would judge it: one code
            elif item is None:
                allowed = ", ".join(items)
                found.append(AnswerProblem(f"{at}.{item_id}", item_id, f"one of {allowed}", f"{ins_id} has no item {item_id!r}"))
            elif not accepts(ins, item, value):
                allowed = describe_allowed(ins, item)
                quoted = _shown(shown(item, value))  # never free text: it may name a person
                found.append(AnswerProblem(f"{at}.{item_id}", quoted, allowed, f"{ins_id} {item_id}: {quoted!r} is not an answer it accepts"))
            else:
                codes[item_id] = stored(ins, item, value)
        if conditions:
            for item_id, when in ins.asked_when.items():  # the conditional items, in form order
                if codes.get(item_id) is not None and not when.holds(codes):
                    found.append(AnswerProblem(
                        f"{at}.{item_id}", _shown(codes[item_id]), "no answer: the item's condition is not met",
                        f"{ins_id} {item_id} is not asked with these answers, so it must be left out",
                    ))
        clean[ins_id] = codes
    return clean, found


def _shown(value: Any) -> Any:
    # what a problem quotes: JSON-able, and short
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, list) and len(value) <= 10 and all(v is None or isinstance(v, (bool, int, float)) for v in value):
        return value
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "…"
