"""What the patient pages show and read: pure functions from instruments and answers to views,
and from posted form fields back to answers. No database, no HTTP.

Pages hold an instrument or a section of one (promsvc.patient.paging). A choice item is a
fieldset of radio buttons whose legend is the question, a multi item the same with checkboxes;
an integer or VAS item is a labelled text field with a numeric keyboard (``inputmode="numeric"``;
a ``type="number"`` field changes its value on scroll and reads badly in screen readers), a
decimal item the same with a decimal keyboard (a comma or a point may separate the decimals), a
text item a text area. Field names are ``answer-{item}``; element ids are ``field-{item}`` (the
first radio or checkbox of a group, so that an error summary link lands on it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from instruments import Instrument, Item
from instruments.answers import TEXT_LIMIT, is_asked, without_unasked
from instruments.schema import Condition, Language, Overlay
from promsvc.patient.paging import Page, page_of_item
from promsvc.patient.texts import Texts

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
        # cast: a link's language is one of Languages (the episode's language is checked when it is made)
        self._overlay = overlay.languages.get(cast(Language, lang)) if overlay is not None else None
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
    value: str = ""  # number and text items: what the field shows
    min: int | float | None = None
    max: int | float | None = None
    max_length: int | None = None  # text items


@dataclass(frozen=True)
class FieldError:
    """One problem on a page: the error summary links to `field_id`."""

    field_id: str
    message: str


def items_view(
    page: Page,
    wording: Wording,
    t: Texts,
    answers: Mapping[str, Any],
    *,
    entered: Mapping[str, str | list[str]] | None = None,
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
        common: dict[str, Any] = dict(
            id=item.id, kind=item.kind, name=field_name(item.id), field_id=field_id(item.id),
            text=wording.item(item), number=number, error=errors.get(item.id),
        )
        if item.kind in ("choice", "multi"):
            ticked = set(raw) if isinstance(raw, list) else {raw}
            options = [
                OptionView(
                    code=o.code,
                    label=wording.option(item, o.code),
                    input_id=field_id(item.id) if k == 0 else f"{field_id(item.id)}-{o.code}",
                    checked=str(o.code) in ticked,
                )
                for k, o in enumerate(instrument.options_of(item))
            ]
            views.append(ItemView(**common, hint=hint, options=options))
        elif item.kind == "text":
            assert isinstance(raw, str)  # only choice and multi items have lists (parse_page, _raw)
            views.append(ItemView(**common, hint=hint, value=raw, max_length=item.max_length or TEXT_LIMIT))
        else:
            assert isinstance(raw, str)  # only choice and multi items have lists (parse_page, _raw)
            assert item.min is not None and item.max is not None  # the loader checked: number items have both
            number_hint = t("number_hint" if item.kind != "decimal" else "decimal_hint", min=_number(item.min), max=_number(item.max))
            views.append(ItemView(
                **common, hint=f"{hint} {number_hint}" if hint else number_hint,
                value=raw, min=item.min, max=item.max,
            ))
    return views


def _raw(answer: Any) -> str | list[str]:
    """A saved answer as the form shows it (a multi item: the ticked codes)."""
    if answer is None:
        return ""
    if isinstance(answer, list):
        return [str(code) for code in answer]
    return _number(answer) if isinstance(answer, float) else str(answer)


def _number(x: int | float) -> str:
    """A number as a patient writes it: no ".0" on whole numbers."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


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
    page: Page, form: Mapping[str, str | list[str]], wording: Wording, t: Texts, saved: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str | list[str]], list[FieldError]]:
    """Read the posted fields of one page.

    Returns the answers to every item of the page's instrument: the page's fields over the
    `saved` answers to its other pages (None: no answer; answers to items whose condition does
    not hold are dropped, wherever that item is), what was typed per item of the page (to show
    it again), and the problems found, in form order. An empty field is no answer, never an error.
    """
    instrument = page.instrument
    answers: dict[str, Any] = {i.id: saved.get(i.id) for i in instrument.items}
    entered: dict[str, str | list[str]] = {}
    problems: list[FieldError] = []
    for item in page.items:
        given = form.get(field_name(item.id))
        if item.kind == "multi":
            ticked = [v.strip() for v in (given if isinstance(given, list) else [given or ""]) if v.strip()]
            entered[item.id] = ticked
            codes = [_integer(v) for v in ticked]
            if any(c not in instrument.code_set(item) for c in codes):
                problems.append(FieldError(field_id(item.id), t("error_choice", label=_short(wording.item(item)))))
                continue  # the saved answer stays
            answers[item.id] = [c for c in instrument.codes_of(item) if c in codes] or None
            continue
        raw = (one_value(form, field_name(item.id)) or "").strip()
        entered[item.id] = raw
        if not raw:
            answers[item.id] = None
            continue
        answer, error = _read(instrument, item, raw)
        if error is not None:
            label = _short(wording.item(item))
            problems.append(FieldError(field_id(item.id), t(error, label=label, min=_number(item.min or 0),
                                                             max=_number(item.max or 0), limit=item.max_length or TEXT_LIMIT)))
            continue  # the saved answer stays
        answers[item.id] = answer
    kept = without_unasked(instrument, answers)
    return {i.id: kept.get(i.id) for i in instrument.items}, entered, problems


def one_value(form: Mapping[str, str | list[str]], key: str) -> str | None:
    """A field that has one value (the last, should a page send it twice)."""
    value = form.get(key)
    return value[-1] if isinstance(value, list) else value


def _read(instrument: Instrument, item: Item, raw: str) -> tuple[Any, str | None]:
    """One field's answer, or the key of the text that says what is wrong with it."""
    if item.kind == "text":
        return (raw, None) if len(raw) <= (item.max_length or TEXT_LIMIT) else (None, "error_text")
    if item.kind == "decimal":
        number = _decimal(raw)
        assert item.min is not None and item.max is not None  # the loader checked: a decimal item has both
        if number is None or not item.min <= number <= item.max:
            return None, "error_decimal"
        return number, None
    code = _integer(raw)
    if code is None or code not in instrument.code_set(item):
        return None, "error_choice" if item.kind == "choice" else "error_number"
    return code, None


def _decimal(text: str) -> float | None:
    # a comma or a point before the decimals (Norwegian writes 72,5); digits in ASCII only
    text = text.replace(",", ".", 1)
    body = text[1:] if text[:1] in ("+", "-") else text
    if not body.isascii() or not body.replace(".", "", 1).isdigit() or len(body) > 12:
        return None
    number = float(text)
    return number if math.isfinite(number) else None


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
    answers: Mapping[str, Mapping[str, Any]],
    page_href,
) -> list[ReviewSection]:
    """Per instrument: how many asked items are answered, and links back to each skipped one
    (on the page that holds it). `page_href(number)` is the address of page `number`; a
    section's own link goes to the instrument's first page."""
    out: list[ReviewSection] = []
    firsts = [p for p in pages if p.part == 1]
    for first in firsts:
        ins = first.instrument
        wording = wordings[ins.id]
        given = answers.get(ins.id, {})
        asked = [i for i in ins.items if is_asked(ins, i, given)]
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
