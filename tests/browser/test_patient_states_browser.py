"""Every other state a patient can meet, in a real browser on a phone (issue 11): the deadline
stated with date, time and zone, and a page posted after it kept and explained (point 4); the
withdrawn (410), refused (403), unknown (404, nynorsk) and failed (500) pages, each with the
language switch and whom to contact (point 5); the privacy page and the accessibility statement
linked from the start page (point 6); the service page at the address `promsvc demo` prints
(point 8). Every page state passes the Inspector's checks (axe-core, 200 % text at 390 and
320 px, 44 × 44 px targets: point 7)."""

from __future__ import annotations

import datetime as dt
import re

from browser_support import phone
from sqlmodel import Session, select

from promsvc.models import Invitation, InvitationLink
from promsvc.patient import views
from promsvc.security import hash_token

DEADLINE_EN = re.compile(r"\d+\s\w+ \d{4} at\s\d\d:\d\d \(Norwegian time\)")


def _expire_now(server, link: str) -> None:
    token = link.rsplit("/", 1)[1]
    with Session(server.engine) as s:
        invitation = s.exec(select(Invitation).join(InvitationLink, InvitationLink.invitation_id == Invitation.id).where(InvitationLink.token_hash == hash_token(token))).one()
        invitation.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        s.commit()


def test_the_deadline_and_a_page_posted_after_it(server, browser, inspector):
    _, link = server.enrol_and_issue(language="en")
    context = phone(browser, "en-GB")
    page = context.new_page()
    page.goto(link)
    assert re.search(r"The link works until " + DEADLINE_EN.pattern, page.locator("main").inner_text())
    page.get_by_role("button", name="Start").click()
    page.wait_for_url(re.compile(r"/s/1$"))
    page.locator("#field-MO-3 + label").click()
    _expire_now(server, link)  # the deadline passes while the patient is on the page
    page.get_by_role("button", name="Next").click()
    assert page.get_by_role("heading", level=1).inner_text() == "The time for answering has run out"
    text = page.locator("main").inner_text()
    assert re.search("ran out on " + DEADLINE_EN.pattern + ", before your answers were sent", text)
    assert "What you filled in has been kept" in text and "The secretariat of the National demo registry" in text
    inspector.check(page, "late")
    page.goto(link)
    assert "This link can no longer be used" in page.locator("h1").inner_text()
    assert re.search("The time for answering ran out on " + DEADLINE_EN.pattern, page.locator("main").inner_text())
    inspector.check(page, "expired")
    context.close()


def test_withdrawn_refused_unknown_and_failed_pages(server, browser, inspector, monkeypatch):
    context = phone(browser)
    page = context.new_page()

    external_id, link = server.enrol_and_issue()
    server.withdraw(external_id)
    response = page.goto(link)
    assert response.status == 410
    assert "Du trenger ikke lenger svare på dette skjemaet" in page.locator("main").inner_text()
    assert page.get_by_role("link", name="demoregister@example.org").is_visible()
    inspector.check(page, "withdrawn")
    page.get_by_role("link", name="Nynorsk").click()
    assert "Du treng ikkje lenger svare på dette skjemaet" in page.locator("main").inner_text()

    _, link = server.enrol_and_issue()
    page.goto(link)
    context.clear_cookies()  # the form's CSRF cookie is gone (a cleared or another browser)
    page.get_by_role("button", name="Start").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Siden må lastes på nytt"
    assert "Sekretariatet for Nasjonalt demoregister" in page.locator("main").inner_text()
    inspector.check(page, "forbidden")
    page.get_by_role("link", name="English").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Questionnaire"  # back at the form, in English

    response = page.goto(f"{server.base}/q/{'A' * 43}?lang=nn")
    assert response.status == 404 and page.get_by_role("heading", level=1).inner_text() == "Fann ikkje sida"
    inspector.check(page, "not-found")

    _, link = server.enrol_and_issue()
    page.goto(link)
    page.get_by_role("button", name="Start").click()
    page.wait_for_url(re.compile(r"/s/1$"))

    def broken(*args, **kwargs):
        raise RuntimeError("a failure")

    monkeypatch.setattr(views, "review_page", broken)  # the server runs in this process
    response = page.goto(link + "/review?lang=nn")
    assert response.status == 500 and page.get_by_role("heading", level=1).inner_text() == "Noko gjekk gale"
    inspector.check(page, "failure")
    context.close()


def test_privacy_accessibility_and_the_service_page(server, browser, inspector):
    _, link = server.enrol_and_issue(language="nn")
    context = phone(browser, "nn-NO")
    page = context.new_page()
    page.goto(link)
    page.get_by_role("link", name="Personvern og kontakt").click()
    main = page.locator("main").inner_text()
    for words in ("Kven er ansvarleg for opplysningane?", "Fjordlandet HF (demo) er behandlingsansvarleg",
                  "Rettsleg grunnlag", "Slik blir svara dine brukte", "+47 00 00 00 00", "Postboks 0000"):
        assert words in main, words
    inspector.check(page, "privacy")
    page.get_by_role("link", name="Tilbake til skjemaet").click()
    page.get_by_role("link", name="Tilgjengelegheitserklæring").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Tilgjengelegheitserklæring"
    assert "WCAG 2.1" in page.locator("main").inner_text()
    inspector.check(page, "accessibility")

    page.goto(server.base)  # what `promsvc demo` prints as "Serving on"
    assert page.get_by_role("heading", level=1).inner_text() == "promsvc"
    assert page.get_by_role("link", name=re.compile("Swagger UI")).get_attribute("href") == "/schema/swagger"
    inspector.check(page, "service")
    api = page.goto(f"{server.base}/schema/openapi.json")
    assert api.status == 200 and "promsvc" in api.json()["info"]["title"]
    context.close()
