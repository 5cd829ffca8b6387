"""Score answers with an instrument's scoring: a few generic, vectorised kernels driven by data.

Answers are columns: a mapping from item id to a 1-D array of codes, where NaN (or None) is a
missing answer, or a polars column of whole numbers with nulls for missing answers (`scoring.coding`
says what a cell may hold). Every function here is pure:
arrays and definitions in, arrays out.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, cast

import msgspec
import numpy as np

from instruments import Instrument, find
from instruments.answers import Test, compile_condition, describe_allowed
from instruments.schema import (
    Bands,
    Condition,
    MeanOf,
    PatternLookup,
    RecodeMean,
    ScoreLookup,
    Scoring,
    Sum,
    ValueSetIndex,
    WeightedSum,
)
from scoring.coding import Coded, code_answers, per_definition
from scoring.errors import UnknownName

__all__ = [
    "Provenance", "Result", "choose_scoring", "choose_value_set", "code_answers", "describe_allowed",
    "pattern_key", "per_definition", "required_items", "score",
]


class Provenance(msgspec.Struct, frozen=True, kw_only=True):
    """What produced a set of scores; stored beside every score."""

    instrument: str
    instrument_version: str
    scoring: str
    scoring_version: str
    value_set: Any = None  # scoring.valueset.ValueSetRef of the index, if any


class Result(msgspec.Struct, frozen=True):
    """Score columns in the order the scoring lists them (floats with NaN for "no score", or
    strings with "" for bands), and what produced them."""

    scores: dict[str, np.ndarray]
    provenance: Provenance


def score(
    instrument: Instrument | str | os.PathLike,
    answers: Mapping[str, Any],
    *,
    scoring: str | None = None,
    method: str | None = None,
    country: str | None = None,
) -> Result:
    """Score every row of `answers` (item id → column of codes) with one scoring.

    `instrument` is a definition, the id of a shipped one, or the path of a definition file.
    `scoring` defaults to the instrument's default scoring; `method` and `country` choose the
    EQ-5D value set (defaults come from the instrument). Columns that are not items are ignored.
    Raises ScoringError subclasses: UnknownName, MissingItems, AnswerError.
    """
    ins = find(instrument)
    chosen = choose_scoring(ins, scoring)
    value_set = choose_value_set(ins, chosen, method, country)
    coded = code_answers(ins, answers, needed=required_items(chosen), scoring_id=chosen.id)
    rows = len(next(iter(coded.values())).pos) if coded else 0

    scores: dict[str, np.ndarray] = {}
    for scale in chosen.scales:
        if isinstance(scale, ValueSetIndex):
            scores[scale.id] = _valueset_index(scale, coded, value_set)
        elif isinstance(scale, PatternLookup):
            scores[scale.id] = _pattern_lookup(ins, scale, coded, rows)
        else:
            values = [_recoded(ins, chosen, scale, item_id, coded) for item_id in scale.items]
            scores[scale.id] = _recode_mean(scale, values, rows) if isinstance(scale, RecodeMean) else _sum(scale, values, rows)
    for summary in chosen.summaries:
        scores[summary.id] = _SUMMARIES[type(summary)](summary, scores, rows)

    provenance = Provenance(
        instrument=ins.id,
        instrument_version=ins.version,
        scoring=chosen.id,
        scoring_version=chosen.version,
        value_set=value_set.ref if value_set else None,
    )
    return Result(scores, provenance)


def choose_scoring(ins: Instrument, scoring: str | None) -> Scoring:
    known = [s.id for s in ins.scorings]
    if scoring is not None and scoring not in known:
        raise UnknownName(f"{ins.id} has no scoring {scoring!r}; its scorings: {', '.join(known)}", field="scoring")
    return ins.scoring(scoring)


def choose_value_set(ins: Instrument, scoring: Scoring, method: str | None, country: str | None):
    """The value set of the scoring's index for `method` and `country` (None: the definition's
    default), or None for a scoring without one. UnknownName's `field` is `method` or `country`:
    the one of the two the request should change (never one it left to a default, unless it
    gave neither)."""
    scale = next((s for s in scoring.scales if isinstance(s, ValueSetIndex)), None)
    if scale is None:
        if method is not None or country is not None:
            raise UnknownName(f"{ins.id} scoring {scoring.id!r} uses no value set; leave out method and country",
                              field="method" if method is not None else "country")
        return None
    from scoring import valueset as valuesets  # only EQ-5D scorings need value sets

    # a country that is wrong only for the method given (or left to the default) means: change that
    blame_country = "country" if country or not method else "method"
    chosen_country = country or scale.default_country
    if chosen_country is None:
        names = sorted({r.country for r in valuesets.catalogue() if r.version == scale.version})
        raise UnknownName(f"{ins.id} needs a country for its value set; countries: {', '.join(names)}",
                          field=blame_country)
    try:
        chosen = valuesets.get(scale.version, method or scale.default_method, chosen_country)
    except UnknownName as e:
        field = {"method": "method", "country": blame_country}.get(e.field or "", "method" if method and not country else "country")
        raise UnknownName(str(e), field=field) from None
    levels = max(max(ins.codes_of(ins.item(i))) for i in scale.items)
    if chosen.levels != levels:
        raise UnknownName(f"value set {chosen.ref.name} takes {chosen.levels}-level answers; {ins.id} has {levels} levels",
                          field=blame_country)
    return chosen


def required_items(scoring: Scoring) -> list[str]:
    """The items a scoring reads, in first-use order (each needs a column, even if empty)."""
    needed: dict[str, None] = {}
    for scale in scoring.scales:
        needed.update(dict.fromkeys(scale.items))
        recode = getattr(scale, "recode", None)
        if isinstance(recode, dict):
            for spec in recode.values():
                for part in spec if isinstance(spec, list) else []:
                    needed.update(dict.fromkeys(_condition_items(part.when)))
    return list(needed)


def _condition_items(cond: Condition) -> list[str]:
    if cond.item is not None:
        return [cond.item]
    return [i for part in (cond.any or cond.all or []) for i in _condition_items(part)]


def pattern_key(codes) -> str:
    """The key of a response pattern in a lookup table: the codes separated by single spaces."""
    return " ".join(str(c) for c in codes)


# ---------------------------------------------------------------------------------------------
# Items: values and conditions


def _lookup_table(ins: Instrument, item_id: str, coded: Coded, values: Mapping[int, float | None] | None) -> np.ndarray:
    """The value of each slot of `coded.pos`; NaN for missing, unanswered options and codes
    without a value. No `values` means the code itself is the value."""
    return per_definition(ins, ("values", item_id, id(values)), lambda: _build_lookup(ins, item_id, coded, values))


def _build_lookup(ins: Instrument, item_id: str, coded: Coded, values: Mapping[int, float | None] | None) -> np.ndarray:
    item = ins.item(item_id)
    codes = ins.codes_of(item)
    table = np.full(max(codes) - coded.lowest + 2, np.nan)
    skip = ins.unanswered_codes(item)
    for code in codes:
        value = code if values is None else values.get(code)
        if code not in skip and value is not None:
            table[code - coded.lowest + 1] = value
    return table


def _item_values(ins: Instrument, item_id: str, answers: Coded, values: Mapping[int, float | None] | None) -> np.ndarray:
    """One item's value per row under one table (None: the code, for a multi item 1 per tick)."""
    kind = ins.item(item_id).kind
    if kind in ("decimal", "multi"):
        codes = cast(np.ndarray, answers.codes)  # a decimal or multi item's codes are there (Coded)
    if kind == "decimal":
        return codes
    if kind == "multi":
        # the values of the ticked options, added in form order
        ticks = np.nan_to_num(codes).astype(np.int64)
        total = np.zeros(len(ticks))
        for k, code in enumerate(ins.codes_of(ins.item(item_id))):
            # cast: a multi item's values are all numbers (instruments.checks)
            total += np.where((ticks >> k) & 1 == 1, 1.0 if values is None else cast(float, values[code]), 0.0)
        return np.where(ticks == 0, np.nan, total)
    return _lookup_table(ins, item_id, answers, values).take(answers.pos)  # take: quicker than [pos]


def _recoded(ins: Instrument, scoring: Scoring, scale: RecodeMean | Sum, item_id: str, coded: dict[str, Coded]) -> np.ndarray:
    answers = coded[item_id]
    spec = scale.recode if isinstance(scale.recode, (str, type(None))) else scale.recode.get(item_id)
    if not isinstance(spec, list):
        table = scoring.recode_tables[spec] if isinstance(spec, str) else spec
        return _item_values(ins, item_id, answers, table)
    # conditional recodes: the first whose condition holds wins; none holds → missing
    conditions = [_holds(ins, per_definition(ins, ("test", id(part.when)), lambda part=part: compile_condition(ins, part.when)), coded)
                  for part in spec]
    choices = [_item_values(ins, item_id, answers, part.values) for part in spec]
    return np.select(conditions, choices, default=np.nan)


def _holds(ins: Instrument, test: Test, coded: dict[str, Coded]) -> np.ndarray:
    """Where a condition holds, row by row: the leaves of `instruments.answers.Test` over columns."""
    if test.op == "any":
        return np.logical_or.reduce([_holds(ins, part, coded) for part in test.parts])
    if test.op == "all":
        return np.logical_and.reduce([_holds(ins, part, coded) for part in test.parts])
    answers = coded[test.item]
    if answers.codes is None:  # a coded item: its slots (0 = missing)
        missing = answers.pos == 0
        slots = sorted(c - answers.lowest + 1 for c in test.codes or ())
        hit = ~missing if test.codes is None else np.isin(answers.pos, slots)
    elif ins.item(test.item).kind == "multi":
        missing = np.isnan(answers.codes)
        ticks = np.nan_to_num(answers.codes).astype(np.int64)
        wanted = ~0 if test.codes is None else sum(1 << k for k, c in enumerate(ins.codes_of(ins.item(test.item))) if c in test.codes)
        hit = (ticks & wanted) != 0
    else:
        missing = np.isnan(answers.codes)
        hit = ~missing if test.codes is None else np.isin(answers.codes, sorted(test.codes))
    return hit | (missing & test.if_missing)


# ---------------------------------------------------------------------------------------------
# Scale kernels


def _answered_sum(values: list[np.ndarray], rows: int) -> tuple[np.ndarray, np.ndarray]:
    total = np.zeros(rows)
    count = np.zeros(rows, dtype=np.int64)
    for v in values:
        present = ~np.isnan(v)
        total += np.where(present, v, 0.0)
        count += present
    return total, count


def _recode_mean(scale: RecodeMean, values: list[np.ndarray], rows: int) -> np.ndarray:
    total, count = _answered_sum(values, rows)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count >= scale.min_answered, total / count, np.nan)
    return mean if scale.transform is None else scale.transform.apply(mean)


def _sum(scale: Sum, values: list[np.ndarray], rows: int) -> np.ndarray:
    total, count = _answered_sum(values, rows)
    need = len(values) if scale.min_answered is None else scale.min_answered
    if scale.prorate:
        with np.errstate(invalid="ignore", divide="ignore"):
            total = total * len(values) / count
    total = np.where(count >= need, total + scale.constant, np.nan)
    return total if scale.transform is None else scale.transform.apply(total)


def _valueset_index(scale: ValueSetIndex, coded: dict[str, Coded], value_set) -> np.ndarray:
    # The value set's table is indexed by the state's digits in base levels+1 (0 = missing),
    # so a missing dimension lands on NaN without a separate mask.
    base = value_set.levels + 1
    position = np.zeros(len(coded[scale.items[0]].pos), dtype=np.intp)
    for item_id in scale.items:
        position = position * base + coded[item_id].pos
    return value_set.table.take(position)


def _pattern_lookup(ins: Instrument, scale: PatternLookup, coded: dict[str, Coded], rows: int) -> np.ndarray:
    # A dense table with one cell per pattern of slots (slot 0: no answer, whose cells are NaN),
    # numbered like a number whose digits are the items' slots.
    table, radix = per_definition(ins, ("pattern", id(scale)), lambda: _pattern_table(ins, scale))
    position = np.zeros(rows, dtype=np.intp)
    for item_id, base in zip(scale.items, radix, strict=True):
        position = position * base + coded[item_id].pos
    return table.take(position)


def _pattern_table(ins: Instrument, scale: PatternLookup) -> tuple[np.ndarray, list[int]]:
    items = [ins.item(i) for i in scale.items]
    lowest = [min(ins.codes_of(i)) for i in items]
    radix = [max(ins.codes_of(i)) - low + 2 for i, low in zip(items, lowest, strict=True)]
    table = np.full(int(np.prod(radix)), np.nan)
    for key, value in scale.table.items():
        codes = [int(c) for c in key.split(" ")]
        if any(c in ins.unanswered_codes(i) for c, i in zip(codes, items, strict=True)):
            continue  # counts as no answer
        position = 0
        for code, low, base in zip(codes, lowest, radix, strict=True):
            position = position * base + (code - low + 1)
        table[position] = value
    return table, radix


# ---------------------------------------------------------------------------------------------
# Summary kernels


def _weighted_sum(summary: WeightedSum, scores: dict[str, np.ndarray], rows: int) -> np.ndarray:
    total = sum((i.weight * (scores[i.scale] - i.mean) / i.sd for i in summary.inputs), np.zeros(rows))
    return summary.constant + summary.multiplier * total


def _bands(summary: Bands, scores: dict[str, np.ndarray], rows: int) -> np.ndarray:
    value = scores[summary.input]
    labels = np.array([""] + [b.id for b in summary.bands], dtype=object)
    # bands are in increasing order of their lower bounds, so those that admit a score come
    # first; their number is the band (NaN is admitted by none: no band)
    which = np.zeros(len(value), dtype=np.intp)
    for band in summary.bands:
        bound, open_ = band.bound
        which += (value > bound) if open_ else (value >= bound)
    return labels[which]


def _mean_of(summary: MeanOf, scores: dict[str, np.ndarray], rows: int) -> np.ndarray:
    total, count = _answered_sum([scores[i] for i in summary.inputs], rows)
    need = len(summary.inputs) if summary.min_scored is None else summary.min_scored
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count >= need, total / count, np.nan)


def _score_lookup(summary: ScoreLookup, scores: dict[str, np.ndarray], rows: int) -> np.ndarray:
    keys = np.array(sorted(summary.table), dtype=np.float64)
    values = np.array([summary.table[k] for k in sorted(summary.table)], dtype=np.float64)
    value = scores[summary.input]
    at = np.minimum(np.searchsorted(keys, value), len(keys) - 1)
    return np.where(keys[at] == value, values[at], np.nan)  # NaN equals no key


_SUMMARIES: dict[type, Callable[..., np.ndarray]] = {WeightedSum: _weighted_sum, Bands: _bands, MeanOf: _mean_of, ScoreLookup: _score_lookup}
