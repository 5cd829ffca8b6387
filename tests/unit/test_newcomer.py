"""The demo as a newcomer meets it (issue 11, point 8): `make run PORT=…` serves on that port,
setting up raises no packaging deprecation, and the scheduler's routine ticks stay off the
screen at INFO (the demo's printed links must stay visible). `make run` twice and the page at
the "Serving on" address are tested in tests/integration (test_enrolment, test_patient_states)
and tests/browser (test_patient_states_browser)."""

from __future__ import annotations

import logging
import subprocess
import threading
import time
import tomllib
from pathlib import Path
from types import SimpleNamespace

from promsvc.scheduler import DeliveryScheduler

ROOT = Path(__file__).resolve().parents[2]


def test_make_run_serves_on_the_port_given():
    shown = subprocess.run(["make", "-n", "-C", str(ROOT), "run", "PORT=8123"], capture_output=True, text=True, check=True).stdout
    assert "promsvc demo --host 127.0.0.1 --port 8123" in shown
    default = subprocess.run(["make", "-n", "-C", str(ROOT), "run"], capture_output=True, text=True, check=True).stdout
    assert "--port 8000" in default


def test_the_licence_is_an_spdx_expression_with_a_setuptools_that_reads_it():
    # A `license = {text = …}` table makes setuptools print a deprecation warning on every install.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["license"] == "MIT"
    assert "setuptools>=77" in project["build-system"]["requires"]


def test_routine_scheduler_ticks_are_not_logged_at_info(caplog):
    # INFO everywhere to begin with (other tests may have configured these loggers otherwise)
    for name in (None, "apscheduler", "promsvc.scheduler"):
        caplog.set_level(logging.INFO, logger=name)
    ticked = []
    scheduler = DeliveryScheduler(SimpleNamespace(instance="test", close=lambda: None, stopping=threading.Event()),
                                  interval=3600)
    scheduler.tick = lambda: ticked.append(1)  # what a tick does is delivery's; here only its logging
    scheduler._scheduler.modify_job("delivery-tick", func=scheduler.tick)
    scheduler.start()
    try:
        deadline = time.monotonic() + 10
        while not ticked and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        scheduler.shutdown()
    assert ticked, "the first tick runs at once"
    assert [r.getMessage() for r in caplog.records if r.name.startswith("apscheduler") and r.levelno < logging.WARNING] == []
    assert [r.getMessage() for r in caplog.records if r.name == "promsvc.scheduler"] == ["delivery scheduler: a tick every 3600 s (instance test)"]
