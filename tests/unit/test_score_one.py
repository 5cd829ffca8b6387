"""`scoring.score_one` refuses what the engine refuses (its numbers are checked in
tests/property/test_engine_reference.py: test_one_response_equals_the_engine)."""

from __future__ import annotations

import math

import pytest

import scoring

STATE = {"MO": 1, "SC": 2, "UA": 3, "PD": 4, "AD": 5}


def test_a_response_gives_the_engines_numbers_and_provenance():
    scores, provenance = scoring.score_one("eq5d-5l", STATE, country="Norway")
    result = scoring.score("eq5d-5l", {k: [v] for k, v in STATE.items()}, country="Norway")
    assert scores["index"] == result.scores["index"][0]
    assert provenance == result.provenance and provenance.value_set.country == "Norway"


@pytest.mark.parametrize("bad", [6, 0, True, "6", 2.5, "x", float("inf")])
def test_a_code_the_item_does_not_have_is_refused_with_the_item_and_what_is_allowed(bad):
    with pytest.raises(scoring.AnswerError) as e:
        scoring.score_one("eq5d-5l", dict(STATE, PD=bad), country="Norway")
    assert "PD" in str(e.value) and "one of 1, 2, 3, 4, 5" in str(e.value)


@pytest.mark.parametrize("given", [4.0, "4", " 4 ", "4.0"])
def test_a_code_given_as_a_whole_float_or_as_text_counts_as_its_code(given):
    # as in the engine (tests/property/test_answers_agree.py checks the whole contract)
    assert scoring.score_one("eq5d-5l", dict(STATE, PD=given), country="Norway")[0] == \
        scoring.score_one("eq5d-5l", STATE, country="Norway")[0]


@pytest.mark.parametrize("blank", [None, float("nan"), "", "  "])
def test_blank_answers_are_no_answer(blank):
    assert math.isnan(scoring.score_one("eq5d-5l", dict(STATE, PD=blank), country="Norway")[0]["index"])


def test_an_item_the_scoring_needs_must_be_given_even_if_empty():
    with pytest.raises(scoring.MissingItems) as e:
        scoring.score_one("eq5d-5l", {"MO": 1, "SC": 1, "UA": 1, "PD": 1}, country="Norway")
    assert "AD" in str(e.value)


def test_unknown_scoring_and_value_set_are_refused_as_by_the_engine():
    with pytest.raises(scoring.UnknownName):
        scoring.score_one("eq5d-5l", STATE, scoring="nonesuch")
    with pytest.raises(scoring.UnknownName):
        scoring.score_one("rand36", {}, country="Norway")
