"""Every state of a patient link has its page (docs/patient.md), on SQLite and PostgreSQL: the
receipt after a redirect and the copy of the answers (this browser only, for a while), what a
patient is told (privacy, contact, accessibility), answers posted after the deadline (kept, not
sent: no grace period), the registry's languages, and the error pages."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from litestar.testing import TestClient
from patient_fixtures import csrf, fetch, make_link, now, parse, text
from sqlmodel import select

from promsvc.app import create_app
from promsvc.models import AuditEntry, Draft, Invitation, Status
from promsvc.patient import pages, views

BASE = "http://testserver.local"
EQ5D = {"answer-MO": "2", "answer-SC": "1", "answer-UA": "3", "answer-PD": "2", "answer-AD": "1", "answer-VAS": "73"}


def _post(client, path, page_html, fields, **kw):
    return client.post(path, data={"csrf_token": csrf(page_html), **fields}, follow_redirects=False, **kw)


def _answer_eq5d_and_send(client, q) -> None:
    _post(client, q, client.get(q).text, {"respondent": "patient"})
    _post(client, f"{q}/s/1", client.get(f"{q}/s/1").text, {**EQ5D, "action": "save"})
    r = _post(client, f"{q}/submit", client.get(f"{q}/review").text, {})
    assert (r.status_code, r.headers["location"]) == (303, f"{q}/receipt")


def _expire(session, invitation_id, ago=dt.timedelta(seconds=1)) -> None:
    invitation = session.get(Invitation, invitation_id)
    invitation.expires_at = now() - ago
    session.add(invitation)
    session.commit()


# ---------------------------------------------------------------- the receipt and the copy


def test_the_receipt_says_what_happens_next_and_links_to_a_copy_of_the_answers(app, client, engine, session):
    token, inv = make_link(engine)
    q = f"/q/{token}"
    _answer_eq5d_and_send(client, q)
    receipt = client.get(f"{q}/receipt")
    assert "Hva skjer nå?" in text(receipt.text) and "Du trenger ikke gjøre noe mer" in text(receipt.text)
    assert f"{q}/answers?lang=nb" in parse(receipt.text).links
    assert "bare i denne nettleseren, og bare i 15 minutter" in text(receipt.text)

    copy = client.get(f"{q}/answers")
    assert copy.status_code == 200 and copy.headers["cache-control"] == "no-store"
    shown = text(copy.text)
    assert "Svarene dine" in shown and "Dette er svarene du sendte" in shown
    assert "Å gå omkring: hvordan er det for deg i dag?" in shown and "Litt vansker med å gå" in shown
    assert "Helsen din i dag: 0 er den dårligste du kan tenke deg, 100 den beste 73" in shown
    assert "Alt i alt, hvordan vil du si at helsen din er? Ikke besvart" in shown  # RAND-36 was skipped
    assert "indeks" not in shown.lower() and "skår" not in shown.lower()  # answers only, no scores
    assert '@media print' in client.get(pages.STYLESHEET).text
    reads = fetch(engine, lambda s: s.exec(select(AuditEntry).where(AuditEntry.action == "response.copy")).all())
    assert [(a.actor, a.outcome) for a in reads] == [("patient", "ok")]

    # back from the receipt lands on the receipt again, not on an error
    back = client.get(f"{q}/review", follow_redirects=False)
    assert (back.status_code, back.headers["location"]) == (303, f"{q}/receipt")

    # another browser with the same link: neither the receipt nor the copy
    with TestClient(app, base_url=BASE) as other:
        for path in (q, f"{q}/receipt", f"{q}/answers"):
            r = other.get(path)
            assert r.status_code == 410 and "allerede sendt inn" in text(r.text), path
    # nor this browser once the cookie's time is up (a cookie from 16 minutes ago)
    old = pages.receipt_cookie("browser-secret", inv, now() - dt.timedelta(minutes=16), False)
    assert not pages.receipt_ok(_Request({pages.RECEIPT_COOKIE: old.value}), "browser-secret", inv, now())
    fresh = pages.receipt_cookie("browser-secret", inv, now(), False)
    assert pages.receipt_ok(_Request({pages.RECEIPT_COOKIE: fresh.value}), "browser-secret", inv, now())
    assert not pages.receipt_ok(_Request({pages.RECEIPT_COOKIE: fresh.value}), "browser-secret", "another", now())


class _Request:
    def __init__(self, cookies):
        self.cookies = cookies


# ---------------------------------------------------------------- what a patient is told


def test_the_start_page_links_to_privacy_and_accessibility_and_403_names_whom_to_contact(client, engine):
    token, _ = make_link(engine, language="nn")
    q = f"/q/{token}"
    start = client.get(q)
    assert f"{q}/privacy?lang=nn" in parse(start.text).links and "/accessibility?lang=nn" in parse(start.text).links
    privacy = client.get(f"{q}/privacy?lang=nn")
    shown = text(privacy.text)
    assert privacy.status_code == 200 and '<html lang="nn">' in privacy.text
    for words in ("Fjordlandet HF (demo) er behandlingsansvarleg", "personvernforordninga artikkel 6",
                  "Svara dine blir lagra i registeret", "+47 00 00 00 00", "demoregister@example.org", "Postboks 0000"):
        assert words in shown, words
    assert 'href="tel:+4700000000"' in privacy.text and 'href="mailto:demoregister@example.org"' in privacy.text

    refused = client.post(q, data={"csrf_token": "x" * 43, "respondent": "patient"})
    assert refused.status_code == 403
    assert "Sekretariatet for Nasjonalt demoregister" in text(refused.text) and f'href="{q}?lang=en"' in refused.text
    assert refused.text.index("<h1") < refused.text.index("Sekretariatet")

    for lang, title in (("nb", "Tilgjengelighetserklæring"), ("nn", "Tilgjengelegheitserklæring"), ("en", "Accessibility statement")):
        page = client.get(f"/accessibility?lang={lang}")
        assert page.status_code == 200 and f"<h1>{title}</h1>" in page.text and "WCAG 2.1" in page.text


def test_the_service_address_shows_a_page_with_links_to_the_api_description(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/schema/swagger" in parse(page.text).links and "/schema/openapi.json" in parse(page.text).links
    assert client.get("/schema/swagger").status_code == 200
    assert client.get("/schema/openapi.json").status_code == 200


# ---------------------------------------------------------------- the deadline


def test_a_page_posted_after_the_deadline_is_kept_as_a_draft_and_the_page_says_so(client, engine, session):
    token, inv = make_link(engine)
    q = f"/q/{token}"
    _post(client, q, client.get(q).text, {"respondent": "patient"})
    s1 = client.get(f"{q}/s/1")
    _expire(session, inv)  # the deadline passes while the patient is on the page
    r = _post(client, f"{q}/s/1", s1.text, {**EQ5D, "action": "next"})
    assert r.status_code == 410
    shown = text(r.text)
    assert "Fristen har gått ut" in shown and "Det du fylte ut, er tatt vare på" in shown and "(norsk tid)" in shown
    assert "Sekretariatet for Nasjonalt demoregister" in shown
    assert fetch(engine, lambda s: s.get(Draft, inv)).answers["eq5d-5l"]["MO"] == 2  # kept, not thrown away
    assert fetch(engine, lambda s: s.get(Invitation, inv)).status == Status.expired
    # no grace period: sending a second after the deadline is refused, the draft stays
    r = _post(client, f"{q}/submit", s1.text, {})
    assert r.status_code == 410 and "kan ikke sendes inn lenger" in text(r.text)
    assert fetch(engine, lambda s: s.get(Draft, inv)) is not None
    # a POST without the form's CSRF token keeps nothing
    other_token, other_inv = make_link(engine)
    _expire(session, other_inv)
    assert client.post(f"/q/{other_token}/s/1", data={**EQ5D}).status_code == 410
    assert fetch(engine, lambda s: s.get(Draft, other_inv)) is None


def test_a_draft_sent_by_an_app_after_the_deadline_is_kept_too(client, engine, session):
    token, inv = make_link(engine)
    _expire(session, inv)
    r = client.put(f"/api/v1/forms/{token}/draft", json={"answers": {"eq5d-5l": {"MO": 4}}})
    assert r.status_code == 410
    assert fetch(engine, lambda s: s.get(Draft, inv)).answers == {"eq5d-5l": {"MO": 4}}


# ---------------------------------------------------------------- languages and failures


def test_only_the_registrys_languages_are_offered(make_settings, engine, tmp_path):
    folder = tmp_path / "registries"
    folder.mkdir()
    (folder / "two.yaml").write_text(
        "id: two\nname: {nb: To språk, nn: To språk, en: Two languages}\nsender: Testregisteret\n"
        "languages: [nb, nn]\ndemo: true\nunits: [{id: two-hospital, name: Sykehus, level: hospital}]\n"
        "protocols:\n  - id: knee\n    title: {nb: Kne, nn: Kne, en: Knee}\n    event: knee replacement\n"
        "    time_points:\n      - {id: m6, title: {nb: 6 mnd, nn: 6 mnd, en: 6 months}, offset: P182D, window: P60D, instruments: [eq5d-5l]}\n"
        "    channels: [clinic]\n", encoding="utf-8")
    token, _ = make_link(engine, registry="two", protocol="knee", time_point="m6", language="en")
    with TestClient(create_app(make_settings(registries_dir=str(folder))), base_url=BASE) as c:
        start = c.get(f"/q/{token}")
        assert '<html lang="nb">' in start.text  # English is not offered: the registry's first language
        assert "English" not in start.text and "Nynorsk" in start.text
        assert '<html lang="nb">' in c.get(f"/q/{token}?lang=en").text
        assert c.get(f"/api/v1/forms/{token}").json()["languages"] == ["nb", "nn"]


def test_a_failure_shows_a_page_in_the_patients_language_with_the_switch(client, engine, monkeypatch):
    token, _ = make_link(engine)
    q = f"/q/{token}"
    _post(client, q, client.get(q).text, {"respondent": "patient"})

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(views, "review_page", broken)
    r = client.get(f"{q}/review?lang=nn")
    assert r.status_code == 500 and '<html lang="nn">' in r.text and "Noko gjekk gale" in text(r.text)
    assert f'href="{q}/review?lang=en"' in r.text and "boom" not in r.text
    unknown = client.get("/q/" + "C" * 43 + "?lang=nn")
    assert unknown.status_code == 404 and "Fann ikkje sida" in text(unknown.text) and "Bokmål" in unknown.text


@pytest.mark.parametrize("lang", ["nb", "nn", "en"])
def test_every_page_of_a_sent_questionnaire_reads_in_each_language(client, engine, lang):
    token, _ = make_link(engine, language=lang)
    q = f"/q/{token}"
    _answer_eq5d_and_send(client, q)
    receipt = client.get(f"{q}/receipt")
    assert f'<html lang="{lang}">' in receipt.text
    assert re.search(r"\d{4}", text(client.get(f"{q}/answers").text))
