"""Dates and times as patients read them, in bokmål, nynorsk and English: one place for the
patient pages and the messages (e-mail, SMS, letters).

    format_date(day, "nb")                        15. mars 2027
    format_time(when, "Europe/Oslo", "nb")        15. mars 2027 kl. 14:05
    format_deadline(when, "Europe/Oslo", "en")    15 March 2027 at 09:00 (Norwegian time)

A deadline names its time zone, so that a patient abroad reads it right: "norsk tid" /
"Norwegian time" for Europe/Oslo, else the zone's IANA name. A deadline at midnight is shown
as 23:59 on the day before ("until 16 March at 00:00" reads as the wrong day).

`nbsp=True` (web pages) joins "15." to "mars" and "kl." to the time with no-break spaces, so
that a line never breaks between them; messages use plain spaces (a no-break space would make
an SMS fall back from GSM-7 to UCS-2, halving what one message holds).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

MONTHS = {
    "nb": "januar februar mars april mai juni juli august september oktober november desember".split(),
    "nn": "januar februar mars april mai juni juli august september oktober november desember".split(),
    "en": "January February March April May June July August September October November December".split(),
}
ZONE_NAMES = {"Europe/Oslo": {"nb": "norsk tid", "nn": "norsk tid", "en": "Norwegian time"}}
_AT = {"nb": "kl.", "nn": "kl.", "en": "at"}


def _lang(lang: str) -> str:
    return lang if lang in MONTHS else "nb"


def format_date(day: dt.date, lang: str, *, nbsp: bool = False) -> str:
    lang, space = _lang(lang), "\u00a0" if nbsp else " "
    month = MONTHS[lang][day.month - 1]
    return f"{day.day}{space}{month} {day.year}" if lang == "en" else f"{day.day}.{space}{month} {day.year}"


def format_time(when: dt.datetime, zone: str, lang: str, *, nbsp: bool = False) -> str:
    local = when.astimezone(ZoneInfo(zone))
    return _date_and_clock(local, lang, nbsp)


def format_deadline(when: dt.datetime, zone: str, lang: str, *, nbsp: bool = False) -> str:
    """The last moment something can be done, with its zone named (see the module doc)."""
    local = when.astimezone(ZoneInfo(zone))
    if local.time() == dt.time(0):
        local = local - dt.timedelta(minutes=1)
    lang = _lang(lang)
    zone_name = ZONE_NAMES.get(zone, {}).get(lang, zone)
    return f"{_date_and_clock(local, lang, nbsp)} ({zone_name})"


def _date_and_clock(local: dt.datetime, lang: str, nbsp: bool) -> str:
    lang, space = _lang(lang), "\u00a0" if nbsp else " "
    return f"{format_date(local.date(), lang, nbsp=nbsp)} {_AT[lang]}{space}{local.hour:02d}:{local.minute:02d}"
