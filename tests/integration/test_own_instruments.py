"""A registry's own instruments (PROMSVC_INSTRUMENTS_DIR), end to end through the service.

The registry `own` (tests/integration/own_registries/) asks `local-followup`, which is not
shipped: two versions of it are read from tests/integration/own_instruments/. A patient answers
it through the form API (every item kind: choice with an "unanswered" option, multi-select,
decimal, free text), and the stored response and scores name the version that produced them.
"""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path

import pytest
from litestar.testing import TestClient
from patient_fixtures import csrf, fetch, make_link, parse
from service_helpers import bearer
from sqlmodel import Session, select

from promsvc.app import create_app
from promsvc.models import Draft, Response, Score
from promsvc.responses.recompute import recompute

HERE = Path(__file__).parent
OWN_INSTRUMENTS = HERE / "own_instruments"
OWN_REGISTRIES = HERE / "own_registries"


@pytest.fixture
def own_client(make_settings, engine):
    settings = make_settings(registries_dir=str(OWN_REGISTRIES), instruments_dir=str(OWN_INSTRUMENTS),
                             demo_registry=False, log_level="DEBUG")
    with TestClient(create_app(settings), base_url="http://testserver.local") as client:
        yield client


def _link(engine, protocol: str) -> tuple[str, str]:
    return make_link(engine, registry="own", protocol=protocol, time_point="m12", unit="own-hospital")


def test_a_registry_asks_its_own_instrument_and_the_stored_scores_name_its_version(own_client, engine, caplog):
    token, invitation_id = _link(engine, "followup")

    form = own_client.get(f"/api/v1/forms/{token}").json()
    assert [(i["id"], i["version"]) for i in form["instruments"]] == [("local-followup", "2"), ("nrs-pain", "1.0")]
    items = {item["id"]: item for item in form["instruments"][0]["items"]}
    assert items["help"]["kind"] == "multi" and [o["code"] for o in items["help"]["options"]] == [1, 2, 3]
    assert (items["weight"]["kind"], items["weight"]["min"], items["weight"]["max"]) == ("decimal", 30, 250)
    assert (items["comment"]["kind"], items["comment"]["max_length"]) == ("text", 300)

    secret = "Doktor Hansen ringte meg 12. mai"
    with caplog.at_level(logging.DEBUG):
        submitted = own_client.post(f"/api/v1/forms/{token}/submit", json={"answers": {
            "local-followup": {"change": 2, "help": [3, 1], "weight": 82.5, "comment": secret},
            "nrs-pain": {"pain": 4},
        }})
    assert submitted.status_code == 201, submitted.text
    assert secret not in caplog.text  # free text is stored, never logged

    responses = {r.instrument_id: r for r in fetch(engine, lambda s: s.exec(
        select(Response).where(Response.invitation_id == invitation_id)).all())}
    own = responses["local-followup"]
    assert own.instrument_version == "2"
    assert own.answers == {"change": 2, "help": [1, 3], "weight": 82.5, "comment": secret}  # ticks in form order
    (score,) = fetch(engine, lambda s: s.exec(select(Score).where(Score.response_id == own.id)).all())
    assert (score.instrument_id, score.instrument_version, score.scoring, score.scoring_version) == (
        "local-followup", "2", "main", "2.0")
    assert score.values == {"improved": 1.0, "kinds_of_help": 2.0, "weight": 82.5, "weight_band": "above_80"}
    assert responses["nrs-pain"].instrument_version == "1.0"


def test_a_protocol_may_ask_an_older_version(own_client, engine):
    token, invitation_id = _link(engine, "pinned")

    form = own_client.get(f"/api/v1/forms/{token}").json()
    assert [(i["id"], i["version"]) for i in form["instruments"]] == [("local-followup", "1")]
    submitted = own_client.post(f"/api/v1/forms/{token}/submit", json={"answers": {"local-followup": {"change": 1}}})
    assert submitted.status_code == 201, submitted.text
    (score,) = fetch(engine, lambda s: s.exec(select(Score).where(Score.instrument_id == "local-followup")).all())
    assert (score.instrument_version, score.scoring_version, score.values) == ("1", "1.0", {"improved": 1.0})


def test_answers_that_do_not_fit_are_refused_without_quoting_free_text(own_client, engine):
    token, _ = _link(engine, "followup")
    long_text = "privat " * 60

    refused = own_client.post(f"/api/v1/forms/{token}/submit", json={"answers": {
        "local-followup": {"change": 2, "help": [4], "weight": 20, "comment": long_text},
    }})

    assert refused.status_code == 422
    problems = {e["path"]: e for e in refused.json()["errors"]}
    assert set(problems) == {"$.answers.local-followup.help", "$.answers.local-followup.weight",
                             "$.answers.local-followup.comment"}
    assert problems["$.answers.local-followup.weight"]["allowed"] == "a number from 30 to 250, or empty for no answer"
    assert "privat" not in refused.text and problems["$.answers.local-followup.comment"]["found"] == "text of 420 characters"


def test_the_scoring_api_scores_an_instrument_of_the_directory_in_any_loaded_version(own_client, make_key):
    key = make_key("analyst")
    newest = own_client.post("/api/v1/score", headers=bearer(key), json={
        "instrument": "local-followup", "responses": [{"change": 1, "help": [2], "weight": 70}]})
    old = own_client.post("/api/v1/score", headers=bearer(key), json={
        "instrument": "local-followup", "version": "1", "responses": [{"change": 1}]})

    assert newest.status_code == 200, newest.text
    assert newest.json()["provenance"]["instrument_version"] == "2"
    assert newest.json()["scores"] == [{"improved": 1.0, "kinds_of_help": 1.0, "weight": 70.0, "weight_band": "up_to_80"}]
    assert old.status_code == 200, old.text
    assert (old.json()["provenance"]["instrument_version"], old.json()["scores"]) == ("1", [{"improved": 1.0}])


def test_the_patient_pages_ask_every_item_kind_and_store_the_answers(own_client, engine):
    token, invitation_id = _link(engine, "followup")
    q = f"/q/{token}"
    page = own_client.get(f"{q}/s/1")
    assert page.status_code == 200, page.text
    inputs = {(i.get("name"), i.get("type"), i.get("value")) for i in parse(page.text).inputs}
    assert {("answer-help", "checkbox", "1"), ("answer-help", "checkbox", "3"), ("answer-change", "radio", "9")} <= inputs
    assert 'inputmode="decimal"' in page.text and '<textarea class="text-input"' in page.text and 'maxlength="300"' in page.text

    fields = {"csrf_token": csrf(page.text), "answer-change": "2", "answer-help": ["1", "3"],
              "answer-weight": "300", "answer-comment": "Bedre enn før", "action": "next"}
    wrong = own_client.post(f"{q}/s/1", data=fields, follow_redirects=False)
    assert wrong.status_code == 422  # the weight is outside 30-250; the ticks are kept
    kept = {(i.get("name"), i.get("value")) for i in parse(wrong.text).inputs if "checked" in i}
    assert kept == {("answer-change", "2"), ("answer-help", "1"), ("answer-help", "3")}

    saved = own_client.post(f"{q}/s/1", data={**fields, "csrf_token": csrf(wrong.text), "answer-weight": "82,5"},
                            follow_redirects=False)
    assert saved.status_code == 303, saved.text
    draft = fetch(engine, lambda s: s.exec(select(Draft).where(Draft.invitation_id == invitation_id)).one())
    assert draft.answers["local-followup"] == {"change": 2, "help": [1, 3], "weight": 82.5, "comment": "Bedre enn før"}


def test_each_stored_response_is_rescored_with_its_own_version_and_exported(own_client, engine, make_key):
    answers = {"local-followup": {"change": 2, "help": [1, 3], "weight": 82.5, "comment": "fint"}}
    for protocol, given in (("followup", answers), ("pinned", {"local-followup": {"change": 1}})):
        token, _ = _link(engine, protocol)
        assert own_client.post(f"/api/v1/forms/{token}/submit", json={"answers": given}).status_code == 201

    registries = own_client.app.state.registries
    with Session(engine, expire_on_commit=False) as s:
        report = recompute(s, registries)
    assert (report.examined, report.written, dict(report.skipped)) == (3, 0, {})  # nrs-pain too; nothing differs
    assert report.scorings[("local-followup", "main")].unchanged == 2  # version 2 and version 1, each with its own

    export = own_client.get("/api/v1/registries/own/export.csv", headers=bearer(make_key("registry", "own")))
    rows = list(csv.DictReader(io.StringIO(export.text)))
    followup = next(r for r in rows if r["protocol"] == "followup")
    assert (followup["local-followup.help"], followup["local-followup.weight"], followup["local-followup.comment"]) == ("1 3", "82.5", "fint")
