"""One response at a time: the engine's scorings, evaluated in plain Python.

`scoring.score` is built for columns; for a single response (a patient's submission) the fixed
cost of its numpy calls, dozens per scoring, is nearly all of its time. `score_one` compiles a
scoring once into plain lookups and runs the same arithmetic in the same order as the engine's
kernels, so that it gives the engine's numbers to the last bit (the property test
`test_one_response_equals_the_engine` checks exactly that, on every shipped and synthetic
scoring). It accepts and refuses exactly the answers the engine does: a whole-number code
goes straight through, anything else is read by the engine's own rules (`scoring.coding`).
Bulk work (`promsvc score`, re-scoring) stays with the engine.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, cast

from instruments import Instrument, find
from instruments.answers import compile_condition
from instruments.schema import (
    Bands,
    MeanOf,
    PatternLookup,
    RecodeMean,
    ScoreLookup,
    Scoring,
    Sum,
    ValueSetIndex,
    WeightedSum,
)
from scoring.coding import one_answer, per_definition
from scoring.engine import Provenance, choose_scoring, choose_value_set, required_items
from scoring.errors import MissingItems

NAN = float("nan")
Answers = Mapping[str, Any]
Step = Callable[[Answers, dict], "float | str"]


def score_one(
    instrument: Instrument | str | os.PathLike,
    answers: Answers,
    *,
    scoring: str | None = None,
    method: str | None = None,
    country: str | None = None,
) -> tuple[dict[str, float | str], Provenance]:
    """Score one response (item id → answer, or None for no answer) with one scoring.

    Returns the scores in the scoring's order, as `scoring.score` would give them for a
    one-row table (NaN for "no score", "" for no band), and their provenance. Raises what the
    engine raises: UnknownName, MissingItems (a needed item is not a key), AnswerError.
    """
    ins = find(instrument)
    plan = per_definition(ins, ("one", scoring, method, country), lambda: _Plan(ins, scoring, method, country))
    return plan(answers), plan.provenance


class _Plan:
    """A scoring compiled for one response: per item its codes, per scale its lookups."""

    def __init__(self, ins: Instrument, scoring_id: str | None, method: str | None, country: str | None):
        chosen = choose_scoring(ins, scoring_id)
        value_set = choose_value_set(ins, chosen, method, country)
        self.ins, self.scoring = ins, chosen
        self.needed = required_items(chosen)
        # The items whose answers are read (text never is). A whole-number code of a coded item
        # passes as it is; other answers get a quick check of the usual form (decimal, multi);
        # anything else is read by the engine's own rules (scoring.coding), or refused by them.
        self.codes = ins.whole_codes
        self.quick = {i.id: _quick(ins, i) for i in ins.items if i.kind in ("decimal", "multi")}
        self.steps: list[tuple[str, Step]] = []
        for scale in chosen.scales:
            if isinstance(scale, ValueSetIndex):
                self.steps.append((scale.id, _valueset_index(ins, scale, value_set)))
            elif isinstance(scale, PatternLookup):
                self.steps.append((scale.id, _pattern_lookup(ins, scale)))
            else:
                values = [_recoded(ins, chosen, scale, item_id) for item_id in scale.items]
                self.steps.append((scale.id, _recode_mean(scale, values) if isinstance(scale, RecodeMean) else _sum(scale, values)))
        for summary in chosen.summaries:
            self.steps.append((summary.id, _SUMMARIES[type(summary)](summary)))
        self.provenance = Provenance(
            instrument=ins.id, instrument_version=ins.version, scoring=chosen.id,
            scoring_version=chosen.version, value_set=value_set.ref if value_set else None,
        )

    def __call__(self, answers: Answers) -> dict[str, float | str]:
        answers = self._read(answers)
        scores: dict[str, float | str] = {}
        for name, step in self.steps:
            scores[name] = step(answers, scores)
        return scores

    def _read(self, answers: Answers) -> Answers:
        absent = [i for i in self.needed if i not in answers]
        if absent:
            raise MissingItems(self.ins.id, self.scoring.id, absent)
        read: dict[str, Any] | None = None
        for item_id, codes in self.codes.items():
            value = answers.get(item_id)
            if value is None or (type(value) is int and value in codes):  # not bool, a subclass of int
                continue
            if read is None:
                read = dict(answers)
            read[item_id] = one_answer(self.ins, self.ins.item(item_id), value)
        for item_id, quick in self.quick.items():
            value = answers.get(item_id)
            if value is None:
                continue
            as_read = quick(value)
            if as_read is value:
                continue
            if read is None:
                read = dict(answers)
            read[item_id] = one_answer(self.ins, self.ins.item(item_id), value) if as_read is _SLOW else as_read
        return answers if read is None else read


_SLOW = object()


def _quick(ins: Instrument, item) -> Callable[[Any], Any]:
    """The usual answer of a decimal or multi item, read without numpy: the value itself when it
    can be used as it is, another value to use, or _SLOW (let `scoring.coding` read it)."""
    if item.kind == "decimal":
        low, high = item.min, item.max

        def number(v):
            if (type(v) is float or type(v) is int) and low <= v <= high:
                return v if type(v) is float else float(v)
            return _SLOW

        return number
    if item.kind == "multi":
        form_order = ins.codes_of(item)
        codes = ins.code_set(item)

        def ticks(v):
            if type(v) is not list or not v or not all(type(c) is int and c in codes for c in v):
                return _SLOW
            return tuple(c for c in form_order if c in v)

        return ticks
    raise ValueError(f"{item.id}: no quick reading of a {item.kind} item")


def _table(ins: Instrument, item_id: str, values: Mapping[int, float | None] | None) -> dict[Any, float]:  # Any: read with any answer
    """Code → value for an item (scoring.engine._build_lookup): codes without a value and
    `unanswered` options are left out, so they read as missing. No `values`: the code itself."""
    item = ins.item(item_id)
    skip = ins.unanswered_codes(item)
    table = {}
    for code in ins.codes_of(item):
        value = code if values is None else values.get(code)
        if code not in skip and value is not None:
            table[code] = float(value)
    return table


def _value_of(ins: Instrument, item_id: str, values: Mapping[int, float | None] | None) -> Callable[[Answers], float]:
    """One item's value under one table (scoring.engine._item_values)."""
    kind = ins.item(item_id).kind
    if kind == "decimal":
        return lambda answers: NAN if answers.get(item_id) is None else answers[item_id]
    if kind == "multi":
        # cast: a multi item's values are all numbers (instruments.checks)
        options = [(c, 1.0 if values is None else float(cast(float, values[c]))) for c in ins.codes_of(ins.item(item_id))]

        def ticked(answers: Answers) -> float:
            chosen = answers.get(item_id)
            if not chosen:
                return NAN
            total = 0.0
            for code, value in options:  # in form order, as the engine adds them
                if code in chosen:
                    total += value
            return total

        return ticked
    table = _table(ins, item_id, values)
    return lambda answers: table.get(answers.get(item_id), NAN)


def _recoded(ins: Instrument, scoring: Scoring, scale: RecodeMean | Sum, item_id: str) -> Callable[[Answers], float]:
    """The recoded value of one item in one scale (scoring.engine._recoded)."""
    spec = scale.recode if isinstance(scale.recode, (str, type(None))) else scale.recode.get(item_id)
    if not isinstance(spec, list):
        return _value_of(ins, item_id, scoring.recode_tables[spec] if isinstance(spec, str) else spec)
    # conditional recodes: the first whose condition holds wins; none holds → missing
    parts = [(compile_condition(ins, part.when).holds, _value_of(ins, item_id, part.values)) for part in spec]

    def conditional(answers: Answers) -> float:
        for holds, value in parts:
            if holds(answers):
                return value(answers)
        return NAN

    return conditional


def _answered_sum(values: list[Callable[[Answers], float]], answers: Answers) -> tuple[float, int]:
    total, count = 0.0, 0
    for value in values:
        v = value(answers)
        if v == v:  # not NaN
            total += v
            count += 1
    return total, count


def _linear(transform) -> Callable[[float], float] | None:
    """`Linear.apply` for one float, as a closure (a method call per score costs more than the
    arithmetic); the same operations in the same order, so the engine's numbers to the bit."""
    if transform is None:
        return None
    if transform.min is not None:
        low, span = transform.min, transform.max - transform.min
        return lambda x: (x - low) / span * 100.0
    multiply = 1.0 if transform.multiply is None else transform.multiply
    add = 0.0 if transform.add is None else transform.add
    return lambda x: x * multiply + add


def _recode_mean(scale: RecodeMean, values: list) -> Step:
    least, transform = scale.min_answered, _linear(scale.transform)

    def mean(answers: Answers, _scores: dict) -> float:
        total, count = _answered_sum(values, answers)
        if count < least:  # at least 1 (instruments.schema)
            return NAN
        m = total / count
        return m if transform is None else transform(m)

    return mean


def _sum(scale: Sum, values: list) -> Step:
    need = len(values) if scale.min_answered is None else scale.min_answered
    n, prorate, constant, transform = len(values), scale.prorate, scale.constant, _linear(scale.transform)

    def total_of(answers: Answers, _scores: dict) -> float:
        total, count = _answered_sum(values, answers)
        if count < need:  # at least 1 (instruments.schema)
            return NAN
        if prorate:
            total = total * n / count
        total = total + constant
        return total if transform is None else transform(total)

    return total_of


def _valueset_index(ins: Instrument, scale: ValueSetIndex, value_set) -> Step:
    # The value set's table is indexed by the state's digits in base levels+1 (0 = missing).
    base, table = value_set.levels + 1, value_set.table
    dimensions = [(item_id, _slots(ins.codes_of(ins.item(item_id)))) for item_id in scale.items]

    def index(answers: Answers, _scores: dict) -> float:
        position = 0
        for item_id, slot in dimensions:
            position = position * base + slot.get(answers.get(item_id), 0)
        return float(table[position])

    return index


def _slots(codes: list[int]) -> dict[Any, int]:  # Any: read with any answer
    lowest = min(codes)
    return {code: code - lowest + 1 for code in codes}


def _pattern_lookup(ins: Instrument, scale: PatternLookup) -> Step:
    skip = {i: ins.unanswered_codes(ins.item(i)) for i in scale.items}
    table: dict[tuple[Any, ...], float] = {tuple(int(c) for c in key.split(" ")): value for key, value in scale.table.items()}
    items = scale.items

    def lookup(answers: Answers, _scores: dict) -> float:
        codes = tuple(answers.get(i) for i in items)
        if any(c is None or c in skip[i] for c, i in zip(codes, items, strict=True)):
            return NAN
        return float(table.get(codes, NAN))

    return lookup


def _weighted_sum(summary: WeightedSum) -> Step:
    inputs = [(i.scale, i.weight, i.mean, i.sd) for i in summary.inputs]
    constant, multiplier = summary.constant, summary.multiplier

    def weighted(_answers: Answers, scores: dict) -> float:
        total = 0.0
        for scale, weight, mean, sd in inputs:
            total = total + weight * (scores[scale] - mean) / sd
        return constant + multiplier * total

    return weighted


def _bands(summary: Bands) -> Step:
    bounds = [b.bound for b in summary.bands]
    labels = [""] + [b.id for b in summary.bands]
    source = summary.input

    def band(_answers: Answers, scores: dict) -> str:
        value = scores[source]
        which = 0
        for bound, open_ in bounds:  # increasing: stop at the first that does not admit it
            if not (value > bound if open_ else value >= bound):
                break
            which += 1
        return labels[which]

    return band


def _mean_of(summary: MeanOf) -> Step:
    inputs = list(summary.inputs)
    need = len(inputs) if summary.min_scored is None else summary.min_scored

    def mean(_answers: Answers, scores: dict) -> float:
        total, count = 0.0, 0
        for name in inputs:
            v = scores[name]
            if v == v:
                total += v
                count += 1
        return total / count if count >= need else NAN

    return mean


def _score_lookup(summary: ScoreLookup) -> Step:
    table, source = dict(summary.table), summary.input
    return lambda _answers, scores: table.get(scores[source], NAN)


_SUMMARIES: dict[type, Callable[..., Step]] = {WeightedSum: _weighted_sum, Bands: _bands, MeanOf: _mean_of, ScoreLookup: _score_lookup}
