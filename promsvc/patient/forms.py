"""What the patient pages show and read: pure functions from instruments and answers to views,
and from posted form fields back to answers. No database, no HTTP.

Pages hold an instrument or a section of one (promsvc.patient.paging). A choice item is a
fieldset of radio buttons whose legend is the question; an integer or VAS item is a labelled
text field with a numeric keyboard (``inputmode="numeric"``; a ``type="number"`` field changes
its value on scroll and reads badly in screen readers). Field names are ``answer-{item}``; element ids are
``field-{item}`` (the first radio of a group, so that an error summary link lands on it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from instruments import Instrument, Item
from instruments.schema import Condition, Overlay
from promsvc.patient.paging import Page, page_of_item
from promsvc.patient.texts import Texts
from promsvc.responses.validation import is_asked, without_unasked

FIELD_PREFIX = "answer-"


def field_name(item_id: str) -> str:
    return FIELD_PREFIX + item_id


def field_id(item_id: str) -> str:
    return "field-" + item_id


class Wording:
    """The words of one instrument in one language: the registry's licensed overlay where it
    has them, else our short labels (per item and per option, so a partial overlay still
    shows everything it has)."""

    def __init__(self, instrument: Instrument, lang: str, overlay: Overlay | None = None):
        self.instrument, self.lang = instrument, lang
        self._overlay = overlay.languages.get(lang) if overlay is not None else None
        self.title = getattr(instrument.title, lang)
        self.instructions = self._overlay.instructions if self._overlay is not None else None

    def item(self, item: Item) -> str:
        given = self._overlay.items.get(item.id) if self._overlay is not None else None
        return given.text if given is not None else getattr(item.label, self.lang)

    def option(self, item: Item, code: int) -> str:
        given = self._overlay.items.get(item.id) if self._overlay is not None else None
        if given is not None and code in given.options:
            return given.options[code]
        option = next(o for o in self.instrument.options_of(item) if o.code == code)
        return getattr(option.label, self.lang)


@dataclass(frozen=True)
class OptionView:
    code: int
    label: str
    input_id: str
    checked: bool


@dataclass(frozen=True)
class ItemView:
    id: str
    kind: str
    name: str
    field_id: str
    text: str
    number: int  # position in the instrument, from 1
    hint: str | None = None
    error: str | None = None
    options: list[OptionView] = field(default_factory=list)
    value: str = ""  # integer and VAS items: what the field shows
    min: int | None = None
    max: int | None = None


@dataclass(frozen=True)
class FieldError:
    """One problem on a page: the error summary links to `field_id`."""

    field_id: str
    message: str


def items_view(
    page: Page,
    wording: Wording,
    t: Texts,
    answers: Mapping[str, int | None],
    *,
    entered: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
) -> list[ItemView]:
    """The items of one page with their current answers; `entered` (what was typed, on a page
    shown again with errors) wins over the saved `answers`. Items keep their number in the
    instrument."""
    instrument = page.instrument
    entered, errors = entered or {}, errors or {}
    views = []
    numbers = {item.id: n for n, item in enumerate(instrument.items, start=1)}
    for item in page.items:
        number = numbers[item.id]
        raw = entered[item.id] if item.id in entered else _raw(answers.get(item.id))
        hint = condition_hint(instrument, wording, t, item.when) if item.when is not None else None
        common = dict(
            id=item.id, kind=item.kind, name=field_name(item.id), field_id=field_id(item.id),
            text=wording.item(item), number=number, error=errors.get(item.id),
        )
        if item.kind == "choice":
            options = [
                OptionView(
                    code=o.code,
                    label=wording.option(item, o.code),
                    input_id=field_id(item.id) if k == 0 else f"{field_id(item.id)}-{o.code}",
                    checked=raw == str(o.code),
                )
                for k, o in enumerate(instrument.options_of(item))
            ]
            views.append(ItemView(**common, hint=hint, options=options))
        else:
            number_hint = t("number_hint", min=item.min, max=item.max)
            views.append(ItemView(
                **common, hint=f"{hint} {number_hint}" if hint else number_hint,
                value=raw, min=item.min, max=item.max,
            ))
    return views


def _raw(code: int | None) -> str:
    return "" if code is None else str(code)


def condition_hint(instrument: Instrument, wording: Wording, t: Texts, when: Condition) -> str:
    """Tells when to answer a conditional item. All items of an instrument are on one page and
    the page works without JavaScript, so a conditional item is always shown, with this hint;
    an answer to it is dropped on save when its condition does not hold."""
    if when.item is None:
        return t("when_hint_general")
    item = instrument.item(when.item)
    name = wording.item(item)
    if when.answered is not None:
        return t("when_hint_answered" if when.answered else "when_hint_unanswered", item=name)
    if item.kind == "choice":
        labels = [f"«{wording.option(item, c)}»" if t.lang != "en" else f"“{wording.option(item, c)}”" for c in when.in_ or []]
    else:
        labels = [str(c) for c in when.in_ or []]
    joined = labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + f" {t('or')} " + labels[-1]
    return t("when_hint", answers=joined, item=name)


def parse_page(
    page: Page, form: Mapping[str, str], wording: Wording, t: Texts, saved: Mapping[str, int | None]
) -> tuple[dict[str, int | None], dict[str, str], list[FieldError]]:
    """Read the posted fields of one page.

    Returns the answers to every item of the page's instrument: the page's fields over the
    `saved` answers to its other pages (None: no answer; answers to items whose condition does
    not hold are dropped, wherever that item is), what was typed per item of the page (to show
    it again), and the problems found, in form order. An empty field is no answer, never an error.
    """
    instrument = page.instrument
    answers: dict[str, int | None] = {i.id: saved.get(i.id) for i in instrument.items}
    entered: dict[str, str] = {}
    problems: list[FieldError] = []
    for item in page.items:
        raw = (form.get(field_name(item.id)) or "").strip()
        entered[item.id] = raw
        if not raw:
            answers[item.id] = None
            continue
        code = _integer(raw)
        if code is None or code not in instrument.codes_of(item):
            key = "error_choice" if item.kind == "choice" else "error_number"
            message = t(key, label=_short(wording.item(item)), min=item.min, max=item.max)
            problems.append(FieldError(field_id(item.id), message))
            continue  # the saved answer stays
        answers[item.id] = code
    kept = without_unasked(instrument, answers)
    return {i.id: kept.get(i.id) for i in instrument.items}, entered, problems


def _integer(text: str) -> int | None:
    # whole numbers only; Unicode digits such as "٣" are not accepted
    if text.startswith(("-", "+")):
        sign, digits = text[0], text[1:]
    else:
        sign, digits = "", text
    if not digits.isascii() or not digits.isdigit() or len(digits) > 6:
        return None
    return int(sign + digits)


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class SkippedItem:
    text: str
    href: str


@dataclass(frozen=True)
class ReviewSection:
    number: int
    title: str
    href: str
    answered: int
    total: int
    skipped: list[SkippedItem]


def review_view(
    pages: list[Page],
    wordings: Mapping[str, Wording],
    answers: Mapping[str, Mapping[str, int | None]],
    page_href,
) -> list[ReviewSection]:
    """Per instrument: how many asked items are answered, and links back to each skipped one
    (on the page that holds it). `page_href(number)` is the address of page `number`; a
    section's own link goes to the instrument's first page."""
    out = []
    firsts = [p for p in pages if p.part == 1]
    for first in firsts:
        ins = first.instrument
        wording = wordings[ins.id]
        given = answers.get(ins.id, {})
        asked = [i for i in ins.items if is_asked(i, given)]
        skipped = [i for i in asked if given.get(i.id) is None]
        out.append(ReviewSection(
            number=len(out) + 1,
            title=wording.title,
            href=page_href(first.number),
            answered=len(asked) - len(skipped),
            total=len(asked),
            skipped=[
                SkippedItem(wording.item(i), f"{page_href(page_of_item(pages, ins.id, i.id).number)}#{field_id(i.id)}")
                for i in skipped
            ],
        ))
    return out
