"""Score answers with an instrument's scoring: a few generic, vectorised kernels driven by data.

Answers are columns: a mapping from item id to a 1-D array of codes, where NaN (or None) is a
missing answer. Every function here is pure: arrays and definitions in, arrays out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
import numpy as np

from instruments import Instrument, Item
from instruments import get as get_instrument
from instruments.schema import (
    Bands,
    Condition,
    RecodeMean,
    Scoring,
    Sum,
    ValueSetIndex,
    WeightedSum,
)
from scoring.errors import AnswerError, MissingItems, ScoringError, UnknownName


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


class Coded(msgspec.Struct, frozen=True):
    """One item's answers: `codes` as floats (NaN = missing) and `pos`, the position of each
    code in the item's lookup tables (0 = missing, then one slot per code from the lowest)."""

    codes: np.ndarray
    pos: np.ndarray
    lowest: int


def score(
    instrument: Instrument | str,
    answers: Mapping[str, Any],
    *,
    scoring: str | None = None,
    method: str | None = None,
    country: str | None = None,
) -> Result:
    """Score every row of `answers` (item id → column of codes) with one scoring.

    `scoring` defaults to the instrument's default scoring; `method` and `country` choose the
    EQ-5D value set (defaults come from the instrument). Columns that are not items are ignored.
    Raises ScoringError subclasses: UnknownName, MissingItems, AnswerError.
    """
    ins = get_instrument(instrument) if isinstance(instrument, str) else instrument
    chosen = choose_scoring(ins, scoring)
    value_set = choose_value_set(ins, chosen, method, country)
    coded = code_answers(ins, answers, needed=required_items(chosen), scoring_id=chosen.id)
    rows = _row_count(coded)

    scores: dict[str, np.ndarray] = {}
    for scale in chosen.scales:
        if isinstance(scale, ValueSetIndex):
            scores[scale.id] = _valueset_index(scale, coded, value_set)
        else:
            values = [_recoded(ins, chosen, scale, item_id, coded) for item_id in scale.items]
            scores[scale.id] = _recode_mean(scale, values, rows) if isinstance(scale, RecodeMean) else _sum(scale, values, rows)
    for summary in chosen.summaries:
        scores[summary.id] = _weighted_sum(summary, scores, rows) if isinstance(summary, WeightedSum) else _bands(summary, scores)

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
        raise UnknownName(f"{ins.id} has no scoring {scoring!r}; its scorings: {', '.join(known)}")
    return ins.scoring(scoring)


def choose_value_set(ins: Instrument, scoring: Scoring, method: str | None, country: str | None):
    scale = next((s for s in scoring.scales if isinstance(s, ValueSetIndex)), None)
    if scale is None:
        if method is not None or country is not None:
            raise UnknownName(f"{ins.id} scoring {scoring.id!r} uses no value set; leave out method and country")
        return None
    from scoring import valueset as valuesets  # only EQ-5D scorings need value sets

    country = country or scale.default_country
    if country is None:
        names = sorted({r.country for r in valuesets.catalogue() if r.version == scale.version})
        raise UnknownName(f"{ins.id} needs a country for its value set; countries: {', '.join(names)}")
    chosen = valuesets.get(scale.version, method or scale.default_method, country)
    levels = max(max(ins.codes_of(ins.item(i))) for i in scale.items)
    if chosen.levels != levels:
        raise UnknownName(f"value set {chosen.ref.name} takes {chosen.levels}-level answers; {ins.id} has {levels} levels")
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


# ---------------------------------------------------------------------------------------------
# Answers in: validation and coding


def describe_allowed(ins: Instrument, item: Item) -> str:
    """How a message names the answers an item accepts."""
    if item.kind == "choice":
        return f"one of {', '.join(map(str, ins.codes_of(item)))}, or empty for no answer"
    return f"a whole number from {item.min} to {item.max}, or empty for no answer"


def code_answers(ins: Instrument, answers: Mapping[str, Any], *, needed: list[str], scoring_id: str) -> dict[str, Coded]:
    """Check and code every item column present in `answers`; `needed` items must be present."""
    columns = list(answers.columns) if hasattr(answers, "columns") else list(answers.keys())
    absent = [i for i in needed if i not in columns]
    if absent:
        raise MissingItems(ins.id, scoring_id, absent)
    coded = {}
    for item in ins.items:
        if item.id in columns:
            coded[item.id] = code_column(ins, item, answers[item.id])
    lengths = {len(c.codes) for c in coded.values()}
    if len(lengths) > 1:
        raise ScoringError(f"answer columns differ in length: {sorted(lengths)}; give one value per row in every column")
    return coded


def code_column(ins: Instrument, item: Item, column: Any) -> Coded:
    codes = _as_floats(ins, item, column)
    lowest, highest, is_code = per_definition(ins, ("codes", item.id), lambda: _code_slots(ins, item))
    # NaN compares false, so missing answers fall out of range without a warning
    in_range = (codes >= lowest) & (codes <= highest)
    pos = np.where(in_range, codes - (lowest - 1), 0).astype(np.intp)
    bad = ~np.isnan(codes) & ~(in_range & (codes == np.floor(codes)) & is_code[pos])
    if bad.any():
        rows = np.flatnonzero(bad)
        raise AnswerError(item.id, int(rows[0]), _as_given(column, rows[0]), describe_allowed(ins, item), more=len(rows) - 1)
    return Coded(codes, pos, lowest)


def _code_slots(ins: Instrument, item: Item) -> tuple[int, int, np.ndarray]:
    """Lowest and highest code, and which slots of `Coded.pos` are codes (slot 0, missing, is)."""
    allowed = ins.codes_of(item)
    lowest, highest = min(allowed), max(allowed)
    is_code = np.zeros(highest - lowest + 2, dtype=bool)
    is_code[0] = True
    is_code[np.array(allowed) - lowest + 1] = True
    return lowest, highest, is_code


# Tables derived from a definition are built once per definition object. Definitions are
# frozen, so a table stays right for as long as the object it was built from lives; the entry
# keeps that object, which makes its id() a safe key.
_TABLES: dict[tuple, tuple[Instrument, Any]] = {}


def per_definition(ins: Instrument, key: tuple, build):
    hit = _TABLES.get((id(ins), *key))
    if hit is not None and hit[0] is ins:
        return hit[1]
    if len(_TABLES) > 20_000:  # many throwaway definitions (tests): start afresh
        _TABLES.clear()
    value = build()
    _TABLES[(id(ins), *key)] = (ins, value)
    return value


def _as_floats(ins: Instrument, item: Item, column: Any) -> np.ndarray:
    if hasattr(column, "to_numpy"):  # pandas and polars columns
        column = column.to_numpy()
    if isinstance(column, np.ndarray) and column.dtype.kind in "iuf":
        if column.ndim != 1:
            raise ScoringError(f"column {item.id}: give a 1-D column of answers, not shape {column.shape}")
        return column.astype(np.float64, copy=False)
    # Anything else (lists, object or string arrays, booleans) goes value by value, so that
    # np.asarray cannot quietly turn True into the code 1.
    values = np.asarray(column, dtype=object)
    if values.ndim != 1:
        raise ScoringError(f"column {item.id}: give a 1-D column of answers, not shape {values.shape}")
    out = np.empty(len(values), dtype=np.float64)
    bad: list[int] = []
    for row, value in enumerate(values.tolist()):
        out[row] = _one_float(value)
        if out[row] != out[row] and value is not None and not _blank(value):
            bad.append(row)
    if bad:
        raise AnswerError(item.id, bad[0], values[bad[0]], describe_allowed(ins, item), more=len(bad) - 1)
    return out


def _blank(value: Any) -> bool:
    return (isinstance(value, str) and not value.strip()) or (isinstance(value, float) and value != value)


def _one_float(value: Any) -> float:
    """A number from one cell; NaN for a missing answer and for what is not a number (the
    caller tells the two apart)."""
    if isinstance(value, bool) or value is None:
        return np.nan
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, str) and value.strip():
        try:
            return float(value)
        except ValueError:
            return np.nan
    return np.nan


def _as_given(column: Any, row: int) -> Any:
    """The answer at `row` as the caller gave it, for messages (3.0 shows as 3, "inf" as 'inf')."""
    if hasattr(column, "to_numpy"):
        column = column.to_numpy()
    value = np.asarray(column, dtype=object)[row]
    if isinstance(value, np.generic):
        value = value.item()
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _row_count(coded: dict[str, Coded]) -> int:
    return len(next(iter(coded.values())).codes) if coded else 0


# ---------------------------------------------------------------------------------------------
# Kernels


def _lookup_table(ins: Instrument, item: Item, coded: Coded, values: Mapping[int, float | None] | None) -> np.ndarray:
    """The value of each slot of `coded.pos`; NaN for missing, unanswered options and codes
    without a value. No `values` means the code itself is the value."""
    return per_definition(ins, ("values", item.id, id(values)), lambda: _build_lookup(ins, item, coded, values))


def _build_lookup(ins: Instrument, item: Item, coded: Coded, values: Mapping[int, float | None] | None) -> np.ndarray:
    codes = ins.codes_of(item)
    table = np.full(max(codes) - coded.lowest + 2, np.nan)
    skip = {o.code for o in ins.options_of(item) if o.unanswered} if item.kind == "choice" else set()
    for code in codes:
        value = code if values is None else values.get(code)
        if code not in skip and value is not None:
            table[code - coded.lowest + 1] = value
    return table


def _recoded(ins: Instrument, scoring: Scoring, scale: RecodeMean | Sum, item_id: str, coded: dict[str, Coded]) -> np.ndarray:
    item, answers = ins.item(item_id), coded[item_id]
    spec = scale.recode if isinstance(scale.recode, (str, type(None))) else scale.recode.get(item_id)
    if not isinstance(spec, list):
        table = scoring.recode_tables[spec] if isinstance(spec, str) else spec
        return _lookup_table(ins, item, answers, table)[answers.pos]
    # conditional recodes: the first whose condition holds wins; none holds → missing
    conditions = [_holds(ins, part.when, coded) for part in spec]
    choices = [_lookup_table(ins, item, answers, part.values)[answers.pos] for part in spec]
    return np.select(conditions, choices, default=np.nan)


def _holds(ins: Instrument, cond: Condition, coded: dict[str, Coded]) -> np.ndarray:
    if cond.any is not None:
        return np.logical_or.reduce([_holds(ins, c, coded) for c in cond.any])
    if cond.all is not None:
        return np.logical_and.reduce([_holds(ins, c, coded) for c in cond.all])
    codes = coded[cond.item].codes
    if cond.answered is not None:
        # an option such as "not applicable" is stored but counts as no answer
        item = ins.item(cond.item)
        skipped = [o.code for o in ins.options_of(item) if o.unanswered] if item.kind == "choice" else []
        answered = ~np.isnan(codes) & ~np.isin(codes, skipped)
        return answered == cond.answered
    return np.isin(codes, cond.in_)


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
    if scale.transform is not None:
        lo, hi = scale.transform.min, scale.transform.max
        mean = (mean - lo) / (hi - lo) * 100.0
    return mean


def _sum(scale: Sum, values: list[np.ndarray], rows: int) -> np.ndarray:
    total, count = _answered_sum(values, rows)
    need = len(values) if scale.min_answered is None else scale.min_answered
    if scale.prorate:
        with np.errstate(invalid="ignore", divide="ignore"):
            total = total * len(values) / count
    return np.where(count >= need, total + scale.constant, np.nan)


def _valueset_index(scale: ValueSetIndex, coded: dict[str, Coded], value_set) -> np.ndarray:
    # The value set's table is indexed by the state's digits in base levels+1 (0 = missing),
    # so a missing dimension lands on NaN without a separate mask.
    base = value_set.levels + 1
    position = np.zeros(len(coded[scale.items[0]].codes), dtype=np.intp)
    for item_id in scale.items:
        position = position * base + coded[item_id].pos
    return value_set.table[position]


def _weighted_sum(summary: WeightedSum, scores: dict[str, np.ndarray], rows: int) -> np.ndarray:
    total = sum((i.weight * (scores[i.scale] - i.mean) / i.sd for i in summary.inputs), np.zeros(rows))
    return summary.constant + summary.multiplier * total


def _bands(summary: Bands, scores: dict[str, np.ndarray]) -> np.ndarray:
    value = scores[summary.input]
    mins = np.array([b.min for b in summary.bands])
    labels = np.array([""] + [b.id for b in summary.bands], dtype=object)
    which = np.searchsorted(mins, np.nan_to_num(value, nan=-np.inf), side="right")
    return labels[np.where(np.isnan(value), 0, which)]
