"""`promsvc report` and `promsvc results list` on a SQLite database with a stored publication."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import no_traceback
from sqlmodel import Session

from promsvc import migrations
from promsvc.db import make_engine
from promsvc.reports import publication

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reports"))
import builders  # noqa: E402


@pytest.fixture
def database(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'promsvc.sqlite3'}"
    migrations.upgrade(url)
    monkeypatch.setenv("PROMSVC_DATABASE_URL", url)
    return url


def _publish(url: str) -> None:
    engine = make_engine(url)
    with Session(engine) as s:
        publication.save(s, builders.publication())
        s.commit()
    engine.dispose()


def test_report_writes_the_registry_report(promsvc, database, tmp_path):
    _publish(database)
    out = tmp_path / "demo.pdf"
    ran = promsvc("report", "demo", "-o", out)
    assert ran.status == 0 and ran.out == ""
    assert "wrote" in ran.err and out.read_bytes().startswith(b"%PDF")
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout
    assert "Nasjonalt demoregister for hofteproteser" in text and "Årsrapport" in text and "Sammendrag" in text
    assert not list(tmp_path.glob("*.part"))


def test_report_of_a_unit_in_english(promsvc, database, tmp_path):
    _publish(database)
    out = tmp_path / "unit.pdf"
    assert promsvc("report", "demo", "--unit", "dal-universitet", "--lang", "en", "--period", "2024", "-o", out).status == 0
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout
    assert "Report for Dalbygda universitetssykehus" in text and "Dalbygda HF (demo)" in text


@pytest.mark.parametrize(("args", "message"), [
    (("report", "nope", "-o", "x.pdf"), "no registry 'nope'"),
    (("report", "demo", "--unit", "nope", "-o", "x.pdf"), "has no unit 'nope'"),
    (("report", "demo", "--period", "1999", "-o", "x.pdf"), "no results for period '1999'"),
])
def test_report_user_errors_are_one_line_and_status_2(promsvc, database, args, message):
    _publish(database)
    ran = promsvc(*args)
    assert ran.status == 2 and message in ran.err and len(ran.err.strip().splitlines()) == 1 and no_traceback(ran)


def test_report_before_anything_is_published(promsvc, database, tmp_path):
    ran = promsvc("report", "demo", "-o", tmp_path / "x.pdf")
    assert ran.status == 2 and "promsvc results publish demo" in ran.err
    assert not (tmp_path / "x.pdf").exists()


def test_results_list(promsvc, database):
    _publish(database)
    ran = promsvc("results", "list", "demo")
    assert ran.status == 0 and len(ran.out.splitlines()) == 1 and "2026-03-02 08:00 UTC  period 2025" in ran.out
