"""The shipped instrument definitions, and how broken definitions are reported.

Every shipped definition must decode, pass the cross-field checks and give the scores its own
examples promise. A broken definition must fail with a message that names the file and the exact
path inside it, so whoever edits a YAML file can find the line.
"""

from __future__ import annotations

import pytest

import instruments
from instruments import DefinitionError
from scoring.examples import failures

SHIPPED = sorted(instruments.catalogue())
# Item and option labels of licensed instruments are short words of our own; the official
# sentences are longer than this and come only from a registry's overlay.
MAX_OWN_LABEL = 80


def test_the_expected_instruments_are_shipped():
    assert {"eq5d-3l", "eq5d-5l", "eq5d-y-3l", "phq9", "gad7", "gs-peq", "nrs-pain"} <= set(SHIPPED)


@pytest.mark.parametrize("instrument_id", SHIPPED)
def test_shipped_definition_has_no_problems(instrument_id):
    assert instruments.problems(instruments.get(instrument_id)) == []


@pytest.mark.parametrize("instrument_id", SHIPPED)
def test_shipped_definition_has_examples_and_they_pass(instrument_id):
    ins = instruments.get(instrument_id)
    assert ins.examples, f"{instrument_id} has no examples"
    assert failures(ins) == []


@pytest.mark.parametrize("instrument_id", SHIPPED)
def test_every_scoring_has_an_example(instrument_id):
    ins = instruments.get(instrument_id)
    default = ins.scoring().id
    tried = {ex.scoring or default for ex in ins.examples}
    assert tried == {s.id for s in ins.scorings}


def _labels(ins):
    for n, item in enumerate(ins.items):
        yield f"items[{n}] {item.id}", item.label
        if item.kind == "choice":
            for option in ins.options_of(item):
                yield f"items[{n}] {item.id} option {option.code}", option.label


@pytest.mark.parametrize("instrument_id", [i for i in SHIPPED if instruments.get(i).licence.wording == "overlay"])
def test_licensed_instruments_ship_only_short_labels_of_our_own(instrument_id):
    long = [
        f"{where} [{lang}]: {text!r}"
        for where, label in _labels(instruments.get(instrument_id))
        for lang, text in (("nb", label.nb), ("nn", label.nn), ("en", label.en))
        if len(text) > MAX_OWN_LABEL
    ]
    assert long == []


def test_eq5d_definitions_follow_the_contracts():
    # DESIGN.md, "Contracts": item ids, score column and default methods are fixed.
    expected = {"eq5d-3l": ("EQ-5D-3L", "TTO", "UK"), "eq5d-5l": ("EQ-5D-5L", "VT", "Norway"), "eq5d-y-3l": ("EQ-5D-Y-3L", "IVP", None)}
    for instrument_id, (version, method, country) in expected.items():
        ins = instruments.get(instrument_id)
        assert [i.id for i in ins.items] == ["MO", "SC", "UA", "PD", "AD", "VAS"]
        assert ins.licence.wording == "overlay"
        (scale,) = ins.scoring().scales
        assert ins.scoring().id == "index"
        assert (scale.id, scale.version, scale.default_method, scale.default_country) == ("index", version, method, country)


# ---------------------------------------------------------------------------------------------
# Broken definitions: the message names the file and the exact path.

VALID = """\
id: x
version: "1.0"
kind: prom
title: {nb: X, nn: X, en: X}
citation: none
licence: {holder: us, terms: free, wording: ours}
option_sets:
  three:
    - {code: 1, label: {nb: a, nn: a, en: a}}
    - {code: 2, label: {nb: b, nn: b, en: b}}
    - {code: 3, label: {nb: c, nn: c, en: c}}
items:
  - {id: a, kind: choice, options: three, label: {nb: A, nn: A, en: A}}
  - {id: b, kind: choice, options: three, label: {nb: B, nn: B, en: B}}
scorings:
  - id: s
    version: "1"
    default: true
    title: {nb: S, nn: S, en: S}
    source: test
    recode_tables:
      flip: {1: 3, 2: 2, 3: 1}
    scales:
      - kernel: sum
        id: total
        label: {nb: T, nn: T, en: T}
        items: [a, b]
        recode: flip
    summaries:
      - kernel: bands
        id: band
        label: {nb: B, nn: B, en: B}
        input: total
        bands:
          - {id: low, min: 0, label: {nb: L, nn: L, en: L}}
          - {id: high, min: 4, label: {nb: H, nn: H, en: H}}
examples:
  - source: test
    answers: {a: 1, b: 2}
    expect: {total: 5, band: high}
"""


def _decode(text: str):
    return instruments.decode(text.encode(), "x.yaml")


def _broken(old: str, new: str) -> str:
    assert old in VALID, old
    return VALID.replace(old, new, 1)


def _message(text: str) -> str:
    with pytest.raises(DefinitionError) as caught:
        _decode(text)
    assert caught.value.file == "x.yaml"
    return str(caught.value)


def test_the_valid_base_definition_decodes_and_its_example_passes():
    ins = _decode(VALID)
    assert failures(ins) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "  - {id: a, kind: choice, options: three,",
            "  - {id: a, colour: red, kind: choice, options: three,",
            "x.yaml: at $.items[0]: Object contains unknown field `colour`",
            id="unknown key",
        ),
        pytest.param(
            "  - {id: b, kind: choice, options: three, label: {nb: B, nn: B, en: B}}",
            "  - {id: b, kind: integer, min: low, max: 3, label: {nb: B, nn: B, en: B}}",
            "x.yaml: at $.items[1].min: Expected `int | float | null`, got `str`",
            id="wrong type",
        ),
        pytest.param(
            "    - {code: 2, label: {nb: b, nn: b, en: b}}",
            "    - {code: two, label: {nb: b, nn: b, en: b}}",
            # msgspec does not name dict keys in its paths: `[...]` stands for `three`
            "x.yaml: at $.option_sets[...][1].code: Expected `int`, got `str`",
            id="wrong type in an option set",
        ),
        pytest.param(
            "items:\n",
            "items:\n  - {id: c, kind: choice, options: four, label: {nb: C, nn: C, en: C}}\n",
            "x.yaml: at $.items[0].options: no option set 'four'; option sets: three",
            id="unknown option set",
        ),
        pytest.param(
            "  - {id: b, kind: choice,",
            "  - {id: a, kind: choice,",
            "x.yaml: at $.items[1].id: item id 'a' is used twice",
            id="duplicate item id",
        ),
        pytest.param(
            "  - {id: a, kind: choice, options: three, label: {nb: A, nn: A, en: A}}",
            "  - {id: a, kind: choice, options: three, label: {nb: A, nn: A, en: A}, when: {item: b, in: [1]}}",
            "x.yaml: at $.items[0].when.item: 'b' is not an item listed before this point",
            id="condition on a later item",
        ),
        pytest.param(
            "      flip: {1: 3, 2: 2, 3: 1}",
            "      flip: {1: 3, 2: 2}",
            "x.yaml: at $.scorings[0].scales[0].recode: no value for code(s) 3 of item a",
            id="recode table lacking a code",
        ),
        pytest.param(
            "        recode: flip",
            "        recode: {b: {1: 0, 3: 1}}",
            "x.yaml: at $.scorings[0].scales[0].recode.b: no value for code(s) 2 of item b",
            id="inline recode lacking a code",
        ),
        pytest.param(
            "        recode: flip",
            "        recode: flip\n        min_answered: 3",
            "x.yaml: at $.scorings[0].scales[0].min_answered: 3 is more than the 2 items",
            id="min_answered above the number of items",
        ),
        pytest.param(
            "examples:",
            "  - id: t\n    version: \"1\"\n    default: true\n    title: {nb: T, nn: T, en: T}\n    source: test\n"
            "    scales:\n      - {kernel: sum, id: total, label: {nb: T, nn: T, en: T}, items: [a, b]}\nexamples:",
            "x.yaml: at $.scorings: exactly one scoring must have `default: true`",
            id="two default scorings",
        ),
        pytest.param(
            "        input: total",
            "        input: totl",
            "x.yaml: at $.scorings[0].summaries[0]: 'totl' is not a scale or summary score listed before it",
            id="summary input that is not a scale",
        ),
        pytest.param(
            "    answers: {a: 1, b: 2}",
            "    answers: {a: 1, zz: 2}",
            "x.yaml: at $.examples[0].answers.zz: no such item",
            id="example with an unknown item",
        ),
        pytest.param(
            "    answers: {a: 1, b: 2}",
            "    answers: {a: 1, b: 7}",
            "x.yaml: at $.examples[0].answers.b: 7 is not a code of this item",
            id="example with a code the item lacks",
        ),
        pytest.param(
            "    expect: {total: 5, band: high}",
            "    expect: {total: 5, mean: 2}",
            "x.yaml: at $.examples[0].expect.mean: scoring 's' has no score 'mean'",
            id="example expecting a score the scoring lacks",
        ),
    ],
)
def test_a_broken_definition_names_the_file_and_the_path(old, new, expected):
    assert expected in _message(_broken(old, new))


def test_an_unknown_top_level_key_names_the_path():
    assert "x.yaml: at $: Object contains unknown field `author`" in _message(_broken("citation: none\n", "citation: none\nauthor: someone\n"))


def test_an_unknown_option_set_on_a_scored_item_is_a_definition_error():
    message = _message(_broken("  - {id: b, kind: choice, options: three,", "  - {id: b, kind: choice, options: four,"))
    assert "x.yaml: at $.items[1].options: no option set 'four'; option sets: three" in message


def test_every_problem_is_reported_at_once():
    text = _broken("  - {id: b, kind: choice,", "  - {id: a, kind: choice,")
    text = text.replace("        input: total", "        input: totl")
    problems = _message(text).splitlines()
    assert len(problems) >= 2
    assert all(p.startswith("x.yaml: at $.") for p in problems)


def test_not_yaml_names_the_file():
    assert _message("id: [unclosed\n").startswith("x.yaml: not valid YAML")


def test_an_example_whose_expected_value_is_wrong_is_reported_with_its_path():
    ins = _decode(_broken("    expect: {total: 5, band: high}", "    expect: {total: 6, band: low}"))
    assert failures(ins) == [
        "at $.examples[0].expect.total: expected 6.0, got 5.0 (test)",
        "at $.examples[0].expect.band: expected 'low', got 'high' (test)",
    ]



def test_a_weighted_sum_needs_inputs_and_numbers():
    text = b"""
id: w
version: "1"
kind: prom
title: {nb: W, nn: W, en: W}
citation: none
licence: {holder: us, terms: test, wording: ours}
items:
  - {id: a, kind: integer, min: 0, max: 3, label: {nb: A, nn: A, en: A}}
scorings:
  - id: s
    version: "1"
    default: true
    title: {nb: S, nn: S, en: S}
    source: test
    scales:
      - {kernel: sum, id: total, label: {nb: T, nn: T, en: T}, items: [a]}
    summaries:
      - {kernel: bands, id: band, input: total, label: {nb: B, nn: B, en: B}, bands: [{id: low, min: 0, label: {nb: L, nn: L, en: L}}]}
      - {kernel: weighted_sum, id: none, label: {nb: N, nn: N, en: N}, inputs: []}
      - {kernel: weighted_sum, id: text, label: {nb: X, nn: X, en: X}, inputs: [{scale: band, weight: 1}]}
"""
    with pytest.raises(instruments.DefinitionError) as caught:
        instruments.decode(text, "w.yaml")
    assert caught.value.problems == [
        "at $.scorings[0].summaries[1].inputs: a weighted sum needs at least one input",
        "at $.scorings[0].summaries[2]: 'band' is a band (text), not a number to compute with",
    ]


# ---------------------------------------------------------------------------------------------
# Kernels, item kinds and bounds: what a definition may not say


def test_an_unknown_kernel_lists_the_valid_ones():
    text = _message(_broken("      - kernel: sum", "      - kernel: summ"))
    assert text == ("x.yaml: at $.scorings[0].scales[0].kernel: unknown kernel 'summ'; "
                    "the kernels of scales are recode_mean, sum, valueset_index, lookup")
    text = _message(_broken("      - kernel: bands", "      - kernel: band"))
    assert "the kernels of summaries are weighted_sum, bands, mean, lookup" in text


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "          - {id: high, min: 4, label: {nb: H, nn: H, en: H}}",
            "          - {id: high, min: 4, above: 4, label: {nb: H, nn: H, en: H}}",
            "at $.scorings[0].summaries[0].bands[1]: give a band exactly one lower bound: `min` (≥) or `above` (>)",
            id="band with two bounds",
        ),
        pytest.param(
            "          - {id: low, min: 0, label: {nb: L, nn: L, en: L}}",
            "          - {id: low, above: 4, label: {nb: L, nn: L, en: L}}",
            "at $.scorings[0].summaries[0].bands: give bands in increasing order of their lower bound (`min: x` before `above: x`)",
            id="open bound before the closed one at the same value",
        ),
        pytest.param(
            "        recode: flip\n",
            "        recode: flip\n        transform: {min: 2, max: 2}\n",
            "at $.scorings[0].scales[0].transform: `min` and `max` must differ",
            id="empty rescale",
        ),
        pytest.param(
            "        recode: flip\n",
            "        recode: flip\n        transform: {min: 2, max: 6, multiply: 3}\n",
            "at $.scorings[0].scales[0].transform: give either `min` and `max` (rescale to 0–100) or `multiply` and/or `add`",
            id="two forms of transform",
        ),
        pytest.param(
            "    summaries:\n",
            "    summaries:\n      - {kernel: lookup, id: t, label: {nb: T, nn: T, en: T}, input: total, table: {2: 10, 3: 20, 4: 30, 5: 40}}\n",
            "at $.scorings[0].summaries[0].table: no value for 1 total(s) of total that answers can give: 6",
            id="lookup table that misses a raw score",
        ),
        pytest.param(
            "    summaries:\n",
            "    summaries:\n      - {kernel: mean, id: m, label: {nb: M, nn: M, en: M}, inputs: [total], min_scored: 2}\n",
            "at $.scorings[0].summaries[0].min_scored: 2 is more than the 1 inputs",
            id="mean needing more inputs than it has",
        ),
        pytest.param(
            "    scales:\n",
            "    scales:\n      - {kernel: lookup, id: p, label: {nb: P, nn: P, en: P}, items: [a, b], table: {'1 2': 1, '1': 2, '1 7': 3}}\n",
            "at $.scorings[0].scales[0].table.'1': a key is 2 code(s) separated by single spaces, in the order of `items`",
            id="pattern key of the wrong length",
        ),
        pytest.param(
            "  - {id: a, kind: choice, options: three, label: {nb: A, nn: A, en: A}}",
            "  - {id: a, kind: multi, label: {nb: A, nn: A, en: A}, options: [{code: 1, label: {nb: a, nn: a, en: a}},"
            " {code: 9, label: {nb: n, nn: n, en: n}, unanswered: true}]}",
            "at $.items[0].options: a multi item's options cannot be `unanswered` (no ticks is no answer)",
            id="multi item with an unanswered option",
        ),
        pytest.param(
            "  - {id: b, kind: choice, options: three, label: {nb: B, nn: B, en: B}}",
            "  - {id: b, kind: decimal, min: 1.5, max: 0.5, label: {nb: B, nn: B, en: B}}",
            "at $.items[1]: a decimal item needs numbers `min` ≤ `max`",
            id="decimal item with its range upside down",
        ),
        pytest.param(
            "  - {id: b, kind: choice, options: three, label: {nb: B, nn: B, en: B}}",
            "  - {id: b, kind: integer, min: 0.5, max: 3, label: {nb: B, nn: B, en: B}}",
            "at $.items[1]: an integer item needs whole numbers `min` and `max` (a `decimal` item takes any number)",
            id="integer item with a decimal bound",
        ),
        pytest.param(
            "  - {id: b, kind: choice, options: three, label: {nb: B, nn: B, en: B}}",
            "  - {id: b, kind: decimal, min: 0, max: 3, label: {nb: B, nn: B, en: B}}\n"
            "  - {id: c, kind: choice, options: three, label: {nb: C, nn: C, en: C}, when: {item: b, in: [1]}}",
            "at $.items[2].when.in: b is a decimal item; a condition can only ask whether it is `answered`",
            id="condition naming values of a decimal item",
        ),
    ],
)
def test_a_broken_use_of_a_kernel_or_item_kind_is_named_with_its_path(old, new, expected):
    assert f"x.yaml: {expected}" in _message(_broken(old, new)).splitlines()


def test_a_text_item_is_stored_but_may_not_be_scored():
    with_text = _broken("  - {id: b, kind: choice, options: three, label: {nb: B, nn: B, en: B}}",
                        "  - {id: b, kind: choice, options: three, label: {nb: B, nn: B, en: B}}\n"
                        "  - {id: note, kind: text, label: {nb: N, nn: N, en: N}}")
    assert _decode(with_text).item("note").kind == "text"
    scored = with_text.replace("        items: [a, b]\n        recode: flip", "        items: [a, b, note]\n        recode: {a: flip, b: flip}")
    assert "x.yaml: at $.scorings[0].scales[0].items: note is a text item, which is never scored" in _message(scored).splitlines()
