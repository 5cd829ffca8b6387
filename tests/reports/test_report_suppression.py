"""Property: over random cohorts, no suppressed cell's numbers appear anywhere we publish:
not in the result pages, not in the PDF reports, not in open data; and no
score summary covers fewer than the minimum number of episodes."""

from __future__ import annotations

import csv
import io
import re
import subprocess

import msgspec
from cohort import index
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from promsvc.indicators.results import NATIONAL
from promsvc.reports import distributions, documents, opendata, pages
from promsvc.reports.published import is_percent
from promsvc.reports.texts import NNBSP, Words


def _pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return " ".join(text.replace(NNBSP, " ").split())


def _articles(html: str) -> dict[str, str]:
    """Each indicator's part of a page (its <article>), by indicator id."""
    return dict(re.findall(r'<article class="indicator" id="([^"]+)".*?>(.*?)</article>', html, re.S))


def _leaks(ix, w, cells, text: str, published_pairs: set) -> list[str]:
    # Only a percentage's numerator is a count shown as "n of N"; a mean's is a sum of values
    # (its N alone is shown), which may round to a published cell's count by chance.
    counted = {d.id for d in ix.definitions.values() if is_percent(d)}
    found = []
    for r in cells:
        name = ix.name(r.unit, w("national"))
        label = f"{name} ({w.count(r.denominator)})".replace(NNBSP, " ")
        if label in text:
            found.append(f"{r.indicator} {r.period} {r.unit}: {label!r}")
        if r.indicator in counted and r.numerator is not None and (r.numerator, r.denominator) not in published_pairs:
            pair = w.n_of_N(r.numerator, r.denominator).replace(NNBSP, " ")
            # (not a chart title's "2 av 5 enheter når målet")
            if re.search(rf"(?<![\d,]){re.escape(pair)}(?![\d,]| enhet)", text):
                found.append(f"{r.indicator} {r.period} {r.unit}: {pair!r}")
    return found


@settings(max_examples=3, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(seed=1042, episodes=700, years=3)  # a mean (QALY) whose sum rounds to a published count
@given(seed=st.integers(0, 10_000), episodes=st.integers(150, 700), years=st.integers(2, 3))
def test_no_suppressed_value_is_published_anywhere(tmp_path, seed, episodes, years):
    ix = index(seed, episodes, years=years)
    results = ix.results.results
    suppressed = [r for r in results if r.suppressed]
    assert suppressed, "the cohort should be small enough to suppress something"
    assert all(r.value is None and r.ci_low is None and r.target_level == "" for r in suppressed)
    published_pairs = {(r.numerator, r.denominator) for r in results if not r.suppressed}

    # open data: exactly the published cells (the portal's file, for the registry's staff, is not open data)
    keys = {(r.indicator, r.period, r.unit) for r in results if not r.suppressed and r.value is not None}
    rows = list(csv.DictReader(io.StringIO(opendata.csv_bytes(ix.publication).decode())))
    assert {(r["indicator"], r["period"], r["unit"]) for r in rows} == keys
    data = msgspec.json.decode(opendata.json_bytes(ix.publication))
    assert {(r["indicator"], r["period"], r["unit"]) for r in data["results"]} == keys

    # score summaries: never a group under the minimum
    assert all(s.n >= distributions.SUMMARY_MIN for s in ix.publication.summaries)

    period = ix.report_period()
    w = Words("nb")
    # the registry's page, indicator by indicator
    html = pages.render("results.html", **pages.page(ix, lang="nb", query="", period=period, unit=None, published="x"))
    articles = _articles(html)
    for indicator, text in articles.items():
        cells = [r for r in suppressed if r.indicator == indicator and r.period == period]
        assert _leaks(ix, w, cells, " ".join(text.replace(NNBSP, " ").split()), published_pairs) == []
    # a unit's page and report: the unit with the most suppressed cells
    unit = max((u for u in ix.units), key=lambda u: sum(r.unit == u for r in suppressed))
    html = pages.render("results.html", **pages.page(ix, lang="nb", query="", period=period, unit=unit, published="x"))
    for indicator, text in _articles(html).items():
        cells = [r for r in suppressed if r.indicator == indicator and r.period == period]
        assert _leaks(ix, w, cells, " ".join(text.replace(NNBSP, " ").split()), published_pairs) == []
    # the PDFs: any suppressed cell's n of N that no published cell shares
    for pdf in (documents.registry_report(ix, "nb", period), documents.unit_report(ix, unit, "nb", period)):
        text = _pdf_text(pdf, tmp_path)
        cells = [r for r in suppressed if r.period == period and r.unit != NATIONAL]
        leaks = [leak for leak in _leaks(ix, w, cells, text, published_pairs) if "av" in leak]
        assert leaks == []
