"""The result pages in a real browser (Debian's Chromium) at phone and desktop width: every
page is screenshotted into $PROMSVC_TEST_SCREENSHOTS (default: a pytest temporary dir), passes
axe-core with 0 violations, shows its charts, works without JavaScript (scripts are off), and
never makes the page itself scroll sideways (a wide chart scrolls inside its own region).

axe-core: the copy bundled in the PyPI package `axe-playwright-python` (pinned in
pyproject.toml, so `make setup` installs the same rules on a fresh clone), injected with
Playwright's evaluate, which the pages' Content-Security-Policy does not block.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from sqlmodel import Session

from promsvc import migrations
from promsvc.app import create_app
from promsvc.db import make_engine
from promsvc.reports import publication
from promsvc.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reports"))
import builders  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}
PAGES = {
    "registry-nb": "/results/demo",
    "registry-en-search": "/results/demo?lang=en&q=response",
    "unit-nn": "/results/demo/fjord-sentral?lang=nn",
}


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("PROMSVC_TEST_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is needed for the browser tests: apt-get install chromium", pytrace=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"sqlite:///{tmp_path_factory.mktemp('results') / 'promsvc.sqlite3'}"
    migrations.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as s:
        publication.save(s, builders.publication())
        s.commit()
    engine.dispose()
    settings = Settings(database_url=url, base_url=f"http://127.0.0.1:{port}", migrate_on_start=False, log_level="WARNING")
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the test server did not start", pytrace=False)
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def _axe_violations(page) -> list[dict]:
    from axe_playwright_python.base import AXE_SCRIPT

    page.evaluate(AXE_SCRIPT)
    # The charts' drawing inside each <svg role="img"> is presentational (the svg element itself,
    # with its title, is checked); leaving its thousands of shapes out halves axe's time.
    result = page.evaluate("axe.run({exclude: [['svg.chart > g']]}, {resultTypes: ['violations']})")
    return [{"id": v["id"], "nodes": [n["target"] for n in v["nodes"]][:3]} for v in result["violations"]]


@pytest.mark.parametrize("size", SIZES)
def test_result_pages_are_accessible_at_phone_and_desktop_width(server, browser, screenshots, size):
    context = browser.new_context(viewport=SIZES[size], java_script_enabled=False,
                                  is_mobile=size == "phone", has_touch=size == "phone")
    with_scripts = browser.new_context(viewport=SIZES[size])  # for axe-core only: the pages have no script
    page, checked = context.new_page(), with_scripts.new_page()
    for name, path in PAGES.items():
        response = page.goto(server + path)
        assert response.status == 200, path
        page.screenshot(path=str(screenshots / f"results-{name}-{size}.png"), full_page=name == "registry-nb")
        assert page.locator("svg.chart").count() >= 1
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"{name} scrolls sideways"
        # the charts' text alternative: each figure has a table with a header row
        assert page.locator("figure.chart table thead th").count() > 0
        if size == "phone" or name == "registry-nb":  # axe-core is slow on pages this size: each page once, one twice
            checked.goto(server + path)
            checked.locator("details").evaluate_all("ds => ds.forEach(d => d.open = true)")  # check the tables too
            assert _axe_violations(checked) == [], name
    with_scripts.close()
    context.close()


def test_search_form_works_without_javascript(server, browser):
    context = browser.new_context(viewport=SIZES["phone"], java_script_enabled=False)
    page = context.new_page()
    page.goto(server + "/results/demo?lang=en")
    page.get_by_label("Search the indicators").fill("coverage")
    page.get_by_role("button", name="Search").click()
    assert "q=coverage" in page.url
    assert page.locator("article.indicator").count() == 1
    assert page.locator("article.indicator h3").inner_text() == "Coverage"
    context.close()
