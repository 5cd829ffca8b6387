"""A real browser on a phone-sized screen against a real server: a patient's whole way through.

Headless Chromium (Debian's /usr/bin/chromium, never a downloaded one) at 390 × 844 opens a
patient link issued through the API and answers in bokmål by tapping the answer labels, which
say what each answer means (issue 11, point 2): EQ-5D-5L on page 1, RAND-36 in its six natural
sections (point 3) with its credit line. It saves with 10 of 36 RAND-36 questions answered,
continues on another device and lands on the first page it has not seen (point 1), skips a
question, reviews, sends, gets the receipt by redirect (point 5: a reload posts nothing, back
shows the receipt), reads what happens next and a printable, uncached copy of the answers
(point 6). Finally the registry finds the scores through the API: the EQ-5D index equals
`scoring.score` of the same answers. Every page state passes the Inspector's checks: axe-core
0 violations, no sideways scrolling at 200 % text on 390 and 320 px, 44 × 44 px targets (point 7).
"""

from __future__ import annotations

import re

import httpx
import pytest
from browser_support import phone

import scoring

EQ5D = {"MO": 2, "SC": 1, "UA": 3, "PD": 2, "AD": 1}
# What each chosen level says, in our own words (instruments/definitions/eq5d-5l.yaml)
EQ5D_CHOSEN = {
    "MO": "Litt vansker med å gå",
    "SC": "Ingen vansker med å vaske meg eller kle meg",
    "UA": "En del vansker med det jeg vanligvis gjør",
    "PD": "Litt smerter eller ubehag",
    "AD": "Ikke engstelig eller nedfor",
}
VAS = 65
SKIPPED = "q30"  # on RAND-36's fifth page (q23–q32)
RAND_PAGES = {2: (1, 2), 3: (3, 12), 4: (13, 19), 5: (20, 22), 6: (23, 32), 7: (33, 36)}


def _rand36_code(n: int) -> int:
    return 1 + n % 2  # 1 or 2: every RAND-36 item has at least two options


def _choose_code(page, item: str, code: int) -> None:
    page.locator(f'label[for="field-{item}{"" if code == 1 else f"-{code}"}"]').click()


def _answer_rand(page, first: int, last: int, skip=()) -> None:
    for n in range(first, last + 1):
        if f"q{n}" not in skip:
            _choose_code(page, f"q{n}", _rand36_code(n))


def test_answer_on_a_phone_resume_where_stopped_review_send_and_find_the_scores(server, browser, inspector):
    external_id, link = server.enrol_and_issue()
    assert link.startswith(f"{server.base}/q/")

    # ---- first device: start, EQ-5D-5L, RAND-36 until 10 of its 36 questions are answered, save
    first = phone(browser)
    page = first.new_page()
    response = page.goto(link)
    assert response.status == 200 and response.headers["cache-control"] == "no-store"
    assert page.locator("html").get_attribute("lang") == "nb"
    assert page.get_by_role("heading", level=1).inner_text() == "Spørreskjema"
    main = page.locator("main").inner_text()
    assert "Skjemaet har 42 spørsmål fordelt på 7 sider." in main
    assert "Det tar vanligvis omtrent 11 minutter å svare på hele skjemaet." in main
    assert re.search(r"Lenken virker til \d+\.\s\w+ \d{4} kl\.\s\d\d:\d\d \(norsk tid\)\.", main)
    inspector.check(page, "start")
    page.get_by_role("button", name="Start").click()

    page.wait_for_url(re.compile(r"/s/1$"))
    assert page.get_by_text("Side 1 av 7 · 0 av 42 spørsmål er besvart").is_visible()
    for item, label in EQ5D_CHOSEN.items():
        page.locator("fieldset", has=page.locator(f"#field-{item}")).get_by_text(label, exact=True).click()
    vas = page.get_by_label(re.compile("Helsen din i dag: 0 er den dårligste du kan tenke deg, 100 den beste"))
    vas.fill(str(VAS))
    assert page.locator("#field-MO-2").is_checked()
    inspector.check(page, "eq5d-5l")
    vas.press("Enter")  # Enter means "Next", not the first language button

    page.wait_for_url(re.compile(r"/s/2$"))
    assert page.get_by_role("heading", level=1).inner_text() == "RAND-36 helseskjema (versjon 1.0) (del 1 av 6)"
    assert page.locator("legend", has_text="Alt i alt, hvordan vil du si at helsen din er?").is_visible()
    assert page.get_by_text("RAND 36-Item Health Survey 1.0 ble utviklet ved RAND som en del av Medical Outcomes Study.").is_visible()
    _answer_rand(page, 1, 2)
    inspector.check(page, "rand36-page-1")
    page.get_by_role("button", name="Neste").click()
    page.wait_for_url(re.compile(r"/s/3$"))
    assert page.locator("legend", has_text="Begrenser helsen din deg nå i harde aktiviteter").is_visible()
    _answer_rand(page, 3, 10)  # q11 and q12 left blank: 10 of RAND-36's 36 questions answered
    page.get_by_role("button", name="Lagre og fortsett senere").click()
    page.wait_for_url(re.compile(r"/saved$"))
    assert page.get_by_role("heading", name="Svarene er lagret").is_visible()
    inspector.check(page, "saved")
    first.close()

    # ---- another device: "Continue" goes to the first page not yet seen, not to "Send"
    second = phone(browser)
    page = second.new_page()
    page.goto(link)
    assert page.get_by_text("Du har begynt på skjemaet tidligere").is_visible()
    inspector.check(page, "start-resumed")
    page.get_by_role("button", name="Fortsett").click()
    page.wait_for_url(re.compile(r"/s/4$"))
    assert page.get_by_text("Side 4 av 7 · 16 av 42 spørsmål er besvart").is_visible()
    for number in range(4, 8):
        page.wait_for_url(re.compile(rf"/s/{number}$"))
        _answer_rand(page, *RAND_PAGES[number], skip={SKIPPED})
        inspector.check(page, f"rand36-page-{number - 1}")
        page.get_by_role("button", name="Se over svarene" if number == 7 else "Neste").click()

    page.wait_for_url(re.compile(r"/review$"))
    skipped = page.locator("ul.skipped a")
    assert [t.split(":")[0] for t in skipped.all_inner_texts()] == [
        "Begrenser helsen din deg nå i å gå omtrent hundre meter?", "Begrenser helsen din deg nå i å vaske deg eller kle på deg?",
        "Hvor mye av tiden de siste 4 ukene har du vært glad?"]
    assert page.get_by_text("33 av 36 spørsmål er besvart.").is_visible()
    assert page.get_by_text("6 av 6 spørsmål er besvart.").is_visible()
    inspector.check(page, "review")
    skipped.last.click()  # the link goes to the page that holds the skipped question
    page.wait_for_url(re.compile(rf"/s/6#field-{SKIPPED}$"))
    assert page.evaluate("document.activeElement.id") == f"field-{SKIPPED}"
    page.go_back()
    page.wait_for_url(re.compile(r"/review$"))

    page.get_by_role("button", name="Send svarene").click()
    page.wait_for_url(re.compile(r"/receipt$"))  # post, redirect, get
    assert page.get_by_role("heading", name="Takk for svarene").is_visible()
    receipt = page.locator("main").inner_text()
    assert "Hva skjer nå?" in receipt and "EQ-5D" not in receipt and "hofte" not in receipt
    inspector.check(page, "receipt")
    assert page.reload().status == 200 and page.url.endswith("/receipt")  # a reload posts nothing

    page.get_by_role("link", name="Se og skriv ut svarene dine").click()
    page.wait_for_url(re.compile(r"/answers\?lang=nb$"))
    copy = page.locator("main").inner_text()
    assert "Litt vansker med å gå" in copy and "Ikke besvart" in copy and "indeks" not in copy.lower()
    inspector.check(page, "copy-of-answers")
    page.emulate_media(media="print")
    assert not page.locator(".site-header").is_visible() and page.get_by_text("Litt vansker med å gå").is_visible()
    page.emulate_media(media="screen")
    page.go_back()
    page.wait_for_url(re.compile(r"/receipt$"))
    page.go_back()  # the review page's address: back shows the receipt, not an error
    page.wait_for_url(re.compile(r"/receipt$"))
    assert page.get_by_role("heading", name="Takk for svarene").is_visible()
    second.close()

    # ---- the registry finds the scores through the API
    r = httpx.get(f"{server.base}/api/v1/registries/demo/episodes/{external_id}", headers={"Authorization": f"Bearer {server.registry_key}"})
    assert r.status_code == 200, r.text
    m12 = next(tp for tp in r.json()["time_points"] if tp["id"] == "m12")
    assert m12["status"] == "completed"
    by_instrument = {resp["instrument"]: resp for resp in m12["responses"]}
    eq = by_instrument["eq5d-5l"]
    assert eq["answers"] == {**EQ5D, "VAS": VAS}
    index = next(s for s in eq["scores"] if s["scoring"] == "index")
    expected = scoring.score("eq5d-5l", {k: [v] for k, v in EQ5D.items()}, method="VT", country="Norway").scores["index"][0]
    assert index["values"]["index"] == pytest.approx(float(expected), abs=1e-12)
    assert index["value_set"] == "EQ-5D-5L · VT · Norway"
    rand = by_instrument["rand36"]
    blank = {SKIPPED, "q11", "q12"}
    assert all(rand["answers"][q] is None for q in blank) and rand["answers"]["q1"] == _rand36_code(1)
    rand_answers = {f"q{n}": [None if f"q{n}" in blank else _rand36_code(n)] for n in range(1, 37)}
    expected_rand = scoring.score("rand36", rand_answers).scores
    got = next(s for s in rand["scores"] if s["scoring"] == "rand")["values"]
    for scale, values in expected_rand.items():
        assert got[scale] == pytest.approx(float(values[0]), abs=1e-9), scale


def test_errors_and_the_language_switch_on_a_phone(server, browser, inspector):
    _, link = server.enrol_and_issue(proxy=True)
    context = phone(browser)
    page = context.new_page()
    page.goto(link)
    page.get_by_role("button", name="Start").click()  # no declaration chosen: an error on the start page
    assert page.locator("h1 + .error-summary").is_visible()  # the heading comes first, then the summary
    inspector.check(page, "start-with-error")
    page.get_by_role("radio", name="Jeg er pasienten og svarer selv").check()
    page.get_by_role("button", name="Start").click()
    page.wait_for_url(re.compile(r"/s/1$"))
    page.locator("#field-MO-4 + label").click()
    page.get_by_label(re.compile("Helsen din i dag")).fill("150")
    page.get_by_role("button", name="Neste").click()

    summary = page.locator(".error-summary")
    assert summary.is_visible() and page.title().startswith("Noe må rettes")
    assert page.evaluate("document.querySelector('h1').compareDocumentPosition(document.querySelector('.error-summary')) & 4") == 4
    inspector.check(page, "page-with-error")
    summary.get_by_role("link").click()
    assert page.evaluate("document.activeElement.id") == "field-VAS"
    assert page.locator("#field-MO-4").is_checked()  # kept while the page is shown again

    page.get_by_label(re.compile("Helsen din i dag")).fill("55")
    page.get_by_role("button", name="Nynorsk").click()
    page.wait_for_url(re.compile(r"/s/1$"))
    assert page.locator("html").get_attribute("lang") == "nn"
    assert page.locator("legend", has_text="Å gå omkring: korleis er det for deg i dag?").is_visible()
    assert page.locator("#field-MO-4").is_checked() and page.locator("#field-VAS").input_value() == "55"
    inspector.check(page, "page-nynorsk")
    context.close()


def test_the_api_docs_page_loads_everything_from_the_service_within_its_policy(server, browser, screenshots):
    """Swagger UI at /schema/swagger: its scripts, styles and icons come from the service itself (issue 12),
    its Content-Security-Policy allows nothing else, and under that policy it shows every operation."""
    base = server.base
    context = browser.new_context()
    page = context.new_page()
    requested, errors = [], []
    page.on("request", lambda r: requested.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    response = page.goto(f"{base}/schema/swagger")
    assert "default-src 'none'; script-src 'self';" in response.headers["content-security-policy"]
    page.locator(".opblock").first.wait_for(timeout=30_000)
    operations = len(httpx.get(f"{base}/schema/openapi.json").json()["paths"])
    assert page.locator(".opblock-tag-section").count() >= 1 and page.locator(".opblock").count() >= operations
    if screenshots:
        page.screenshot(path=screenshots / "api-docs.png")
    context.close()
    assert [u for u in requested if not u.startswith((base + "/", "data:"))] == []
    assert errors == []  # a script or style the policy blocked is reported here
