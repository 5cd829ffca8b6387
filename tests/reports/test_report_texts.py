"""Words and numbers of the charts, reports and pages in nb, nn and en."""

from __future__ import annotations

import pytest

from promsvc.reports.texts import NNBSP, Words, check_texts


def test_every_text_exists_in_every_language_with_the_same_placeholders():
    assert check_texts() == []


@pytest.mark.parametrize(("lang", "value", "decimals", "expected"), [
    ("nb", 1234.5, 1, f"1{NNBSP}234,5"),
    ("nn", 1234567, 0, f"1{NNBSP}234{NNBSP}567"),
    ("en", 1234.5, 1, "1,234.5"),
    ("nb", 0.125, 2, "0,13"),  # half away from zero, as Excel and SPSS
    ("nb", -0.125, 2, "\u22120,13"),  # a real minus sign
    ("nb", -0.001, 1, "0,0"),  # never "-0"
    ("en", 2.5, 0, "3"),
])
def test_numbers(lang, value, decimals, expected):
    assert Words(lang).number(value, decimals) == expected


@pytest.mark.parametrize(("lang", "expected"), [("nb", f"72{NNBSP}%"), ("nn", f"72{NNBSP}%"), ("en", "72%")])
def test_percent_has_a_narrow_no_break_space_in_norwegian(lang, expected):
    assert Words(lang).percent(0.7249) == expected


def test_n_of_N():
    assert Words("nb").n_of_N(1200, 1500) == f"1{NNBSP}200 av 1{NNBSP}500"
    assert Words("en").n_of_N(12, 15) == "12 of 15"


def test_unknown_language_is_refused():
    with pytest.raises(ValueError, match="unknown language"):
        Words("sv")
