"""Dates as patients read them: month names from Babel (CLDR), looked up once."""

from __future__ import annotations

import datetime as dt

import pytest
from babel.dates import format_date as babel_date

from promsvc import timetext


@pytest.mark.parametrize(("lang", "pattern"), [("nb", "d. MMMM y"), ("nn", "d. MMMM y"), ("en", "d MMMM y")])
def test_every_month_reads_as_babel_writes_it(lang, pattern):
    for month in range(1, 13):
        day = dt.date(2027, month, 15)
        assert timetext.format_date(day, lang) == babel_date(day, pattern, locale=lang)
    assert timetext.format_date(dt.date(2027, 3, 15), lang, nbsp=True) == \
        babel_date(dt.date(2027, 3, 15), pattern.replace(" ", "\u00a0", 1), locale=lang)


def test_the_texts_the_tests_pin():
    assert timetext.format_date(dt.date(2027, 3, 15), "nb") == "15. mars 2027"
    assert timetext.format_deadline(dt.datetime(2027, 3, 15, 8, 0, tzinfo=dt.UTC), "Europe/Oslo", "en") == \
        "15 March 2027 at 09:00 (Norwegian time)"
