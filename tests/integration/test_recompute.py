"""`promsvc scores recompute`: stored answers scored again; new rows only where something differs."""

from __future__ import annotations

import numpy as np
import pytest
from patient_fixtures import fetch, make_link, submit_direct
from sqlmodel import Session, select

import scoring
from promsvc import commands
from promsvc.models import AuditEntry, Episode, Response, Score
from promsvc.registries import loader
from promsvc.responses.recompute import RecomputeError, recompute

STATES = [
    {"MO": 1, "SC": 1, "UA": 1, "PD": 1, "AD": 1},
    {"MO": 2, "SC": 1, "UA": 3, "PD": 2, "AD": 1},
    {"MO": 5, "SC": 4, "UA": 3, "PD": 2, "AD": 1},
    {"MO": 1, "SC": None, "UA": 1, "PD": 1, "AD": 1},  # no index
]


@pytest.fixture
def stored(engine, settings):
    """Four demo submissions (EQ-5D-5L and RAND-36) and one of the `other` registry."""
    for n, state in enumerate(STATES):
        token, _ = make_link(engine)
        submit_direct(engine, settings, token, {"eq5d-5l": state, "rand36": {f"q{i}": 1 + (i + n) % 2 for i in range(1, 37)}})
    token, _ = make_link(engine, registry="other", protocol="knee", time_point="m6")
    submit_direct(engine, settings, token, {"eq5d-5l": STATES[1]})


def _run(engine, settings, **kw):
    with Session(engine, expire_on_commit=False) as s:
        return recompute(s, loader.load_all(settings), **kw)


def _scores(engine, registry="demo", instrument="eq5d-5l"):
    def read(s):
        q = select(Score).join(Response, Response.id == Score.response_id).where(Response.registry_id == registry, Score.instrument_id == instrument)
        return s.exec(q.order_by(Score.id)).all()
    return fetch(engine, read)


def test_nothing_changes_when_nothing_differs(engine, settings, stored):
    before = len(fetch(engine, lambda s: s.exec(select(Score)).all()))
    report = _run(engine, settings)
    assert report.examined == 9 and report.written == 0
    assert report.scorings[("eq5d-5l", "index")].unchanged == 5
    assert report.scorings[("rand36", "sf36v1")].unchanged == 4
    assert len(fetch(engine, lambda s: s.exec(select(Score)).all())) == before
    assert "score differences: none" in report.lines()


def test_another_value_set_adds_rows_and_reports_the_differences(engine, settings, stored):
    old = {s.response_id: s.values["index"] for s in _scores(engine)}
    report = _run(engine, settings, registry="demo", instrument="eq5d-5l", method="VT", country="England")
    count = report.scorings[("eq5d-5l", "index")]
    assert (count.responses, count.rescored, count.unchanged) == (4, 4, 0)  # the no-index one changes provenance only
    rows = _scores(engine)
    current = {s.response_id: s for s in rows if s.current}
    assert len(rows) == 8 and len(current) == 4
    assert {s.value_set for s in current.values()} == {"EQ-5D-5L · VT · England"}
    assert {s.value_set for s in rows if not s.current} == {"EQ-5D-5L · VT · Norway"}
    # the largest change, computed independently
    columns = {k: [s[k] for s in STATES] for k in STATES[0]}
    england = scoring.score("eq5d-5l", columns, method="VT", country="England").scores["index"]
    norway = scoring.score("eq5d-5l", columns, method="VT", country="Norway").scores["index"]
    expected = float(np.nanmax(np.abs(england - norway)))
    change = report.scores[("eq5d-5l", "index", "index")]
    assert change.largest == pytest.approx(expected, abs=1e-12)
    assert change.changed == 2  # 11111 is 1 under both; the state with a missing dimension has no index
    assert sorted(round(s.values["index"], 9) for s in current.values() if s.values["index"] is not None) == sorted(
        round(float(v), 9) for v in england if not np.isnan(v))
    text = "\n".join(report.lines())
    assert "EQ-5D-5L · VT · Norway → instrument 1.0, scoring 1.0, EQ-5D-5L · VT · England" in text
    # the other registry is untouched
    assert [s.value_set for s in _scores(engine, "other")] == ["EQ-5D-5L · VT · Norway"]
    # again: nothing new; then back to the protocol's value set
    assert _run(engine, settings, registry="demo", instrument="eq5d-5l", method="VT", country="England").written == 0
    back = _run(engine, settings, registry="demo")
    assert back.scorings[("eq5d-5l", "index")].rescored == 4 and back.scorings[("rand36", "rand")].unchanged == 4
    assert {s.value_set for s in _scores(engine) if s.current} == {"EQ-5D-5L · VT · Norway"}
    assert {s.response_id: s.values["index"] for s in _scores(engine) if s.current} == old
    audit = fetch(engine, lambda s: s.exec(select(AuditEntry).where(AuditEntry.action == "scores.recompute")).all())
    assert {(a.actor, a.registry_id) for a in audit} == {("cli", "demo")}


def test_a_wrong_stored_value_is_corrected_and_reported(engine, settings, stored):
    def corrupt(s):
        row = s.exec(select(Score).where(Score.scoring == "rand", Score.current == True)).first()  # noqa: E712
        values = dict(row.values)
        values["pf"] = (values["pf"] or 0) + 12.5
        row.values = values
        s.add(row)
        return row.id
    fetch(engine, corrupt)
    report = _run(engine, settings, instrument="rand36", scoring="rand")
    assert report.scorings[("rand36", "rand")].rescored == 1
    assert report.scores[("rand36", "rand", "pf")].largest == pytest.approx(12.5)
    assert ("rand36", "sf36v1") not in report.scorings  # only the scoring asked for


def test_a_response_without_scores_gets_its_first(engine, settings, stored):
    def drop(s):
        row = s.exec(select(Score).where(Score.scoring == "sf36v1")).first()
        s.delete(row)
    fetch(engine, drop)
    report = _run(engine, settings, instrument="rand36")
    assert report.scorings[("rand36", "sf36v1")].first == 1 and report.written == 1


def test_dry_run_writes_nothing(engine, settings, stored):
    before = fetch(engine, lambda s: len(s.exec(select(Score)).all()))
    report = _run(engine, settings, instrument="eq5d-5l", method="CW", country="UK", dry_run=True)
    assert report.scorings[("eq5d-5l", "index")].rescored == 5
    assert fetch(engine, lambda s: len(s.exec(select(Score)).all())) == before
    assert "dry run: nothing written" in report.lines()[0]


def test_responses_of_another_instrument_version_are_skipped(engine, settings, stored):
    def age(s):
        row = s.exec(select(Response).where(Response.registry_id == "other")).one()
        row.instrument_version = "0.9"
        s.add(row)
    fetch(engine, age)
    report = _run(engine, settings, instrument="eq5d-5l")
    assert report.skipped == {("eq5d-5l", "0.9", "the loaded definition is version 1.0"): 1}
    assert "skipped 1 response(s) of eq5d-5l 0.9" in "\n".join(report.lines())


@pytest.mark.parametrize(("kw", "message"), [
    ({"registry": "nope"}, "no registry 'nope'"),
    ({"scoring": "sf36v1"}, "need --instrument"),
    ({"instrument": "nope"}, "no instrument 'nope'"),
    ({"instrument": "rand36", "scoring": "nope"}, "no scoring 'nope'"),
    ({"instrument": "rand36", "scoring": "rand", "method": "VT"}, "uses no value set"),
    ({"instrument": "eq5d-5l", "country": "Atlantis"}, "Atlantis"),
])
def test_wrong_names_are_refused(engine, settings, kw, message):
    with pytest.raises(RecomputeError, match=message):
        _run(engine, settings, **kw)


def test_the_command_prints_the_report_without_identifiers(engine, settings, stored, monkeypatch, capsys):
    monkeypatch.setenv("PROMSVC_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("PROMSVC_REGISTRIES_DIR", settings.registries_dir)
    status = commands.main(["scores", "recompute", "--instrument", "eq5d-5l", "--method", "VT", "--country", "Denmark"])
    out = capsys.readouterr().out
    assert status == 0
    assert "5 stored response(s) examined; 5 score row(s) added" in out
    assert "largest |change|" in out
    identifiers = fetch(engine, lambda s: [v for e in s.exec(select(Episode)) for v in (e.id, e.pseudonym, e.external_id)]
                        + [r.id for r in s.exec(select(Response))])
    assert identifiers and not any(i in out for i in identifiers)
    assert commands.main(["scores", "recompute", "--scoring", "rand"]) == 2
    assert "need --instrument" in capsys.readouterr().err
