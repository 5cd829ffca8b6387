"""Bad input is refused at the edge with a 4xx problem document that names the field, and the
database is left as it was (issue 12, point 1); headers every response carries (point 2); input
checks at the edge (point 3). On SQLite and PostgreSQL: PostgreSQL refuses NUL in text, and its
INTEGER columns end at 2**31 - 1, which is where these inputs used to give a 500.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from litestar.testing import TestClient
from service_helpers import bearer
from sqlmodel import select

from promsvc.app import create_app
from promsvc.models import AuditEntry, Contact, Episode

DEMO = "/api/v1/registries/demo"
SOON = (dt.date.today() + dt.timedelta(days=30)).isoformat()


def enrolment(external_id: str = "EDGE-1", **changes) -> dict:
    body = {"external_id": external_id, "pseudonym": f"P-{external_id}", "unit": "dal-fjell",
            "protocol": "hip_primary", "event_date": SOON,
            "contacts": [{"channel": "email", "address": "ola@example.no"}]}
    body.update(changes)
    return body


def counts(session, audited: bool = False) -> tuple[int, ...]:
    """Rows of episodes and contacts; with `audited`, audit rows too (a refusal at the edge never reaches
    the handler, so it writes none; one refused by the service is audited as `invalid`)."""
    models = (Episode, Contact) if audited else (Episode, Contact, AuditEntry)
    return tuple(session.exec(select(sa.func.count()).select_from(m)).one() for m in models)


def problem(r, status: int, where: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status and body["where"] == where, body
    assert body["detail"] and body["fix"]
    return body


def test_json_nested_a_thousand_levels_deep_is_a_400_without_a_key(client):
    r = client.post("/api/v1/score", content="[" * 1000 + "]" * 1000, headers={"Content-Type": "application/json"})
    body = problem(r, 400, "$")
    assert "deep" in body["detail"]


@pytest.mark.parametrize("field", ["pseudonym", "address", "external_id"])
def test_nul_in_an_enrolment_field_is_refused_naming_it(client, keys, session, field):
    before = counts(session)
    if field == "address":
        body = enrolment(contacts=[{"channel": "email", "address": "ola\u0000@example.no"}])
        where = "$.contacts[0].address"
    else:
        body = enrolment(**{field: "NUL\u0000X"})
        where = f"$.{field}"
    problem(client.post(f"{DEMO}/episodes", json=body, headers=bearer(keys.system)), 400, where)
    problem(client.post(f"{DEMO}/episodes/batch", json=[enrolment("EDGE-0"), body], headers=bearer(keys.system)),
            400, where.replace("$", "$[1]", 1))
    assert counts(session) == before


def test_nul_in_a_withdrawal_reason_path_or_query_parameter_is_refused_naming_it(client, keys, session):
    assert client.post(f"{DEMO}/episodes", json=enrolment(), headers=bearer(keys.system)).status_code == 201
    before = counts(session)
    admin = bearer(keys.admin)
    problem(client.post(f"{DEMO}/episodes/EDGE-1/withdraw", json={"reason": "a\u0000b"}, headers=admin),
            400, "$.reason")
    problem(client.get(f"{DEMO}/episodes/EDGE%001", headers=admin), 400, "path")
    for name in ("registry", "episode", "action", "actor", "outcome"):
        problem(client.get(f"/api/v1/audit?{name}=a%00b", headers=admin), 400, f"query parameter {name}")
    problem(client.get("/api/v1/outbox/status?registry=demo%00", headers=admin), 400, "query parameter registry")
    problem(client.get("/static/patient/a%00b"), 400, "path")
    assert counts(session) == before
    assert client.get(f"{DEMO}/episodes/EDGE-1", headers=bearer(keys.registry)).json()["withdrawn_at"] is None


@pytest.mark.parametrize("before", ["2147483648", "9223372036854775808", "-9223372036854775809"])
def test_an_integer_query_parameter_beyond_the_database_s_range_is_a_400(client, keys, before):
    body = problem(client.get(f"/api/v1/audit?before={before}", headers=bearer(keys.admin)), 400,
                   "query parameter before")
    assert "2147483647" in body["detail"]


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_extreme_event_dates_are_refused_naming_the_field(client, keys, session, day):
    before = counts(session, audited=True)
    problem(client.post(f"{DEMO}/episodes", json=enrolment(event_date=day), headers=bearer(keys.system)),
            422, "$.event_date")
    problem(client.post(f"{DEMO}/episodes/batch", json=[enrolment("EDGE-0"), enrolment(event_date=day)],
                        headers=bearer(keys.system)), 422, "$[1].event_date")
    problem(client.get(f"/api/v1/outbox/dry-run?day={day}", headers=bearer(keys.admin)), 400, "query parameter day")
    assert counts(session, audited=True) == before


@pytest.mark.parametrize("address", ["a@b.no\r\nBcc:x@evil.example", "a@b.no,x@evil.example", "a@b.no x@c.no",
                                     "<a@b.no>", "a@b.no\n"])
def test_an_email_address_that_is_not_exactly_one_address_is_refused(client, keys, session, address):
    before = counts(session, audited=True)
    body = enrolment(contacts=[{"channel": "email", "address": address}])
    problem(client.post(f"{DEMO}/episodes", json=body, headers=bearer(keys.system)), 422, "$.contacts[0].address")
    assert counts(session, audited=True) == before


@pytest.mark.parametrize("number", ["+47 912 34 567\r\n", "+47 912\n34567", "912,34567", "12345", "+47 912 34 567 8901234"])
def test_a_phone_number_that_is_not_one_number_is_refused(client, keys, number):
    body = enrolment(contacts=[{"channel": "sms", "address": number}])
    problem(client.post(f"{DEMO}/episodes", json=body, headers=bearer(keys.system)), 422, "$.contacts[0].address")


def test_good_addresses_are_still_accepted(client, keys):
    body = enrolment(contacts=[{"channel": "email", "address": "ola.nordmann+prom@sykehus.example.no"},
                               {"channel": "sms", "address": "+47 912 34 567"}])
    assert client.post(f"{DEMO}/episodes", json=body, headers=bearer(keys.system)).status_code == 201


@pytest.mark.parametrize("content_type, body", [
    ("application/json", b'{"code": "AAAA-BBBB-CCCC", "csrf_token": "x"}'),
    ("multipart/form-data; boundary=xyz", b'--xyz\r\nContent-Disposition: form-data; name="code"\r\n\r\nA\r\n--xyz--\r\n'),
    ("text/plain", b"code=AAAA"),
])
def test_form_posts_accept_only_urlencoded_bodies(client, content_type, body):
    r = client.post("/code", content=body, headers={"Content-Type": content_type})
    problem(r, 415, "header Content-Type")


def test_api_errors_say_no_store_too(client, keys):
    for r in (client.get("/api/v1/audit"),  # 401
              client.get("/api/v1/audit", headers=bearer(keys.system)),  # 403
              client.get("/api/v1/nowhere", headers=bearer(keys.admin)),  # 404 from the router
              client.delete("/api/v1/audit", headers=bearer(keys.admin)),  # 405
              client.post("/api/v1/score", content=b"{", headers={"Content-Type": "application/json"})):  # 400
        assert r.status_code >= 400 and r.headers["cache-control"] == "no-store", (r.status_code, r.headers)


def test_hsts_is_sent_when_the_service_is_reached_over_https(make_settings):
    with TestClient(create_app(make_settings(base_url="https://prom.example.no"))) as c:
        for path in ("/api/v1/audit", "/code", "/nowhere"):
            assert c.get(path).headers["strict-transport-security"] == "max-age=31536000", path
    with TestClient(create_app(make_settings(base_url="https://prom.example.no", hsts_max_age=0))) as c:
        assert "strict-transport-security" not in c.get("/code").headers
    with TestClient(create_app(make_settings())) as c:  # plain HTTP (a test or a demo): no HSTS
        assert "strict-transport-security" not in c.get("/code").headers


def test_the_export_neutralises_cells_a_spreadsheet_would_run_as_formulas(client, keys):
    nasty = ["=HYPERLINK(\"http://evil.example\")", "+47+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx"]
    for n, pseudonym in enumerate(nasty):
        body = enrolment(f"CSV-{n}", pseudonym=pseudonym, contacts=[])
        assert client.post(f"{DEMO}/episodes", json=body, headers=bearer(keys.system)).status_code == 201
    import csv
    import io

    text = client.get(f"{DEMO}/export.csv", headers=bearer(keys.registry)).text
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert {r["pseudonym"] for r in rows} == {"'" + p for p in nasty}


@pytest.mark.parametrize("cell, shown", [("-0.453", "-0.453"), ("+1.5", "+1.5"), ("-", "'-"), ("-1 ", "'-1 "),
                                         ("=1", "'=1"), ("\r=1", "'\r=1"), ("\t1", "'\t1"),
                                         ("a=1", "a=1"), ("", "")])
def test_numbers_stay_numbers_in_the_export(cell, shown):
    from promsvc.episodes.export import inert

    assert inert(cell) == shown
