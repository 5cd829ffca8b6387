"""One rule for wall-clock times across daylight-saving changes (promsvc.localtime), used by
enrolment's due and expiry times and by delivery's sending window alike."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from promsvc.delivery.timing import SendWindow
from promsvc.episodes.services import due_times
from promsvc.localtime import instant, local_instant
from promsvc.registries import loader
from promsvc.settings import Settings

OSLO = ZoneInfo("Europe/Oslo")
SPRING, AUTUMN = dt.date(2026, 3, 29), dt.date(2026, 10, 25)  # 02:00 → 03:00; 03:00 → 02:00


def test_a_due_time_in_the_spring_gap_is_the_end_of_the_gap_as_for_the_sending_window():
    protocol = loader.demo().protocol("hip_primary")
    settings = Settings(due_time="02:30")
    before = dt.timedelta(days=14)  # the baseline is due 14 days before the event
    due, _expires = due_times(protocol, SPRING + before, settings)["baseline"]
    assert due == dt.datetime(2026, 3, 29, 1, 0, tzinfo=dt.UTC)  # 03:00 CEST, not 03:30
    assert due == SendWindow.parse("02:30-05:00", "Europe/Oslo").bounds(SPRING)[0]
    due, _ = due_times(protocol, AUTUMN + before, settings)["baseline"]
    assert due == dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC)  # the first 02:30 (CEST)


def test_due_and_expiry_times_are_the_wall_clock_through_local_instant_on_every_day_of_a_year():
    protocol = loader.demo().protocol("hip_primary")
    for due_time in ("09:00", "02:30", "00:00"):
        settings = Settings(due_time=due_time)
        clock = settings.due_clock()
        day = dt.date(2026, 1, 1)
        while day.year == 2026:
            times = due_times(protocol, day, settings)
            for tp in protocol.time_points:
                wall = dt.datetime.combine(day, clock.replace(tzinfo=None)) + tp.offset
                assert times[tp.id] == (instant(wall, OSLO), instant(wall + tp.window, OSLO)), (due_time, day, tp.id)
                if tp.offset % dt.timedelta(days=1) == dt.timedelta(0):
                    assert times[tp.id][0] == local_instant(wall.date(), clock, OSLO)
            day += dt.timedelta(days=1)
