"""One response at a time: the engine's scorings, evaluated in plain Python.

`scoring.score` is built for columns; for a single response (a patient's submission) the fixed
cost of its numpy calls, dozens per scoring, is nearly all of its time. `score_one` compiles a
scoring once into plain lookups and runs the same arithmetic in the same order as the engine's
kernels, so that it gives the engine's numbers to the last bit (the property test
`test_one_response_equals_the_engine` checks exactly that, on every shipped and synthetic
scoring). Bulk work (`promsvc score`, re-scoring) stays with the engine.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping
from typing import Any

from instruments import Instrument
from instruments import get as get_instrument
from instruments.schema import Bands, Condition, RecodeMean, Scoring, Sum, ValueSetIndex, WeightedSum
from scoring.engine import (
    Provenance, per_definition, choose_scoring, choose_value_set, describe_allowed, required_items,
)
from scoring.errors import AnswerError, MissingItems

NAN = float("nan")
Answers = Mapping[str, Any]


def score_one(
    instrument: Instrument | str,
    answers: Answers,
    *,
    scoring: str | None = None,
    method: str | None = None,
    country: str | None = None,
) -> tuple[dict[str, float | str], Provenance]:
    """Score one response (item id → code, or None for no answer) with one scoring.

    Returns the scores in the scoring's order, as `scoring.score` would give them for a
    one-row table (NaN for "no score", "" for no band), and their provenance. Raises what the
    engine raises: UnknownName, MissingItems (a needed item is not a key), AnswerError.
    """
    ins = get_instrument(instrument) if isinstance(instrument, str) else instrument
    plan = per_definition(ins, ("one", scoring, method, country), lambda: _Plan(ins, scoring, method, country))
    return plan(answers), plan.provenance


class _Plan:
    """A scoring compiled for one response: per item its codes, per scale its lookups."""

    def __init__(self, ins: Instrument, scoring_id: str | None, method: str | None, country: str | None):
        chosen = choose_scoring(ins, scoring_id)
        value_set = choose_value_set(ins, chosen, method, country)
        self.ins, self.scoring = ins, chosen
        self.needed = required_items(chosen)
        # Position of each code in the engine's tables: 0 = missing, then one slot per code
        # from the lowest (scoring.engine.Coded.pos).
        self.slots = {item.id: _slots(ins.codes_of(item)) for item in ins.items}
        self.steps: list[tuple[str, Callable[[Answers, dict], float | str]]] = []
        for scale in chosen.scales:
            if isinstance(scale, ValueSetIndex):
                self.steps.append((scale.id, _valueset_index(scale, self.slots, value_set)))
            else:
                values = [_recoded(ins, chosen, scale, item_id) for item_id in scale.items]
                kernel = _recode_mean if isinstance(scale, RecodeMean) else _sum
                self.steps.append((scale.id, kernel(scale, values)))
        for summary in chosen.summaries:
            kernel = _weighted_sum if isinstance(summary, WeightedSum) else _bands
            self.steps.append((summary.id, kernel(summary)))
        self.provenance = Provenance(
            instrument=ins.id, instrument_version=ins.version, scoring=chosen.id,
            scoring_version=chosen.version, value_set=value_set.ref if value_set else None,
        )

    def __call__(self, answers: Answers) -> dict[str, float | str]:
        self._check(answers)
        scores: dict[str, float | str] = {}
        for name, step in self.steps:
            scores[name] = step(answers, scores)
        return scores

    def _check(self, answers: Answers) -> None:
        absent = [i for i in self.needed if i not in answers]
        if absent:
            raise MissingItems(self.ins.id, self.scoring.id, absent)
        for item_id, slots in self.slots.items():
            code = answers.get(item_id)
            if code is not None and (type(code) is not int or code not in slots):
                # Whole floats (3.0) are codes to the engine too; anything else is refused there.
                if not (type(code) is float and code.is_integer() and int(code) in slots):
                    item = self.ins.item(item_id)
                    raise AnswerError(item_id, 0, code, describe_allowed(self.ins, item))


def _slots(codes: list[int]) -> dict[int, int]:
    lowest = min(codes)
    return {code: code - lowest + 1 for code in codes}


def _table(ins: Instrument, item_id: str, values: Mapping[int, float | None] | None) -> dict[int, float]:
    """Code → value for an item (scoring.engine._build_lookup): codes without a value and
    `unanswered` options are left out, so they read as missing. No `values`: the code itself."""
    item = ins.item(item_id)
    skip = {o.code for o in ins.options_of(item) if o.unanswered} if item.kind == "choice" else set()
    table = {}
    for code in ins.codes_of(item):
        value = code if values is None else values.get(code)
        if code not in skip and value is not None:
            table[code] = float(value)
    return table


def _recoded(ins: Instrument, scoring: Scoring, scale: RecodeMean | Sum, item_id: str) -> Callable[[Answers], float]:
    """The recoded value of one item in one scale (scoring.engine._recoded)."""
    spec = scale.recode if isinstance(scale.recode, (str, type(None))) else scale.recode.get(item_id)
    if not isinstance(spec, list):
        table = _table(ins, item_id, scoring.recode_tables[spec] if isinstance(spec, str) else spec)
        return lambda answers: table.get(answers.get(item_id), NAN)
    # conditional recodes: the first whose condition holds wins; none holds → missing
    parts = [(_holds(ins, part.when), _table(ins, item_id, part.values)) for part in spec]

    def conditional(answers: Answers) -> float:
        for holds, table in parts:
            if holds(answers):
                return table.get(answers.get(item_id), NAN)
        return NAN

    return conditional


def _holds(ins: Instrument, cond: Condition) -> Callable[[Answers], bool]:
    if cond.any is not None:
        parts = [_holds(ins, c) for c in cond.any]
        return lambda answers: any(p(answers) for p in parts)
    if cond.all is not None:
        parts = [_holds(ins, c) for c in cond.all]
        return lambda answers: all(p(answers) for p in parts)
    item_id = cond.item
    if cond.answered is not None:
        # an option such as "not applicable" is stored but counts as no answer
        item = ins.item(item_id)
        skipped = {o.code for o in ins.options_of(item) if o.unanswered} if item.kind == "choice" else set()
        wanted = cond.answered
        return lambda answers: (answers.get(item_id) is not None and answers.get(item_id) not in skipped) == wanted
    among = set(cond.in_)
    return lambda answers: answers.get(item_id) in among


def _answered_sum(values: list[Callable[[Answers], float]], answers: Answers) -> tuple[float, int]:
    total, count = 0.0, 0
    for value in values:
        v = value(answers)
        if v == v:  # not NaN
            total += v
            count += 1
    return total, count


def _recode_mean(scale: RecodeMean, values: list) -> Callable[[Answers, dict], float]:
    least, transform = scale.min_answered, scale.transform

    def mean(answers: Answers, _scores: dict) -> float:
        total, count = _answered_sum(values, answers)
        if count < least:  # at least 1 (instruments.schema)
            return NAN
        m = total / count
        if transform is not None:
            lo, hi = transform.min, transform.max
            m = (m - lo) / (hi - lo) * 100.0
        return m

    return mean


def _sum(scale: Sum, values: list) -> Callable[[Answers, dict], float]:
    need = len(values) if scale.min_answered is None else scale.min_answered
    n, prorate, constant = len(values), scale.prorate, scale.constant

    def total_of(answers: Answers, _scores: dict) -> float:
        total, count = _answered_sum(values, answers)
        if count < need:  # at least 1 (instruments.schema)
            return NAN
        if prorate:
            total = total * n / count
        return total + constant

    return total_of


def _valueset_index(scale: ValueSetIndex, slots: dict[str, dict[int, int]], value_set) -> Callable[[Answers, dict], float]:
    # The value set's table is indexed by the state's digits in base levels+1 (0 = missing).
    base, table = value_set.levels + 1, value_set.table
    dimensions = [(item_id, slots[item_id]) for item_id in scale.items]

    def index(answers: Answers, _scores: dict) -> float:
        position = 0
        for item_id, slot in dimensions:
            position = position * base + slot.get(answers.get(item_id), 0)
        return float(table[position])

    return index


def _weighted_sum(summary: WeightedSum) -> Callable[[Answers, dict], float]:
    inputs = [(i.scale, i.weight, i.mean, i.sd) for i in summary.inputs]
    constant, multiplier = summary.constant, summary.multiplier

    def weighted(_answers: Answers, scores: dict) -> float:
        total = 0.0
        for scale, weight, mean, sd in inputs:
            total = total + weight * (scores[scale] - mean) / sd
        return constant + multiplier * total

    return weighted


def _bands(summary: Bands) -> Callable[[Answers, dict], str]:
    mins = [b.min for b in summary.bands]
    labels = [""] + [b.id for b in summary.bands]
    source = summary.input

    def band(_answers: Answers, scores: dict) -> str:
        value = scores[source]
        return "" if value != value else labels[bisect.bisect_right(mins, value)]

    return band
