"""What an answer is: which values an item accepts, when an answer counts, when a condition holds.

Every reader of answers uses these rules and no others: the patient form, the validation of
submissions, `scoring.score` (which evaluates conditions over whole columns from `Test`'s
leaves) and `scoring.score_one`. The rules:

- An answer is missing when it is absent or None. An option marked `unanswered` ("not
  applicable") is stored as chosen, but counts as no answer: in scores, and in conditions.
- ``{item: X, in: [codes]}`` holds when X's stored code is one of the codes (a multi-select
  item: when any chosen code is); the codes are named, so an `unanswered` code can be named too.
- ``{item: X, answered: true}`` holds when X has an answer that counts; ``answered: false``
  when it has none (missing, or an `unanswered` option).
- ``{any: [...]}`` and ``{all: [...]}`` combine conditions.
- An item is asked when it has no `when`, or its `when` holds for the answers before it.

Stored answers (JSON, the database) are strict: a whole number for `choice`, `integer` and
`vas` items; a list of distinct codes for `multi`; a number for `decimal`; a string for `text`.
Files scored in bulk are read more leniently by `scoring.engine` (whole floats, numbers as text).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from instruments.schema import Condition, Instrument, Item

TEXT_LIMIT = 2000  # characters of a text answer when the item sets no `max_length`


@dataclass(frozen=True, slots=True)
class Test:
    """A condition reduced to what it asks of the answers.

    A leaf (`item` set) holds when the item's answer is one of `codes` (None: any answer at
    all) and, when the item has no answer, if `if_missing`. `any` and `all` combine `parts`.
    """

    op: str  # "item", "any" or "all"
    item: str = ""
    codes: frozenset | None = None
    if_missing: bool = False
    parts: tuple[Test, ...] = ()

    def holds(self, answers: Mapping[str, Any]) -> bool:
        if self.op == "any":
            return any(part.holds(answers) for part in self.parts)
        if self.op == "all":
            return all(part.holds(answers) for part in self.parts)
        value = answers.get(self.item)
        if value is None:
            return self.if_missing
        if isinstance(value, (list, tuple, set, frozenset)):  # a multi-select answer
            if not value:
                return self.if_missing
            return self.codes is None or any(code in self.codes for code in value)
        return self.codes is None or value in self.codes


def compile_condition(ins: Instrument, cond: Condition) -> Test:
    """The Test of a condition of `ins` (the loader has checked that it names its items)."""
    if cond.any is not None:
        return Test("any", parts=tuple(compile_condition(ins, c) for c in cond.any))
    if cond.all is not None:
        return Test("all", parts=tuple(compile_condition(ins, c) for c in cond.all))
    assert cond.item is not None  # the loader checked: exactly one of item, any, all
    item = ins.item(cond.item)
    if cond.in_ is not None:
        return Test("item", cond.item, frozenset(cond.in_), False)
    skipped = ins.unanswered_codes(item)
    if cond.answered:
        counted = None if not skipped else frozenset(c for c in ins.codes_of(item) if c not in skipped)
        return Test("item", cond.item, counted, False)
    return Test("item", cond.item, skipped, True)


def is_asked(ins: Instrument, item: Item, answers: Mapping[str, Any]) -> bool:
    """Whether an item is asked, given the answers to the items before it."""
    test = ins.asked_when.get(item.id)
    return test is None or test.holds(answers)


def without_unasked(ins: Instrument, answers: Mapping[str, Any]) -> dict[str, Any]:
    """The answers with those to items that are not asked removed (in form order, so that an
    item whose condition depends on a removed answer is judged on what remains)."""
    kept: dict[str, Any] = {}
    for item in ins.items:
        if item.id in answers and is_asked(ins, item, kept):
            kept[item.id] = answers[item.id]
    return kept


# ---------------------------------------------------------------------------------------------
# Stored answers


def accepts(ins: Instrument, item: Item, value: Any) -> bool:
    """Whether `value` may be stored as the answer to `item` (None, no answer, always may)."""
    if value is None:
        return True
    kind = item.kind
    if item.id in ins.whole_codes:
        return type(value) is int and value in ins.whole_codes[item.id]  # not bool, a subclass of int
    if kind == "text":
        return isinstance(value, str) and len(value) <= (item.max_length or TEXT_LIMIT)
    if kind == "decimal":
        assert item.min is not None and item.max is not None  # the loader checked: a decimal item has both
        return (type(value) is int or type(value) is float) and math.isfinite(value) and item.min <= value <= item.max
    codes = ins.code_set(item)  # a multi item
    return (
        isinstance(value, list) and bool(value) and len(set(value)) == len(value)
        and all(type(c) is int and c in codes for c in value)
    )


def stored(ins: Instrument, item: Item, value: Any) -> Any:
    """An accepted answer as it is stored: blank text is no answer, ticked codes in form order."""
    if item.kind == "text" and isinstance(value, str) and not value.strip():
        return None
    if item.kind == "multi" and value is not None:
        return [code for code in ins.codes_of(item) if code in value]
    return value


def describe_allowed(ins: Instrument, item: Item) -> str:
    """How a message names the answers an item accepts."""
    if item.kind == "choice":
        return f"one of {', '.join(map(str, ins.codes_of(item)))}, or empty for no answer"
    if item.kind == "multi":
        return f"one or more of {', '.join(map(str, ins.codes_of(item)))}, or empty for no answer"
    if item.kind == "decimal":
        assert item.min is not None and item.max is not None  # the loader checked: a decimal item has both
        return f"a number from {_number(item.min)} to {_number(item.max)}, or empty for no answer"
    if item.kind == "text":
        return f"text of at most {item.max_length or TEXT_LIMIT} characters, or empty for no answer"
    return f"a whole number from {item.min} to {item.max}, or empty for no answer"


def shown(item: Item, value: Any) -> Any:
    """What a message may quote of a refused answer: never free text (it may name a person)."""
    if item.kind == "text" and isinstance(value, str):
        return f"text of {len(value)} characters"
    return value


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))
