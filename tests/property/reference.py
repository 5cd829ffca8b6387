"""A slow, obviously correct scorer: one response at a time, written from the docstrings of
`instruments.schema`, not from `scoring.engine`.

The fast engine is checked against this one with Hypothesis (test_engine_reference.py). Keep it
plain: dicts, loops and `statistics.fmean`; no numpy, no cleverness. When the two disagree,
read the schema's docstrings again before deciding which one is wrong.

Meanings taken from the schema:

- An answer is missing when it is absent or None, and also when its option is marked
  `unanswered: true` ("stored as given but count as a missing answer in every scoring").
- A recode is a table name, an inline table, or a list of conditional tables of which the
  first whose `when` holds applies; when none holds the answer counts as missing. A value of
  null in a table counts as missing. No recode (for the scale, or for this item of a per-item
  recode) means the code itself is the value.
- Conditions: ``{item, in}`` holds when the stored code is one of `in` (the codes are named
  explicitly, so an `unanswered` code can be named too); ``{item, answered}`` asks whether the
  item has an answer that counts (an `unanswered` option does not); ``any`` / ``all`` combine.
- Item kinds: a `decimal` answer is its own value (never recoded); a `multi` answer is the
  list of ticked codes, worth the sum of their values in the table (1 each without a table),
  and an empty list is no answer; `text` items are never read.
- Transforms: ``{min, max}`` gives ``(x - min) / (max - min) * 100``; ``{multiply, add}``
  gives ``x * multiply + add`` (a missing one: 1 and 0).
- recode_mean: the mean of the answered items when at least `min_answered` are answered,
  then the transform.
- sum: `constant` plus the sum of the answered items when at least `min_answered` (default:
  all) are answered; with `prorate` the sum is scaled up by items / answered; then the
  transform.
- valueset_index: the index of the five-digit state under the value set, given here as a
  callable ``index(state) -> float | None``; no state (a dimension missing) gives no index.
- lookup (scale): the table's value for the codes of the items joined by spaces; none when an
  item has no answer or the pattern is not in the table.
- weighted_sum: ``constant + multiplier * sum(weight * (x - mean) / sd)``; no score when any
  input has none.
- mean (summary): the mean of the inputs that have a score, when at least `min_scored`
  (default: all) do.
- lookup (summary): the table's value for the input's value; none when there is none.
- bands: the id of the last band whose lower bound the value passes (``value >= min``, or
  ``value > above``); none when the value is missing or below every band.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping

from instruments.schema import (
    Bands,
    Condition,
    Instrument,
    MeanOf,
    PatternLookup,
    RecodeMean,
    ScoreLookup,
    Scoring,
    Sum,
    ValueSetIndex,
    WeightedSum,
)

Row = Mapping[str, "int | None"]
Index = Callable[[str], "float | None"]


def reference_score(
    instrument: Instrument,
    row: Row,
    scoring: str | None = None,
    index: Index | None = None,
) -> dict[str, float | str | None]:
    """Score one response (item id → code, None or absent for no answer).

    Returns every scale and summary score of the scoring, in the order it lists them;
    None means "no score". `index` turns an EQ-5D state such as "21341" into its index and
    is needed only by scorings with a `valueset_index` scale.
    """
    chosen = _scoring(instrument, scoring)
    scores: dict[str, float | str | None] = {}
    for scale in chosen.scales:
        if isinstance(scale, RecodeMean):
            scores[scale.id] = _recode_mean(instrument, chosen, scale, row)
        elif isinstance(scale, Sum):
            scores[scale.id] = _sum(instrument, chosen, scale, row)
        elif isinstance(scale, ValueSetIndex):
            scores[scale.id] = _valueset_index(instrument, scale, row, index)
        elif isinstance(scale, PatternLookup):
            scores[scale.id] = _pattern(instrument, scale, row)
        else:
            raise TypeError(f"the reference does not know the kernel of {scale!r}")
    for summary in chosen.summaries:
        if isinstance(summary, WeightedSum):
            scores[summary.id] = _weighted_sum(summary, scores)
        elif isinstance(summary, Bands):
            scores[summary.id] = _band(summary, scores)
        elif isinstance(summary, MeanOf):
            scores[summary.id] = _mean_of(summary, scores)
        elif isinstance(summary, ScoreLookup):
            value = scores[summary.input]
            scores[summary.id] = None if value is None else summary.table.get(value)
        else:
            raise TypeError(f"the reference does not know the kernel of {summary!r}")
    return scores


def _scoring(instrument: Instrument, scoring_id: str | None) -> Scoring:
    for s in instrument.scorings:
        if (scoring_id is None and s.default) or s.id == scoring_id:
            return s
    raise KeyError(f"{instrument.id} has no scoring {scoring_id!r}")


# ---------------------------------------------------------------------------------------------
# Answers


def answer(instrument: Instrument, row: Row, item_id: str):
    """The answer of an item that counts as one; None when missing, an `unanswered` option, or
    a multi-select item with nothing ticked. A multi item's answer is the list of ticked codes."""
    code = row.get(item_id)
    if code is None or code == []:
        return None
    item = instrument.item(item_id)
    if item.kind == "choice":
        for option in instrument.options_of(item):
            if option.code == code and option.unanswered:
                return None
    return code


def holds(instrument: Instrument, condition: Condition, row: Row) -> bool:
    if condition.any is not None:
        return any(holds(instrument, part, row) for part in condition.any)
    if condition.all is not None:
        return all(holds(instrument, part, row) for part in condition.all)
    if condition.answered is not None:
        is_answered = answer(instrument, row, condition.item) is not None
        return is_answered == condition.answered
    stored = row.get(condition.item)
    if isinstance(stored, list):  # multi-select: any ticked code among them
        return any(code in condition.in_ for code in stored)
    return stored is not None and stored in condition.in_


def _table(scoring: Scoring, recode) -> dict | None:
    """A recode table by name or inline; None means "the code is the value"."""
    if recode is None:
        return None
    if isinstance(recode, str):
        return scoring.recode_tables[recode]
    return recode


def item_value(instrument: Instrument, scoring: Scoring, scale: RecodeMean | Sum, item_id: str, row: Row) -> float | None:
    """The recoded value of one item for one response; None when it counts as missing."""
    code = answer(instrument, row, item_id)
    if code is None:
        return None

    if scale.recode is None or isinstance(scale.recode, str):
        spec = scale.recode
    else:
        spec = scale.recode.get(item_id)  # an item without an entry is scored as coded

    if isinstance(spec, list):
        table = None
        for conditional in spec:
            if holds(instrument, conditional.when, row):
                table = conditional.values
                break
        if table is None:
            return None  # no condition holds: no table applies
    else:
        table = _table(scoring, spec)

    kind = instrument.item(item_id).kind
    if kind == "multi":
        return float(sum(1.0 if table is None else table[c] for c in code))
    if table is None:
        return float(code)
    value = table.get(code)
    return None if value is None else float(value)


def _transformed(transform, x: float) -> float:
    if transform is None:
        return x
    if transform.min is not None:
        return (x - transform.min) / (transform.max - transform.min) * 100.0
    multiply = 1.0 if transform.multiply is None else transform.multiply
    add = 0.0 if transform.add is None else transform.add
    return x * multiply + add


# ---------------------------------------------------------------------------------------------
# Kernels


def _answered_values(instrument, scoring, scale, row) -> list[float]:
    values = []
    for item_id in scale.items:
        value = item_value(instrument, scoring, scale, item_id, row)
        if value is not None:
            values.append(value)
    return values


def _recode_mean(instrument: Instrument, scoring: Scoring, scale: RecodeMean, row: Row) -> float | None:
    values = _answered_values(instrument, scoring, scale, row)
    if len(values) < scale.min_answered:
        return None
    return _transformed(scale.transform, statistics.fmean(values))


def _sum(instrument: Instrument, scoring: Scoring, scale: Sum, row: Row) -> float | None:
    values = _answered_values(instrument, scoring, scale, row)
    needed = len(scale.items) if scale.min_answered is None else scale.min_answered
    if len(values) < needed:
        return None
    total = 0.0
    for value in values:
        total += value
    if scale.prorate:
        total = total * len(scale.items) / len(values)
    return _transformed(scale.transform, scale.constant + total)


def _pattern(instrument: Instrument, scale: PatternLookup, row: Row) -> float | None:
    codes = [answer(instrument, row, item_id) for item_id in scale.items]
    if None in codes:
        return None
    return scale.table.get(" ".join(str(c) for c in codes))


def _mean_of(summary: MeanOf, scores: dict) -> float | None:
    present = [scores[i] for i in summary.inputs if scores[i] is not None]
    needed = len(summary.inputs) if summary.min_scored is None else summary.min_scored
    if len(present) < needed:
        return None
    return statistics.fmean(present)


def _valueset_index(instrument: Instrument, scale: ValueSetIndex, row: Row, index: Index | None) -> float | None:
    if index is None:
        raise ValueError(f"scale {scale.id} needs a value set: pass index=")
    digits = []
    for item_id in scale.items:
        code = answer(instrument, row, item_id)
        if code is None:
            return None
        digits.append(str(code))
    return index("".join(digits))


def _weighted_sum(summary: WeightedSum, scores: dict) -> float | None:
    total = 0.0
    for part in summary.inputs:
        value = scores[part.scale]
        if value is None:
            return None
        total += part.weight * (value - part.mean) / part.sd
    return summary.constant + summary.multiplier * total


def _band(summary: Bands, scores: dict) -> str | None:
    value = scores[summary.input]
    if value is None:
        return None
    found = None
    for band in summary.bands:
        if (band.min is not None and value >= band.min) or (band.above is not None and value > band.above):
            found = band.id
    return found
