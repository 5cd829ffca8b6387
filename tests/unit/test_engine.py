"""The scoring engine at its edges: what it accepts as an answer, what it refuses, and how it
says so. (That the kernels compute the right numbers is tests/property's job.)"""

from __future__ import annotations

import math

import numpy as np
import pytest

import instruments
import scoring
from scoring import AnswerError, MissingItems, ScoringError, UnknownName

_LABEL = "{nb: x, nn: x, en: x}"

# q1 has non-contiguous codes and an `unanswered` option; q2 starts at 0; n is an integer item.
UNIT = instruments.decode(f"""
id: unit
version: "3.1"
kind: prom
title: {_LABEL}
citation: synthetic, for the engine's unit tests
licence: {{holder: none, terms: test only, wording: ours}}
items:
  - id: q1
    kind: choice
    label: {_LABEL}
    options: [{{code: 1, label: {_LABEL}}}, {{code: 2, label: {_LABEL}}}, {{code: 3, label: {_LABEL}}},
              {{code: 9, label: {_LABEL}, unanswered: true}}]
  - id: q2
    kind: choice
    label: {_LABEL}
    options: [{{code: 0, label: {_LABEL}}}, {{code: 1, label: {_LABEL}}}, {{code: 2, label: {_LABEL}}}]
  - {{id: n, kind: integer, label: {_LABEL}, min: 0, max: 10}}
scorings:
  - id: main
    version: "2"
    default: true
    title: {_LABEL}
    source: synthetic
    scales:
      - {{kernel: recode_mean, id: both, label: {_LABEL}, items: [q1, q2]}}
  - id: alt
    version: "7"
    title: {_LABEL}
    source: synthetic
    scales:
      - {{kernel: sum, id: total, label: {_LABEL}, items: [n]}}
  - id: cond
    version: "1"
    title: {_LABEL}
    source: synthetic
    scales:
      - kernel: recode_mean
        id: c
        label: {_LABEL}
        items: [q2]
        recode:
          q2:
            - when: {{item: n, in: [0]}}
              values: {{0: 0, 1: 1, 2: 2}}
""".encode(), "unit.yaml")


def both(q1, q2=None):
    """Score the default scoring of UNIT; q2 defaults to a column of 1s."""
    return scoring.score(UNIT, {"q1": q1, "q2": [1] * len(q1) if q2 is None else q2}).scores["both"]


def same(got, expected) -> bool:
    return len(got) == len(expected) and all(
        (e is None and math.isnan(g)) or (e is not None and g == e) for g, e in zip(got, expected, strict=True)
    )


# ---------------------------------------------------------------------------------------------
# Codes outside the options


def test_code_outside_the_options_names_item_row_value_and_allowed_codes():
    with pytest.raises(AnswerError) as caught:
        both([1, 4, None, 7, 5, 2])
    e = caught.value
    assert (e.item, e.row, e.found, e.more) == ("q1", 1, 4, 2)
    assert e.allowed == "one of 1, 2, 3, 9, or empty for no answer"
    assert str(e) == (
        "row 2, column q1: found 4, allowed one of 1, 2, 3, 9, or empty for no answer "
        "(2 more row(s) in this column are wrong too)"
    )
    # front ends number rows their own way
    assert e.describe(3).startswith("data row 3, column q1: found 4")


def test_one_bad_code_says_nothing_about_more_rows():
    with pytest.raises(AnswerError) as caught:
        both([1, 2, 3, 9], q2=[0, 1, 2, 3])
    e = caught.value
    assert (e.item, e.row, e.found, e.more) == ("q2", 3, 3, 0)
    assert "more row" not in str(e)


def test_integer_item_out_of_range():
    with pytest.raises(AnswerError) as caught:
        scoring.score(UNIT, {"n": [10, 0, 11, -1]}, scoring="alt")
    e = caught.value
    assert (e.item, e.row, e.found, e.more) == ("n", 2, 11, 1)
    assert e.allowed == "a whole number from 0 to 10, or empty for no answer"


def test_code_between_non_contiguous_codes_is_refused():
    # 1, 2, 3, 9: the codes 4 to 8 lie inside the range but are no option
    for code in (4, 5, 6, 7, 8):
        with pytest.raises(AnswerError):
            both([code])
    assert same(both([1, 2, 3, 9]), [1.0, 1.5, 2.0, 1.0])  # 9 is `unanswered`: q2 alone


@pytest.mark.parametrize("value", [2.5, 0.999999, math.inf, -math.inf, 1e300, -1.0, 10**9])
@pytest.mark.parametrize("form", ["list", "array"])
def test_non_codes_are_refused_and_shown(value, form):
    column = [1, value] if form == "list" else np.array([1, value], dtype=float)
    with pytest.raises(AnswerError) as caught:
        both(column)
    assert (caught.value.item, caught.value.row) == ("q1", 1)
    assert caught.value.found == value


@pytest.mark.parametrize(
    ("column", "shown"),
    [([2.5], "found 2.5,"), (np.array([2.5]), "found 2.5,"), ([math.inf], "found inf,"), (["inf"], "found 'inf',")],
)
def test_messages_show_a_wrong_value_as_given(column, shown):
    with pytest.raises(AnswerError) as caught:
        both(column)
    assert shown in str(caught.value)


def test_whole_floats_are_codes():
    assert same(both([1.0, 3.0]), [1.0, 2.0])
    assert same(both(np.array([2.0, np.nan])), [1.5, 1.0])


# ---------------------------------------------------------------------------------------------
# Missing answers and answers as text


def test_strings_that_are_numbers_are_codes():
    assert same(both(["3", " 3 ", "3.0", "\t2\n"]), [2.0, 2.0, 2.0, 1.5])


def test_empty_strings_none_and_nan_are_missing():
    # q2 = 1 in every row, so a missing q1 leaves q2's 1 as the mean
    assert same(both(["", "   ", None, math.nan, np.nan]), [1.0] * 5)
    assert same(both(["", None], q2=[None, ""]), [None, None])


def test_text_that_is_no_number_is_refused():
    with pytest.raises(AnswerError) as caught:
        both(["1", "three", "x"])
    assert (caught.value.item, caught.value.row, caught.value.found) == ("q1", 1, "three")
    for text in ("nan", "1,5", "0x2"):
        with pytest.raises(AnswerError) as caught:
            both([text])
        assert caught.value.found == text


@pytest.mark.parametrize("column", [[True, False], np.array([False, True]), [None, True], [True, "2"]])
def test_booleans_are_refused(column):
    with pytest.raises(AnswerError) as caught:
        both(column)
    assert caught.value.item == "q1"


def test_a_boolean_among_whole_numbers_is_refused():
    with pytest.raises(AnswerError) as caught:
        both([3, True])
    assert (caught.value.row, caught.value.found) == (1, True)


def test_a_boolean_column_is_refused_like_other_wrong_answers():
    with pytest.raises(AnswerError) as caught:
        both(np.array([False, True, True]))
    e = caught.value
    assert (e.row, e.more) == (0, 2)
    assert str(e).startswith("row 1, column q1: found False, allowed")


# ---------------------------------------------------------------------------------------------
# Shapes of columns and tables


def test_columns_of_unequal_length_are_refused():
    with pytest.raises(ScoringError) as caught:
        scoring.score(UNIT, {"q1": [1, 2, 3], "q2": [1, 2]})
    assert not isinstance(caught.value, AnswerError)
    assert "[2, 3]" in str(caught.value)


def test_a_two_dimensional_column_is_refused():
    with pytest.raises(ScoringError) as caught:
        scoring.score(UNIT, {"q1": np.array([[1, 2], [3, 1]]), "q2": [1, 2]})
    assert "q1" in str(caught.value) and "1-D" in str(caught.value) and "(2, 2)" in str(caught.value)


def test_no_rows_give_empty_score_columns():
    result = scoring.score(UNIT, {"q1": [], "q2": []})
    assert result.scores["both"].shape == (0,)


def test_other_columns_pass_unread():
    result = scoring.score(UNIT, {"patient": ["p1", "p2"], "q1": [1, 3], "q2": [1, 2], "when": [None, object()]})
    assert same(result.scores["both"], [1.0, 2.5])


class Column:
    """Stands in for a pandas or polars column: the engine reads it through `.to_numpy()`."""

    def __init__(self, values, dtype=None):
        self.values = np.array(values, dtype=dtype)

    def to_numpy(self):
        return self.values


class Frame:
    """Stands in for a data frame: `.columns` and a column by name."""

    def __init__(self, columns: dict):
        self._columns = {k: Column(v, dtype=object if any(x is None for x in v) else None) for k, v in columns.items()}
        self.columns = list(columns)

    def __getitem__(self, name):
        return self._columns[name]


def test_data_frame_like_answers():
    frame = Frame({"id": ["a", "b", "c"], "q1": [1, None, 3], "q2": [0.0, 2.0, np.nan]})
    assert same(scoring.score(UNIT, frame).scores["both"], [0.5, 2.0, 3.0])


def test_column_objects_with_to_numpy_in_a_mapping():
    answers = {"q1": Column([1.0, np.nan, 9.0]), "q2": Column(["1", "", None], dtype=object)}
    assert same(scoring.score(UNIT, answers).scores["both"], [1.0, None, None])


def test_frame_like_bad_value_names_the_row():
    with pytest.raises(AnswerError) as caught:
        scoring.score(UNIT, Frame({"q1": [1, 2, 5], "q2": [1, 1, 1]}))
    assert (caught.value.item, caught.value.row, caught.value.found) == ("q1", 2, 5)


# ---------------------------------------------------------------------------------------------
# Whole numbers: integer arrays, masked arrays, polars integer columns (what `promsvc score` gives)

_Q1 = [1, 2, 3, 9, None, 3, 1]  # 9: the `unanswered` option, no value
_Q2 = [0, 2, 1, 1, 2, None, 0]


def _masked(values: list, dtype: str) -> np.ma.MaskedArray:
    return np.ma.MaskedArray([0 if v is None else v for v in values], mask=[v is None for v in values], dtype=dtype)


@pytest.mark.parametrize("dtype", ["u1", "i1", "u2", "i2", "i4", "u4", "i8", "u8"])
def test_masked_integer_columns_score_as_floats_with_nan_do(dtype):
    expected = scoring.score(UNIT, {"q1": _Q1, "q2": _Q2}).scores["both"]
    got = scoring.score(UNIT, {"q1": _masked(_Q1, dtype), "q2": _masked(_Q2, dtype)}).scores["both"]
    assert same(got, [None if math.isnan(e) else e for e in expected])


@pytest.mark.parametrize(("dtype", "bad"), [
    (dtype, bad) for dtype in ["u1", "i1", "i2", "i8", "u8"]
    for bad in [0, 4, 8, 10, 127, -1, -128, 255, 2**31, 2**63 + 5]
    if np.iinfo(dtype).min <= bad <= np.iinfo(dtype).max  # what the type can hold
])
def test_integer_columns_refuse_what_float_columns_refuse(dtype, bad):
    column = _masked([1, None, bad, bad], dtype)
    with pytest.raises(AnswerError) as caught:
        scoring.score(UNIT, {"q1": column, "q2": _Q2[:4]})
    assert (caught.value.item, caught.value.row, caught.value.found, caught.value.more) == ("q1", 2, bad, 1)


def test_a_masked_cell_is_no_answer_whatever_is_under_the_mask():
    column = np.ma.MaskedArray([1, 200, 2], mask=[False, True, False], dtype="u1")
    assert same(scoring.score(UNIT, {"q1": column, "q2": [1, 1, 1]}).scores["both"], [1.0, 1.0, 1.5])


def test_masked_float_and_multi_columns_read_the_mask_too():
    q1 = np.ma.MaskedArray([1.0, 7.5, 2.0], mask=[False, True, False])
    assert same(scoring.score(UNIT, {"q1": q1, "q2": [1, 1, 1]}).scores["both"], [1.0, 1.0, 1.5])


def test_polars_integer_columns():
    pl = pytest.importorskip("polars")
    q1 = pl.Series([1, 2, 3], dtype=pl.UInt8)
    q2 = pl.Series([0, None, 2], dtype=pl.Int16)  # with nulls: read as floats, null = no answer
    assert same(scoring.score(UNIT, {"q1": q1, "q2": q2}).scores["both"], [0.5, 2.0, 2.5])
    with pytest.raises(AnswerError) as caught:
        scoring.score(UNIT, {"q1": pl.Series([1, 4], dtype=pl.UInt8), "q2": [1, 1]})
    assert (caught.value.row, caught.value.found) == (1, 4)


def test_conditions_read_integer_columns_like_float_columns():
    n = [0, 1, 0, None]
    expected = scoring.score(UNIT, {"q2": [2, 2, None, 1], "n": n}, scoring="cond").scores["c"]
    got = scoring.score(UNIT, {"q2": _masked([2, 2, None, 1], "u1"), "n": _masked(n, "u1")}, scoring="cond").scores["c"]
    assert same(got, [None if math.isnan(e) else e for e in expected])


# ---------------------------------------------------------------------------------------------
# Names: items, scorings, value sets


def test_missing_items_are_named():
    with pytest.raises(MissingItems) as caught:
        scoring.score(UNIT, {"n": [1]})
    assert caught.value.items == ["q1", "q2"]
    assert "unit scoring 'main' needs the item column(s) q1, q2" in str(caught.value)


def test_items_read_by_conditions_are_needed_too():
    with pytest.raises(MissingItems) as caught:
        scoring.score(UNIT, {"q2": [1]}, scoring="cond")
    assert caught.value.items == ["n"]


def test_unknown_scoring_lists_the_scorings():
    with pytest.raises(UnknownName) as caught:
        scoring.score(UNIT, {"q1": [1], "q2": [1]}, scoring="rand")
    assert str(caught.value) == "unit has no scoring 'rand'; its scorings: main, alt, cond"


@pytest.mark.parametrize("chosen", [{"method": "TTO"}, {"country": "Norway"}, {"method": "VT", "country": "Norway"}])
def test_method_or_country_without_a_value_set_is_refused(chosen):
    with pytest.raises(UnknownName) as caught:
        scoring.score(UNIT, {"q1": [1], "q2": [1]}, **chosen)
    assert "uses no value set" in str(caught.value)
    with pytest.raises(UnknownName):
        scoring.score("nrs-pain", {"pain": [1]}, **chosen)


@pytest.mark.parametrize("chosen, field", [
    ({"method": "XX"}, "method"),  # no such method for EQ-5D-5L
    ({"country": "Atlantis"}, "country"),
    ({"method": "VT", "country": "Atlantis"}, "country"),
    ({"method": "CW"}, "method"),  # the default country (Norway) has no crosswalk value set
    ({"method": "TTO", "country": "UK"}, "method"),  # EQ-5D-5L has no TTO value sets
])
def test_a_value_set_error_names_the_field_to_change(chosen, field):
    # front ends point at `field` (the registry file's key, the API's JSON path) without reading the message
    ins = instruments.get("eq5d-5l")
    with pytest.raises(UnknownName) as caught:
        scoring.engine.choose_value_set(ins, ins.scoring(), chosen.get("method"), chosen.get("country"))
    assert caught.value.field == field


def test_a_scoring_without_a_value_set_names_the_field_given():
    ins = instruments.get("rand36")
    for chosen, field in [(("VT", None), "method"), ((None, "Norway"), "country"), (("VT", "Norway"), "method")]:
        with pytest.raises(UnknownName) as caught:
            scoring.engine.choose_value_set(ins, ins.scoring(), *chosen)
        assert caught.value.field == field


def test_unknown_instrument_id():
    with pytest.raises(KeyError) as caught:
        scoring.score("no-such-instrument", {})
    assert "nrs-pain" in str(caught.value)


# ---------------------------------------------------------------------------------------------
# Provenance


def test_provenance_names_instrument_and_scoring():
    default = scoring.score(UNIT, {"q1": [1], "q2": [1]}).provenance
    assert (default.instrument, default.instrument_version, default.scoring, default.scoring_version) == (
        "unit", "3.1", "main", "2",
    )
    assert default.value_set is None
    alt = scoring.score(UNIT, {"n": [4]}, scoring="alt")
    assert (alt.provenance.scoring, alt.provenance.scoring_version) == ("alt", "7")
    assert list(alt.scores) == ["total"]


def test_provenance_of_a_shipped_instrument_by_id():
    ins = instruments.get("nrs-pain")
    result = scoring.score("nrs-pain", {"pain": [7, None]})
    assert (result.provenance.instrument, result.provenance.instrument_version) == (ins.id, ins.version)
    assert result.provenance.scoring == ins.scoring().id
    assert same(result.scores["pain"], [7.0, None])


def test_provenance_names_the_value_set():
    dims = {d: [1] for d in ("MO", "SC", "UA", "PD", "AD")}
    result = scoring.score("eq5d-5l", dims, country="Norway")
    ref = result.provenance.value_set
    assert (ref.version, ref.method, ref.country) == ("EQ-5D-5L", "VT", "Norway")
    assert result.scores["index"].tolist() == [1.0]


# ---------------------------------------------------------------------------------------------
# Degenerate definitions the loader lets through
