"""A real browser on a phone-sized screen against a real server.

Headless Chromium (Debian's /usr/bin/chromium, never a downloaded one) opens a patient link
issued through the API, answers EQ-5D-5L and RAND-36 in bokmål by tapping the answer labels,
saves, resumes in a new browser context (another device), skips one item, sees it on the
review page, submits, sees the receipt, and then finds the scores through the API with a
registry key: the EQ-5D index equals `scoring.score` of the same answers.

Screenshots of every page go to $PROMSVC_TEST_SCREENSHOTS (default: a pytest temporary dir).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlmodel import Session

import scoring
from promsvc.app import create_app
from promsvc.db import make_engine
from promsvc.security import create_key
from promsvc.settings import Settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE = {"width": 390, "height": 844}

EQ5D = {"MO": 2, "SC": 1, "UA": 3, "PD": 2, "AD": 1}
EQ5D_LABELS = {"MO": "Gange/bevegelighet", "SC": "Personlig stell", "UA": "Vanlige gjøremål", "PD": "Smerter/ubehag", "AD": "Angst/depresjon"}
VAS = 65
SKIPPED = "q30"  # "Siste 4 uker: vært glad"


def _rand36_code(n: int) -> int:
    return 1 + n % 2  # 1 or 2: every RAND-36 item has at least two options


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("PROMSVC_TEST_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The service on a free 127.0.0.1 port, with a SQLite file; yields (base url, settings)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is needed for the browser tests: apt-get install chromium", pytrace=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    database = tmp_path_factory.mktemp("browser") / "promsvc.sqlite3"
    settings = Settings(database_url=f"sqlite:///{database}", base_url=base, secret_key="browser-test-secret", log_level="WARNING")
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the test server did not start", pytrace=False)
        time.sleep(0.05)
    yield base, settings
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def keys(server):
    _, settings = server
    engine = make_engine(settings)
    with Session(engine) as s:
        _, system = create_key(s, "system", label="browser test system")
        _, registry = create_key(s, "registry", "demo", label="browser test registry")
        s.commit()
    engine.dispose()
    return {"system": system, "registry": registry}


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def _phone(browser):
    return browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="nb-NO")


def _enrol_and_issue(base: str, keys: dict) -> tuple[str, str]:
    external_id = f"browser-{int(time.time() * 1000)}"
    auth = {"Authorization": f"Bearer {keys['system']}"}
    event = (dt.date.today() - dt.timedelta(days=95)).isoformat()  # the 3-month time point is open now
    r = httpx.post(f"{base}/api/v1/registries/demo/episodes", headers=auth, json={
        "external_id": external_id, "pseudonym": "PSEUDO-BROWSER", "unit": "fjord-sentral",
        "protocol": "hip_primary", "event_date": event, "language": "nb",
    })
    assert r.status_code == 201, r.text
    r = httpx.post(f"{base}/api/v1/registries/demo/episodes/{external_id}/time-points/m3/link", headers=auth)
    assert r.status_code == 201, r.text
    return external_id, r.json()["url"]


def _choose(page, legend: str, answer: str) -> None:
    """Tap the label of one answer in the question whose legend contains `legend`."""
    group = page.locator("fieldset", has=page.locator("legend", has_text=legend))
    group.locator("label", has_text=re.compile(f"^{re.escape(answer)}$")).click()


def _choose_code(page, item: str, code: int) -> None:
    page.locator(f'label[for="field-{item}{"" if code == 1 else f"-{code}"}"]').click()


def test_answer_on_a_phone_resume_review_submit_and_find_the_scores(server, keys, browser, screenshots):
    base, settings = server
    external_id, link = _enrol_and_issue(base, keys)
    assert link.startswith(f"{base}/q/")

    # ---- first device: start, EQ-5D-5L, half of RAND-36, save
    phone = _phone(browser)
    page = phone.new_page()
    response = page.goto(link)
    assert response.status == 200 and response.headers["cache-control"] == "no-store"
    assert page.locator("html").get_attribute("lang") == "nb"
    assert page.get_by_role("heading", level=1).inner_text() == "Spørreskjema"
    page.screenshot(path=screenshots / "01-start.png", full_page=True)
    page.get_by_role("button", name="Start").click()

    page.wait_for_url(re.compile(r"/s/1$"))
    assert page.get_by_text("Del 1 av 2").is_visible()
    for item, level in EQ5D.items():
        _choose(page, EQ5D_LABELS[item], f"Nivå {level} av 5")
    page.get_by_label(re.compile("Helsen i dag")).fill(str(VAS))
    assert page.locator("#field-MO-2").is_checked()
    page.screenshot(path=screenshots / "02-eq5d-5l.png", full_page=True)
    page.screenshot(path=screenshots / "02-eq5d-5l-viewport.png")
    # Enter in a field means "Next" (not the first language button, which comes earlier on the page)
    page.get_by_label(re.compile("Helsen i dag")).press("Enter")

    page.wait_for_url(re.compile(r"/s/2$"))
    assert page.get_by_text("Del 2 av 2").is_visible()
    for n in range(1, 19):
        _choose_code(page, f"q{n}", _rand36_code(n))
    page.screenshot(path=screenshots / "03-rand36.png")
    page.get_by_role("button", name="Lagre og fortsett senere").click()
    page.wait_for_url(re.compile(r"/saved$"))
    assert page.get_by_role("heading", name="Svarene er lagret").is_visible()
    page.screenshot(path=screenshots / "04-saved.png", full_page=True)
    phone.close()

    # ---- another device: resume with the same link
    tablet = _phone(browser)
    page = tablet.new_page()
    page.goto(link)
    assert page.get_by_text("Du har begynt på skjemaet tidligere").is_visible()
    page.get_by_role("button", name="Fortsett").click()
    page.wait_for_url(re.compile(r"/review$"))
    page.get_by_role("link", name=re.compile(r"Endre svarene i denne delen\W+RAND-36")).click()
    page.wait_for_url(re.compile(r"/s/2$"))
    assert page.locator(f"#field-q1{'' if _rand36_code(1) == 1 else f'-{_rand36_code(1)}'}").is_checked()  # saved on the first device
    for n in range(19, 37):
        if f"q{n}" != SKIPPED:
            _choose_code(page, f"q{n}", _rand36_code(n))
    page.get_by_role("button", name="Se over svarene").click()

    page.wait_for_url(re.compile(r"/review$"))
    skipped = page.locator("ul.skipped a")
    assert skipped.all_inner_texts() == ["Siste 4 uker: vært glad"]
    assert page.get_by_text("35 av 36 spørsmål er besvart.").is_visible()
    assert page.get_by_text("6 av 6 spørsmål er besvart.").is_visible()
    page.screenshot(path=screenshots / "05-review.png", full_page=True)
    # the link goes back to the skipped question
    skipped.first.click()
    page.wait_for_url(re.compile(rf"/s/2#field-{SKIPPED}$"))
    assert page.evaluate("document.activeElement.id") == f"field-{SKIPPED}"
    page.screenshot(path=screenshots / "06-back-to-skipped.png")
    page.go_back()
    page.wait_for_url(re.compile(r"/review$"))

    page.get_by_role("button", name="Send svarene").click()
    assert page.get_by_role("heading", name="Takk for svarene").is_visible()
    receipt = page.locator("main").inner_text()
    assert "Svarene dine ble mottatt" in receipt and "EQ-5D" not in receipt and "hofte" not in receipt
    page.screenshot(path=screenshots / "07-receipt.png", full_page=True)

    gone = page.goto(link)
    assert gone.status == 410
    page.screenshot(path=screenshots / "08-gone.png", full_page=True)
    tablet.close()

    # ---- the registry finds the scores through the API
    r = httpx.get(f"{base}/api/v1/registries/demo/episodes/{external_id}", headers={"Authorization": f"Bearer {keys['registry']}"})
    assert r.status_code == 200, r.text
    m3 = next(tp for tp in r.json()["time_points"] if tp["id"] == "m3")
    assert m3["status"] == "completed"
    by_instrument = {resp["instrument"]: resp for resp in m3["responses"]}
    eq = by_instrument["eq5d-5l"]
    assert eq["answers"] == {**EQ5D, "VAS": VAS}
    index = next(s for s in eq["scores"] if s["scoring"] == "index")
    expected = scoring.score("eq5d-5l", {k: [v] for k, v in EQ5D.items()}, method="VT", country="Norway").scores["index"][0]
    assert index["values"]["index"] == pytest.approx(float(expected), abs=1e-12)
    assert index["value_set"] == "EQ-5D-5L · VT · Norway"
    rand = by_instrument["rand36"]
    assert rand["answers"][SKIPPED] is None and rand["answers"]["q1"] == _rand36_code(1)
    rand_answers = {f"q{n}": [None if f"q{n}" == SKIPPED else _rand36_code(n)] for n in range(1, 37)}
    expected_rand = scoring.score("rand36", rand_answers).scores
    got = next(s for s in rand["scores"] if s["scoring"] == "rand")["values"]
    for scale, values in expected_rand.items():
        assert got[scale] == pytest.approx(float(values[0]), abs=1e-9), scale


def test_errors_and_the_language_switch_on_a_phone(server, keys, browser, screenshots):
    base, _ = server
    _, link = _enrol_and_issue(base, keys)
    context = _phone(browser)
    page = context.new_page()
    page.goto(link)
    page.get_by_role("button", name="Start").click()
    page.wait_for_url(re.compile(r"/s/1$"))
    _choose(page, EQ5D_LABELS["MO"], "Nivå 4 av 5")
    page.get_by_label(re.compile("Helsen i dag")).fill("150")
    page.get_by_role("button", name="Neste").click()

    summary = page.locator(".error-summary")
    assert summary.is_visible() and page.title().startswith("Noe må rettes")
    page.screenshot(path=screenshots / "09-error-summary.png")
    summary.get_by_role("link").click()
    assert page.evaluate("document.activeElement.id") == "field-VAS"
    page.screenshot(path=screenshots / "10-error-at-the-field.png")
    assert page.locator("#field-MO-4").is_checked()  # kept while the page is shown again

    page.get_by_label(re.compile("Helsen i dag")).fill("55")
    page.get_by_role("button", name="Nynorsk").click()
    page.wait_for_url(re.compile(r"/s/1$"))
    assert page.locator("html").get_attribute("lang") == "nn"
    assert page.locator("legend", has_text="Gange/rørsle").is_visible()
    assert page.locator("#field-MO-4").is_checked() and page.locator("#field-VAS").input_value() == "55"
    page.screenshot(path=screenshots / "11-nynorsk.png")
    context.close()


def test_the_api_docs_page_loads_everything_from_the_service_within_its_policy(server, browser, screenshots):
    """Swagger UI at /schema/swagger: its scripts, styles and icons come from the service itself (issue 12),
    its Content-Security-Policy allows nothing else, and under that policy it shows every operation."""
    base, _ = server
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
    page.screenshot(path=screenshots / "api-docs.png")
    context.close()
    assert [u for u in requested if not u.startswith((base + "/", "data:"))] == []
    assert errors == []  # a script or style the policy blocked is reported here
