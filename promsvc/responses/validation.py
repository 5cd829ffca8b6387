"""Check answers against their instruments: pure functions, no database, no clock.

Answers come as ``{instrument id: {item id: code or None}}``. Every problem is reported at
once, each with its JSON path (``$.answers.eq5d-5l.MO``), what was found and what is allowed,
so that an app can show it beside the right question.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from instruments import Instrument, Item
from instruments.schema import Condition
from scoring.engine import describe_allowed, per_definition

Answers = dict[str, dict[str, int | None]]


class AnswerProblem(msgspec.Struct, frozen=True):
    """One answer that cannot be stored: where it is, what was found, what is allowed."""

    path: str
    found: Any
    allowed: str
    message: str


def holds(condition: Condition, answers: Mapping[str, int | None]) -> bool:
    """Whether a condition holds for one person's answers to one instrument.

    An item is answered when it has a code (an option marked `unanswered`, such as "not
    applicable", is still a code: the person chose it), as in the scoring engine.
    """
    if condition.any is not None:
        return any(holds(c, answers) for c in condition.any)
    if condition.all is not None:
        return all(holds(c, answers) for c in condition.all)
    code = answers.get(condition.item)
    if condition.answered is not None:
        return (code is not None) == condition.answered
    return code is not None and code in (condition.in_ or [])


def is_asked(item: Item, answers: Mapping[str, int | None]) -> bool:
    """Whether an item is asked, given the answers to the items before it."""
    return item.when is None or holds(item.when, answers)


def skipped(instrument: Instrument, answers: Mapping[str, int | None]) -> list[Item]:
    """The items that are asked but have no answer, in form order."""
    return [i for i in instrument.items if is_asked(i, answers) and answers.get(i.id) is None]


def without_unasked(instrument: Instrument, answers: Mapping[str, int | None]) -> dict[str, int | None]:
    """The answers with those to items that are not asked removed (in form order, so that an
    item whose condition depends on a removed answer is judged on what remains)."""
    kept: dict[str, int | None] = {}
    for item in instrument.items:
        if item.id in answers and is_asked(item, kept):
            kept[item.id] = answers[item.id]
    return kept


def check_code(instrument: Instrument, item: Item, value: Any) -> bool:
    """Whether `value` is a code this item accepts (None, meaning no answer, always is)."""
    return _accepts(_items(instrument)[item.id][1], value)


def _accepts(codes: frozenset[int], value: Any) -> bool:
    return value is None or (type(value) is int and value in codes)  # not bool, a subclass of int


def _items(instrument: Instrument) -> dict[str, tuple[Item, frozenset[int]]]:
    """Item id → the item and the codes it accepts; built once per definition."""
    return per_definition(instrument, ("accepts",),
                          lambda: {i.id: (i, frozenset(instrument.codes_of(i))) for i in instrument.items})


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
        items = _items(ins)
        codes: dict[str, int | None] = {}
        for item_id, value in given.items():
            item, accepted = items.get(item_id, (None, None))
            if item is None:
                allowed = ", ".join(items)
                found.append(AnswerProblem(f"{at}.{item_id}", item_id, f"one of {allowed}", f"{ins_id} has no item {item_id!r}"))
            elif not _accepts(accepted, value):
                allowed = describe_allowed(ins, item)
                found.append(AnswerProblem(f"{at}.{item_id}", _shown(value), allowed, f"{ins_id} {item_id}: {value!r} is not an answer it accepts"))
            else:
                codes[item_id] = value
        if conditions:
            for item in ins.items:
                if codes.get(item.id) is not None and not is_asked(item, codes):
                    found.append(AnswerProblem(
                        f"{at}.{item.id}", codes[item.id], "no answer: the item's condition is not met",
                        f"{ins_id} {item.id} is not asked with these answers, so it must be left out",
                    ))
        clean[ins_id] = codes
    return clean, found


def _shown(value: Any) -> Any:
    # what a problem quotes: JSON-able, and short
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "…"
