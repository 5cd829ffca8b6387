"""The audit trail and the privacy of logs.

Every read or write of patient-level data leaves an audit row (who, role, action, registry,
episode, when, outcome), also when it is refused. No log line carries an answer, token,
pseudonym, external id or contact detail.
"""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from service_helpers import bearer
from sqlmodel import select

from promsvc.models import AuditEntry, Episode

DEMO = "/api/v1/registries/demo"
SOON = (dt.date.today() + dt.timedelta(days=7)).isoformat()


def enrolment(external_id="AUD-1", **changes):
    return {"external_id": external_id, "pseudonym": "PSEUDO-7f3a9c", "unit": "fjord-kyst", "protocol": "hip_primary",
            "event_date": SOON, "contacts": [{"channel": "email", "address": "kari.nordmann@example.no"},
                                             {"channel": "sms", "address": "+47 987 65 432"}], **changes}


def trail(session) -> list[tuple]:
    return [(e.actor, e.role, e.action, e.registry_id, e.episode_id, e.outcome)
            for e in session.exec(select(AuditEntry).order_by(AuditEntry.id))]


def key_id(session, role) -> str:
    from promsvc.models import ApiKey

    return session.exec(select(ApiKey.id).where(ApiKey.label == f"test {role}")).one()


def test_every_patient_level_action_is_audited(client, keys, session):
    system, registry = bearer(keys.system), bearer(keys.registry)
    client.post(f"{DEMO}/episodes", json=enrolment(), headers=system)
    client.post(f"{DEMO}/episodes", json=enrolment(), headers=system)  # the same again
    client.post(f"{DEMO}/episodes/AUD-1/time-points/baseline/link", headers=system)
    client.get(f"{DEMO}/episodes/AUD-1", headers=registry)
    client.get(f"{DEMO}/export.csv", headers=registry)
    client.post(f"{DEMO}/episodes/AUD-1/withdraw", json={"reason": "r"}, headers=registry)
    episode = session.exec(select(Episode)).one().id
    sys_id, reg_id = key_id(session, "system"), key_id(session, "registry demo")
    assert trail(session) == [
        (sys_id, "system", "episode.enrol", "demo", episode, "ok"),
        (sys_id, "system", "episode.enrol", "demo", episode, "ok"),
        (sys_id, "system", "link.issue", "demo", episode, "ok"),
        (reg_id, "registry", "episode.read", "demo", episode, "ok"),
        (reg_id, "registry", "responses.export", "demo", None, "ok"),
        (reg_id, "registry", "episode.withdraw", "demo", episode, "ok"),
    ]
    assert all(e.at.tzinfo is not None for e in session.exec(select(AuditEntry)))


def test_refusals_are_audited_too(client, keys, session):
    system = bearer(keys.system)
    client.post(f"{DEMO}/episodes", json=enrolment(), headers=system)
    episode = session.exec(select(Episode)).one().id
    client.get(f"{DEMO}/episodes/AUD-1", headers=bearer(keys.analyst))  # wrong role
    client.get(f"{DEMO}/episodes/AUD-1", headers=bearer(keys.other))  # another registry's key
    client.get(f"{DEMO}/episodes/NOPE", headers=bearer(keys.registry))  # no such episode
    client.post(f"{DEMO}/episodes", json=enrolment(unit="fjord-sentral"), headers=system)  # conflict
    client.post(f"{DEMO}/episodes", json=enrolment("AUD-2", unit="nowhere"), headers=system)  # invalid
    client.post(f"{DEMO}/episodes/AUD-1/withdraw", json={"reason": "r"}, headers=system)
    client.post(f"{DEMO}/episodes/AUD-1/withdraw", json={"reason": "r"}, headers=system)  # twice
    outcomes = [(role, action, ep, outcome) for _, role, action, _, ep, outcome in trail(session)][1:]
    assert outcomes == [
        ("analyst", "episode.read", None, "denied"),
        ("registry", "episode.read", None, "denied"),
        ("registry", "episode.read", None, "not_found"),
        ("system", "episode.enrol", episode, "conflict"),
        ("system", "episode.enrol", None, "invalid"),
        ("system", "episode.withdraw", episode, "ok"),
        ("system", "episode.withdraw", episode, "conflict"),
    ]
    # nothing else of a refused request was written
    assert len(session.exec(select(Episode)).all()) == 1


def test_the_admin_reads_the_audit(client, keys, session):
    client.post(f"{DEMO}/episodes", json=enrolment(), headers=bearer(keys.system))
    client.get(f"{DEMO}/episodes/AUD-1", headers=bearer(keys.analyst))
    admin = bearer(keys.admin)
    page = client.get("/api/v1/audit", headers=admin).json()
    assert [(e["action"], e["outcome"]) for e in page["entries"]] == [("episode.read", "denied"), ("episode.enrol", "ok")]
    assert page["next_before"] is None
    denied = client.get("/api/v1/audit?outcome=denied", headers=admin).json()["entries"]
    assert [e["role"] for e in denied] == ["analyst"]
    first = client.get("/api/v1/audit?limit=1", headers=admin).json()
    assert len(first["entries"]) == 1 and first["next_before"] is not None
    older = client.get(f"/api/v1/audit?limit=1&before={first['next_before']}", headers=admin).json()
    assert older["entries"][0]["id"] < first["entries"][0]["id"]
    assert client.get("/api/v1/audit?limit=0", headers=admin).status_code == 400
    # reading the audit is on record as well
    assert session.exec(select(AuditEntry).where(AuditEntry.action == "audit.read")).first() is not None


def test_audit_rows_hold_ids_only(client, keys, session):
    client.post(f"{DEMO}/episodes", json=enrolment(), headers=bearer(keys.system))
    client.get(f"{DEMO}/episodes/AUD-1", headers=bearer(keys.registry))
    text = repr(session.exec(select(AuditEntry)).all())
    assert "PSEUDO-7f3a9c" not in text and "AUD-1" not in text and "kari" not in text


# ---------------------------------------------------------------- logs


EQ5D = {"MO": 3, "SC": 2, "UA": 4, "PD": 5, "AD": 2, "VAS": 37}


def test_no_personal_data_in_any_log_line(make_settings, keys, caplog, database_url):
    """A full flow (enrol → link → open → save → submit → read → export → withdraw), with requests the
    edge refuses (a NUL, an address with a header in it, nesting too deep), metrics on and a retention
    run, at DEBUG level: no pseudonym, external id, token, contact detail or answer appears in the log,
    as text or as JSON lines (PROMSVC_LOG_JSON's formatter), nor in the metrics.

    The test client's own `httpx` logger prints request URLs on the *client* side; the service
    never sees or runs it, so its records are left out.
    """
    import argparse
    import io

    from litestar.testing import TestClient
    from service_helpers import TEST_REGISTRIES

    from promsvc.app import create_app
    from promsvc.commands.retention import run_retention
    from promsvc.ops import JsonFormatter

    caplog.set_level(logging.DEBUG)
    system, registry = bearer(keys.system), bearer(keys.registry)
    external_id = "EXT-9d81e2"
    with TestClient(create_app(make_settings(metrics=True))) as client:
        # Starting an app configures the process's logging anew, which drops pytest's capturing handler.
        logging.getLogger().addHandler(caplog.handler)
        assert client.post(f"{DEMO}/episodes", json=enrolment(external_id), headers=system).status_code == 201
        url = client.post(f"{DEMO}/episodes/{external_id}/time-points/baseline/link", headers=system).json()["url"]
        token = url.rsplit("/", 1)[1]
        assert client.get(f"/q/{token}").status_code == 200
        assert client.get(f"/api/v1/forms/{token}").status_code == 200
        assert client.put(f"/api/v1/forms/{token}/draft", json={"answers": {"eq5d-5l": EQ5D}}).status_code in (200, 204)
        bad = client.post(f"/api/v1/forms/{token}/submit", json={"answers": {"eq5d-5l": {**EQ5D, "MO": 77}}})
        assert bad.status_code == 422
        assert client.post(f"/api/v1/forms/{token}/submit", json={"answers": {"eq5d-5l": EQ5D}}).status_code in (200, 201)
        assert client.get(f"{DEMO}/episodes/{external_id}", headers=registry).status_code == 200
        assert client.get(f"{DEMO}/export.csv", headers=registry).status_code == 200
        assert client.get(f"/q/{token}").status_code in (200, 410)
        assert client.get("/q/not-a-real-token-0000000000000000000").status_code == 404
        # refused at the edge and by the checks of enrolment, with the patient's data in the request
        refused = [enrolment("EXT-9d81e3", pseudonym="PSEUDO-7f3a9c\x00"),
                   enrolment("EXT-9d81e4", contacts=[{"channel": "email",
                                                      "address": "kari.nordmann@example.no\r\nBcc:x@evil.example"}])]
        assert [client.post(f"{DEMO}/episodes", json=b, headers=system).status_code for b in refused] == [400, 422]
        deep = '{"pseudonym": "PSEUDO-7f3a9c", "x": ' + "[" * 100 + "]" * 100 + "}"
        assert client.post(f"{DEMO}/episodes", content=deep, headers={**system, "Content-Type": "application/json"}
                           ).status_code == 400
        assert client.get("/api/v1/audit?actor=PSEUDO-7f3a9c%00", headers=bearer(keys.admin)).status_code == 400
        assert client.post(f"{DEMO}/episodes/{external_id}/withdraw", json={"reason": "private reason 5e1"},
                           headers=system).status_code == 200
        metrics = client.get("/metrics").text
    environ = {"PROMSVC_DATABASE_URL": database_url, "PROMSVC_REGISTRIES_DIR": str(TEST_REGISTRIES),
               "PROMSVC_RETENTION_DRAFT_DAYS": "0"}
    run_retention(argparse.Namespace(registry=None, dry_run=False), environ, io.StringIO())
    logging.getLogger().removeHandler(caplog.handler)
    assert any(r.name == "promsvc.retention" for r in caplog.records)

    records = [r for r in caplog.records if not r.name.startswith("httpx")]
    service_lines = [r.getMessage() for r in records] + [JsonFormatter().format(r) for r in records]
    assert any("/q/{token}" in line for line in service_lines), "the access log shows route templates"
    assert any("/api/v1/forms/{token}/submit 422" in line for line in service_lines)
    assert any("POST /api/v1/registries/{registry}/episodes 400" in line for line in service_lines)
    secrets = [token, external_id, "PSEUDO-7f3a9c", "kari.nordmann", "987 65 432", "private reason 5e1",
               keys.system, keys.registry, '"VAS": 37', "'VAS': 37", "evil.example", "EXT-9d81e"]
    for line in [*service_lines, metrics]:
        for secret in secrets:
            assert secret not in line, f"{secret!r} logged: {line!r}"


@pytest.mark.parametrize("path", ["/q/{token}", "/api/v1/forms/{token}"])
def test_unmatched_tokens_are_not_logged(client, caplog, path):
    caplog.set_level(logging.DEBUG)
    token = "tok-3b6c0f5f2f8a4c43a1c4d8f0b2e7a9d1"
    client.get(path.replace("{token}", token))
    assert not [r for r in caplog.records if not r.name.startswith("httpx") and token in r.getMessage()]


def test_the_real_server_logs_no_paths(tmp_path):
    """`promsvc serve` under uvicorn: its access log is off, so a token in a URL is never printed."""
    import os
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PROMSVC_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}"}
    env = {k: v for k, v in env.items() if not k.startswith("PROMSVC_") or k in ("PROMSVC_DATABASE_URL", "PROMSVC_TEST_PG_URL")}
    server = subprocess.Popen([sys.executable, "-m", "promsvc", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    token = "tok-7e1d2c3b4a5968778695a4b3c2d1e0f9"
    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/q/{token}", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert httpx.get(f"http://127.0.0.1:{port}/q/{token}?lang=nb", timeout=5).status_code == 404
    finally:
        server.terminate()
        output = server.communicate(timeout=10)[0]
    assert "GET /q/{token} 404" in output, output
    assert token not in output, output
