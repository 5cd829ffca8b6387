"""What the browser tests share: the service on a free port (one per test module), Debian's
Chromium on a phone-sized screen, and the checks every page state goes through.

`Inspector.check(page, name)` is run on every page state the tests reach:

- axe-core finds 0 violations. axe-core is the copy bundled in the PyPI package
  `axe-playwright-python` (pinned in pyproject.toml, so `make setup` fetches it from PyPI like
  every other test dependency): its `axe.min.js` is read from the installed package and
  evaluated in the page; nothing is downloaded at test time, no Node is needed, and the pages'
  Content-Security-Policy (no script at all) stays as it is, since Playwright's evaluation does
  not go through the page's own script loading.
- No sideways scrolling with the text at 200 % (the browser's default font size doubled, as the
  text-size setting does) on a 390 px and on a 320 px wide screen.
- Every language-switch entry, button, review link, error-summary link and footer link is at
  least 44 × 44 CSS pixels.
- When $PROMSVC_TEST_SCREENSHOTS names a directory, a screenshot of the page, and one at 320 px
  with 200 % text, go there (off by default: they take more time than the checks).
"""

from __future__ import annotations

import base64
import datetime as dt
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlmodel import Session

from promsvc.app import create_app
from promsvc.db import make_engine
from promsvc.security import create_key
from promsvc.settings import Settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE = {"width": 390, "height": 844}
NARROW = {"width": 320, "height": 640}
DEFAULT_FONT_PX = 16  # Chromium's default; the text-size setting at 200 % doubles it

# What must be at least 44 × 44 CSS pixels (WCAG 2.5.5): the language switch, buttons, review links.
TARGETS = (
    ".languages a, .languages button:not(.implicit-submit), .languages .current, .button, "
    "main button:not(.implicit-submit), .skipped a, .review-section .change, .error-summary a, .site-footer a"
)


def axe_source() -> str:
    from axe_playwright_python.base import AXE_FILE_PATH

    return Path(AXE_FILE_PATH).read_text(encoding="utf-8")


class Server:
    """The service in a thread of this process (so that a test may patch it), on a SQLite file."""

    def __init__(self, folder: Path):
        if not Path(CHROMIUM).exists():
            pytest.fail(f"{CHROMIUM} is needed for the browser tests: apt-get install chromium", pytrace=False)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.base = f"http://127.0.0.1:{port}"
        self.settings = Settings(database_url=f"sqlite:///{folder / 'promsvc.sqlite3'}", base_url=self.base,
                                 secret_key="browser-test-secret", log_level="WARNING")
        self._server = uvicorn.Server(uvicorn.Config(create_app(self.settings), host="127.0.0.1", port=port,
                                                     log_level="warning", access_log=False))
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                pytest.fail("the test server did not start", pytrace=False)
            time.sleep(0.05)
        engine = make_engine(self.settings)
        with Session(engine) as s:
            _, self.system_key = create_key(s, "system", label="browser test system")
            _, self.registry_key = create_key(s, "registry", "demo", label="browser test registry")
            s.commit()
        self.engine = engine

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self.engine.dispose()

    def enrol_and_issue(self, language: str = "nb", *, proxy: bool = False) -> tuple[str, str]:
        """A new episode of the demo registry and a patient link to its 12-month time point (open
        now); `proxy`: someone may answer on the patient's behalf (the start page asks who answers)."""
        external_id = f"browser-{time.time_ns()}"
        auth = {"Authorization": f"Bearer {self.system_key}"}
        event = (dt.date.today() - dt.timedelta(days=370)).isoformat()
        r = httpx.post(f"{self.base}/api/v1/registries/demo/episodes", headers=auth, json={
            "external_id": external_id, "pseudonym": "PSEUDO-BROWSER", "unit": "fjord-sentral",
            "protocol": "hip_primary", "event_date": event, "language": language, "proxy": proxy,
        })
        assert r.status_code == 201, r.text
        r = httpx.post(f"{self.base}/api/v1/registries/demo/episodes/{external_id}/time-points/m12/link", headers=auth)
        assert r.status_code == 201, r.text
        return external_id, r.json()["url"]

    def withdraw(self, external_id: str) -> None:
        r = httpx.post(f"{self.base}/api/v1/registries/demo/episodes/{external_id}/withdraw",
                       headers={"Authorization": f"Bearer {self.system_key}"}, json={"reason": "test"})
        assert r.status_code == 200, r.text


def phone(browser, locale: str = "nb-NO"):
    return browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale=locale)


class Inspector:
    """Runs the checks of the module doc on a page state; counts what it checked."""

    def __init__(self, screenshots: Path | None):
        self.screenshots = screenshots
        self.axe = axe_source()
        self.checked: list[str] = []

    def check(self, page, name: str) -> None:
        self.checked.append(name)
        if self.screenshots:
            page.screenshot(path=self.screenshots / f"{len(self.checked):02d}-{name}.png", full_page=True)
        page.evaluate(self.axe)
        result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        violations = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]]
        assert violations == [], f"{name}: axe-core found {violations}"
        small = page.evaluate(
            """(selector) => [...document.querySelectorAll(selector)]
                .filter(e => e.offsetParent !== null)
                .map(e => [e.textContent.trim().slice(0, 40), e.getBoundingClientRect()])
                .filter(([, r]) => r.width < 44 - 0.01 || r.height < 44 - 0.01)
                .map(([t, r]) => `${t}: ${r.width.toFixed(1)} × ${r.height.toFixed(1)}`)""",
            TARGETS,
        )
        assert small == [], f"{name}: targets smaller than 44 × 44 px: {small}"
        self._no_sideways_scroll(page, name)

    def _no_sideways_scroll(self, page, name: str) -> None:
        cdp = page.context.new_cdp_session(page)
        try:
            cdp.send("Page.setFontSizes", {"fontSizes": {"standard": DEFAULT_FONT_PX * 2, "fixed": 26}})
            for size in (PHONE, NARROW):
                page.set_viewport_size(size)
                root = page.evaluate("getComputedStyle(document.documentElement).fontSize")
                assert root == f"{DEFAULT_FONT_PX * 2}px", f"{name}: the text size setting did not apply ({root})"
                wide = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
                assert wide == [wide[1], size["width"]], f"{name}: sideways scrolling at 200 % text, {size['width']} px wide ({wide})"
            if self.screenshots:
                # Through CDP: Playwright's own screenshot would first reset the font sizes.
                shot = cdp.send("Page.captureScreenshot", {"format": "png"})["data"]
                (self.screenshots / f"{len(self.checked):02d}-{name}-320px-200pct.png").write_bytes(base64.b64decode(shot))
        finally:
            cdp.send("Page.setFontSizes", {"fontSizes": {"standard": DEFAULT_FONT_PX, "fixed": 13}})
            page.set_viewport_size(PHONE)
            cdp.detach()
