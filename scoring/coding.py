"""Answers in: check every cell of a column against its item and code it for the kernels.

One set of rules for what a cell may hold, used by `scoring.score` for whole columns and by
`scoring.score_one` for a single answer (`one_answer`), so that the two accept and refuse
exactly the same values:

- no answer: None, NaN, an empty or blank string (and for a multi item an empty list), a
  masked cell of a numpy masked array, a null of a polars column;
- `choice`, `integer`, `vas`: a code, as a number (3, 3.0, numpy numbers) or as text ("3");
- `decimal`: a finite number from the item's `min` to its `max`, or such a number as text;
- `multi`: a list (tuple, set) of codes, text with codes separated by spaces ("1 3"), or one
  code alone;
- `text` items are never scored: their columns are not read.

Booleans are refused everywhere: True is not the code 1.

A column of whole numbers (a numpy integer array, a masked one whose mask marks no answer, as
`promsvc score` gives the columns polars reads, or a polars integer column without nulls) is
coded in integers without a detour through floats: the same rules, in a fraction of the time
(this runs for every cell of a file).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
import numpy as np

from instruments import Instrument, Item
from instruments.answers import describe_allowed
from scoring.errors import AnswerError, MissingItems, ScoringError


class Coded(msgspec.Struct, frozen=True):
    """One item's answers for the kernels. `pos`: the position of each code in the item's lookup
    tables (0 = no answer, then one slot per code from the lowest; all 0 for decimal and multi
    items), which is all the kernels need of a coded item. `codes`, for decimal and multi items
    only (None for the others): floats, NaN = no answer (a multi item: the ticked options as
    bits, option k of the form as 2**k)."""

    codes: np.ndarray | None
    pos: np.ndarray
    lowest: int

    def code(self, row: int) -> float | None:
        """The answer in one row as a number (a multi item: its bits); None for no answer."""
        if self.codes is not None:
            number = float(self.codes[row])
            return None if number != number else number
        slot = int(self.pos[row])
        return None if slot == 0 else self.lowest + slot - 1


def code_answers(ins: Instrument, answers: Mapping[str, Any], *, needed: list[str], scoring_id: str) -> dict[str, Coded]:
    """Check and code every item column present in `answers`; `needed` items must be present."""
    columns = list(answers.columns) if hasattr(answers, "columns") else list(answers.keys())
    absent = [i for i in needed if i not in columns]
    if absent:
        raise MissingItems(ins.id, scoring_id, absent)
    coded = {}
    for item in ins.items:
        if item.id in columns and item.kind != "text":
            coded[item.id] = code_column(ins, item, answers[item.id])
    lengths = {len(c.pos) for c in coded.values()}
    if len(lengths) > 1:
        raise ScoringError(f"answer columns differ in length: {sorted(lengths)}; give one value per row in every column")
    return coded


def code_column(ins: Instrument, item: Item, column: Any) -> Coded:
    if item.kind == "multi":
        return _code_multi(ins, item, column)
    whole = _as_whole_numbers(item, column) if item.kind != "decimal" else None
    if whole is not None:
        return _code_whole_numbers(ins, item, column, *whole)
    codes = _as_floats(ins, item, column)
    if item.kind == "decimal":
        # NaN compares false, so missing answers are neither bad nor in range
        bad = ~np.isnan(codes) & ~((codes >= item.min) & (codes <= item.max))
        _refuse(ins, item, column, bad)
        return Coded(codes, np.zeros(len(codes), dtype=np.intp), 0)
    lowest, highest, is_code = per_definition(ins, ("codes", item.id), lambda: _code_slots(ins, item))
    # The slot of each cell, in a few whole-array steps (this runs for every cell of a file):
    # NaN and codes below the lowest go to slot 0, codes above the highest to the last slot
    # (no code), fractions stay between two slots.
    slot = np.subtract(codes, lowest - 1)
    np.fmax(slot, 0.0, out=slot)  # fmax keeps the number where one side is NaN
    np.fmin(slot, highest - lowest + 2.0, out=slot)
    pos = slot.astype(np.intp)
    ok = is_code.take(pos)
    ok &= pos == slot  # a whole number
    ok &= ~(codes < lowest)  # slot 0 holds the missing answers only (NaN < lowest is False)
    _refuse(ins, item, column, ~ok)
    return Coded(None, pos, lowest)


def _as_whole_numbers(item: Item, column: Any) -> tuple[np.ndarray, np.ndarray | None] | None:
    """A column of whole numbers as (numbers, where there is no answer or None for nowhere), or
    None for a column of another kind. Only typed columns are taken here: a list or an object
    array may hold a boolean, which goes value by value (`_as_floats`) to be refused."""
    if hasattr(column, "null_count") and hasattr(column, "to_numpy") and column.dtype.is_integer() and not column.null_count():
        column = column.to_numpy()  # polars, without nulls: no copy (with nulls: floats, NaN = null)
    if not isinstance(column, np.ndarray) or column.dtype.kind not in "iu":
        return None
    if column.ndim != 1:
        raise ScoringError(f"column {item.id}: give a 1-D column of answers, not shape {column.shape}")
    if isinstance(column, np.ma.MaskedArray):  # masked: no answer (what is under the mask is never read)
        return column.data, np.ma.getmaskarray(column)
    return column, None


def _code_whole_numbers(ins: Instrument, item: Item, column: Any, numbers: np.ndarray, missing: np.ndarray | None) -> Coded:
    """`code_column` for whole numbers: each number's slot, -1 for a number that is no code."""
    if numbers.dtype.itemsize <= 2:
        # one lookup in a table over every number the type can hold (what polars reads codes as)
        table = per_definition(ins, ("slots", item.id, numbers.dtype.str), lambda: _slot_table(ins, item, numbers.dtype))
        pos = table.take(numbers.view(f"u{numbers.dtype.itemsize}"))
    else:
        pos = _slots(ins, item, numbers)
    bad = pos < 0
    if missing is not None:
        bad &= ~missing
        np.copyto(pos, 0, where=missing)  # slot 0: no answer
    _refuse(ins, item, column, bad)
    return Coded(None, pos, per_definition(ins, ("codes", item.id), lambda: _code_slots(ins, item))[0])


def _slots(ins: Instrument, item: Item, numbers: np.ndarray) -> np.ndarray:
    """The slot of each number, -1 where it is no code of the item."""
    lowest, highest, is_code = per_definition(ins, ("codes", item.id), lambda: _code_slots(ins, item))
    # Clamped to one below the lowest code and one above the highest, then shifted: slot 0
    # for below the lowest, the last slot (no code) for above. (A uint64 beyond the range of
    # intp turns negative here, and is refused as below the lowest.)
    pos = numbers.astype(np.intp)
    np.clip(pos, lowest - 1, highest + 1, out=pos)
    pos -= lowest - 1
    ok = is_code.take(pos)
    ok[pos == 0] = False  # slot 0 is for no answer, not for a number below the lowest code
    return np.where(ok, pos, -1)


def _slot_table(ins: Instrument, item: Item, dtype: np.dtype) -> np.ndarray:
    """`_slots` of every number of a 1- or 2-byte type, indexed by its bits read as unsigned."""
    every = np.arange(1 << (8 * dtype.itemsize), dtype=f"u{dtype.itemsize}").view(dtype)
    return _slots(ins, item, every)


def one_answer(ins: Instrument, item: Item, value: Any) -> Any:
    """One answer as `scoring.score_one` reads it: an int code, a float (decimal), a tuple of
    codes (multi) or None; AnswerError (row 0) for what the engine would refuse."""
    number = code_column(ins, item, [value]).code(0)
    if number is None:
        return None
    if item.kind == "decimal":
        return number
    if item.kind == "multi":
        return tuple(c for k, c in enumerate(ins.codes_of(item)) if int(number) >> k & 1)
    return int(number)


def _refuse(ins: Instrument, item: Item, column: Any, bad: np.ndarray) -> None:
    if bad.any():
        rows = np.flatnonzero(bad)
        raise AnswerError(item.id, int(rows[0]), _as_given(column, rows[0]), describe_allowed(ins, item), more=len(rows) - 1)


def _code_slots(ins: Instrument, item: Item) -> tuple[int, int, np.ndarray]:
    """Lowest and highest code, and which slots of `Coded.pos` are codes (slot 0, missing, is)."""
    allowed = ins.codes_of(item)
    lowest, highest = min(allowed), max(allowed)
    is_code = np.zeros(highest - lowest + 3, dtype=bool)  # the last slot: above the highest code
    is_code[0] = True
    is_code[np.array(allowed) - lowest + 1] = True
    return lowest, highest, is_code


def per_definition(ins: Instrument, key: tuple, build):
    """A table derived from a definition, built once and kept with the definition object
    (`Instrument.derived`): definitions are frozen, so a table stays right for as long as the
    object lives, and goes with it. Keys may name parts of the definition by id(): the
    definition holds those parts, so their ids cannot be reused while the table is kept."""
    tables = ins.derived
    try:
        return tables[key]
    except KeyError:
        value = tables[key] = build()  # two threads may both build it: equal values, one kept
        return value


def _as_floats(ins: Instrument, item: Item, column: Any) -> np.ndarray:
    if hasattr(column, "to_numpy"):  # pandas and polars columns
        column = column.to_numpy()
    if isinstance(column, np.ma.MaskedArray):
        column = np.ma.filled(column.astype(np.float64 if column.dtype.kind in "iuf" else object), np.nan)
    if isinstance(column, np.ndarray) and column.dtype.kind in "iuf":
        if column.ndim != 1:
            raise ScoringError(f"column {item.id}: give a 1-D column of answers, not shape {column.shape}")
        return column.astype(np.float64, copy=False)
    # Anything else (lists, object or string arrays, booleans) goes value by value, so that
    # np.asarray cannot quietly turn True into the code 1.
    values = _objects(item, column)
    out = np.empty(len(values), dtype=np.float64)
    bad: list[int] = []
    for row, value in enumerate(values.tolist()):
        out[row] = _one_float(value)
        if out[row] != out[row] and value is not None and not _blank(value):
            bad.append(row)
    if bad:
        raise AnswerError(item.id, bad[0], values[bad[0]], describe_allowed(ins, item), more=len(bad) - 1)
    return out


def _objects(item: Item, column: Any) -> np.ndarray:
    if isinstance(column, np.ma.MaskedArray):
        column = np.ma.filled(column.astype(object), None)
    if item.kind == "multi":  # element by element, so that a column of lists stays one
        values = np.empty(len(column), dtype=object)
        for row, value in enumerate(column):
            values[row] = value
        return values
    values = np.asarray(column, dtype=object)
    if values.ndim != 1:
        raise ScoringError(f"column {item.id}: give a 1-D column of answers, not shape {values.shape}")
    return values


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


def _code_multi(ins: Instrument, item: Item, column: Any) -> Coded:
    """Multi-select answers as bits (option k of the form as 2**k); NaN for no answer."""
    if hasattr(column, "to_numpy"):
        column = column.to_numpy()
    bit = {code: 1 << k for k, code in enumerate(ins.codes_of(item))}
    values = _objects(item, column)
    out = np.empty(len(values), dtype=np.float64)
    bad: list[int] = []
    for row, value in enumerate(values.tolist()):
        mask = _one_mask(value, bit)
        if mask is None:
            bad.append(row)
            mask = 0
        out[row] = mask if mask else np.nan
    if bad:
        raise AnswerError(item.id, bad[0], _shown(values[bad[0]]), describe_allowed(ins, item), more=len(bad) - 1)
    return Coded(out, np.zeros(len(out), dtype=np.intp), 0)


def _one_mask(value: Any, bit: dict[int, int]) -> int | None:
    """The bits of one multi-select answer; 0 for no answer, None for what is not one."""
    if isinstance(value, str):
        value = value.split()
    elif isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, (list, tuple, set, frozenset)):
        value = [] if value is None or _blank(value) else [value]
    mask = 0
    for element in value:
        number = _one_float(element)
        if number != number or not number.is_integer() or int(number) not in bit:
            return None
        mask |= bit[int(number)]
    return mask


def _shown(value: Any) -> Any:
    return value.tolist() if isinstance(value, np.ndarray) else value


def _as_given(column: Any, row: int) -> Any:
    """The answer at `row` as the caller gave it, for messages (3.0 shows as 3, "inf" as 'inf')."""
    if hasattr(column, "to_numpy"):
        column = column.to_numpy()
    value = column[row] if isinstance(column, (list, tuple, np.ndarray)) else list(column)[row]
    if isinstance(value, np.generic):
        value = value.item()
    return int(value) if isinstance(value, float) and value.is_integer() else value
