"""The files made from results: internal CSV columns in DESIGN.md's order, open data without a
suppressed cell, the CSVW sidecar with the stamp, and the portal's rows adding up to the value."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import msgspec
import pytest
from indicator_frames import indicator_set, random_frame, registry

from promsvc.indicators import engine, outputs
from promsvc.indicators.results import CSV_COLUMNS, ResultSet

REGISTRY = registry()
ISET = indicator_set(REGISTRY)
NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def results() -> ResultSet:
    return engine.compute({"hip": random_frame(11, 900)}, ISET, REGISTRY,
                          engine.Options(as_of=dt.date(2025, 12, 31), computed_at=NOW, source="cohort.csv"))


def rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_internal_csv_has_the_contract_columns_and_every_cell(results):
    text = outputs.internal_csv(results)
    assert text.splitlines()[0] == ",".join(CSV_COLUMNS)
    got = rows(text)
    assert len(got) == len(results.results)
    hidden = [r for r in got if r["suppressed"] == "true"]
    assert hidden and all(r["value"] == "" and r["ci_low"] == "" and r["reason"] and r["denominator"] for r in hidden)
    assert {r["suppressed"] for r in got} == {"true", "false"}


def test_internal_json_round_trips_with_the_stamp(results):
    back = msgspec.json.decode(outputs.internal_json(results), type=ResultSet)
    assert back == results
    assert back.computed_at == NOW and back.source == "cohort.csv"


def test_open_data_leaves_out_every_suppressed_cell(results):
    published = rows(outputs.open_csv(results))
    assert len(published) == sum(1 for r in results.results if not r.suppressed and r.value is not None)
    assert all(r["value"] != "" and int(r["denominator"]) >= 5 for r in published)
    assert "suppressed" not in published[0] and "reason" not in published[0] and "counts" not in published[0]
    body = json.loads(outputs.open_json(results, ISET))
    assert body["computed_at"] == NOW.isoformat() and body["data_until"] == "2025-12-31"
    assert [c["name"] for c in body["dictionary"]] == list(outputs.OPEN_COLUMNS)
    assert {i["id"] for i in body["indicators"]} == {i.id for i in ISET.indicators}
    assert len(body["results"]) == len(published)


def test_the_csv_sidecar_describes_every_column_and_carries_the_stamp(results):
    meta = outputs.csv_metadata(results, "out.csv", CSV_COLUMNS)
    assert meta["@context"] == "http://www.w3.org/ns/csvw" and meta["url"] == "out.csv"
    assert [c["name"] for c in meta["tableSchema"]["columns"]] == list(CSV_COLUMNS)
    stamp = meta["promsvc:stamp"]
    assert stamp["definitions"][0] == {"indicator": "eq5d-mid", "version": 1, "approved": "2025-01-15",
                                       "method": results.definitions[0].method}
    assert stamp["provenance"] == ["eq5d-5l 1.0 · index 1.0 · EQ-5D-5L · VT · Norway", "gs-peq 1.0 · items 1.0",
                                   "rand36 1.0 · rand 1.0"]


def test_portal_rows_sum_to_each_hospital_value(results):
    text, notes = outputs.portal_csv(results, ISET)
    portal = rows(text)
    assert list(portal[0]) == list(outputs.PORTAL_COLUMNS)
    assert any("pf-median: a median cannot be summed" in n for n in notes)
    assert any("has no organisation number" in n for n in notes)
    assert all("-" not in r["year"] and r["context"] == "caregiver" for r in portal)
    by_key = {(r.indicator, r.period, r.orgnr): r for r in results.results if r.level == "hospital"}
    for row in portal:
        ind = row["ind_id"].removeprefix("ind_")
        cell = by_key[(ind, row["year"], row["orgnr"])]
        if cell.measure == "count":
            assert float(row["var"]) == cell.value and row["denominator"] == "1"
        elif cell.value is not None and cell.crude is None:
            assert float(row["var"]) / int(row["denominator"]) == pytest.approx(cell.value)
