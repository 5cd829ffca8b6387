"""The analyst API of indicators: role matrix, filters, audit, and never a patient-level row."""

from __future__ import annotations

import datetime as dt

import pytest
from service_helpers import bearer
from sqlmodel import select

from promsvc.models import AuditEntry

DEMO = "/api/v1/registries/demo/indicators"
OTHER = "/api/v1/registries/other/indicators"
CALLERS = ["none", "system", "registry@demo", "registry@other", "analyst", "admin"]
MATRIX = {  # path → expected status per caller, in the order of CALLERS
    DEMO: [401, 403, 200, 403, 200, 200],
    f"{DEMO}/results": [401, 403, 200, 403, 200, 200],
    OTHER: [401, 403, 403, 404, 404, 404],  # `other` has no indicator file
}


@pytest.fixture
def headers_of(keys):
    return {"none": {}, "system": bearer(keys.system), "registry@demo": bearer(keys.registry),
            "registry@other": bearer(keys.other), "analyst": bearer(keys.analyst), "admin": bearer(keys.admin)}


@pytest.mark.parametrize("path", list(MATRIX))
def test_role_matrix(client, headers_of, session, path):
    got = [client.get(path, headers=headers_of[c]).status_code for c in CALLERS]
    assert got == MATRIX[path]
    audited = [(e.action, e.outcome) for e in session.exec(select(AuditEntry).order_by(AuditEntry.id))]
    action = "indicators.results" if path.endswith("/results") else "indicators.read"
    assert audited.count((action, "ok")) == MATRIX[path].count(200)
    assert audited.count((action, "denied")) == MATRIX[path].count(403)


def test_definitions_as_declared(client, keys):
    body = client.get(DEMO, headers=bearer(keys.analyst)).json()
    assert body["registry"] == "demo"
    first = body["indicators"][0]
    assert first["id"] == "eq5d-improved-m12" and first["measure"] == "proportion"
    assert first["numerator"] == "post - pre >= 0.074"


def test_results_are_filtered_aggregates(client, keys):
    h = bearer(keys.analyst)
    whole = client.get(f"{DEMO}/results", params={"as_of": "2025-12-31"}, headers=h)
    assert whole.status_code == 200, whole.text
    body = whole.json()
    assert body["data_until"] == "2025-12-31" and body["source"] == "database"
    assert {d["indicator"] for d in body["definitions"]} >= {"response-m3", "episodes"}
    allowed = {"indicator", "version", "measure", "period", "level", "unit", "orgnr", "numerator", "denominator",
               "value", "ci_low", "ci_high", "interval", "target_level", "target_rule", "funnel", "funnel_998",
               "suppressed", "reason", "data_share", "crude", "counts"}
    assert all(set(r) <= allowed for r in body["results"])  # aggregates: no episode, pseudonym or answer
    some = client.get(f"{DEMO}/results", params={"level": "hospital", "unit": "dal-fjell", "indicator": "episodes",
                                                 "as_of": "2025-12-31"}, headers=h).json()["results"]
    assert all(r["unit"] == "dal-fjell" and r["indicator"] == "episodes" for r in some)


@pytest.mark.parametrize("params, status, where", [
    ({"indicator": "nope"}, 400, "query"),
    ({"period": "20x5"}, 400, "query parameter period"),
    ({"unit": "nowhere"}, 404, "query parameter unit"),
])
def test_bad_queries_say_what_and_where(client, keys, params, status, where):
    r = client.get(f"{DEMO}/results", params=params, headers=bearer(keys.analyst))
    assert r.status_code == status
    assert r.json()["where"] == where and r.json()["fix"]


def test_today_is_the_default_data_date(client, keys):
    body = client.get(f"{DEMO}/results", params={"indicator": "episodes"}, headers=bearer(keys.analyst)).json()
    assert body["data_until"] == dt.datetime.now(dt.UTC).date().isoformat()


def test_one_computation_at_a_time_and_then_come_back(client, keys, session, monkeypatch):
    """At 5 M rows a computation takes half a minute and 2 GB: while one runs in the process,
    another request waits (here not at all) and is then told when to come back."""
    from promsvc.indicators import controllers

    monkeypatch.setattr(controllers, "BUSY_WAIT", 0.0)
    with controllers._COMPUTING:  # another request's computation
        busy = client.get(f"{DEMO}/results", params={"indicator": "episodes"}, headers=bearer(keys.analyst))
    assert busy.status_code == 503 and busy.headers["retry-after"] == "60"
    assert "another request" in busy.json()["detail"] and "promsvc indicators compute" in busy.json()["fix"]
    after = client.get(f"{DEMO}/results", params={"indicator": "episodes"}, headers=bearer(keys.analyst))
    assert after.status_code == 200, after.text  # the lock is free again, after a refusal and after a computation
    assert client.get(f"{DEMO}/results", params={"indicator": "nope"}, headers=bearer(keys.analyst)).status_code == 400
    assert client.get(f"{DEMO}/results", params={"indicator": "episodes"}, headers=bearer(keys.analyst)).status_code == 200
    audited = [e.outcome for e in session.exec(select(AuditEntry).where(AuditEntry.action == "indicators.results")
                                                .order_by(AuditEntry.id))]
    assert audited == ["busy", "ok", "invalid", "ok"]
