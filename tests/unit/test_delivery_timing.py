"""The sending window and the daily letter time across daylight-saving changes, and backoff.

Europe/Oslo: CET (UTC+1) in winter, CEST (UTC+2) in summer. In 2026 the clocks go forward on
Sunday 29 March at 02:00 (to 03:00) and back on Sunday 25 October at 03:00 (to 02:00).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from promsvc.delivery.timing import Backoff, SendWindow, local_day_bounds, next_daily
from promsvc.localtime import local_instant

OSLO = ZoneInfo("Europe/Oslo")
WINDOW = SendWindow.parse("09:00-20:00", "Europe/Oslo")


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("due", "expected", "why"),
    [
        (utc(2026, 1, 15, 8, 0), utc(2026, 1, 15, 8, 0), "09:00 CET: inside, unchanged"),
        (utc(2026, 1, 15, 7, 59), utc(2026, 1, 15, 8, 0), "08:59 CET: waits for 09:00"),
        (utc(2026, 1, 15, 18, 59), utc(2026, 1, 15, 18, 59), "19:59 CET: still inside"),
        (utc(2026, 1, 15, 19, 0), utc(2026, 1, 16, 8, 0), "20:00 CET: the end is excluded, next morning"),
        (utc(2026, 6, 15, 7, 0), utc(2026, 6, 15, 7, 0), "09:00 CEST is 07:00 UTC in summer"),
        # The spring-forward night: Saturday evening CET → Sunday morning CEST.
        (utc(2026, 3, 28, 21, 0), utc(2026, 3, 29, 7, 0), "Sat 22:00 CET → Sun 09:00 CEST"),
        (utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 7, 0), "Sun 01:30 CET, before the gap"),
        (utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 7, 0), "Sun 03:30 CEST, after the gap"),
        (utc(2026, 3, 29, 17, 59), utc(2026, 3, 29, 17, 59), "Sun 19:59 CEST: inside"),
        (utc(2026, 3, 29, 18, 0), utc(2026, 3, 30, 7, 0), "Sun 20:00 CEST: closed"),
        # The fall-back night: Saturday evening CEST → Sunday morning CET.
        (utc(2026, 10, 24, 19, 0), utc(2026, 10, 25, 8, 0), "Sat 21:00 CEST → Sun 09:00 CET"),
        (utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 8, 0), "Sun 02:30 CEST (first 02:30)"),
        (utc(2026, 10, 25, 1, 30), utc(2026, 10, 25, 8, 0), "Sun 02:30 CET (second 02:30)"),
        (utc(2026, 10, 25, 18, 59), utc(2026, 10, 25, 18, 59), "Sun 19:59 CET: inside"),
        (utc(2026, 10, 25, 19, 0), utc(2026, 10, 26, 8, 0), "Sun 20:00 CET: closed"),
    ],
)
def test_next_open(due, expected, why):
    assert WINDOW.next_open(due) == expected, why
    assert WINDOW.contains(expected)


def test_contains_matches_next_open_every_quarter_hour_across_both_changes():
    for start in (utc(2026, 3, 27, 0, 0), utc(2026, 10, 23, 0, 0)):
        at = start
        while at < start + dt.timedelta(days=4):
            local = at.astimezone(OSLO)
            inside = dt.time(9) <= local.time() < dt.time(20)
            assert WINDOW.contains(at) == inside, at
            assert (WINDOW.next_open(at) == at) == inside, at
            at += dt.timedelta(minutes=15)


def test_local_time_in_the_spring_gap_means_the_end_of_the_gap():
    # 02:30 does not exist on 29 March 2026 in Oslo; the clocks jump from 02:00 CET to 03:00 CEST.
    assert local_instant(dt.date(2026, 3, 29), dt.time(2, 30), OSLO) == utc(2026, 3, 29, 1, 0)
    assert local_instant(dt.date(2026, 3, 29), dt.time(3, 0), OSLO) == utc(2026, 3, 29, 1, 0)


def test_repeated_local_time_in_the_autumn_means_the_first_one():
    assert local_instant(dt.date(2026, 10, 25), dt.time(2, 30), OSLO) == utc(2026, 10, 25, 0, 30)


def test_a_window_that_opens_in_the_gap_opens_when_the_gap_ends():
    night = SendWindow.parse("02:30-05:00", "Europe/Oslo")
    assert night.next_open(utc(2026, 3, 28, 23, 0)) == utc(2026, 3, 29, 1, 0)  # 03:00 CEST


def test_the_days_around_the_changes_are_23_and_25_hours_long():
    start, end = local_day_bounds(utc(2026, 3, 29, 12), OSLO)
    assert end - start == dt.timedelta(hours=23)
    start, end = local_day_bounds(utc(2026, 10, 25, 12), OSLO)
    assert end - start == dt.timedelta(hours=25)


def test_next_daily_letter_time():
    ten = dt.time(10)
    assert next_daily(utc(2026, 3, 28, 8, 59), ten, OSLO) == utc(2026, 3, 28, 9, 0)
    assert next_daily(utc(2026, 3, 28, 9, 1), ten, OSLO) == utc(2026, 3, 29, 8, 0)  # 10:00 CEST
    assert next_daily(utc(2026, 10, 24, 8, 1), ten, OSLO) == utc(2026, 10, 25, 9, 0)  # 10:00 CET


@pytest.mark.parametrize("text", ["9-20", "20:00-09:00", "09:00-09:00", "09:00-24:30", "25:00-26:00"])
def test_bad_windows_are_refused(text):
    with pytest.raises(ValueError, match="HH:MM|start before"):
        SendWindow.parse(text, "Europe/Oslo")


def test_a_window_may_run_to_midnight():
    w = SendWindow.parse("00:00-24:00", "Europe/Oslo")
    assert w.contains(utc(2026, 3, 29, 1, 0))
    assert w.describe() == "00:00–24:00 Europe/Oslo"


def test_backoff_doubles_up_to_the_cap_and_stops():
    b = Backoff(base=dt.timedelta(minutes=5), cap=dt.timedelta(minutes=30), max_attempts=5)
    assert [b.delay(n) for n in range(1, 6)] == [dt.timedelta(minutes=m) for m in (5, 10, 20, 30, 30)]
    t = utc(2026, 1, 1, 10)
    assert b.next_attempt(1, t) == t + dt.timedelta(minutes=5)
    assert b.next_attempt(4, t) == t + dt.timedelta(minutes=30)
    assert b.next_attempt(5, t) is None
    with pytest.raises(ValueError):
        b.delay(0)
