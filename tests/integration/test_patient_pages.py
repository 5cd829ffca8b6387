"""The patient pages over HTTP (in-process client), on SQLite and PostgreSQL: the whole flow,
resume on another device, language switch, proxy declaration, review, submit, receipt, and
every way a link or a POST can be refused."""

from __future__ import annotations

import datetime as dt
import logging
import re

from litestar.testing import TestClient
from patient_fixtures import csrf, fetch, make_link, now, parse, text
from sqlmodel import select

from promsvc.app import create_app
from promsvc.models import AuditEntry, Draft, Episode, Invitation, InvitationEvent, Response, Score, Status

BASE = "http://testserver.local"
EQ5D_ALL = {"answer-MO": "2", "answer-SC": "1", "answer-UA": "3", "answer-PD": "2", "answer-AD": "1", "answer-VAS": "73"}


def _rand36(skip: set[str] = frozenset()) -> dict[str, str]:
    # q1..q36, each the second option (every item has at least two)
    return {f"answer-q{n}": "2" for n in range(1, 37) if f"q{n}" not in skip}


def _post(client, path, page_html, fields, **kw):
    return client.post(path, data={"csrf_token": csrf(page_html), **fields}, follow_redirects=False, **kw)


def _events(engine, invitation_id):
    rows = fetch(engine, lambda s: s.exec(select(InvitationEvent).where(InvitationEvent.invitation_id == invitation_id).order_by(InvitationEvent.id)).all())
    return [Status(e.status).value for e in rows]


def _invitation(engine, invitation_id) -> Invitation:
    return fetch(engine, lambda s: s.get(Invitation, invitation_id))


def _draft(engine, invitation_id) -> Draft | None:
    return fetch(engine, lambda s: s.get(Draft, invitation_id))


def _rand36_page(first: int, last: int, skip: set[str] = frozenset()) -> dict[str, str]:
    return {k: v for k, v in _rand36(skip).items() if first <= int(k.removeprefix("answer-q")) <= last}


# The demo's m12 time point: EQ-5D-5L on page 1, RAND-36 on pages 2-7 (q1-2, q3-12, q13-19, q20-22, q23-32, q33-36).
RAND_PAGES = {2: (1, 2), 3: (3, 12), 4: (13, 19), 5: (20, 22), 6: (23, 32), 7: (33, 36)}


def test_the_whole_flow_with_resume_on_another_device(app, client, engine, session):
    token, inv = make_link(engine)
    q = f"/q/{token}"

    start = client.get(q)
    assert start.status_code == 200
    assert '<html lang="nb">' in start.text
    shown = text(start.text)
    assert "Skjemaet har 42 spørsmål fordelt på 7 sider" in shown
    assert "Det tar vanligvis omtrent 11 minutter å svare på hele skjemaet" in shown
    assert re.search(r"Lenken virker til \d+\. \w+ \d{4} kl\. \d\d:\d\d \(norsk tid\)", shown)
    assert _invitation(engine, inv).status == Status.open  # opening changes nothing

    r = _post(client, q, start.text, {"respondent": "patient"})
    assert (r.status_code, r.headers["location"]) == (303, f"{q}/s/1")
    assert _invitation(engine, inv).status == Status.open  # no answer yet

    s1 = client.get(f"{q}/s/1")
    assert s1.status_code == 200 and "Side 1 av 7 · 0 av 42 spørsmål er besvart" in text(s1.text)
    r = _post(client, f"{q}/s/1", s1.text, {**EQ5D_ALL, "answer-VAS": "", "action": "next"})
    assert (r.status_code, r.headers["location"]) == (303, f"{q}/s/2")
    assert _invitation(engine, inv).status == Status.started
    assert _events(engine, inv) == ["open", "started"]

    s2 = client.get(f"{q}/s/2")
    assert "Side 2 av 7 · 5 av 42 spørsmål er besvart" in text(s2.text)
    assert "RAND-36 helseskjema (versjon 1.0) (del 1 av 6)" in text(s2.text)
    r = _post(client, f"{q}/s/2", s2.text, {**_rand36_page(1, 2), "action": "next"})
    assert r.headers["location"] == f"{q}/s/3"
    s3 = client.get(f"{q}/s/3")
    r = _post(client, f"{q}/s/3", s3.text, {**_rand36_page(3, 10), "action": "save"})  # q11, q12 left blank
    assert (r.status_code, r.headers["location"]) == (303, f"{q}/saved")
    saved = client.get(f"{q}/saved")
    assert saved.status_code == 200 and "Svarene er lagret" in text(saved.text)
    assert _draft(engine, inv).seen["rand36"] == sorted(f"q{n}" for n in range(1, 13))

    # Another device: a new client, no cookies, the same link.
    with TestClient(app, base_url=BASE) as other:
        start = other.get(q)
        assert "Du har begynt på skjemaet tidligere" in text(start.text)
        assert 'value="patient" checked' in start.text  # the declaration is kept
        r = _post(other, q, start.text, {"respondent": "patient"})
        # on to the first page never seen (q13…), not to "Send" with 24 questions never shown
        assert r.headers["location"] == f"{q}/s/4"
        s3 = other.get(f"{q}/s/3")
        assert 'id="field-q10-2" name="answer-q10" value="2" checked' in s3.text  # saved answers shown
        for number in range(4, 8):
            page = other.get(f"{q}/s/{number}")
            r = _post(other, f"{q}/s/{number}", page.text, {**_rand36_page(*RAND_PAGES[number]), "action": "next"})
        assert r.headers["location"] == f"{q}/review"
        review = other.get(f"{q}/review")
        assert review.status_code == 200
        links = parse(review.text).links
        assert f"{q}/s/1#field-VAS" in links and f"{q}/s/3#field-q11" in links and f"{q}/s/3#field-q12" in links
        assert "5 av 6 spørsmål er besvart" in text(review.text)
        assert "34 av 36 spørsmål er besvart" in text(review.text)

        sent = _post(other, f"{q}/submit", review.text, {})
        assert (sent.status_code, sent.headers["location"]) == (303, f"{q}/receipt")  # post, redirect, get
        receipt = other.get(f"{q}/receipt")
        assert receipt.status_code == 200
        shown = text(receipt.text)
        assert "Takk for svarene" in shown and "Svarene dine ble mottatt" in shown and "Hva skjer nå?" in shown
        # no health information: no registry, no instrument, no question
        assert "hofteprotese" not in shown.lower() and "EQ-5D" not in shown and "RAND" not in shown
        assert other.get(f"{q}/receipt").status_code == 200  # a reload shows it again, posts nothing

    gone = client.get(q)  # the first device never sent anything: it is told the form was sent
    assert gone.status_code == 410 and "allerede sendt inn" in text(gone.text)

    assert _invitation(engine, inv).status == Status.completed
    assert _events(engine, inv) == ["open", "started", "completed"]
    assert _draft(engine, inv) is None  # the draft is gone once the answers are stored
    responses = {r.instrument_id: r for r in session.exec(select(Response).where(Response.invitation_id == inv))}
    assert set(responses) == {"eq5d-5l", "rand36"}
    eq = responses["eq5d-5l"]
    assert eq.answers == {"MO": 2, "SC": 1, "UA": 3, "PD": 2, "AD": 1, "VAS": None}
    assert (eq.language, eq.respondent, eq.channel, eq.instrument_version) == ("nb", "patient", "clinic", "1.0")
    assert responses["rand36"].answers["q11"] is None and responses["rand36"].answers["q36"] == 2
    scores = session.exec(select(Score).where(Score.response_id == eq.id)).all()
    assert [(s.scoring, s.value_set, s.current) for s in scores] == [("index", "EQ-5D-5L · VT · Norway", True)]
    rand_scorings = sorted(s.scoring for s in session.exec(select(Score).where(Score.response_id == responses["rand36"].id)))
    assert rand_scorings == ["rand", "sf36v1"]  # the demo protocol asks for both
    audit = session.exec(select(AuditEntry).where(AuditEntry.action == "response.submit")).all()
    assert [(a.actor, a.outcome, a.registry_id) for a in audit] == [("patient", "ok", "demo")]


def test_a_draft_saved_before_pages_were_recorded_as_seen_resumes_at_its_first_unanswered_page(client, engine, session):
    token, inv = make_link(engine)
    q = f"/q/{token}"
    _post(client, q, client.get(q).text, {"respondent": "patient"})
    # a draft as the one-page-per-instrument version left it: no record of what was seen
    draft = session.get(Draft, inv)
    draft.answers = {"eq5d-5l": {k.removeprefix("answer-"): int(v) for k, v in EQ5D_ALL.items()},
                     "rand36": {f"q{n}": 2 for n in range(1, 11)}}
    draft.seen = None
    session.add(draft)
    session.commit()
    r = _post(client, q, client.get(q).text, {"respondent": "patient"})
    assert r.headers["location"] == f"{q}/s/3"  # q11, q12 unanswered there, never recorded as seen
    s3 = client.get(f"{q}/s/3")
    _post(client, f"{q}/s/3", s3.text, {"action": "save"})
    assert _draft(engine, inv).seen["rand36"] == sorted(f"q{n}" for n in range(1, 13))
    r = _post(client, q, client.get(q).text, {"respondent": "patient"})
    assert r.headers["location"] == f"{q}/s/4"


def test_the_language_switch_keeps_the_answers(client, engine, session):
    token, inv = make_link(engine, language="nb")
    q = f"/q/{token}"
    start = client.get(f"{q}?lang=en")
    assert '<html lang="en">' in start.text and "You are invited" in text(start.text)
    r = _post(client, q, start.text, {"respondent": "patient", "lang": "en"})
    s1 = client.get(r.headers["location"])
    assert '<html lang="en">' in s1.text and "Page 1 of 7" in text(s1.text)
    # switch to nynorsk with unsaved answers on the page: they are saved, the page comes back in nn
    r = _post(client, f"{q}/s/1", s1.text, {"answer-MO": "4", "answer-VAS": "61", "action": "lang-nn"})
    assert (r.status_code, r.headers["location"]) == (303, f"{q}/s/1")
    s1 = client.get(f"{q}/s/1")
    assert '<html lang="nn">' in s1.text and "Å gå omkring: korleis er det for deg i dag?" in text(s1.text)
    assert 'name="answer-MO" value="4" checked' in s1.text and 'value="61"' in s1.text
    assert _draft(engine, inv).language == "nn"
    review = client.get(f"{q}/review?lang=nb")
    assert '<html lang="nb">' in review.text
    assert _draft(engine, inv).language == "nb"


def test_a_proxy_declares_and_confirms(client, engine, session):
    token, inv = make_link(engine)
    q = f"/q/{token}"
    start = client.get(q)
    assert "Hvem svarer på skjemaet?" in text(start.text)

    r = _post(client, q, start.text, {})
    assert r.status_code == 422
    assert 'href="#field-respondent"' in r.text and "Velg hvem som svarer" in text(r.text)
    r = _post(client, q, start.text, {"respondent": "proxy"})
    assert r.status_code == 422 and 'href="#field-proxy-confirm"' in r.text
    assert 'value="proxy" checked' in r.text  # the choice is kept
    assert _draft(engine, inv) is None

    r = _post(client, q, start.text, {"respondent": "proxy", "proxy_confirm": "yes"})
    assert r.status_code == 303
    s1 = client.get(f"{q}/s/1")
    assert "Du svarer på vegne av pasienten" in text(s1.text)
    _post(client, f"{q}/s/1", s1.text, {**EQ5D_ALL, "action": "next"})
    review = client.get(f"{q}/review")
    assert _post(client, f"{q}/submit", review.text, {}).status_code == 303
    assert {r.respondent for r in session.exec(select(Response).where(Response.invitation_id == inv))} == {"proxy"}


def test_sections_ask_for_the_declaration_first_when_proxies_may_answer(client, engine):
    token, _ = make_link(engine)
    r = client.get(f"/q/{token}/s/1", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, f"/q/{token}")
    assert client.get(f"/q/{token}/review", follow_redirects=False).status_code == 303


def test_a_protocol_without_proxies_asks_no_declaration(client, engine, session):
    token, inv = make_link(engine, registry="other", protocol="knee", time_point="m6")
    start = client.get(f"/q/{token}")
    assert "Hvem svarer" not in text(start.text) and "Skjemaet har 6 spørsmål på én side" in text(start.text)
    # nor does an episode enrolled without `proxy`, even where the protocol allows proxies
    token2, _ = make_link(engine, proxy=False)
    assert "Hvem svarer" not in text(client.get(f"/q/{token2}").text)
    assert client.get(f"/q/{token2}/s/1").status_code == 200
    s1 = client.get(f"/q/{token}/s/1")  # no declaration needed
    assert s1.status_code == 200
    r = _post(client, f"/q/{token}/s/1", s1.text, {**EQ5D_ALL, "action": "next"})
    assert r.headers["location"] == f"/q/{token}/review"


def test_a_wrong_answer_shows_an_error_summary_and_saves_nothing(client, engine, session):
    token, inv = make_link(engine)
    q = f"/q/{token}"
    _post(client, q, client.get(q).text, {"respondent": "patient"})
    s1 = client.get(f"{q}/s/1")
    r = _post(client, f"{q}/s/1", s1.text, {"answer-MO": "2", "answer-VAS": "abc", "action": "next"})
    assert r.status_code == 422
    page = parse(r.text)
    assert "error-summary" in r.text and 'href="#field-VAS"' in r.text
    assert "Skriv et helt tall fra 0 til 100" in text(r.text)
    assert 'aria-invalid="true"' in r.text and 'value="abc"' in r.text
    assert 'name="answer-MO" value="2" checked' in r.text  # what was chosen stays chosen
    assert "field-VAS" in page.ids and "field-VAS-error" in page.ids
    assert r.text.count("<title>Noe må rettes") == 1
    assert r.text.index("<h1") < r.text.index('class="error-summary"')  # the heading is read first
    assert _draft(engine, inv).answers == {}
    assert _invitation(engine, inv).status == Status.open


def test_back_and_sections_out_of_range(client, engine):
    token, _ = make_link(engine)
    q = f"/q/{token}"
    _post(client, q, client.get(q).text, {"respondent": "patient"})
    s1 = client.get(f"{q}/s/1")
    r = _post(client, f"{q}/s/1", s1.text, {"action": "back"})
    assert r.headers["location"] == q
    s2 = client.get(f"{q}/s/2")
    assert _post(client, f"{q}/s/2", s2.text, {"action": "back"}).headers["location"] == f"{q}/s/1"
    assert client.get(f"{q}/s/7").status_code == 200  # RAND-36's last section
    assert client.get(f"{q}/s/8").status_code == 404
    assert client.get(f"{q}/s/0").status_code == 404


def test_every_post_needs_the_csrf_token(app, client, engine, session):
    token, inv = make_link(engine)
    q = f"/q/{token}"
    page = client.get(q).text
    good = csrf(page)
    # no token, a wrong token, a token from another link
    other_token, _ = make_link(engine)
    other_good = csrf(client.get(f"/q/{other_token}").text)
    for fields in ({}, {"csrf_token": "x" * 43}, {"csrf_token": other_good}):
        r = client.post(q, data={"respondent": "patient", **fields}, follow_redirects=False)
        assert r.status_code == 403, fields
        assert "Siden må lastes på nytt" in text(r.text)
        assert client.post(f"{q}/s/1", data={**EQ5D_ALL, **fields}).status_code == 403
        assert client.post(f"{q}/submit", data=fields).status_code == 403
    # the right token from another browser (no cookie) is refused too
    with TestClient(app, base_url=BASE) as stranger:
        assert stranger.post(q, data={"csrf_token": good, "respondent": "patient"}).status_code == 403
    assert _draft(engine, inv) is None
    assert fetch(engine, lambda s: s.exec(select(Response)).all()) == []
    assert client.post(q, data={"csrf_token": good, "respondent": "patient"}, follow_redirects=False).status_code == 303


def test_unknown_tokens_get_a_generic_404_that_says_nothing_about_the_token(client, engine, session):
    unknown = client.get("/q/" + "A" * 43)
    short = client.get("/q/abc")
    odd = client.get("/q/%3Cscript%3E")
    # a real token whose invitation is not usable (planned) looks exactly the same
    planned, _ = make_link(engine, status=Status.planned)
    hidden = client.get(f"/q/{planned}")
    for r in (unknown, short, odd, hidden):
        assert r.status_code == 404
        assert text(r.text) == text(unknown.text)
    assert "Fant ikke siden" in text(unknown.text)
    assert client.post("/q/" + "A" * 43 + "/submit", data={}).status_code == 404


def test_an_expired_link_is_gone_and_marked_expired(client, engine, session):
    token, inv = make_link(engine)
    q = f"/q/{token}"
    start = client.get(q)
    invitation = session.get(Invitation, inv)
    invitation.expires_at = now() - dt.timedelta(minutes=1)
    session.add(invitation)
    session.commit()
    r = client.get(q)
    assert r.status_code == 410 and re.search(r"Fristen for å svare gikk ut \d+\. \w+ \d{4} kl\. \d\d:\d\d \(norsk tid\)", text(r.text))
    assert _invitation(engine, inv).status == Status.expired
    assert _events(engine, inv) == ["open", "expired"]
    assert _post(client, q, start.text, {"respondent": "patient"}).status_code == 410
    late = _post(client, f"{q}/submit", start.text, {})
    assert late.status_code == 410 and "kan ikke sendes inn lenger" in text(late.text)
    assert client.get(f"{q}/s/1").status_code == 410


def test_a_withdrawn_link_is_gone(client, engine, session):
    token, inv = make_link(engine, language="en")
    invitation = session.get(Invitation, inv)
    invitation.status = Status.withdrawn
    session.add(invitation)
    session.commit()
    r = client.get(f"/q/{token}")
    assert r.status_code == 410
    assert '<html lang="en">' in r.text and "You no longer need to answer" in text(r.text)
    # whom to ask: the registry's contact, in the patient's language, with the language switch
    assert "The secretariat of the National demo registry" in text(r.text) and "demoregister@example.org" in r.text
    assert f'href="/q/{token}?lang=nn"' in r.text

    # an episode withdrawn while its invitation is still open is gone as well
    token2, inv2 = make_link(engine)
    episode = session.get(Episode, session.get(Invitation, inv2).episode_id)
    episode.withdrawn_at = now()
    session.add(episode)
    session.commit()
    assert client.get(f"/q/{token2}").status_code == 410


def test_submitting_twice_stores_once_and_shows_the_same_receipt(client, engine, session):
    token, inv = make_link(engine)
    q = f"/q/{token}"
    _post(client, q, client.get(q).text, {"respondent": "patient"})
    s1 = client.get(f"{q}/s/1")
    _post(client, f"{q}/s/1", s1.text, {**EQ5D_ALL, "action": "next"})
    review = client.get(f"{q}/review")  # two tabs showing the review page
    first = _post(client, f"{q}/submit", review.text, {})
    when = re.search(r"mottatt ([^.]+\. \w+ \d{4} kl\. \d\d:\d\d)", text(client.get(f"{q}/receipt").text)).group(1)
    second = _post(client, f"{q}/submit", review.text, {})
    assert first.status_code == second.status_code == 303 and second.headers["location"] == f"{q}/receipt"
    assert when in text(client.get(f"{q}/receipt").text)
    assert len(session.exec(select(Response).where(Response.invitation_id == inv)).all()) == 2  # one per instrument


SECURITY = {
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
}


def _secure(r):
    for name, value in SECURITY.items():
        assert r.headers.get(name) == value, (r.request.url.path, name)
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp and "script-src" not in csp
    assert "frame-ancestors 'none'" in csp


def test_every_patient_page_sends_the_security_headers(client, engine, session):
    token, inv = make_link(engine)
    q = f"/q/{token}"
    pages = [client.get(q)]
    pages.append(_post(client, q, pages[0].text, {"respondent": "patient"}))
    pages.append(client.get(f"{q}/s/1"))
    pages.append(_post(client, f"{q}/s/1", pages[-1].text, {"answer-VAS": "x"}))  # 422
    pages.append(_post(client, f"{q}/s/1", pages[-1].text, {"action": "save"}))
    pages.append(client.get(f"{q}/saved"))
    pages.append(client.get(f"{q}/review"))
    pages.append(client.post(f"{q}/submit", data={}))  # 403
    pages.append(_post(client, f"{q}/submit", pages[-2].text, {}))  # to the receipt
    pages.append(client.get(f"{q}/receipt"))
    pages.append(client.get(f"{q}/answers"))  # the copy of the answers: never cached
    pages.append(client.get(f"{q}/privacy"))
    pages.append(client.get("/accessibility"))
    pages.append(client.get(f"{q}/review", follow_redirects=False))  # back, in the browser that sent the answers: 303 to the receipt
    client.cookies.clear()
    pages.append(client.get(q))  # 410
    pages.append(client.get("/q/" + "B" * 43))  # 404
    assert [p.status_code for p in pages] == [200, 303, 200, 422, 303, 200, 200, 403, 303, 200, 200, 200, 200, 303, 410, 404]
    for page in pages:
        _secure(page)
    cookie = pages[0].headers["set-cookie"]
    assert "HttpOnly" in cookie and "Path=/q/" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")


def test_pages_are_accessible_by_construction(client, engine):
    token, _ = make_link(engine)
    q = f"/q/{token}"
    start = client.get(q)
    _post(client, q, start.text, {"respondent": "patient"})
    shown = [client.get(f"{q}/s/{n}").text for n in range(1, 8)]
    for page in (start.text, *shown, client.get(f"{q}/review").text, client.get(f"{q}/privacy").text):
        parsed = parse(page)
        assert re.search(r'<html lang="(nb|nn|en)">', page)
        assert "<script" not in page and " style=" not in page and "<style" not in page
        assert 'href="#main"' in page and 'id="main"' in page  # skip link
        assert '<link rel="stylesheet" href="/static/patient/patient.css">' in page
        for field in parsed.inputs:
            if field.get("type") != "hidden":
                assert field["id"] in parsed.labels_for, field  # every input has a label
        assert page.count("<fieldset") == page.count("<legend")
    assert sum(page.count("<fieldset") for page in shown[1:]) == 36  # one per RAND-36 item, over its six pages
    assert "developed at RAND as part of the Medical Outcomes Study" not in shown[0]
    assert all("RAND 36-Item Health Survey 1.0 ble utviklet ved RAND som en del av Medical Outcomes Study" in p for p in shown[1:])
    css = client.get("/static/patient/patient.css")
    assert css.status_code == 200 and ":focus-visible" in css.text


def test_the_overlay_wording_is_shown_when_the_registry_supplies_it(make_settings, engine, tmp_path):
    folder = tmp_path / "overlays" / "demo"
    folder.mkdir(parents=True)
    options = ", ".join(f"{c}: Offisielt alternativ {c}" for c in range(1, 6))
    items = "\n".join(f"      {i}:\n        text: Offisiell tekst {i}\n        options: {{{options}}}" for i in ("MO", "SC", "UA", "PD", "AD"))
    (folder / "eq5d-5l.yaml").write_text(
        "instrument: eq5d-5l\nversion: \"1.0\"\nsource: test licence\nlanguages:\n  nb:\n"
        f"    instructions: Kryss av det som passer best.\n    items:\n{items}\n"
        "      VAS:\n        text: Offisiell VAS-tekst\n",
        encoding="utf-8",
    )
    app = create_app(make_settings(overlays_dir=str(tmp_path / "overlays")))
    token, _ = make_link(engine)
    with TestClient(app, base_url=BASE) as c:
        start = c.get(f"/q/{token}")
        _post(c, f"/q/{token}", start.text, {"respondent": "patient"})
        nb = text(c.get(f"/q/{token}/s/1").text)
        assert "Offisiell tekst MO" in nb and "Offisielt alternativ 3" in nb and "Kryss av det som passer best." in nb
        assert "Offisiell VAS-tekst" in nb
        en = text(c.get(f"/q/{token}/s/1?lang=en").text)  # the overlay has no English: our labels
        assert "Walking about: how is it for you today?" in en and "Offisiell" not in en
        form = c.get(f"/api/v1/forms/{token}?lang=nb").json()
        assert form["instruments"][0]["wording"] == "overlay"
        assert form["instruments"][0]["items"][0]["text"] == "Offisiell tekst MO"


def test_no_token_or_answer_reaches_the_log(client, engine, caplog):
    caplog.set_level(logging.DEBUG)
    token, _ = make_link(engine)
    q = f"/q/{token}"
    _post(client, q, client.get(q).text, {"respondent": "patient"})
    s1 = client.get(f"{q}/s/1")
    _post(client, f"{q}/s/1", s1.text, {**EQ5D_ALL, "answer-VAS": "87", "action": "next"})
    _post(client, f"{q}/s/1", s1.text, {"answer-VAS": "oops"})
    review = client.get(f"{q}/review")
    _post(client, f"{q}/submit", review.text, {})
    client.put(f"/api/v1/forms/{token}/draft", json={"answers": {"eq5d-5l": {"MO": 9}}})
    service = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    assert service, "expected the access log"
    for record in service:
        line = record.getMessage()
        assert token not in line and token[:12] not in line
        assert "answer-" not in line and "oops" not in line and "87" not in line.split()[-1:]
        assert "MO" not in line
