"""The CSV export: one row per episode × time point, answers and current scores, audited."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
import sqlalchemy as sa
from service_helpers import bearer, write_without_waiting
from sqlmodel import select

import scoring
from promsvc.models import AuditEntry

DEMO = "/api/v1/registries/demo"
SOON = (dt.date.today() + dt.timedelta(days=7)).isoformat()
EQ5D = {"MO": 2, "SC": 1, "UA": 3, "PD": 4, "AD": 1, "VAS": 65}
RAND36 = {f"q{i}": 1 for i in range(1, 37)} | {"q1": 3, "q20": 2, "q21": 4}


def enrol(client, key, external_id, **changes):
    body = {"external_id": external_id, "pseudonym": f"P-{external_id}", "unit": "fjord-sentral",
            "protocol": "hip_primary", "event_date": SOON, **changes}
    r = client.post(f"{DEMO}/episodes", json=body, headers=bearer(key))
    assert r.status_code == 201, r.text


def answer_baseline(client, key, external_id):
    url = client.post(f"{DEMO}/episodes/{external_id}/time-points/baseline/link", headers=bearer(key)).json()["url"]
    token = url.rsplit("/", 1)[1]
    r = client.post(f"/api/v1/forms/{token}/submit", json={"answers": {"eq5d-5l": EQ5D, "rand36": RAND36}})
    assert r.status_code in (200, 201), r.text


def rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


@pytest.fixture
def filled(client, keys):
    enrol(client, keys.system, "A")
    enrol(client, keys.system, "B", unit="dal-fjell")
    enrol(client, keys.system, "C")
    answer_baseline(client, keys.system, "A")
    client.post(f"{DEMO}/episodes/C/withdraw", json={"reason": "r"}, headers=bearer(keys.system))


def test_one_row_per_episode_and_time_point(client, keys, filled):
    table = rows(client.get(f"{DEMO}/export.csv", headers=bearer(keys.registry)))
    assert [(r["external_id"], r["time_point"]) for r in table] == [
        (e, tp) for e in "ABC" for tp in ("baseline", "m3", "m12")
    ]
    a0 = table[0]
    assert a0["status"] == "completed" and a0["submitted_at"].endswith("Z") and a0["respondent"] == "patient"
    assert a0["pseudonym"] == "P-A" and a0["unit"] == "fjord-sentral"
    assert {r["status"] for r in table if r["external_id"] == "B"} == {"planned"}
    assert {r["status"] for r in table if r["external_id"] == "C"} == {"withdrawn"}
    assert all(r["withdrawn_at"] for r in table if r["external_id"] == "C")


def test_answers_and_current_scores(client, keys, filled):
    a0 = rows(client.get(f"{DEMO}/export.csv", headers=bearer(keys.registry)))[0]
    assert {k: a0[f"eq5d-5l.{k}"] for k in EQ5D} == {k: str(v) for k, v in EQ5D.items()}
    assert a0["rand36.q21"] == "4"
    index = scoring.score("eq5d-5l", {k: [v] for k, v in EQ5D.items()}, method="VT", country="Norway").scores["index"][0]
    assert float(a0["eq5d-5l.index"]) == pytest.approx(index, abs=1e-6)
    rand = scoring.score("rand36", {k: [v] for k, v in RAND36.items()}).scores
    sf36 = scoring.score("rand36", {k: [v] for k, v in RAND36.items()}, scoring="sf36v1").scores
    # the registry's first scoring of rand36 (rand) has plain columns, the second (sf36v1) is prefixed
    assert float(a0["rand36.pf"]) == pytest.approx(rand["pf"][0], abs=1e-6)
    assert float(a0["rand36.sf36v1.pcs"]) == pytest.approx(sf36["pcs"][0], abs=1e-6)
    assert "rand36.pcs" not in a0
    unanswered = rows(client.get(f"{DEMO}/export.csv", headers=bearer(keys.registry)))[1]
    assert unanswered["eq5d-5l.MO"] == "" and unanswered["eq5d-5l.index"] == ""


def test_the_header_names_every_item_and_score(client, keys):
    header = client.get(f"{DEMO}/export.csv", headers=bearer(keys.registry)).text.splitlines()[0].split(",")
    assert header[:3] == ["external_id", "pseudonym", "unit"]
    assert [h for h in header if h.startswith("eq5d-5l.")] == [f"eq5d-5l.{x}" for x in ("MO", "SC", "UA", "PD", "AD", "VAS", "index")]
    assert {f"rand36.q{i}" for i in range(1, 37)} <= set(header)
    assert {f"rand36.{s}" for s in "pf rp bp gh vt sf re mh".split()} <= set(header)
    assert {f"rand36.sf36v1.{s}" for s in ("pcs", "mcs")} <= set(header)


def test_only_the_registrys_own_episodes(client, keys, filled):
    other = {"external_id": "A", "pseudonym": "OTHER", "unit": "other-hospital", "protocol": "knee", "event_date": SOON}
    assert client.post("/api/v1/registries/other/episodes", json=other, headers=bearer(keys.system)).status_code == 201
    demo = rows(client.get(f"{DEMO}/export.csv", headers=bearer(keys.registry)))
    assert "OTHER" not in {r["pseudonym"] for r in demo}
    theirs = rows(client.get("/api/v1/registries/other/export.csv", headers=bearer(keys.other)))
    assert [(r["pseudonym"], r["time_point"]) for r in theirs] == [("OTHER", "m6")]
    assert "rand36.q1" not in theirs[0]  # only the instruments of that registry's protocols


def test_protocol_filter(client, keys, filled):
    assert len(rows(client.get(f"{DEMO}/export.csv?protocol=hip_primary", headers=bearer(keys.registry)))) == 9
    r = client.get(f"{DEMO}/export.csv?protocol=knee", headers=bearer(keys.registry))
    assert r.status_code == 404 and r.json()["where"] == "query parameter protocol"


def test_export_is_audited(client, keys, session, filled):
    client.get(f"{DEMO}/export.csv", headers=bearer(keys.registry))
    client.get(f"{DEMO}/export.csv", headers=bearer(keys.analyst))
    entries = session.exec(select(AuditEntry).where(AuditEntry.action == "responses.export")).all()
    assert [(e.role, e.outcome, e.registry_id) for e in entries] == [("registry", "ok", "demo"), ("analyst", "denied", "demo")]


def test_an_empty_registry_exports_a_header(client, keys):
    text = client.get(f"{DEMO}/export.csv", headers=bearer(keys.admin)).text
    assert text.count("\n") == 1 and text.startswith("external_id,")


def test_the_export_is_made_and_sent_a_chunk_of_episodes_at_a_time(client, keys, filled, app):
    """Chunks of 2 episodes give the same text as one chunk, in as many pieces as chunks (+ the header)."""
    from promsvc.episodes.export import export_csv

    registry = app.state.registries["demo"]
    enrol(client, keys.system, "D")
    enrol(client, keys.system, "E")
    whole = client.get(f"{DEMO}/export.csv", headers=bearer(keys.registry)).text
    pieces = list(export_csv(app.state.engine, registry, chunk=2))
    assert len(pieces) == 1 + 3  # header; A B, C D, E
    assert "".join(pieces) == whole
    assert [r["external_id"] for r in csv.DictReader(io.StringIO(whole))] == [e for e in "ABCDE" for _ in range(3)]


def test_the_export_holds_no_writer_off(client, keys, filled, app, monkeypatch):
    """An export of a large registry takes minutes; between its chunks and while it reads one,
    a patient's submission must not wait (SQLite: no write lock is taken for reading)."""
    from promsvc.episodes import export

    real, written = export._rows, []

    def read_then_write(session, registry, columns, ids):
        rows = list(real(session, registry, columns, ids))
        write_without_waiting(app.state.engine)
        written.append(len(ids))
        return rows

    monkeypatch.setattr(export, "_rows", read_then_write)
    pieces = list(export.export_csv(app.state.engine, app.state.registries["demo"], chunk=2))
    assert len(pieces) == 1 + 2 and written == [2, 1]


def test_a_database_failure_in_the_middle_cuts_the_export_short_and_logs_no_row_data(client, keys, filled, app, monkeypatch, caplog):
    from promsvc.episodes import export

    real, calls = export._rows, []

    def second_chunk_fails(session, registry, columns, ids):
        calls.append(ids)
        if len(calls) == 2:
            raise sa.exc.OperationalError("SELECT … WHERE episode.id IN (…)", {"id_1": "P-SECRET"}, Exception("server closed the connection"))
        return real(session, registry, columns, ids)

    monkeypatch.setattr(export, "_rows", second_chunk_fails)
    pieces = export.export_csv(app.state.engine, app.state.registries["demo"], chunk=2)
    assert next(pieces).startswith("external_id,") and next(pieces).count("\n") == 6  # the header; A and B
    with pytest.raises(export.ExportStopped) as stopped:
        next(pieces)
    assert stopped.value.__suppress_context__  # the database's message (it may quote values) is not shown
    assert "stopped after 2 episodes (OperationalError)" in caplog.text
    assert "SECRET" not in caplog.text and "SECRET" not in str(stopped.value)
