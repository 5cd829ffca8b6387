"""Fixtures of the browser tests (see browser_support): one server and one Chromium per test
module, and the inspector that checks every page state."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, Inspector, Server


@pytest.fixture(scope="session")
def screenshots() -> Path | None:
    """$PROMSVC_TEST_SCREENSHOTS, where screenshots of every page state go; None: none taken."""
    folder = os.environ.get("PROMSVC_TEST_SCREENSHOTS")
    if not folder:
        return None
    Path(folder).mkdir(parents=True, exist_ok=True)
    return Path(folder)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = Server(tmp_path_factory.mktemp("browser"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser():
    # Module-scoped: Playwright's sync API keeps an event loop running in this thread while it
    # is open, and later tests (test_submission's asyncio.run) need the thread free of it.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def inspector(screenshots, request) -> Inspector:
    folder = screenshots / request.module.__name__.rsplit(".", 1)[-1] if screenshots else None
    if folder:
        folder.mkdir(exist_ok=True)
    return Inspector(folder)
