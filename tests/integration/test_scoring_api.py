"""POST /api/v1/score: scores and provenance for a JSON batch; every wrong answer named."""

from __future__ import annotations

import pytest
from service_helpers import bearer

import scoring

URL = "/api/v1/score"


@pytest.fixture
def analyst(keys):
    return bearer(keys.analyst)


def test_eq5d_5l_with_the_norwegian_value_set(client, analyst):
    body = {"instrument": "eq5d-5l", "method": "VT", "country": "Norway",
            "responses": [{"MO": 1, "SC": 1, "UA": 1, "PD": 1, "AD": 1}, {"MO": 5, "SC": 5, "UA": 5, "PD": 5, "AD": 5, "VAS": 10},
                          {"MO": 2, "SC": None}, {}]}
    r = client.post(URL, json=body, headers=analyst)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["provenance"]["value_set"]["name"] == "EQ-5D-5L · VT · Norway"
    assert out["provenance"]["value_set"]["doi"]
    assert out["scores"][0]["index"] == 1.0
    assert out["scores"][1]["index"] == pytest.approx(-0.453, abs=5e-4)
    assert out["scores"][2]["index"] is None and out["scores"][3]["index"] is None  # no score, not an error


def test_the_same_numbers_as_the_scoring_library(client, analyst):
    answers = [{f"q{i}": (i % 2) + 1 for i in range(1, 37)}, {f"q{i}": 1 for i in range(1, 37)}]
    for scoring_id in ("rand", "sf36v1"):
        r = client.post(URL, json={"instrument": "rand36", "scoring": scoring_id, "responses": answers}, headers=analyst)
        assert r.status_code == 200, r.text
        expected = scoring.score("rand36", {k: [a[k] for a in answers] for k in answers[0]}, scoring=scoring_id)
        got = r.json()
        assert got["provenance"]["scoring"] == scoring_id and got["provenance"]["value_set"] is None
        for name, values in expected.scores.items():
            assert [row[name] for row in got["scores"]] == pytest.approx(values.tolist())


def test_defaults_come_from_the_instrument(client, analyst):
    r = client.post(URL, json={"instrument": "rand36", "responses": [{"q1": 1}]}, headers=analyst)
    assert r.json()["provenance"]["scoring"] == "rand"
    r = client.post(URL, json={"instrument": "eq5d-5l", "responses": [{"MO": 1}]}, headers=analyst)
    assert r.json()["provenance"]["value_set"]["country"] == "Norway"


def test_every_wrong_answer_is_named_with_found_and_allowed(client, analyst):
    body = {"instrument": "eq5d-5l", "responses": [
        {"MO": 1, "SC": 1, "UA": 1, "PD": 1, "AD": 1},
        {"MO": 7, "SC": "2", "UA": 1.5, "PD": True, "AD": 1, "VAS": 101, "XX": 1},
    ]}
    r = client.post(URL, json=body, headers=analyst)
    assert r.status_code == 422
    problem = r.json()
    by_path = {e["path"]: e for e in problem["errors"]}
    assert list(by_path) == [f"$.responses[1].{k}" for k in ("MO", "SC", "UA", "PD", "VAS", "XX")]
    assert by_path["$.responses[1].MO"]["found"] == 7
    assert by_path["$.responses[1].MO"]["allowed"].startswith("one of 1, 2, 3, 4, 5")
    assert by_path["$.responses[1].SC"]["found"] == "2"
    assert by_path["$.responses[1].VAS"]["allowed"].startswith("a whole number from 0 to 100")
    assert "no item 'XX'" in by_path["$.responses[1].XX"]["message"]
    assert problem["where"] == "$.responses[1].MO" and problem["fix"]


def test_the_list_of_problems_is_bounded(client, analyst):
    r = client.post(URL, json={"instrument": "eq5d-5l", "responses": [{"MO": 9}] * 80}, headers=analyst)
    assert r.status_code == 422
    assert len(r.json()["errors"]) == 50 and "80 answer(s)" in r.json()["detail"]


@pytest.mark.parametrize(("body", "status", "where", "words"), [
    ({"instrument": "eq5d-9l", "responses": [{}]}, 422, "$.instrument", "unknown instrument 'eq5d-9l'"),
    ({"instrument": "rand36", "scoring": "sf36v2", "responses": [{}]}, 422, "$.scoring", "no scoring 'sf36v2'"),
    ({"instrument": "eq5d-5l", "country": "Atlantis", "responses": [{}]}, 422, "$.country", "Atlantis"),
    ({"instrument": "eq5d-5l", "method": "TTO", "responses": [{}]}, 422, "$.method", "'TTO'"),
    ({"instrument": "rand36", "country": "Norway", "responses": [{}]}, 422, "$.country", "uses no value set"),
    ({"instrument": "eq5d-5l", "responses": []}, 400, "$.responses", "length >= 1"),
    ({"instrument": "eq5d-5l", "responses": [[1, 2]]}, 400, "$.responses[0]", "Expected `object`"),
    ({"instrument": "eq5d-5l"}, 400, "$", "missing required field `responses`"),
    ({"instrument": "eq5d-5l", "responses": [{}], "extra": 1}, 400, "$", "unknown field `extra`"),
])
def test_bad_requests(client, analyst, body, status, where, words):
    r = client.post(URL, json=body, headers=analyst)
    assert r.status_code == status, r.text
    assert r.json()["where"] == where and words in r.json()["detail"], r.json()


def test_any_role_may_score_but_a_key_is_needed(client, keys):
    body = {"instrument": "eq5d-5l", "responses": [{"MO": 1}]}
    for key in (keys.system, keys.registry, keys.analyst, keys.admin):
        assert client.post(URL, json=body, headers=bearer(key)).status_code == 200
    assert client.post(URL, json=body).status_code == 401
