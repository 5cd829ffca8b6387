"""Access control: every role × registry × endpoint, on SQLite and PostgreSQL.

A key bound to a registry is refused (403) for every other registry before anything is looked
up, so the answer is the same whether that registry or its episodes exist or not.
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
from service_helpers import bearer
from sqlmodel import Session, select

from promsvc.commands import CommandError
from promsvc.commands import keys as keys_command
from promsvc.models import ApiKey

DEMO = "/api/v1/registries/demo"
SOON = (dt.date.today() + dt.timedelta(days=7)).isoformat()


def enrolment(external_id: str) -> dict:
    return {"external_id": external_id, "pseudonym": f"P-{external_id}", "unit": "dal-fjell",
            "protocol": "hip_primary", "event_date": SOON}


ENDPOINTS = {
    "enrol": lambda c, h: c.post(f"{DEMO}/episodes", json=enrolment("NEW-1"), headers=h),
    "batch": lambda c, h: c.post(f"{DEMO}/episodes/batch", json=[enrolment("NEW-2")], headers=h),
    "read": lambda c, h: c.get(f"{DEMO}/episodes/E-1", headers=h),
    "withdraw": lambda c, h: c.post(f"{DEMO}/episodes/E-1/withdraw", json={"reason": "test"}, headers=h),
    "link": lambda c, h: c.post(f"{DEMO}/episodes/E-1/time-points/baseline/link", headers=h),
    "export": lambda c, h: c.get(f"{DEMO}/export.csv", headers=h),
    "audit": lambda c, h: c.get("/api/v1/audit", headers=h),
    "score": lambda c, h: c.post("/api/v1/score", json={"instrument": "eq5d-5l", "responses": [{"MO": 1}]}, headers=h),
}

CALLERS = ["none", "invalid", "revoked", "system", "system@other", "registry@demo", "registry@other", "analyst", "admin"]

# endpoint → expected status per caller, in the order of CALLERS
MATRIX = {
    "enrol":    [401, 401, 401, 201, 403, 403, 403, 403, 201],
    "batch":    [401, 401, 401, 201, 403, 403, 403, 403, 201],
    "read":     [401, 401, 401, 403, 403, 200, 403, 403, 200],
    "withdraw": [401, 401, 401, 200, 403, 200, 403, 403, 200],
    "link":     [401, 401, 401, 201, 403, 403, 403, 403, 201],
    "export":   [401, 401, 401, 403, 403, 200, 403, 403, 200],
    "audit":    [401, 401, 401, 403, 403, 403, 403, 403, 200],
    "score":    [401, 401, 401, 200, 200, 200, 200, 200, 200],
}


@pytest.fixture
def headers_of(make_key, engine):
    def headers(caller: str) -> dict[str, str]:
        if caller == "none":
            return {}
        if caller == "invalid":
            return bearer("psk_this-is-not-a-key")
        if caller == "revoked":
            key = make_key("admin")
            with Session(engine) as s:
                for row in s.exec(select(ApiKey)):
                    row.revoked_at = dt.datetime.now(dt.UTC)
                    s.add(row)
                s.commit()
            return bearer(key)
        role, _, registry = caller.partition("@")
        return bearer(make_key(role, registry or None))

    return headers


@pytest.fixture
def episode(client, make_key):
    r = client.post(f"{DEMO}/episodes", json=enrolment("E-1"), headers=bearer(make_key("system")))
    assert r.status_code == 201


CASES = [(endpoint, caller, MATRIX[endpoint][n]) for endpoint in ENDPOINTS for n, caller in enumerate(CALLERS)]


@pytest.mark.parametrize(("endpoint", "caller", "status"), CASES, ids=[f"{e}-{c}" for e, c, _ in CASES])
def test_access_matrix(client, episode, headers_of, endpoint, caller, status):
    r = ENDPOINTS[endpoint](client, headers_of(caller))
    assert r.status_code == status, r.text
    if status in (401, 403):
        problem = r.json()
        assert problem["status"] == status and problem["fix"]
        assert "P-E-1" not in r.text and "E-1" not in problem["detail"]
    if status == 401:
        assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("path", ["/episodes/E-1", "/episodes/NO-SUCH", "/export.csv"])
def test_another_registry_learns_nothing(client, episode, make_key, path):
    other = bearer(make_key("registry", "other"))
    answers = {client.get(f"{DEMO}{path}", headers=other).text for _ in range(2)}
    unknown_registry = client.get(f"/api/v1/registries/nowhere{path}", headers=other)
    assert len(answers) == 1 and unknown_registry.text == answers.pop()
    assert unknown_registry.status_code == 403


def test_a_registry_key_reads_its_own_registry_only(client, make_key):
    system = bearer(make_key("system"))
    for registry, unit, protocol in (("demo", "dal-fjell", "hip_primary"), ("other", "other-hospital", "knee")):
        body = {**enrolment("SAME-ID"), "unit": unit, "protocol": protocol}
        assert client.post(f"/api/v1/registries/{registry}/episodes", json=body, headers=system).status_code == 201
    demo_key, other_key = bearer(make_key("registry", "demo")), bearer(make_key("registry", "other"))
    assert client.get(f"{DEMO}/episodes/SAME-ID", headers=demo_key).json()["registry"] == "demo"
    assert client.get("/api/v1/registries/other/episodes/SAME-ID", headers=other_key).json()["registry"] == "other"
    assert client.get("/api/v1/registries/other/episodes/SAME-ID", headers=demo_key).status_code == 403
    assert client.get("/api/v1/registries/other/export.csv", headers=demo_key).status_code == 403


def test_an_admin_key_bound_to_a_registry_stays_in_it(client, episode, make_key):
    admin_other = bearer(make_key("admin", "other"))
    assert client.get(f"{DEMO}/episodes/E-1", headers=admin_other).status_code == 403
    assert client.get("/api/v1/audit", headers=admin_other).status_code == 200


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "psk_nokeyword", "Token abc"])
def test_malformed_authorization(client, header):
    r = client.post("/api/v1/score", json={"instrument": "eq5d-5l", "responses": [{}]}, headers={"Authorization": header})
    assert r.status_code == 401 and r.json()["where"] == "header Authorization"


def test_keys_create_prints_the_key_once_and_stores_its_hash(client, database_url, session):
    env = {"PROMSVC_DATABASE_URL": database_url}
    out = io.StringIO()
    assert keys_command.create("analyst", None, "statistics unit", env=env, out=out) == 0
    key = out.getvalue().strip()
    assert key.startswith("psk_") and len(key) > 40
    row = session.exec(select(ApiKey)).one()
    assert key not in (row.key_hash, row.id) and row.role == "analyst" and row.label == "statistics unit"
    assert client.post("/api/v1/score", json={"instrument": "eq5d-5l", "responses": [{}]}, headers=bearer(key)).status_code == 200
    assert keys_command.revoke(row.id, env=env) == 0
    assert client.post("/api/v1/score", json={"instrument": "eq5d-5l", "responses": [{}]}, headers=bearer(key)).status_code == 401


@pytest.mark.parametrize(("role", "registry", "message"), [
    ("registry", None, "needs --registry"),
    ("registry", "nowhere", "no registry 'nowhere'"),
])
def test_keys_create_refuses(database_url, role, registry, message):
    with pytest.raises(CommandError, match=message):
        keys_command.create(role, registry, "", env={"PROMSVC_DATABASE_URL": database_url}, out=io.StringIO())
