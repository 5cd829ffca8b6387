"""Wall-clock times in an IANA time zone as UTC instants: the one rule for daylight-saving
changes, used by enrolment (due and expiry times: `promsvc.episodes.services.due_times`) and by
delivery (the sending window and the daily letter batch: `promsvc.delivery.timing`).

A wall-clock time keeps its local hours across daylight-saving changes: 09:00 in Oslo is 07:00
UTC on the last Sunday of March and 08:00 UTC on the Saturday before it. Two kinds of wall-clock
time do not map to exactly one instant, and get this rule:

* a time inside the spring-forward gap (02:30 on the last Sunday of March does not exist in
  Oslo) means the end of the gap, the first instant whose local time is at or after it (03:00);
* a time inside the autumn fold (02:30 on the last Sunday of October happens twice) means its
  first occurrence.

`zoneinfo` does the arithmetic. It has no rule for the gap of its own: with `fold=0` it reads a
missing time with the offset from before the change, which lands past the gap by its length
(02:30 → 03:30, as dateutil's `resolve_imaginary` does too), and neither library tells when a
change happens; so the end of the gap is found by bisection on whole seconds, the resolution of
every zone's transitions.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

UTC = dt.UTC


def instant(wall: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """The UTC instant at which the wall clock in `tz` shows `wall` (naive; rules above)."""
    instant = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) == wall:
        return instant  # an ordinary time, or the first occurrence of a repeated one
    # In a gap: fold=0 lands past the gap by its length. The change lies less than 3 hours before
    # that instant (gaps are at most 2 hours long); bisect for the first instant whose local time
    # has reached `wall`.
    lo, hi = int(instant.timestamp()) - 3 * 3600, int(instant.timestamp())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if dt.datetime.fromtimestamp(mid, tz).replace(tzinfo=None) >= wall:
            hi = mid
        else:
            lo = mid
    return dt.datetime.fromtimestamp(hi, UTC)


def local_instant(day: dt.date, clock: dt.time, tz: ZoneInfo) -> dt.datetime:
    """The UTC instant at which the wall clock in `tz` shows `clock` on `day`."""
    return instant(dt.datetime.combine(day, clock.replace(tzinfo=None)), tz)
