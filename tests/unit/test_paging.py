"""Pages, resume and progress (promsvc.patient.paging): RAND-36 in its natural sections, where
"Continue" goes (never past an unseen question, whatever the draft's age), and the counts."""

from __future__ import annotations

import pytest

import instruments
from promsvc.patient import paging


@pytest.fixture(scope="module")
def questionnaire():
    return [instruments.get("eq5d-5l"), instruments.get("rand36")]


def test_rand36_is_cut_into_its_natural_sections_and_eq5d_is_one_page(questionnaire):
    pages = paging.pages_of(questionnaire)
    assert [(p.number, p.instrument.id, p.part, p.parts) for p in pages][:2] == [(1, "eq5d-5l", 1, 1), (2, "rand36", 1, 6)]
    assert [p.item_ids for p in pages[1:]] == [
        ["q1", "q2"],  # health now, and compared with a year ago
        [f"q{n}" for n in range(3, 13)],  # does your health now limit you in …
        [f"q{n}" for n in range(13, 20)],  # problems with work: physical health, emotional problems
        ["q20", "q21", "q22"],  # social activities and pain
        [f"q{n}" for n in range(23, 33)],  # how much of the time …
        ["q33", "q34", "q35", "q36"],  # how true or false …
    ]
    assert all(len(p.items) <= paging.PAGE_ITEMS for p in pages)


def test_a_long_run_of_one_scale_is_split_evenly():
    sf12 = instruments.get("sf12")
    assert [len(p.items) for p in paging.pages_of([sf12])] == [3, 5, 4]
    run = [f"q{n}" for n in range(1, 37)]
    assert [len(c) for c in paging._split(run)] == [9, 9, 9, 9]


def _answered(*items):
    return {item: 1 for item in items}


def test_continue_goes_to_the_first_page_not_yet_seen_with_an_unanswered_question(questionnaire):
    pages = paging.pages_of(questionnaire)
    assert paging.resume_page(pages, {}, None).number == 1
    # RAND-36 saved with 10 of 36 answered (the case): on to the questions never shown
    answers = {"eq5d-5l": _answered("MO", "SC", "UA", "PD", "AD", "VAS"), "rand36": _answered(*[f"q{n}" for n in range(1, 11)])}
    seen = {"eq5d-5l": ["AD", "MO", "PD", "SC", "UA", "VAS"], "rand36": [f"q{n}" for n in range(1, 13)]}
    assert paging.resume_page(pages, answers, seen).number == 4  # q13…; q11, q12 were seen and left blank
    # a page seen and left blank is not shown again: the review lists what was skipped
    seen["rand36"] += [f"q{n}" for n in range(13, 37)]
    assert paging.resume_page(pages, answers, seen) is None


def test_a_draft_saved_before_seen_was_kept_counts_its_answered_items_as_seen(questionnaire):
    pages = paging.pages_of(questionnaire)
    answers = {"eq5d-5l": _answered("MO"), "rand36": _answered("q1", "q2", "q3")}
    # page 1 (EQ-5D) has unanswered items never recorded as seen: it is where the patient stopped
    assert paging.resume_page(pages, answers, None).number == 1
    answers["eq5d-5l"] = _answered("MO", "SC", "UA", "PD", "AD", "VAS")
    assert paging.resume_page(pages, answers, None).number == 3  # q4… were never answered
    assert paging.with_seen(None, answers, pages[2])["rand36"] == sorted(["q1", "q2", *[f"q{n}" for n in range(3, 13)]])


def test_progress_counts_the_asked_questions(questionnaire):
    answers = {"eq5d-5l": _answered("MO", "SC"), "rand36": _answered("q1")}
    assert paging.progress(questionnaire, answers) == paging.Progress(answered=3, total=42)
    assert paging.usual_minutes(questionnaire) == 11  # 42 questions × 15 s
    assert paging.usual_minutes([instruments.get("nrs-pain")]) == 1
