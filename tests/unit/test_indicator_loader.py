"""Indicator files are checked as a whole: every problem with its file, path and a fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from promsvc.indicators import loader
from promsvc.registries import loader as registry_loader

DATA = Path(__file__).resolve().parents[1] / "data" / "indicators"
REGISTRY = registry_loader.load(DATA / "ind.yaml")
REGISTRIES = {"ind": REGISTRY}
GOOD = yaml.safe_load((DATA / "ind.indicators.yaml").read_text())


def check(tmp_path, change=None, **fields) -> list[str]:
    """The problems of the test file with the first indicator's `fields` replaced
    (None removes a field) or `change(document)` applied."""
    doc = yaml.safe_load((DATA / "ind.indicators.yaml").read_text())
    first = doc["indicators"][0]
    for key, value in fields.items():
        if value is None:
            first.pop(key, None)
        else:
            first[key] = value
    if change:
        change(doc)
    good, bad = loader.check_files([written(tmp_path, doc)], REGISTRIES)
    return bad


def written(tmp_path, doc) -> Path:
    """`doc` as the registry's indicator file in `tmp_path`, beside the reference file it names."""
    path = tmp_path / "ind.indicators.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    (tmp_path / "ind.coverage.csv").write_text((DATA / "ind.coverage.csv").read_text())
    return path


def test_the_test_file_is_good(tmp_path):
    assert check(tmp_path) == []
    iset = loader.load(DATA / "ind.indicators.yaml", REGISTRIES)
    assert [i.id for i in iset.indicators][:3] == ["eq5d-mid", "pf-change", "pf-median"]
    assert iset.references["coverage"][0] == loader.Reference(unit="s1", year=2023, count=40)


@pytest.mark.parametrize("fields, expected", [
    ({"numerator": "post - pre >= 0.074 AND sexx = 'female'"}, "at $.indicators[0].numerator: unknown variable 'sexx'"),
    ({"numerator": "post - pre"}, "at $.indicators[0].numerator: 'post - pre' is a number, but a condition"),
    ({"population": "asa = 'three'"}, "at $.indicators[0].population: \"asa = 'three'\" compares a number with text"),
    ({"variables": {"pre": {"time_point": "m6", "instrument": "eq5d-5l", "score": "index"}}},
     "at $.indicators[0].variables.pre.time_point: protocol 'hip' has no time point 'm6'; its time points: baseline, m3, m12"),
    ({"variables": {"pre": {"time_point": "baseline", "instrument": "phq9", "score": "total"}}},
     "at $.indicators[0].variables.pre.instrument: protocol 'hip' does not ask 'phq9'"),
    ({"variables": {"pre": {"time_point": "baseline", "instrument": "eq5d-5l", "score": "vas"}}},
     "at $.indicators[0].variables.pre.score: eq5d-5l scoring 'index' has no score 'vas'"),
    ({"variables": {"pre": {"time_point": "baseline", "instrument": "rand36", "score": "pcs", "scoring": "ware"}}},
     "at $.indicators[0].variables.pre.scoring: protocol 'hip' scores rand36 with rand, sf36v1, not 'ware'"),
    ({"variables": {"pre": {"attribute": "bmi"}}}, "at $.indicators[0].variables.pre.attribute: protocol 'hip' declares no attribute 'bmi'"),
    ({"variables": {"pre": {"time_point": "m3"}}}, "give exactly one of `attribute`, `field`"),
    ({"variables": {"end": {"attribute": "sex"}}}, "'end' cannot name a variable"),
    ({"variables": {"unit": {"attribute": "sex"}}}, "'unit' is a built-in variable"),
    ({"numerator": None}, "at $.indicators[0].numerator: a proportion indicator needs `numerator`"),
    ({"value": "pre"}, "at $.indicators[0].value: a proportion indicator does not use `value`; remove it"),
    ({"interval": "t"}, "at $.indicators[0].interval: a t interval does not fit a proportion; use wilson or clopper-pearson"),
    ({"target": {"direction": "higher", "green": 0.5, "yellow": 0.7}}, "at $.indicators[0].target: with direction higher, green must be ≥ yellow"),
    ({"target": {"direction": "lower", "green": 0.7, "yellow": 0.5}}, "with direction lower, green must be ≤ yellow"),
    ({"target": {"direction": "higher", "green": 70}}, "at $.indicators[0].target.green: a share's target is between 0 and 1"),
    ({"levels": ["national", "national"]}, "at $.indicators[0].levels[1]: 'national' is listed twice"),
    ({"period": {"by": "answer_year"}}, "at $.indicators[0].period.time_point: results by answer year need the time point"),
    ({"period": {"by": "answer_year", "time_point": "m6"}},  # was accepted, and computing it then failed
     "at $.indicators[0].period.time_point: protocol 'hip' has no time point 'm6'; its time points: baseline, m3, m12"),
    ({"standardise": {"by": ["sex"]}, "measure": "count", "denominator": None}, "at $.indicators[0].standardise: only proportions and means"),
    ({"standardise": {"by": ["age"]}},
     "at $.indicators[0].standardise.by[0]: 'age' is not a category, boolean or integer attribute (with min and max) of "
     "protocol 'hip'; standardise by attributes with few values: sex, age_group, asa_class, previous_surgery"),
    ({"protocol": "knee"}, "at $.indicators[0].protocol: registry 'ind' has no protocol 'knee'"),
    ({"min_denominator": 3}, "at $.indicators[0].min_denominator: Expected `int` >= 5"),
    ({"colour": "red"}, "unknown field"),
])
def test_a_bad_definition_is_refused_with_path_and_fix(tmp_path, fields, expected):
    problems = check(tmp_path, **fields)
    assert problems and all(p.startswith(str(tmp_path / "ind.indicators.yaml") + ": ") for p in problems)
    assert any(expected in p for p in problems), problems


def test_every_problem_is_reported_at_once(tmp_path):
    problems = check(tmp_path, numerator="nope > 1", population="1", interval="order")
    assert len(problems) == 3


def test_a_problem_names_the_indicator_by_id_and_once(tmp_path):
    # A variable declared with a bad score was also "unknown" in every formula naming it.
    problems = check(tmp_path, variables={"pre": {"time_point": "baseline", "instrument": "eq5d-5l", "score": "INDEX"},
                                          "post": {"time_point": "m12", "instrument": "eq5d-5l", "score": "index"},
                                          "asa": {"attribute": "asa_class"}})
    assert [p.split(": ", 1)[1].split(": ")[0] for p in problems] == ["indicator 'eq5d-mid' at $.indicators[0].variables.pre.score"]


@pytest.mark.parametrize("utility", [{"field": "status"}, {"attribute": "asa_class"}])
def test_a_utility_that_is_not_a_score_is_refused_with_one_clear_problem(tmp_path, utility):
    # Was: read as the column "None.status" ("must be a number, not text") or as an attribute,
    # and then "None is asked at fewer than two time points".
    def change(doc):
        doc["indicators"][7]["utility"] = utility
    problems = check(tmp_path, change)
    assert len(problems) == 1 and "at $.indicators[7].utility: a utility is a score" in problems[0], problems


def test_a_response_rate_at_an_unknown_time_point_is_refused(tmp_path):
    # Was accepted, and computing it then failed on the missing time point.
    def change(doc):
        doc["indicators"][4]["time_point"] = "m6"
    assert check(tmp_path, change) == [
        f"{tmp_path / 'ind.indicators.yaml'}: indicator 'response-m3' at $.indicators[4].time_point: protocol 'hip' has no time point 'm6'; "
        "its time points: baseline, m3, m12"]


def test_duplicate_ids_unknown_registry_and_reference_problems(tmp_path):
    def twice(doc):
        doc["indicators"][1]["id"] = "eq5d-mid"
    assert any("indicator 'eq5d-mid' at $.indicators[" in p and ".id: its id is used twice" in p for p in check(tmp_path, twice))

    def other(doc):
        doc["registry"] = "nope"
    assert any("at $.registry: no registry 'nope' is loaded" in p for p in check(tmp_path, other))

    def missing(doc):
        doc["indicators"][6]["reference"] = "none.csv"
    assert any("at $.indicators[6].reference: cannot read" in p for p in check(tmp_path, missing))


def test_reference_file_rows_are_checked(tmp_path):
    path = tmp_path / "ref.csv"
    path.write_text("unit,year,count\ns1,2023,4\nzz,2023,1\ns1,2023,x\ns1,2023,3\nh1,2023,9\ns1,2024,-1\n")
    rows, problems = loader.read_reference(path, loader.UnitTree.of(REGISTRY))
    assert "ref.csv, data row 2, column unit: no unit 'zz' in the registry" in problems
    assert any("data row 3: year and count must be whole numbers" in p for p in problems)
    assert any("data row 4: unit s1 has a second row for 2023" in p for p in problems)
    assert "ref.csv, data row 6, column count: -1 is below zero" in problems
    assert len(problems) == 4 and len(rows) == 4  # h1 beside s1: each unit's own patients


@pytest.mark.parametrize(("numerator", "windows"), [
    ("due IS NOT NULL AND post - pre >= 0.074", {"m12"}),
    ("post - pre >= 0.074", set()),  # declared, not used: not read
])
def test_due_and_expiry_times_are_read_only_when_a_formula_names_them(tmp_path, numerator, windows):
    """A time point's due and expiry times are two columns of every episode × time point row:
    read only for the time points whose `due_at` or `expires_at` a formula uses."""
    doc = yaml.safe_load((DATA / "ind.indicators.yaml").read_text())
    first = doc["indicators"][0]
    first["variables"]["due"] = {"time_point": "m12", "field": "due_at"}
    first["numerator"] = numerator
    needs = loader.load(written(tmp_path, doc), REGISTRIES).compiled[0].needs
    assert needs.windows == windows and needs.time_points == {"baseline", "m12"}
