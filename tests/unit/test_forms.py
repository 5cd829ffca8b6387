"""The pure parts of the patient pages: texts, wording, form views, parsing posted fields,
answer validation, conditions and the CSRF token."""

from __future__ import annotations

import pytest

import instruments
from instruments.answers import is_asked
from instruments.schema import Overlay, OverlayItem, OverlayLanguage
from promsvc import csrf
from promsvc.patient import forms, pages, paging
from promsvc.patient.texts import LANGUAGES, TEXTS, Texts, language, placeholders
from promsvc.responses import validation

WHEN_YAML = b"""
id: test-when
version: "1.0"
kind: prom
title: {nb: Test, nn: Test, en: Test}
citation: none
licence: {holder: us, terms: free, wording: ours}
option_sets:
  yn:
    - {code: 1, label: {nb: Ja, nn: Ja, en: "Yes"}}
    - {code: 2, label: {nb: Nei, nn: Nei, en: "No"}}
items:
  - {id: smoke, kind: choice, options: yn, label: {nb: Royker du, nn: Roykjer du, en: Do you smoke}}
  - id: perday
    kind: integer
    min: 0
    max: 60
    when: {item: smoke, in: [1]}
    label: {nb: Sigaretter per dag, nn: Sigarettar per dag, en: Cigarettes a day}
  - id: why
    kind: choice
    options: yn
    when: {item: smoke, answered: false}
    label: {nb: Vil ikke si, nn: Vil ikkje seie, en: Rather not say}
  - id: either
    kind: choice
    options: yn
    when: {any: [{item: smoke, in: [2]}, {item: perday, in: [0]}]}
    label: {nb: Enten, nn: Anten, en: Either}
scorings:
  - id: total
    version: "1.0"
    default: true
    title: {nb: Sum, nn: Sum, en: Sum}
    source: test
    scales:
      - {kernel: sum, id: total, label: {nb: Sum, nn: Sum, en: Sum}, items: [smoke]}
"""


@pytest.fixture(scope="module")
def when_ins():
    return instruments.decode(WHEN_YAML, "test-when.yaml")


@pytest.fixture(scope="module")
def eq5d():
    return instruments.get("eq5d-5l")


def _page(instrument) -> paging.Page:
    """An instrument of at most ten items: its one page."""
    (page,) = paging.pages_of([instrument])
    return page


# ---------------------------------------------------------------- texts


def test_every_text_exists_in_every_language_with_the_same_placeholders():
    keys = set(TEXTS["nb"])
    for lang in LANGUAGES:
        assert set(TEXTS[lang]) == keys, lang
        for key in keys:
            assert placeholders(TEXTS[lang][key]) == placeholders(TEXTS["nb"][key]), (lang, key)
            assert TEXTS[lang][key].strip(), (lang, key)


@pytest.mark.parametrize(("requested", "fallback", "expected"), [
    ("nn", "nb", "nn"), (None, "en", "en"), ("de", "nn", "nn"), ("xx", "yy", "nb"), (None, None, "nb"),
])
def test_language_falls_back_to_the_episode_then_bokmal(requested, fallback, expected):
    assert language(requested, fallback) == expected


def test_times_are_shown_in_local_time_with_local_month_names():
    import datetime as dt

    when = dt.datetime(2025, 3, 3, 13, 5, tzinfo=dt.UTC)  # 14:05 in Oslo (CET)
    assert Texts("nb").time(when, "Europe/Oslo") == "3.\u00a0mars 2025 kl.\u00a014:05"  # no-break spaces
    assert Texts("en").time(when, "Europe/Oslo").replace("\u00a0", " ") == "3 March 2025 at 14:05"
    summer = dt.datetime(2025, 7, 1, 22, 30, tzinfo=dt.UTC)  # 00:30 next day in Oslo (CEST)
    assert Texts("nn").time(summer, "Europe/Oslo").replace("\u00a0", " ") == "2. juli 2025 kl. 00:30"


def test_a_deadline_names_its_time_zone_and_a_midnight_one_the_day_before():
    import datetime as dt

    nine = dt.datetime(2027, 3, 15, 8, 0, tzinfo=dt.UTC)  # 09:00 in Oslo
    assert Texts("nb").deadline(nine, "Europe/Oslo") == "15.\u00a0mars 2027 kl.\u00a009:00 (norsk tid)"
    assert Texts("en").deadline(nine, "Europe/Oslo").replace("\u00a0", " ") == "15 March 2027 at 09:00 (Norwegian time)"
    midnight = dt.datetime(2027, 3, 14, 23, 0, tzinfo=dt.UTC)  # 00:00 on 15 March in Oslo
    assert Texts("nn").deadline(midnight, "Europe/Oslo").replace("\u00a0", " ") == "14. mars 2027 kl. 23:59 (norsk tid)"
    assert Texts("en").deadline(nine, "UTC").replace("\u00a0", " ") == "15 March 2027 at 08:00 (UTC)"


def test_language_is_one_the_registry_offers():
    assert language("en", "nb", ("nb", "nn")) == "nb"
    assert language(None, "en", ("nn",)) == "nn"
    assert language("nn", None, ("nb", "nn")) == "nn"


# ---------------------------------------------------------------- wording


def _overlay(partial: bool = False) -> Overlay:
    options = {1: "Jeg har ingen problemer", 2: "Litt problemer"} if partial else {c: f"Offisiell {c}" for c in range(1, 6)}
    return Overlay(
        instrument="eq5d-5l", version="1.0", source="test licence",
        languages={"nb": OverlayLanguage(instructions="Kryss av ett svar per gruppe.", items={"MO": OverlayItem(text="Gange (offisiell)", options=options)})},
    )


def test_wording_uses_the_overlay_where_it_has_words_and_our_labels_elsewhere(eq5d):
    w = forms.Wording(eq5d, "nb", _overlay(partial=True))
    mo, sc = eq5d.item("MO"), eq5d.item("SC")
    assert w.item(mo) == "Gange (offisiell)"
    assert w.option(mo, 1) == "Jeg har ingen problemer"
    assert w.option(mo, 3) == "En del vansker med å gå"  # not in the overlay: ours
    assert w.item(sc) == "Å vaske deg og kle på deg: hvordan er det for deg i dag?"
    assert w.instructions == "Kryss av ett svar per gruppe."
    # a language the overlay lacks: our labels
    en = forms.Wording(eq5d, "en", _overlay())
    assert en.item(mo) == "Walking about: how is it for you today?" and en.instructions is None


def test_wording_without_overlay_is_our_labels(eq5d):
    w = forms.Wording(eq5d, "nn", None)
    assert w.title.startswith("EQ-5D-5L")
    assert w.item(eq5d.item("MO")) == "Å gå omkring: korleis er det for deg i dag?"


# ---------------------------------------------------------------- the section view


def test_items_view_has_radios_with_ids_and_the_saved_answer_checked(eq5d):
    t = Texts("nb")
    views = forms.items_view(_page(eq5d), forms.Wording(eq5d, "nb"), t, {"MO": 3, "VAS": 70})
    mo = views[0]
    assert (mo.id, mo.kind, mo.name, mo.field_id, mo.number) == ("MO", "choice", "answer-MO", "field-MO", 1)
    assert [o.input_id for o in mo.options] == ["field-MO", "field-MO-2", "field-MO-3", "field-MO-4", "field-MO-5"]
    assert [o.checked for o in mo.options] == [False, False, True, False, False]
    vas = views[-1]
    assert (vas.kind, vas.value, vas.min, vas.max) == ("vas", "70", 0, 100)
    assert vas.hint == "Skriv et helt tall fra 0 til 100."


def test_items_view_shows_what_was_typed_and_the_error(eq5d):
    t = Texts("en")
    views = forms.items_view(_page(eq5d), forms.Wording(eq5d, "en"), t, {"VAS": 70}, entered={"VAS": "abc"}, errors={"VAS": "bad"})
    assert views[-1].value == "abc" and views[-1].error == "bad"
    assert views[0].error is None


def test_conditional_items_carry_a_hint_that_says_when_to_answer(when_ins):
    t = Texts("nb")
    views = {v.id: v for v in forms.items_view(_page(when_ins), forms.Wording(when_ins, "nb"), t, {})}
    assert views["perday"].hint.startswith("Svar bare hvis du svarte «Ja» på «Royker du».")
    assert views["why"].hint == "Svar bare hvis du ikke svarte på «Royker du»."
    assert views["either"].hint == t("when_hint_general")
    assert views["smoke"].hint is None
    en = {v.id: v for v in forms.items_view(_page(when_ins), forms.Wording(when_ins, "en"), Texts("en"), {})}
    assert en["perday"].hint.startswith("Answer only if you answered “Yes” to “Do you smoke”.")


# ---------------------------------------------------------------- parsing a posted section


def _post(**fields):
    return {f"answer-{k}": v for k, v in fields.items()}


def test_parse_reads_codes_and_empty_fields_as_no_answer(eq5d):
    t = Texts("nb")
    answers, entered, problems = forms.parse_page(_page(eq5d), _post(MO="1", SC="5", UA="", VAS=" 55 "), forms.Wording(eq5d, "nb"), t, {})
    assert answers == {"MO": 1, "SC": 5, "UA": None, "PD": None, "AD": None, "VAS": 55}
    assert problems == [] and entered["VAS"] == "55"


@pytest.mark.parametrize("typed", ["101", "-1", "abc", "5.5", "٣", "1e2", "99999999"])
def test_parse_refuses_numbers_outside_the_range_or_not_whole(eq5d, typed):
    t = Texts("nb")
    answers, entered, problems = forms.parse_page(_page(eq5d), _post(VAS=typed), forms.Wording(eq5d, "nb"), t, {})
    assert [p.field_id for p in problems] == ["field-VAS"]
    assert problems[0].message == ("Skriv et helt tall fra 0 til 100 for «Helsen din i dag: 0 er den dårligste du kan "
                                   "tenke deg, 100 den beste», eller la feltet stå tomt")
    assert entered["VAS"] == typed and "VAS" not in {k for k, v in answers.items() if v is not None}


def test_parse_refuses_a_code_that_is_not_an_option(eq5d):
    t = Texts("en")
    _, _, problems = forms.parse_page(_page(eq5d), _post(MO="6", SC="0"), forms.Wording(eq5d, "en"), t, {})
    assert [p.field_id for p in problems] == ["field-MO", "field-SC"]
    assert problems[0].message == "Choose one of the answers for “Walking about: how is it for you today?”"


def test_parse_drops_answers_to_items_that_are_not_asked(when_ins):
    t, w = Texts("nb"), forms.Wording(when_ins, "nb")
    answers, _, problems = forms.parse_page(_page(when_ins), _post(smoke="2", perday="10", why="1", either="1"), w, t, {})
    assert problems == []
    assert answers == {"smoke": 2, "perday": None, "why": None, "either": 1}
    answers, _, _ = forms.parse_page(_page(when_ins), _post(smoke="1", perday="0", either="2"), w, t, {})
    assert answers == {"smoke": 1, "perday": 0, "why": None, "either": 2}


# ---------------------------------------------------------------- review


def test_review_lists_skipped_asked_items_with_links_back(when_ins, eq5d):
    wordings = {"eq5d-5l": forms.Wording(eq5d, "nb"), "test-when": forms.Wording(when_ins, "nb")}
    answers = {"eq5d-5l": {"MO": 1, "SC": 1, "UA": 1, "PD": 1, "AD": 1}, "test-when": {"smoke": 2}}
    review = forms.review_view(paging.pages_of([eq5d, when_ins]), wordings, answers, lambda n: f"/q/T/s/{n}")
    assert (review[0].answered, review[0].total) == (5, 6)
    assert [s.href for s in review[0].skipped] == ["/q/T/s/1#field-VAS"]
    assert review[0].skipped[0].text.startswith("Helsen din i dag: 0 er den dårligste")
    # smoke = 2: perday and why are not asked, either is, and is skipped
    assert (review[1].answered, review[1].total) == (1, 2)
    assert [s.href for s in review[1].skipped] == ["/q/T/s/2#field-either"]


def test_a_skipped_item_links_to_the_page_that_holds_it():
    rand = instruments.get("rand36")
    review = forms.review_view(paging.pages_of([rand]), {"rand36": forms.Wording(rand, "en")},
                               {"rand36": {f"q{n}": 1 for n in range(1, 37) if n != 30}}, lambda n: f"/q/T/s/{n}")
    assert [s.href for s in review[0].skipped] == ["/q/T/s/5#field-q30"]  # q23–q32 are page 5
    assert review[0].href == "/q/T/s/1"


def test_parse_page_keeps_the_other_pages_answers_and_applies_conditions_across_pages(when_ins):
    first, second = (paging.Page(1, when_ins, when_ins.items[:1], 1, 2), paging.Page(2, when_ins, when_ins.items[1:], 2, 2))
    w, t = forms.Wording(when_ins, "nb"), Texts("nb")
    answers, _, _ = forms.parse_page(second, _post(perday="10", either="1"), w, t, {"smoke": 1})
    assert answers == {"smoke": 1, "perday": 10, "why": None, "either": None}  # either is not asked (smoke 1, perday 10)
    # changing the first page's answer drops the second page's answer that no longer applies
    answers, _, _ = forms.parse_page(first, _post(smoke="2"), w, t, answers)
    assert answers == {"smoke": 2, "perday": None, "why": None, "either": None}


# ---------------------------------------------------------------- validation of submitted answers


def test_validate_accepts_codes_and_nulls(eq5d):
    clean, problems = validation.validate([eq5d], {"eq5d-5l": {"MO": 1, "SC": None, "VAS": 0}})
    assert problems == [] and clean == {"eq5d-5l": {"MO": 1, "SC": None, "VAS": 0}}


def test_validate_names_every_bad_answer_with_path_found_and_allowed(eq5d, when_ins):
    answers = {
        "eq5d-5l": {"MO": 7, "SC": True, "UA": 2.0, "XX": 1, "VAS": "50", "PD": 2},
        "rand36": {"q1": 1},
        "test-when": {"smoke": 2, "perday": 5},
    }
    clean, problems = validation.validate([eq5d, when_ins], answers)
    got = {p.path: (p.found, p.allowed) for p in problems}
    assert got["$.answers.eq5d-5l.MO"] == (7, "one of 1, 2, 3, 4, 5, or empty for no answer")
    assert got["$.answers.eq5d-5l.SC"][0] is True
    assert got["$.answers.eq5d-5l.UA"][0] == 2.0
    assert got["$.answers.eq5d-5l.XX"][1].startswith("one of MO, SC, UA, PD, AD, VAS")
    assert got["$.answers.eq5d-5l.VAS"] == ("50", "a whole number from 0 to 100, or empty for no answer")
    assert got["$.answers.rand36"] == ("rand36", "one of eq5d-5l, test-when")
    assert got["$.answers.test-when.perday"] == (5, "no answer: the item's condition is not met")
    assert len(problems) == 7
    assert clean["eq5d-5l"] == {"PD": 2}


def test_validate_without_conditions_is_for_drafts(when_ins):
    _, problems = validation.validate([when_ins], {"test-when": {"smoke": 2, "perday": 5}}, conditions=False)
    assert problems == []


def test_validate_refuses_answers_that_are_not_objects(eq5d):
    _, problems = validation.validate([eq5d], {"eq5d-5l": [1, 2]})
    assert [p.path for p in problems] == ["$.answers.eq5d-5l"]
    _, problems = validation.validate([eq5d], [1])
    assert [p.path for p in problems] == ["$.answers"]


@pytest.mark.parametrize(("answers", "asked"), [
    ({}, {"smoke": True, "perday": False, "why": True, "either": False}),
    ({"smoke": 1}, {"smoke": True, "perday": True, "why": False, "either": False}),
    ({"smoke": 1, "perday": 0}, {"smoke": True, "perday": True, "why": False, "either": True}),
    ({"smoke": 2}, {"smoke": True, "perday": False, "why": False, "either": True}),
])
def test_conditions(when_ins, answers, asked):
    assert {i.id: is_asked(when_ins, i, answers) for i in when_ins.items} == asked


# ---------------------------------------------------------------- CSRF token


class _Req:
    def __init__(self, cookie):
        self.cookies = {csrf.COOKIE: cookie} if cookie is not None else {}


def test_csrf_token_is_bound_to_the_cookie_the_secret_and_the_purpose():
    nonce = "n" * 43
    token = csrf.token("secret", nonce, "inv1")
    assert csrf.ok(_Req(nonce), {"csrf_token": token}, "secret", "inv1")
    assert not csrf.ok(_Req(nonce), {"csrf_token": token}, "secret", "inv2")
    assert not csrf.ok(_Req(nonce), {"csrf_token": token}, "secret", "code")  # not the code page's either
    assert csrf.ok(_Req(nonce), {"csrf_token": csrf.token("secret", nonce, "code")}, "secret", "code")
    assert not csrf.ok(_Req(nonce), {"csrf_token": token}, "other secret", "inv1")
    assert not csrf.ok(_Req("m" * 43), {"csrf_token": token}, "secret", "inv1")
    assert not csrf.ok(_Req(None), {"csrf_token": token}, "secret", "inv1")
    assert not csrf.ok(_Req(nonce), {}, "secret", "inv1")
    assert not csrf.ok(_Req("short"), {"csrf_token": csrf.token("secret", "short", "inv1")}, "secret", "inv1")


# ---------------------------------------------------------------- colours


def _luminance(colour: str) -> float:
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    hi, lo = sorted([_luminance(a), _luminance(b)], reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_the_stylesheet_colours_have_enough_contrast():
    import re

    css = (pages.STATIC_DIR / "patient.css").read_text()
    colours = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6});", css))
    white = "#ffffff"
    for name in ("text", "link", "muted", "error", "brand"):
        assert _contrast(colours[name], white) >= 4.5, name  # text on white (WCAG 1.4.3)
    assert _contrast(white, colours["brand"]) >= 4.5  # button and header text
    assert _contrast(colours["link"], colours["chosen"]) >= 4.5
    assert _contrast(colours["text"], colours["notice"]) >= 4.5
    assert _contrast(colours["border"], white) >= 3  # option outlines (WCAG 1.4.11)
    assert _contrast(colours["text"], colours["focus"]) >= 3  # the focus ring against its edge


# ---------------------------------------------------------------- multi-select, decimal and text items

KINDS_YAML = b"""
id: test-kinds
version: "1.0"
kind: prom
title: {nb: Test, nn: Test, en: Test}
citation: none
licence: {holder: us, terms: free, wording: ours}
items:
  - id: help
    kind: multi
    label: {nb: Hjelp, nn: Hjelp, en: Help}
    options: [{code: 1, label: {nb: A, nn: A, en: A}}, {code: 2, label: {nb: B, nn: B, en: B}},
              {code: 4, label: {nb: C, nn: C, en: C}}]
  - {id: weight, kind: decimal, min: 30, max: 250.5, label: {nb: Vekt, nn: Vekt, en: Weight}}
  - {id: note, kind: text, max_length: 10, label: {nb: Merknad, nn: Merknad, en: Note}}
scorings:
  - id: s
    version: "1"
    default: true
    title: {nb: S, nn: S, en: S}
    source: test
    scales:
      - {kernel: sum, id: ticks, label: {nb: T, nn: T, en: T}, items: [help], min_answered: 1}
"""


@pytest.fixture(scope="module")
def kinds():
    return instruments.decode(KINDS_YAML, "test-kinds.yaml")


def test_parse_reads_ticks_in_form_order_a_decimal_comma_and_text(kinds):
    t = Texts("nb")
    answers, entered, problems = forms.parse_page(
        _page(kinds), {"answer-help": ["4", "1"], "answer-weight": " 72,5 ", "answer-note": "  hei  "}, forms.Wording(kinds, "nb"), t, {})
    assert problems == []
    assert answers == {"help": [1, 4], "weight": 72.5, "note": "hei"}
    assert entered["help"] == ["4", "1"]


def test_parse_of_nothing_ticked_or_typed_is_no_answer(kinds):
    answers, _, problems = forms.parse_page(_page(kinds), {"answer-weight": ""}, forms.Wording(kinds, "en"), Texts("en"), {})
    assert problems == [] and answers == {"help": None, "weight": None, "note": None}


@pytest.mark.parametrize(("field", "given", "message"), [
    ("answer-help", ["1", "3"], "Choose one of the answers for “Help”"),
    ("answer-weight", "29,9", "Enter a number from 30 to 250.5 for “Weight”, or leave it empty"),
    ("answer-weight", "1e3", "Enter a number from 30 to 250.5 for “Weight”, or leave it empty"),
    ("answer-weight", "+-50", "Enter a number from 30 to 250.5 for “Weight”, or leave it empty"),
    ("answer-note", "x" * 11, "The answer to “Note” can be at most 10 characters long"),
])
def test_parse_refuses_what_the_item_does_not_take(kinds, field, given, message):
    _, _, problems = forms.parse_page(_page(kinds), {field: given}, forms.Wording(kinds, "en"), Texts("en"), {})
    assert [p.message for p in problems] == [message]


def test_items_view_shows_checkboxes_ticked_and_a_decimal_hint(kinds):
    views = {v.id: v for v in forms.items_view(_page(kinds), forms.Wording(kinds, "en"), Texts("en"),
                                               {"help": [2, 4], "weight": 80.0, "note": "x"})}
    assert [(o.code, o.checked) for o in views["help"].options] == [(1, False), (2, True), (4, True)]
    assert views["weight"].value == "80" and views["weight"].hint == "Enter a number from 30 to 250.5. You may use a decimal comma."
    assert (views["note"].value, views["note"].max_length) == ("x", 10)


def test_validate_stores_ticks_in_form_order_and_blank_text_as_no_answer(kinds):
    clean, problems = validation.validate([kinds], {"test-kinds": {"help": [4, 1], "weight": 31, "note": "  "}})
    assert problems == [] and clean == {"test-kinds": {"help": [1, 4], "weight": 31, "note": None}}
    _, problems = validation.validate([kinds], {"test-kinds": {"help": [1, 1], "weight": True, "note": "x" * 11}})
    assert [(p.path, p.found) for p in problems] == [
        ("$.answers.test-kinds.help", [1, 1]), ("$.answers.test-kinds.weight", True),
        ("$.answers.test-kinds.note", "text of 11 characters"),
    ]
