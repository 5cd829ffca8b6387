"""How a questionnaire is cut into pages, where a returning patient continues, and how far they
have come. Pure functions of the instruments, the answers and what was seen; no HTTP.

Pages. An instrument of at most `PAGE_ITEMS` items is one page. A longer one is cut into its
natural sections, read from its structure: a run of consecutive items that share an answer
scale (an option set) is a section, because the form asks them under one stem (RAND-36's
"Does your health now limit you …", "How much of the time …"). Short runs (fewer than
`SHORT` items) next to each other share a page; one still short then joins the page before it,
or else the page after it, where there is room; a run longer than `PAGE_ITEMS` is split
evenly. RAND-36 so becomes 1–2, 3–12, 13–19, 20–22, 23–32, 33–36; EQ-5D is one page.

Seen. The draft keeps which items were on a page the patient has saved (any button:
next, back, save for later, a language): `{instrument id: [item id, …]}`. A draft from before
this was kept has none: its items with an answer count as seen.

Resume. "Continue" goes to the first page with an asked item that is neither answered nor seen,
and to the review page only when there is none.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from instruments import Instrument, Item
from instruments.answers import is_asked

PAGE_ITEMS = 10  # the most items on one page (RAND-36's ten "limits you" items are one section)
SHORT = 3  # a run of fewer items is merged with its neighbours

Answers = Mapping[str, Mapping[str, int | None]]
Seen = Mapping[str, list[str]]


@dataclass(frozen=True)
class Page:
    number: int  # from 1, across the whole questionnaire
    instrument: Instrument
    items: tuple[Item, ...]
    part: int  # this page's number within its instrument, from 1
    parts: int  # how many pages the instrument has

    @property
    def item_ids(self) -> list[str]:
        return [i.id for i in self.items]


def pages_of(instruments: list[Instrument]) -> list[Page]:
    """Every page of a questionnaire, in order."""
    out: list[Page] = []
    for ins in instruments:
        groups = _sections(ins)
        for part, items in enumerate(groups, start=1):
            out.append(Page(len(out) + 1, ins, tuple(items), part, len(groups)))
    return out


def _sections(ins: Instrument) -> list[list[Item]]:
    if len(ins.items) <= PAGE_ITEMS:
        return [list(ins.items)]
    runs: list[list[Item]] = []
    for item in ins.items:
        if runs and _scale(runs[-1][-1]) == _scale(item) and _scale(item) is not None:
            runs[-1].append(item)
        else:
            runs.append([item])
    pages: list[list[Item]] = []
    for run in runs:
        for chunk in _split(run):
            if pages and len(chunk) < SHORT and len(pages[-1]) < SHORT and len(pages[-1]) + len(chunk) <= PAGE_ITEMS:
                pages[-1].extend(chunk)
            else:
                pages.append(list(chunk))
    merged: list[list[Item]] = []
    for n, page in enumerate(pages):
        if len(page) >= SHORT:
            merged.append(page)
        elif merged and len(merged[-1]) + len(page) <= PAGE_ITEMS:
            merged[-1].extend(page)
        elif n + 1 < len(pages) and len(pages[n + 1]) + len(page) <= PAGE_ITEMS:
            pages[n + 1][:0] = page
        else:
            merged.append(page)
    return merged


def _scale(item: Item) -> str | None:
    # Items share a scale when they name the same option set; inline options and numbers stand alone.
    return item.options if isinstance(item.options, str) else None


def _split(run: list[Item]) -> list[list[Item]]:
    count = math.ceil(len(run) / PAGE_ITEMS)
    size = math.ceil(len(run) / count)
    return [run[i:i + size] for i in range(0, len(run), size)]


def page_of_item(pages: list[Page], instrument_id: str, item_id: str) -> Page:
    return next(p for p in pages if p.instrument.id == instrument_id and item_id in p.item_ids)


def asked(page_or_instrument: Page | Instrument, answers: Answers) -> list[Item]:
    """The items of a page (or instrument) that are asked, given the answers so far."""
    ins = page_or_instrument.instrument if isinstance(page_or_instrument, Page) else page_or_instrument
    items = page_or_instrument.items if isinstance(page_or_instrument, Page) else ins.items
    given = answers.get(ins.id, {})
    return [i for i in items if is_asked(ins, i, given)]


def seen_items(answers: Answers, seen: Seen | None) -> dict[str, set[str]]:
    """What the patient has seen, by instrument; for a draft without a record of it (saved before
    it was kept, or only through the JSON API), the items that have an answer."""
    if seen is not None:
        return {k: set(v) for k, v in seen.items()}
    return {k: {item for item, code in v.items() if code is not None} for k, v in answers.items()}


def with_seen(seen: Seen | None, answers: Answers, page: Page) -> dict[str, list[str]]:
    """The record of seen items once `page` has been saved."""
    out = {k: sorted(v) for k, v in seen_items(answers, seen).items()}
    out[page.instrument.id] = sorted(set(out.get(page.instrument.id, [])) | set(page.item_ids))
    return out


def resume_page(pages: list[Page], answers: Answers, seen: Seen | None) -> Page | None:
    """Where "Continue" goes: the first page with an asked item that is neither answered nor
    seen; None (the review page) when there is no such page."""
    shown = seen_items(answers, seen)
    for page in pages:
        given = answers.get(page.instrument.id, {})
        mine = shown.get(page.instrument.id, set())
        if any(given.get(i.id) is None and i.id not in mine for i in asked(page, answers)):
            return page
    return None


@dataclass(frozen=True)
class Progress:
    answered: int
    total: int


def progress(instruments: list[Instrument], answers: Answers) -> Progress:
    """How many of the asked questions are answered, over the whole questionnaire."""
    answered = total = 0
    for ins in instruments:
        items = asked(ins, answers)
        given = answers.get(ins.id, {})
        total += len(items)
        answered += sum(1 for i in items if given.get(i.id) is not None)
    return Progress(answered, total)


# How long answering usually takes, as the start page says: our own rule of thumb (no published
# source), 15 seconds a question, rounded up to whole minutes. EQ-5D-5L and RAND-36: 11 minutes.
SECONDS_PER_ITEM = 15


def usual_minutes(instruments: list[Instrument]) -> int:
    return max(1, math.ceil(sum(len(i.items) for i in instruments) * SECONDS_PER_ITEM / 60))
