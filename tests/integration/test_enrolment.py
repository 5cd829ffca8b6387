"""Enrolment, reading, withdrawal and links issued now, through HTTP, on SQLite and PostgreSQL.

Every error path answers with a problem document (RFC 9457) naming where the problem is,
and leaves nothing half-written.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from service_helpers import TEST_REGISTRIES, bearer
from sqlmodel import select

from promsvc.commands import demo as demo_command
from promsvc.models import Contact, Episode, Invitation, InvitationEvent, InvitationLink, Status
from promsvc.security import hash_token

API = "/api/v1/registries/demo/episodes"
SOON = dt.date.today() + dt.timedelta(days=7)  # baseline (14 days before) is open now


def payload(external_id="HIP-1", **changes) -> dict:
    body = {
        "external_id": external_id,
        "pseudonym": f"PSN-{external_id}",
        "unit": "fjord-kyst",
        "protocol": "hip_primary",
        "event_date": SOON.isoformat(),
        "language": "nb",
        "contacts": [{"channel": "sms", "address": "+47 912 34 567"}, {"channel": "email", "address": "ola@example.no"}],
        "proxy": False,
    }
    body.update(changes)
    return body


def count(session, model) -> int:
    return session.exec(select(sa.func.count()).select_from(model)).one()


@pytest.fixture
def system(keys):
    return bearer(keys.system)


@pytest.fixture
def registry(keys):
    return bearer(keys.registry)


def enrol(client, system, **changes):
    r = client.post(API, json=payload(**changes), headers=system)
    assert r.status_code == 201, r.text
    return r.json()


# ------------------------------------------------------------------ enrol one


def test_enrol_plans_one_invitation_per_time_point(client, system, session):
    r = client.post(API, json=payload(), headers=system)
    assert r.status_code == 201, r.text
    body = r.json()
    assert r.headers["location"] == f"{API}/HIP-1"
    assert (body["external_id"], body["unit"], body["protocol"], body["language"]) == ("HIP-1", "fjord-kyst", "hip_primary", "nb")
    assert [i["time_point"] for i in body["invitations"]] == ["baseline", "m3", "m12"]
    assert {i["status"] for i in body["invitations"]} == {"planned"}
    assert "pseudonym" not in body  # enrolment does not echo personal data
    assert count(session, Episode) == 1 and count(session, Invitation) == 3 and count(session, Contact) == 2
    assert count(session, InvitationEvent) == 3
    assert r.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("event_date", "time_point", "due", "expires"),
    [
        # 09:00 in Oslo: UTC+1 in winter, UTC+2 in summer; the window counts in local days too.
        ("2025-01-15", "baseline", "2025-01-01T08:00:00Z", "2025-01-15T08:00:00Z"),
        ("2025-01-15", "m3", "2025-04-16T07:00:00Z", "2025-06-15T07:00:00Z"),
        ("2025-01-15", "m12", "2026-01-15T08:00:00Z", "2026-04-15T07:00:00Z"),
        ("2025-07-01", "baseline", "2025-06-17T07:00:00Z", "2025-07-01T07:00:00Z"),
        ("2025-03-20", "baseline", "2025-03-06T08:00:00Z", "2025-03-20T08:00:00Z"),
    ],
)
def test_due_times_are_09_oslo_time_in_utc(client, system, event_date, time_point, due, expires):
    body = enrol(client, system, event_date=event_date)
    invitation = next(i for i in body["invitations"] if i["time_point"] == time_point)
    assert (invitation["due_at"], invitation["expires_at"]) == (due, expires)


def test_the_same_enrolment_again_returns_the_same_episode(client, system, session):
    first = enrol(client, system)
    again = client.post(API, json=payload(), headers=system)
    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    # the order of contacts and of keys does not make another payload
    swapped = payload()
    swapped["contacts"].reverse()
    reordered = dict(reversed(list(swapped.items())))
    assert client.post(API, json=reordered, headers=system).status_code == 200
    assert count(session, Episode) == 1 and count(session, Invitation) == 3


def test_default_fields_equal_explicit_ones(client, system):
    body = payload()
    del body["language"], body["proxy"]
    first = client.post(API, json=body, headers=system)
    assert first.status_code == 201
    assert client.post(API, json=payload(), headers=system).status_code == 200


def test_another_payload_for_the_same_id_is_a_conflict(client, system, session):
    enrol(client, system)
    r = client.post(API, json=payload(unit="fjord-sentral"), headers=system)
    assert r.status_code == 409
    problem = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "'HIP-1'" in problem["detail"] and problem["where"] == "$.external_id" and problem["fix"]
    assert session.exec(select(Episode)).one().unit_id == "fjord-kyst"


@pytest.mark.parametrize(
    ("body", "status", "where", "words"),
    [
        (payload(unit="atlantis"), 422, "$.unit", "no unit 'atlantis'"),
        (payload(protocol="knee"), 422, "$.protocol", "no protocol 'knee'"),
        (payload(contacts=[{"channel": "email", "address": "not-an-address"}]), 422, "$.contacts[0].address", "e-mail"),
        (payload(contacts=[{"channel": "sms", "address": "12"}]), 422, "$.contacts[0].address", "phone number"),
        (payload(contacts=[{"channel": "pigeon", "address": "x"}]), 400, "$.contacts[0].channel", "Invalid enum value 'pigeon'"),
        (payload(event_date="2025-02-30"), 400, "$.event_date", "date"),
        (payload(event_date=20250101), 400, "$.event_date", "Expected `date`, got `int`"),
        (payload(language="se"), 400, "$.language", "Invalid enum value 'se'"),
        (payload(external_id="a b/c"), 400, "$.external_id", "Expected `str` matching"),
        (payload(external_id=""), 400, "$.external_id", "matching"),
        (payload(pseudonym=""), 400, "$.pseudonym", "length >= 1"),
        (payload(proxy="yes"), 400, "$.proxy", "Expected `bool`"),
        (payload(colour="red"), 400, "$", "unknown field `colour`"),
        ({k: v for k, v in payload().items() if k != "unit"}, 400, "$", "missing required field `unit`"),
        ([payload()], 400, "$", "Expected `object`, got `array`"),
    ],
    ids=["unit", "protocol", "email", "sms", "channel", "date", "date-type", "language", "external-id", "empty-id",
         "empty-pseudonym", "proxy-type", "unknown-field", "missing-field", "array"],
)
def test_bad_enrolments_are_refused_with_their_path(client, system, session, body, status, where, words):
    r = client.post(API, json=body, headers=system)
    assert r.status_code == status, r.text
    problem = r.json()
    assert problem["status"] == status and problem["where"] == where, problem
    assert words in problem["detail"], problem
    assert problem.get("fix")
    assert count(session, Episode) == 0 and count(session, Contact) == 0 and count(session, Invitation) == 0


@pytest.mark.parametrize("raw", [b"{not json", b"", b"null", b'{"external_id": "x"'])
def test_malformed_json_is_a_400(client, system, raw):
    r = client.post(API, content=raw, headers={**system, "content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["title"] == "Bad request" and r.json()["fix"]


def test_proxy_only_where_the_protocol_allows_it(client, keys):
    other = "/api/v1/registries/other/episodes"
    body = payload(unit="other-hospital", protocol="knee", proxy=True, contacts=[])
    r = client.post(other, json=body, headers=bearer(keys.system))
    assert r.status_code == 422 and r.json()["where"] == "$.proxy"


def test_a_channel_the_protocol_does_not_use(client, keys):
    body = payload(unit="other-hospital", protocol="knee", contacts=[{"channel": "sms", "address": "+4791234567"}])
    r = client.post("/api/v1/registries/other/episodes", json=body, headers=bearer(keys.system))
    assert r.status_code == 422 and r.json()["where"] == "$.contacts[0].channel"


def test_unknown_registry_is_a_404(client, system):
    r = client.post("/api/v1/registries/nope/episodes", json=payload(), headers=system)
    assert r.status_code == 404 and "no registry 'nope'" in r.json()["detail"]


# ------------------------------------------------------------------ batches


def test_batch_enrols_all(client, system, session):
    bodies = [payload(f"B-{i}") for i in range(5)]
    r = client.post(f"{API}/batch", json=bodies, headers=system)
    assert r.status_code == 201, r.text
    out = r.json()
    assert (out["created"], out["existing"]) == (5, 0)
    assert [e["external_id"] for e in out["episodes"]] == [f"B-{i}" for i in range(5)]
    assert count(session, Episode) == 5 and count(session, Invitation) == 15
    again = client.post(f"{API}/batch", json=bodies + [payload("B-5")], headers=system)
    assert again.status_code == 201 and (again.json()["created"], again.json()["existing"]) == (1, 5)
    assert client.post(f"{API}/batch", json=bodies, headers=system).status_code == 200


def test_a_batch_with_one_bad_entry_writes_nothing(client, system, session):
    bodies = [payload("B-0"), payload("B-1"), payload("B-2", unit="x"), payload("B-3", protocol="y")]
    r = client.post(f"{API}/batch", json=bodies, headers=system)
    assert r.status_code == 422
    problem = r.json()
    assert [e["path"] for e in problem["errors"]] == ["$[2].unit", "$[3].protocol"]
    assert "nothing was enrolled" in problem["detail"]
    assert count(session, Episode) == 0 and count(session, Invitation) == 0 and count(session, Contact) == 0


def test_a_batch_with_a_type_error_names_the_entry(client, system, session):
    bodies = [payload("B-0"), payload("B-1", event_date=5)]
    r = client.post(f"{API}/batch", json=bodies, headers=system)
    assert r.status_code == 400 and r.json()["where"] == "$[1].event_date"
    assert count(session, Episode) == 0


def test_a_batch_conflicting_with_stored_episodes_writes_nothing(client, system, session):
    enrol(client, system, external_id="OLD")
    bodies = [payload("NEW-1"), payload("OLD", unit="dal-fjell"), payload("NEW-2")]
    r = client.post(f"{API}/batch", json=bodies, headers=system)
    assert r.status_code == 409
    assert r.json()["where"] == "$[1].external_id" and "'OLD'" in r.json()["detail"]
    assert [e.external_id for e in session.exec(select(Episode))] == ["OLD"]


def test_a_batch_with_one_id_twice(client, system, session):
    r = client.post(f"{API}/batch", json=[payload("D"), payload("D", unit="dal-fjell")], headers=system)
    assert r.status_code == 422 and r.json()["where"] == "$[1].external_id"
    r = client.post(f"{API}/batch", json=[payload("D"), payload("D")], headers=system)
    assert r.status_code == 201 and (r.json()["created"], r.json()["existing"]) == (1, 1)
    assert count(session, Episode) == 1


@pytest.mark.parametrize("body", [[], {"episodes": []}, [payload(f"X{i}") for i in range(1001)]], ids=["empty", "object", "too-many"])
def test_batch_shape(client, system, body):
    assert client.post(f"{API}/batch", json=body, headers=system).status_code == 400


# ------------------------------------------------------------------ read


def test_read_an_episode(client, system, registry):
    enrol(client, system)
    r = client.get(f"{API}/HIP-1", headers=registry)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["pseudonym"] == "PSN-HIP-1" and body["contact_channels"] == ["email", "sms"]
    assert [tp["id"] for tp in body["time_points"]] == ["baseline", "m3", "m12"]
    baseline = body["time_points"][0]
    assert baseline["title"] == "Før operasjonen" and baseline["instruments"] == ["eq5d-5l", "rand36"]
    assert baseline["status"] == "planned" and [h["status"] for h in baseline["history"]] == ["planned"]
    assert baseline["responses"] == []
    assert "address" not in r.text and "+47" not in r.text  # contact details are not read back


def test_read_an_unknown_episode(client, registry):
    r = client.get(f"{API}/NOPE", headers=registry)
    assert r.status_code == 404 and "'NOPE'" in r.json()["detail"]


# ------------------------------------------------------------------ withdraw


def test_withdraw(client, system, registry, session):
    enrol(client, system)
    link = client.post(f"{API}/HIP-1/time-points/baseline/link", headers=system).json()
    r = client.post(f"{API}/HIP-1/withdraw", json={"reason": "moved abroad"}, headers=system)
    assert r.status_code == 200, r.text
    assert {i["status"] for i in r.json()["invitations"]} == {"withdrawn"}
    episode = session.exec(select(Episode)).one()
    assert episode.withdrawn_reason == "moved abroad" and episode.withdrawn_at is not None
    assert count(session, Contact) == 0  # no longer needed
    notes = {e.note for e in session.exec(select(InvitationEvent).where(InvitationEvent.status == Status.withdrawn))}
    assert notes == {"episode withdrawn"}  # the free-text reason stays with the episode only
    read = client.get(f"{API}/HIP-1", headers=registry).json()
    assert read["withdrawn_reason"] == "moved abroad"
    assert [h["status"] for h in read["time_points"][0]["history"]] == ["planned", "open", "withdrawn"]
    # the link issued before no longer opens the form, and says why (docs/patient.md)
    token = link["url"].rsplit("/", 1)[1]
    assert client.get(f"/api/v1/forms/{token}").status_code == 410
    page = client.get(f"/q/{token}")
    assert page.status_code == 410 and "Du trenger ikke lenger svare" in page.text


def test_withdraw_twice_is_a_conflict(client, system, session):
    enrol(client, system)
    assert client.post(f"{API}/HIP-1/withdraw", json={"reason": "r"}, headers=system).status_code == 200
    r = client.post(f"{API}/HIP-1/withdraw", json={"reason": "again"}, headers=system)
    assert r.status_code == 409 and "already withdrawn" in r.json()["detail"]
    assert session.exec(select(Episode)).one().withdrawn_reason == "r"


def test_withdraw_keeps_completed_invitations(client, system, session):
    enrol(client, system)
    baseline = session.exec(select(Invitation).where(Invitation.time_point == "baseline")).one()
    baseline.status = Status.completed
    session.add(baseline)
    session.commit()
    r = client.post(f"{API}/HIP-1/withdraw", json={"reason": "r"}, headers=system)
    assert [i["status"] for i in r.json()["invitations"]] == ["completed", "withdrawn", "withdrawn"]


@pytest.mark.parametrize(("body", "status"), [({}, 400), ({"reason": ""}, 400), ({"reason": "x", "y": 1}, 400)])
def test_withdraw_needs_a_reason(client, system, body, status):
    enrol(client, system)
    assert client.post(f"{API}/HIP-1/withdraw", json=body, headers=system).status_code == status


def test_withdraw_unknown(client, system):
    assert client.post(f"{API}/NOPE/withdraw", json={"reason": "r"}, headers=system).status_code == 404


# ------------------------------------------------------------------ links


def test_issue_a_link_now(client, system, session):
    enrol(client, system)
    r = client.post(f"{API}/HIP-1/time-points/baseline/link", headers=system)
    assert r.status_code == 201, r.text
    link = r.json()
    assert link["url"].startswith("http://testserver.local/q/") and link["status"] == "open"
    token = link["url"].rsplit("/", 1)[1]
    assert len(token) >= 22  # ≥ 128 bits in URL-safe base64
    invitation = session.exec(select(Invitation).where(Invitation.time_point == "baseline")).one()
    stored = session.exec(select(InvitationLink).where(InvitationLink.invitation_id == invitation.id)).one()
    assert (stored.token_hash, stored.kind, stored.channel) == (hash_token(token), "token", "clinic")
    assert invitation.channel == "clinic"
    assert link["expires_at"] == invitation.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert token not in str(session.exec(select(InvitationLink.token_hash)).all())  # only the hash is stored
    # the link opens the form
    assert client.get(f"/api/v1/forms/{token}").status_code == 200


def test_reissuing_replaces_the_token(client, system, session):
    enrol(client, system)
    first = client.post(f"{API}/HIP-1/time-points/baseline/link", headers=system).json()["url"].rsplit("/", 1)[1]
    second = client.post(f"{API}/HIP-1/time-points/baseline/link", headers=system).json()["url"].rsplit("/", 1)[1]
    assert first != second
    assert client.get(f"/api/v1/forms/{first}").status_code == 404
    assert client.get(f"/api/v1/forms/{second}").status_code == 200
    clinic = session.exec(select(InvitationLink).where(InvitationLink.channel == "clinic")).all()
    assert sorted(link.revoked_at is None for link in clinic) == [False, True]  # the first one revoked, kept
    events = session.exec(select(InvitationEvent.status).join(Invitation).where(Invitation.time_point == "baseline")).all()
    assert events == [Status.planned, Status.open]  # re-issuing is not a status change


def test_link_for_a_withdrawn_episode_is_a_conflict(client, system):
    enrol(client, system)
    client.post(f"{API}/HIP-1/withdraw", json={"reason": "r"}, headers=system)
    r = client.post(f"{API}/HIP-1/time-points/baseline/link", headers=system)
    assert r.status_code == 409 and "withdrawn" in r.json()["detail"]


def test_link_for_an_answered_or_closed_time_point(client, system, session):
    enrol(client, system)
    baseline, m3 = (session.exec(select(Invitation).where(Invitation.time_point == tp)).one() for tp in ("baseline", "m3"))
    baseline.status = Status.completed
    m3.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    session.add_all([baseline, m3])
    session.commit()
    answered = client.post(f"{API}/HIP-1/time-points/baseline/link", headers=system)
    assert answered.status_code == 409 and "answered" in answered.json()["detail"]
    closed = client.post(f"{API}/HIP-1/time-points/m3/link", headers=system)
    assert closed.status_code == 409 and "window closed" in closed.json()["detail"]


def test_link_for_an_unknown_time_point_or_episode(client, system):
    enrol(client, system)
    r = client.post(f"{API}/HIP-1/time-points/m6/link", headers=system)
    assert r.status_code == 404 and "baseline, m3, m12" in r.json()["fix"]
    assert client.post(f"{API}/NOPE/time-points/baseline/link", headers=system).status_code == 404


# ------------------------------------------------------------------ the demo command


def test_demo_setup_is_repeatable_and_its_links_work(client, database_url, session, capsys):
    env = {"PROMSVC_DATABASE_URL": database_url, "PROMSVC_REGISTRIES_DIR": str(TEST_REGISTRIES),
           "PROMSVC_BASE_URL": "http://testserver.local"}
    first = demo_command.setup(dict(env))
    assert "(loaded now;" in capsys.readouterr().out
    second = demo_command.setup(dict(env))
    assert [x for x, _, _ in first["links"]] == [x for x, _, _ in second["links"]]
    # three patients to try the forms with, and the synthetic cohort for indicators, loaded once
    assert count(session, Episode) == 3 + demo_command.COHORT_EPISODES
    for _, _, url in second["links"]:
        assert client.get("/api/v1/forms/" + url.rsplit("/", 1)[1]).status_code == 200
    for _, _, url in first["links"]:
        assert client.get("/api/v1/forms/" + url.rsplit("/", 1)[1]).status_code == 404
    external_id = second["links"][0][0]
    assert client.get(f"{API}/{external_id}", headers=bearer(second["key"])).status_code == 200
    assert client.get(f"{API}/{external_id}", headers=bearer(first["key"])).status_code == 401  # revoked
    printed = capsys.readouterr().out
    assert second["key"] in printed and "curl -H" in printed and "(loaded before;" in printed


def test_demo_setup_runs_again_after_a_demo_link_was_answered(client, database_url, session, capsys):
    env = {"PROMSVC_DATABASE_URL": database_url, "PROMSVC_REGISTRIES_DIR": str(TEST_REGISTRIES),
           "PROMSVC_BASE_URL": "http://testserver.local"}
    first = demo_command.setup(dict(env))
    episodes = count(session, Episode)  # the three patients and the synthetic cohort
    answered_id, _, url = first["links"][0]
    sent = client.post("/api/v1/forms/" + url.rsplit("/", 1)[1] + "/submit", json={"answers": {"eq5d-5l": {"MO": 1}}})
    assert sent.status_code == 201
    second = demo_command.setup(dict(env))  # once stopped with "Conflict: time point baseline has been answered"
    ids = [x for x, _, _ in second["links"]]
    assert ids[0] == f"{answered_id}-2" and ids[1:] == [x for x, _, _ in first["links"][1:]]
    for _, _, url in second["links"]:
        assert client.get("/api/v1/forms/" + url.rsplit("/", 1)[1]).status_code == 200
    assert count(session, Episode) == episodes + 1
    assert f"{answered_id}-2" in capsys.readouterr().out
