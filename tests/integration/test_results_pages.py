"""Published results over HTTP, on SQLite and PostgreSQL: result pages, open data (public,
cacheable with ETag) and the report and portal file (with a key, audited, no-store)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import sys
from pathlib import Path

import msgspec
import pytest
from service_helpers import bearer
from sqlmodel import Session, select

from promsvc.models import AuditEntry
from promsvc.reports import publication

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reports"))
import builders  # noqa: E402


def _save(engine, pub) -> None:
    with Session(engine) as s:
        publication.save(s, pub)
        s.commit()


@pytest.fixture
def published(engine):
    pub = builders.publication()
    _save(engine, pub)
    return pub


def _published_cells(pub):
    return {(r.indicator, r.period, r.unit) for r in pub.results.results if not r.suppressed and r.value is not None}


def test_nothing_published_yet(client, engine):
    r = client.get("/results/demo")
    assert r.status_code == 404 and "Ingen resultater er publisert" in r.text
    r = client.get("/open/demo/indicators.csv")
    assert r.status_code == 404 and "promsvc results publish demo" in r.json()["fix"]


def test_registry_page_groups_indicators_and_is_cacheable(client, published):
    r = client.get("/results/demo")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert '<html lang="nb">' in html
    for d in builders.DEFINITIONS:
        assert f'id="{d.id}"' in html
    assert html.index("Hofteprotese") < html.index("Komplikasjoner")  # clinical fields, in order
    assert html.count("<svg") >= len(builders.DEFINITIONS)
    assert "<script" not in html
    assert r.headers["cache-control"] == "public, max-age=300"
    assert "'unsafe-inline'" not in r.headers["content-security-policy"]
    etag = r.headers["etag"]
    again = client.get("/results/demo", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    english = client.get("/results/demo?lang=en")
    assert english.headers["etag"] != etag and '<html lang="en">' in english.text


def test_search_is_a_get_form_and_filters_indicators(client, published):
    r = client.get("/results/demo", params={"q": "reoperation", "lang": "en"})
    assert r.status_code == 200
    assert r.text.count('<article class="indicator"') == 1 and 'id="reop"' in r.text
    assert "1 indicators match “reoperation”." in r.text
    none = client.get("/results/demo", params={"q": "nothing-like-this", "lang": "en"})
    assert none.text.count('<article class="indicator"') == 0 and "No indicator matches" in none.text


def test_unit_page_and_unknown_names(client, published):
    r = client.get("/results/demo/fjord-sentral")
    assert r.status_code == 200
    assert "Fjordlandet sentralsjukehus" in r.text and "Fjordlandet HF (demo)" in r.text
    for path in ("/results/demo/no-such-unit", "/results/no-such-registry", "/results/no-such-registry/x?lang=en"):
        r = client.get(path)
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "There is no registry or unit by this name here." in r.text


def test_open_data_holds_every_published_cell_and_nothing_suppressed(client, published):
    r = client.get("/open/demo/indicators.csv")
    assert r.status_code == 200 and r.headers["cache-control"] == "public, max-age=300"
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert {(row["indicator"], row["period"], row["unit"]) for row in rows} == _published_cells(published)
    assert "suppressed" not in rows[0]
    assert client.get("/open/demo/indicators.csv", headers={"If-None-Match": r.headers["etag"]}).status_code == 304
    assert "indicators.csv-metadata.json" in r.headers["link"]
    body = client.get("/open/demo/indicators.json").json()
    assert {(x["indicator"], x["period"], x["unit"]) for x in body["results"]} == _published_cells(published)
    assert {(d["id"], d["version"]) for d in body["indicators"]} == {(d.id, d.version) for d in builders.DEFINITIONS}
    assert [c["name"] for c in body["dictionary"]] == list(body["results"][0])
    meta = client.get("/open/demo/indicators.csv-metadata.json")
    assert meta.status_code == 200 and meta.headers["cache-control"] == "public, max-age=300"
    assert [c["name"] for c in meta.json()["tableSchema"]["columns"]] == list(rows[0])


def test_the_newest_publication_is_served(client, published, engine):
    first = client.get("/open/demo/indicators.csv").headers["etag"]
    newer = msgspec.structs.replace(builders.publication(seed=2), published_at=dt.datetime(2026, 4, 1, tzinfo=dt.UTC))
    _save(engine, newer)
    r = client.get("/open/demo/indicators.csv", headers={"If-None-Match": first})
    assert r.status_code == 200 and r.headers["etag"] != first
    assert {(row["indicator"], row["period"], row["unit"]) for row in csv.DictReader(io.StringIO(r.text))} == _published_cells(newer)


@pytest.mark.parametrize(("who", "status"), [("analyst", 200), ("registry", 200), ("other", 403), ("system", 403)])
def test_report_pdf_roles_and_audit(client, published, keys, session, who, status):
    r = client.get("/api/v1/registries/demo/report.pdf", params={"lang": "en"}, headers=bearer(getattr(keys, who)))
    assert r.status_code == status
    if status == 200:
        assert r.content.startswith(b"%PDF") and r.headers["content-type"] == "application/pdf"
        assert r.headers["cache-control"] == "no-store"
    outcomes = [a.outcome for a in session.exec(select(AuditEntry).where(AuditEntry.action == "report.read"))]
    assert outcomes == ["ok" if status == 200 else "denied"]


def test_report_pdf_of_a_unit_and_bad_parameters(client, published, keys):
    auth = bearer(keys.analyst)
    r = client.get("/api/v1/registries/demo/report.pdf", params={"unit": "dal-universitet", "period": "2024"}, headers=auth)
    assert r.status_code == 200 and "dal-universitet-2024-nb.pdf" in r.headers["content-disposition"]
    assert client.get("/api/v1/registries/demo/report.pdf", params={"lang": "sv"}, headers=auth).status_code == 400
    assert client.get("/api/v1/registries/demo/report.pdf", params={"unit": "nope"}, headers=auth).status_code == 404
    assert client.get("/api/v1/registries/demo/report.pdf", params={"period": "1999"}, headers=auth).status_code == 422
    assert client.get("/api/v1/registries/demo/report.pdf").status_code == 401


def test_portal_file_is_for_the_registry_role(client, published, keys):
    r = client.get("/api/v1/registries/demo/portal.csv", headers=bearer(keys.registry))
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert list(rows[0]) == ["context", "year", "orgnr", "ind_id", "var", "denominator"]
    assert {row["ind_id"] for row in rows} == {f"demo_{d.id}" for d in builders.DEFINITIONS}
    assert client.get("/api/v1/registries/demo/portal.csv", headers=bearer(keys.analyst)).status_code == 403
