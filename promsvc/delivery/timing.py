"""When a message may leave: the local-time sending window, the daily letter batch, retry backoff.

All inputs and outputs are timezone-aware UTC instants; the window itself is a wall-clock range
(e.g. 09:00–20:00) in one IANA time zone (Europe/Oslo by default), turned into instants per date
by `promsvc.localtime.local_instant`, the service's one rule for daylight-saving gaps and folds,
so the window keeps its local hours across daylight-saving changes.

Pure functions, no clock: the caller passes `now`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from promsvc.localtime import local_instant

UTC = dt.UTC

_RANGE = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-4]):([0-5][0-9])$")


@dataclass(frozen=True)
class SendWindow:
    """Messages to patients leave only between `start` and `end` local time (end excluded)."""

    start: dt.time
    end: dt.time
    tz: ZoneInfo

    @classmethod
    def parse(cls, text: str, time_zone: str) -> SendWindow:
        """`"09:00-20:00"` in `time_zone`; start before end, both on the same day."""
        m = _RANGE.match(text.strip())
        if not m:
            raise ValueError(f"{text!r} is not a range HH:MM-HH:MM such as 09:00-20:00")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if (h2, m2) > (24, 0) or (h1, m1) >= (h2, m2):
            raise ValueError(f"{text!r}: the window must start before it ends, within one day")
        end = dt.time.max if (h2, m2) == (24, 0) else dt.time(h2, m2)
        return cls(dt.time(h1, m1), end, ZoneInfo(time_zone))

    def bounds(self, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
        """The window of one local date as UTC instants [open, close)."""
        return local_instant(day, self.start, self.tz), local_instant(day, self.end, self.tz)

    def contains(self, at: dt.datetime) -> bool:
        opens, closes = self.bounds(at.astimezone(self.tz).date())
        return opens <= at < closes

    def next_open(self, at: dt.datetime) -> dt.datetime:
        """The earliest instant at or after `at` inside the window."""
        day = at.astimezone(self.tz).date()
        for offset in range(0, 3):
            opens, closes = self.bounds(day + dt.timedelta(days=offset))
            if at < closes:
                return max(at, opens)
        raise AssertionError("unreachable: a window opens every day")

    def describe(self) -> str:
        end = "24:00" if self.end == dt.time.max else self.end.strftime("%H:%M")
        return f"{self.start.strftime('%H:%M')}–{end} {self.tz.key}"


def next_daily(at: dt.datetime, clock: dt.time, tz: ZoneInfo) -> dt.datetime:
    """The first instant at or after `at` when the local clock shows `clock` (the letter batch)."""
    day = at.astimezone(tz).date()
    for offset in range(0, 3):
        instant = local_instant(day + dt.timedelta(days=offset), clock, tz)
        if instant >= at:
            return instant
    raise AssertionError("unreachable: every day has the time")


def local_day_bounds(at: dt.datetime, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """Start and end (UTC) of the local day containing `at`: 23, 24 or 25 hours long."""
    day = at.astimezone(tz).date()
    return local_instant(day, dt.time(0), tz), local_instant(day + dt.timedelta(days=1), dt.time(0), tz)


@dataclass(frozen=True)
class Backoff:
    """Delays between attempts after temporary failures: base, 2·base, 4·base … up to `cap`.

    `max_attempts` bounds the attempts on one channel; when they are used up (or the next
    attempt would fall after the invitation expires) the channel counts as failed and the
    next channel of the protocol is tried.
    """

    base: dt.timedelta = dt.timedelta(minutes=5)
    cap: dt.timedelta = dt.timedelta(hours=6)
    max_attempts: int = 5

    def delay(self, attempts: int) -> dt.timedelta:
        """Delay after the `attempts`-th failed attempt (1-based)."""
        if attempts < 1:
            raise ValueError("attempts counts from 1")
        return min(self.base * (2 ** min(attempts - 1, 30)), self.cap)

    def next_attempt(self, attempts: int, failed_at: dt.datetime) -> dt.datetime | None:
        """When to try again after `attempts` failed attempts; None when they are used up."""
        if attempts >= self.max_attempts:
            return None
        return failed_at + self.delay(attempts)
