"""The JSON form API for apps: read the form, save a draft, submit; every error as problem details."""

from __future__ import annotations

import datetime as dt

from patient_fixtures import fetch, make_link, now
from sqlmodel import select

from promsvc.models import AuditEntry, Draft, Invitation, InvitationEvent, Response, Score, Status

EQ5D = {"MO": 1, "SC": 2, "UA": 3, "PD": 4, "AD": 5, "VAS": 40}


def _form(client, token, **params):
    return client.get(f"/api/v1/forms/{token}", params=params)


def test_read_the_form_in_each_language(client, engine):
    token, _ = make_link(engine)
    r = _form(client, token)
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store" and r.headers["referrer-policy"] == "no-referrer"
    form = r.json()
    assert form["status"] == "open" and form["language"] == "nb" and form["draft"] is None
    assert form["respondents"] == ["patient", "proxy"]
    assert form["time_point"] == {"id": "m12", "title": "12 måneder etter"}
    assert [i["id"] for i in form["instruments"]] == ["eq5d-5l", "rand36"]
    eq = form["instruments"][0]
    assert eq["wording"] == "ours" and eq["version"] == "1.0"
    mo = eq["items"][0]
    assert mo["id"] == "MO" and mo["kind"] == "choice" and mo["text"] == "Gange/bevegelighet"
    assert mo["options"][0] == {"code": 1, "label": "Nivå 1 av 5", "unanswered": False}
    assert eq["items"][-1] == {"id": "VAS", "kind": "vas", "text": "Helsen i dag (0–100)", "min": 0, "max": 100}
    en = _form(client, token, lang="en").json()
    assert en["language"] == "en" and en["instruments"][0]["items"][0]["text"] == "Mobility"
    assert _form(client, token, lang="de").status_code == 400


def test_draft_then_submit_from_the_draft(client, engine):
    token, inv = make_link(engine)
    r = client.put(f"/api/v1/forms/{token}/draft", json={"answers": {"eq5d-5l": {"MO": 2, "SC": None}}, "language": "nn"})
    assert r.status_code == 200, r.text
    assert r.json()["answers"] == {"eq5d-5l": {"MO": 2}} and r.json()["language"] == "nn"
    assert fetch(engine, lambda s: s.get(Invitation, inv)).status == Status.started
    # PUT replaces the draft
    r = client.put(f"/api/v1/forms/{token}/draft", json={"answers": {"eq5d-5l": EQ5D}, "respondent": "proxy"})
    assert r.json()["answers"] == {"eq5d-5l": EQ5D} and r.json()["respondent"] == "proxy"
    form = _form(client, token).json()
    assert form["language"] == "nn" and form["draft"]["answers"] == {"eq5d-5l": EQ5D}

    r = client.post(f"/api/v1/forms/{token}/submit", json={})
    assert r.status_code == 201, r.text
    assert r.json()["instruments"] == ["eq5d-5l", "rand36"]
    received = r.json()["received_at"]
    again = client.post(f"/api/v1/forms/{token}/submit", json={})
    assert again.status_code == 200 and again.json()["received_at"] == received

    rows = fetch(engine, lambda s: s.exec(select(Response).where(Response.invitation_id == inv)).all())
    assert {(r.instrument_id, r.respondent, r.language) for r in rows} == {("eq5d-5l", "proxy", "nn"), ("rand36", "proxy", "nn")}
    assert _form(client, token).status_code == 410
    assert client.put(f"/api/v1/forms/{token}/draft", json={"answers": {}}).status_code == 410


def test_submit_with_answers_in_the_body_scores_them(client, engine):
    token, inv = make_link(engine)
    r = client.post(f"/api/v1/forms/{token}/submit", json={"answers": {"eq5d-5l": EQ5D, "rand36": {"q1": 3}}})
    assert r.status_code == 201
    eq = fetch(engine, lambda s: s.exec(select(Response).where(Response.instrument_id == "eq5d-5l", Response.invitation_id == inv)).one())
    score = fetch(engine, lambda s: s.exec(select(Score).where(Score.response_id == eq.id)).one())
    import scoring

    expected = scoring.score("eq5d-5l", {k: [v] for k, v in EQ5D.items()}, method="VT", country="Norway").scores["index"][0]
    assert score.values["index"] == expected
    assert (score.instrument_id, score.instrument_version, score.scoring, score.scoring_version) == ("eq5d-5l", "1.0", "index", "1.0")
    events = fetch(engine, lambda s: [e.status for e in s.exec(select(InvitationEvent).where(InvitationEvent.invitation_id == inv))])
    assert [Status(e).value for e in events] == ["open", "completed"]


def test_every_bad_answer_is_named_with_path_found_and_allowed(client, engine):
    token, inv = make_link(engine)
    body = {"answers": {"eq5d-5l": {"MO": 9, "XX": 1, "VAS": 101}, "phq9": {"phq1": 1}, "rand36": {"q1": "2"}}}
    for method, path in (("post", "submit"), ("put", "draft")):
        r = getattr(client, method)(f"/api/v1/forms/{token}/{path}", json=body)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        problem = r.json()
        assert problem["status"] == 422 and problem["where"] == "$.answers.eq5d-5l.MO"
        errors = {e["path"]: e for e in problem["errors"]}
        assert set(errors) == {"$.answers.eq5d-5l.MO", "$.answers.eq5d-5l.XX", "$.answers.eq5d-5l.VAS", "$.answers.phq9", "$.answers.rand36.q1"}
        assert errors["$.answers.eq5d-5l.MO"]["found"] == 9
        assert errors["$.answers.eq5d-5l.MO"]["allowed"] == "one of 1, 2, 3, 4, 5, or empty for no answer"
        assert errors["$.answers.eq5d-5l.VAS"]["allowed"] == "a whole number from 0 to 100, or empty for no answer"
        assert errors["$.answers.rand36.q1"]["found"] == "2"
    assert fetch(engine, lambda s: s.exec(select(Response)).all()) == []
    assert fetch(engine, lambda s: s.get(Draft, inv)) is None
    assert fetch(engine, lambda s: s.get(Invitation, inv)).status == Status.open
    audit = fetch(engine, lambda s: s.exec(select(AuditEntry).where(AuditEntry.action == "response.submit")).all())
    assert [(a.actor, a.outcome) for a in audit] == [("patient", "invalid")]


def test_bad_bodies_are_refused_with_a_problem(client, engine):
    token, _ = make_link(engine, registry="other", protocol="knee", time_point="m6")
    url = f"/api/v1/forms/{token}"
    r = client.put(f"{url}/draft", json={"answers": {}, "extra": 1})
    assert r.status_code == 400 and r.json()["status"] == 400
    r = client.put(f"{url}/draft", json={"respondent": "proxy"})  # this protocol takes no proxies
    assert r.status_code == 422 and r.json()["where"] == "$.respondent"
    r = client.put(f"{url}/draft", content=b'{"answers": {}}', headers={"content-type": "text/plain"})
    assert r.status_code == 400 and r.json()["where"] == "header Content-Type"
    assert client.post(f"{url}/submit", content=b"{", headers={"content-type": "application/json"}).status_code == 400


def test_unknown_expired_and_withdrawn_forms(client, engine, session):
    r = _form(client, "C" * 43)
    assert r.status_code == 404 and r.json()["detail"] == "no form at this address"
    assert client.post(f"/api/v1/forms/{'C' * 43}/submit", json={}).status_code == 404
    token, inv = make_link(engine)
    invitation = session.get(Invitation, inv)
    invitation.expires_at = now() - dt.timedelta(seconds=1)
    session.add(invitation)
    session.commit()
    r = _form(client, token)
    assert r.status_code == 410 and "expired" in r.json()["detail"]
    assert r.headers["cache-control"] == "no-store"
    assert client.post(f"/api/v1/forms/{token}/submit", json={}).status_code == 410
    token2, inv2 = make_link(engine, status=Status.withdrawn)
    assert _form(client, token2).status_code == 410
