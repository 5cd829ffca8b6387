"""The PDF reports, read back with pdftotext: their numbers are the engine's."""

from __future__ import annotations

import re
import subprocess

import pytest
from cohort import index

from promsvc.indicators.results import NATIONAL
from promsvc.reports import documents
from promsvc.reports.charts import Shown
from promsvc.reports.texts import NNBSP, Words


@pytest.fixture(scope="module")
def ix():
    return index(seed=11, episodes=1500)


@pytest.fixture(scope="module")
def reports(ix):
    """Each language's registry report, made once for the tests of this module."""
    return {lang: documents.registry_report(ix, lang) for lang in ("nb", "nn", "en")}


def _text(pdf: bytes, tmp_path, name: str) -> str:
    path = tmp_path / name
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return re.sub(r"\s+%", "%", out.replace(NNBSP, " "))  # pdftotext may drop a narrow space before %


def _plain(text: str) -> str:
    return text.replace(NNBSP + "%", "%").replace(NNBSP, " ")


def _info(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "info.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("lang", ["nb", "nn", "en"])
def test_registry_report_shows_every_published_number_of_the_report_year(ix, reports, tmp_path, lang):
    w = Words(lang)
    pdf = reports[lang]
    text = _text(pdf, tmp_path, f"registry-{lang}.pdf")
    period = ix.report_period()
    checked = 0
    for d in ix.indicators():
        shown = Shown(d, w)
        assert w.text(d.title) in text
        for level in d.levels:
            for r in ix.cells(d.id, period, level):
                if r.suppressed or r.value is None:
                    continue
                name = ix.name(r.unit, w("national"))
                value = _plain(shown.value(r.value))
                # the table row: the unit's name, then its value
                assert re.search(re.escape(name) + r"\s+" + re.escape(value), text), (d.id, r.unit, value)
                if shown.percent and r.numerator is not None:
                    assert _plain(w.n_of_N(r.numerator, r.denominator)) in text
                checked += 1
    assert checked > 20
    info = _info(pdf, tmp_path)
    assert f"Title:           {w('annual_report')} {period}" in info
    assert b"/Lang (" + lang.encode() + b")" in pdf


def test_unit_report_compares_the_unit_with_its_parents_and_the_country(ix, tmp_path):
    w = Words("en")
    unit = next(u for u in ix.units if ix.level_of(u) == "hospital" and ix.ancestors(u))
    pdf = documents.unit_report(ix, unit, "en")
    text = _text(pdf, tmp_path, "unit.pdf")
    period = ix.report_period()
    names = [ix.name(u, "") for u in (unit, *ix.ancestors(unit))] + [w("national")]
    assert f"Report for {names[0]}" in text
    for d in ix.indicators():
        shown = Shown(d, w)
        for u in (unit, *ix.ancestors(unit), NATIONAL):
            r = ix.cell(d.id, period, u)
            if r is None or r.suppressed or r.value is None:
                continue
            assert _plain(shown.value(r.value)) in text, (d.id, u)
    for name in names:
        assert name in text


def test_report_lists_every_definition_with_its_version_and_the_provenance(ix, reports, tmp_path):
    text = _text(reports["en"], tmp_path, "defs.pdf")
    for d in ix.indicators():
        assert f"{d.id}, Version {d.version}" in text
    for line in ix.results.provenance:
        assert line.split(" · ")[0] in text
    assert "Data until" in text and ix.results.data_until.isoformat() in text
