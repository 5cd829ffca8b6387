"""Every reader of answers applies the same rules (`instruments.answers`).

1. Conditions: on random definitions and answers, the patient form, the validation of a
   submission, `scoring.score` and `scoring.score_one` all agree with the slow reference
   (tests/property/reference.py) on whether a condition holds: the form keeps an answer to the
   conditional item exactly when validation accepts it, and the scorings take the conditional
   recode exactly then. An `unanswered` option ("not applicable") counts as no answer in all.
2. `scoring.score_one` and `scoring.score` accept and refuse exactly the same answers, and give
   the same scores for what they accept.
"""

from __future__ import annotations

import math

import msgspec
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import holds as reference_holds

import instruments
import scoring
from instruments.answers import is_asked
from promsvc.patient import forms, paging
from promsvc.patient.texts import Texts
from promsvc.responses.validation import validate
from scoring.errors import ScoringError

LABEL = {"nb": "x", "nn": "x", "en": "x"}
TARGET = "target"

# ---------------------------------------------------------------------------------------------
# Random definitions: earlier items of every kind that a condition can read, and a last item
# that is asked when a random condition holds and is recoded only when it holds.


@st.composite
def _item(draw, n: int) -> dict:
    item_id = f"i{n}"
    kind = draw(st.sampled_from(["choice", "choice", "multi", "integer", "decimal"]))
    if kind in ("choice", "multi"):
        codes = draw(st.lists(st.integers(-2, 12), min_size=2, max_size=5, unique=True))
        options = [
            {"code": c, "label": LABEL, "unanswered": kind == "choice" and draw(st.booleans()) and k > 0}
            for k, c in enumerate(codes)
        ]
        return {"id": item_id, "kind": kind, "label": LABEL, "options": options}
    if kind == "integer":
        low = draw(st.integers(-3, 3))
        return {"id": item_id, "kind": kind, "label": LABEL, "min": low, "max": low + draw(st.integers(0, 4))}
    return {"id": item_id, "kind": kind, "label": LABEL, "min": 0.5, "max": 99.5}


def _codes(item: dict) -> list[int]:
    if item["kind"] in ("choice", "multi"):
        return [o["code"] for o in item["options"]]
    return list(range(item["min"], item["max"] + 1))


def _condition(items: list[dict], depth: int = 0):
    def leaf(item: dict):
        answered = st.builds(lambda a: {"item": item["id"], "answered": a}, st.booleans())
        if item["kind"] == "decimal":
            return answered
        named = st.lists(st.sampled_from(_codes(item)), max_size=3, unique=True)
        return answered | st.builds(lambda codes: {"item": item["id"], "in": codes}, named)

    leaves = st.one_of([leaf(item) for item in items])
    if depth >= 2:
        return leaves
    parts = st.lists(_condition(items, depth + 1), min_size=1, max_size=3)
    return leaves | st.builds(lambda p: {"any": p}, parts) | st.builds(lambda p: {"all": p}, parts)


@st.composite
def definitions(draw):
    items = [draw(_item(n)) for n in range(draw(st.integers(1, 4)))]
    condition = draw(_condition(items))
    target = {"id": TARGET, "kind": "choice", "label": LABEL, "when": condition,
              "options": [{"code": 1, "label": LABEL}, {"code": 2, "label": LABEL}]}
    text = msgspec.yaml.encode({
        "id": "random", "version": "1", "kind": "prom", "title": LABEL, "citation": "random",
        "licence": {"holder": "none", "terms": "test", "wording": "ours"},
        "items": [*items, target],
        "scorings": [{
            "id": "s", "version": "1", "default": True, "title": LABEL, "source": "random",
            "scales": [{"kernel": "sum", "id": "recoded", "label": LABEL, "items": [TARGET], "min_answered": 1,
                        "recode": {TARGET: [{"when": condition, "values": {1: 10, 2: 20}}]}}],
        }],
    })
    return instruments.decode(text, "random.yaml")


@st.composite
def stored_answers(draw, ins):
    """A stored answer (or none) to every item before the target."""
    row = {}
    for item in ins.items[:-1]:
        if item.kind == "decimal":
            value = draw(st.none() | st.integers(50, 9950).map(lambda n: n / 100))
        elif item.kind == "multi":
            codes = ins.codes_of(item)
            value = draw(st.none() | st.lists(st.sampled_from(codes), min_size=1, unique=True).map(
                lambda ticked, codes=codes: [c for c in codes if c in ticked]))
        else:
            value = draw(st.none() | st.sampled_from(ins.codes_of(item)))
        row[item.id] = value
    return row


def _fields(row: dict) -> dict:
    """The answers as the patient page posts them."""
    fields = {}
    for item_id, value in row.items():
        if value is None:
            continue
        name = forms.field_name(item_id)
        fields[name] = [str(c) for c in value] if isinstance(value, list) else str(value).replace(".", ",")
    return fields


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_form_validation_and_both_scorings_agree_on_conditions(data):
    ins = data.draw(definitions(), label="definition")
    row = data.draw(stored_answers(ins), label="answers")
    target = ins.item(TARGET)
    expected = reference_holds(ins, target.when, row)

    assert is_asked(ins, target, row) is expected
    _, problems = validate([ins], {ins.id: {**row, TARGET: 1}})
    assert (not problems) is expected, problems
    t = Texts("en")
    posted = {**_fields(row), forms.field_name(TARGET): "1"}
    answers: dict = {}
    for page in paging.pages_of([ins]):  # the pages posted one after the other
        answers, _, found = forms.parse_page(page, posted, forms.Wording(ins, "en"), t, answers)
        assert found == []
    assert (answers[TARGET] == 1) is expected
    full = {**row, TARGET: 1}
    engine = scoring.score(ins, {k: [v] for k, v in full.items()}).scores["recoded"][0]
    one = scoring.score_one(ins, full)[0]["recoded"]
    assert bool(engine == 10.0) is expected and (one == 10.0) is expected, (engine, one)


# ---------------------------------------------------------------------------------------------
# score_one and score: the same answers accepted and refused

CONTRACT = instruments.decode(msgspec.yaml.encode({
    "id": "contract", "version": "1", "kind": "prom", "title": LABEL, "citation": "test",
    "licence": {"holder": "none", "terms": "test", "wording": "ours"},
    "items": [
        {"id": "c", "kind": "choice", "label": LABEL, "options": [
            {"code": 1, "label": LABEL}, {"code": 2, "label": LABEL}, {"code": 4, "label": LABEL},
            {"code": 9, "label": LABEL, "unanswered": True}]},
        {"id": "n", "kind": "integer", "label": LABEL, "min": 0, "max": 10},
        {"id": "d", "kind": "decimal", "label": LABEL, "min": -1.5, "max": 99.5},
        {"id": "m", "kind": "multi", "label": LABEL, "options": [
            {"code": 1, "label": LABEL}, {"code": 3, "label": LABEL}, {"code": 5, "label": LABEL}]},
        {"id": "t", "kind": "text", "label": LABEL},
    ],
    "scorings": [{
        "id": "s", "version": "1", "default": True, "title": LABEL, "source": "test",
        "scales": [{"kernel": "sum", "id": "total", "label": LABEL, "items": ["c", "n", "d", "m"], "min_answered": 1,
                    "recode": {"m": {1: 0.5, 3: 2, 5: 4}}}],
    }],
}), "contract.yaml")
USUAL = {"c": 2, "n": 3, "d": 1.25, "m": [1, 5], "t": "free text"}

_number = st.one_of(
    st.integers(-20, 20), st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([1.0, 4.0, 2.5, 10.0, -1.5, 99.5]),
    st.booleans(), st.just(np.int64(4)), st.just(np.float64(3.0)), st.just(np.bool_(True)),
)
_text = st.sampled_from(["", " ", "4", " 4 ", "4.0", "2.5", "x", "nan", "inf", "1 3", "3 5 1", "1,5", "1e1", "0x2"])
ANSWERS = st.one_of(st.none(), _number, _text, st.lists(st.one_of(_number, _text), max_size=3).map(list),
                    st.lists(st.integers(0, 6), max_size=3).map(tuple), st.just({1}))


def _outcome(call):
    try:
        return call()
    except ScoringError as e:
        return (type(e).__name__, str(e))


def _same(a, b) -> bool:
    if isinstance(a, tuple) or isinstance(b, tuple):
        return a == b
    return (math.isnan(a) and math.isnan(b)) or a == b


@settings(max_examples=400, deadline=None)
@given(item=st.sampled_from(["c", "n", "d", "m", "t"]), value=ANSWERS)
def test_score_one_accepts_and_refuses_exactly_what_score_does(item, value):
    answers = {**USUAL, item: value}
    one = _outcome(lambda: scoring.score_one(CONTRACT, answers)[0]["total"])
    engine = _outcome(lambda: scoring.score(CONTRACT, {k: [v] for k, v in answers.items()}).scores["total"][0])
    assert _same(one, engine), f"{item}={value!r}: score_one {one!r}, score {engine!r}"
