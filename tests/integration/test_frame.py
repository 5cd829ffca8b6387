"""The indicator frame: from the database and from the export's CSV of the same database it is
the same frame (on SQLite and PostgreSQL); its values are those stored; a CSV from elsewhere
gets an error naming the data row and column of a bad cell."""

from __future__ import annotations

import datetime as dt
import sqlite3

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from service_helpers import bearer, write_without_waiting

import scoring
from promsvc.csvio import CsvError
from promsvc.episodes.export import export_csv
from promsvc.indicators import frame as F

DEMO = "/api/v1/registries/demo"
SOON = (dt.date.today() + dt.timedelta(days=7)).isoformat()
EQ5D = {"MO": 2, "SC": 1, "UA": 3, "PD": 4, "AD": 1, "VAS": 65}
RAND36 = {f"q{i}": 1 + i % 2 for i in range(1, 37)} | {"q1": 3}
ALL = F.Needs(
    protocol="hip_primary",
    attributes=frozenset({"sex", "age_group", "asa_class", "urgency", "previous_surgery", "diagnosis"}),
    time_points=frozenset({"baseline", "m3", "m12"}),
    windows=frozenset({"m3", "m12"}),
    scores=frozenset({
        F.ScoreRef("baseline", "eq5d-5l", "index"), F.ScoreRef("m3", "eq5d-5l", "index"),
        F.ScoreRef("m12", "eq5d-5l", "index"), F.ScoreRef("baseline", "rand36", "pf"),
        F.ScoreRef("m3", "rand36", "pf"), F.ScoreRef("m3", "rand36", "pcs", scoring="sf36v1"),
        F.ScoreRef("baseline", "rand36", "pf", scoring="rand"),
    }),
)


def enrol(client, key, external_id, **changes):
    body = {"external_id": external_id, "pseudonym": f"P-{external_id}", "unit": "fjord-sentral",
            "protocol": "hip_primary", "event_date": SOON, **changes}
    r = client.post(f"{DEMO}/episodes", json=body, headers=bearer(key))
    assert r.status_code == 201, r.text


def answer(client, key, external_id, time_point, answers):
    url = client.post(f"{DEMO}/episodes/{external_id}/time-points/{time_point}/link", headers=bearer(key)).json()["url"]
    r = client.post(f"/api/v1/forms/{url.rsplit('/', 1)[1]}/submit", json={"answers": answers})
    assert r.status_code in (200, 201), r.text


@pytest.fixture
def stored(client, keys, app):
    system = keys.system
    enrol(client, system, "A", attributes={"sex": "female", "age_group": "70-79", "asa_class": 2,
                                           "urgency": "elective", "previous_surgery": False})
    enrol(client, system, "B", unit="dal-fjell", attributes={"sex": "male", "previous_surgery": True, "diagnosis": "other"})
    enrol(client, system, "C", unit="dal-universitet-ortopedi")
    enrol(client, system, "D")
    answer(client, system, "A", "baseline", {"eq5d-5l": EQ5D, "rand36": RAND36})
    answer(client, system, "A", "m3", {"eq5d-5l": EQ5D | {"PD": 2}, "rand36": RAND36 | {"q3": 3}})
    answer(client, system, "B", "baseline", {"eq5d-5l": EQ5D | {"MO": None}})
    client.post(f"{DEMO}/episodes/C/withdraw", json={"reason": "r"}, headers=bearer(system))
    client.put(f"{DEMO}/episodes/D/delivery-flags", json={"deceased": True}, headers=bearer(system))
    other = {"external_id": "A", "pseudonym": "X", "unit": "other-hospital", "protocol": "knee", "event_date": SOON}
    assert client.post("/api/v1/registries/other/episodes", json=other, headers=bearer(system)).status_code == 201
    return app.state.registries["demo"]


def exported(app, registry, tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("".join(export_csv(app.state.engine, registry)), encoding="utf-8")
    return path


def test_the_database_and_the_export_give_the_same_frame(stored, app, tmp_path):
    from_db = F.from_database(app.state.engine, stored, ALL)
    from_csv = F.from_csv(exported(app, stored, tmp_path), stored, ALL)
    assert_frame_equal(from_db, from_csv)
    assert from_db.height == 4


@pytest.mark.parametrize("needs", [
    F.Needs(protocol="hip_primary"),
    F.Needs(protocol="hip_primary", attributes=frozenset({"previous_surgery"})),
    F.Needs(protocol="hip_primary", scores=frozenset({F.ScoreRef("m3", "rand36", "mcs", scoring="sf36v1")})),
    F.Needs(protocol="hip_primary", time_points=frozenset({"m12"})),
    F.Needs(protocol="hip_primary", windows=frozenset({"m12"})),
], ids=["fixed", "one-attribute", "one-score", "one-time-point", "one-window"])
def test_the_same_frame_for_fewer_needs(stored, app, tmp_path, needs):
    from_db = F.from_database(app.state.engine, stored, needs)
    assert_frame_equal(from_db, F.from_csv(exported(app, stored, tmp_path), stored, needs))
    assert from_db.columns == list(F.plan(stored, needs).schema)


def test_the_frame_holds_what_is_stored(stored, app):
    frame = F.from_database(app.state.engine, stored, ALL)
    a, b, c, d = frame.rows(named=True)
    assert [r["episode"] for r in (a, b, c, d)] == ["A", "B", "C", "D"]
    assert frame.schema["event_date"] == pl.Date() and frame.schema["m3.due_at"] == F.TIME
    assert "baseline.due_at" not in frame.columns and "baseline.submitted_at" in frame.columns  # no window needed
    assert (a["attr.sex"], a["attr.asa_class"], a["attr.previous_surgery"], a["attr.diagnosis"]) == ("female", 2, False, None)
    assert (b["attr.previous_surgery"], b["attr.asa_class"], b["unit"]) == (True, None, "dal-fjell")
    index = scoring.score("eq5d-5l", {k: [v] for k, v in EQ5D.items()}, method="VT", country="Norway").scores["index"][0]
    assert a["baseline.eq5d-5l.index"] == pytest.approx(index, abs=1e-12)
    assert a["m3.rand36.sf36v1.pcs"] == pytest.approx(
        scoring.score("rand36", {k: [v] for k, v in (RAND36 | {"q3": 3}).items()}, scoring="sf36v1").scores["pcs"][0], abs=1e-9)
    assert a["baseline.rand36.pf"] == a["baseline.rand36.rand.pf"]  # rand is the registry's first scoring of rand36
    assert (a["baseline.status"], a["m3.status"], a["m12.status"]) == ("completed", "completed", "planned")
    assert a["baseline.submitted_at"].microsecond == 0 and a["m12.submitted_at"] is None
    assert b["baseline.eq5d-5l.index"] is None and b["baseline.rand36.pf"] is None  # MO missing; RAND-36 not answered
    assert c["withdrawn_at"] is not None and c["m12.status"] == "withdrawn"
    assert d["deceased_at"] is not None and d["withdrawn_at"] is None


@pytest.mark.parametrize("way", ["frame", "api"])
def test_reading_the_frame_holds_no_writer_off(stored, app, client, keys, monkeypatch, way):
    """A registry of millions of rows takes a minute or more to read. Inside a transaction of
    ours a SQLite read would hold the write lock (db.py: BEGIN IMMEDIATE) all that time, and
    every patient's submission would wait for it and then fail; so after each of the reader's
    queries, while its connection (and the request's session) is still open, another
    connection writes without waiting."""
    from promsvc.indicators import dbread

    engine, written = app.state.engine, []
    real = dbread._fetcher

    def fetcher(connection):
        fetch = real(connection)

        def fetch_then_write(query):
            rows = fetch(query)
            write_without_waiting(engine)
            written.append(query.sql)
            return rows
        return fetch_then_write

    monkeypatch.setattr(dbread, "_fetcher", fetcher)
    if way == "frame":
        assert F.from_database(engine, stored, ALL).height == 4
        assert len(written) == 5  # the episodes, the time points, and three instruments' scores
    else:
        r = client.get(f"{DEMO}/indicators/results", headers=bearer(keys.analyst))
        assert r.status_code == 200, r.text
        assert written


def test_needs_the_registry_does_not_have_are_refused(stored, app):
    with pytest.raises(ValueError, match="no time point 'm6'"):
        F.from_database(app.state.engine, stored, F.Needs(protocol="hip_primary", time_points=frozenset({"m6"})))
    with pytest.raises(ValueError, match="no attribute 'bmi'"):
        F.plan(stored, F.Needs(protocol="hip_primary", attributes=frozenset({"bmi"})))
    with pytest.raises(ValueError, match="does not score rand36 by 'nope'"):
        F.plan(stored, F.Needs(protocol="hip_primary", scores=frozenset({F.ScoreRef("m3", "rand36", "pf", scoring="nope")})))


# ------------------------------------------------------------------ a CSV from elsewhere


def _broken(app, registry, tmp_path, change) -> str:
    path = exported(app, registry, tmp_path)
    table = pl.read_csv(path, infer_schema=False)
    path.write_text(change(table).write_csv(), encoding="utf-8")
    return str(path)


def _cell(column, row, value):
    return lambda t: t.with_columns(pl.when(pl.int_range(pl.len()) == row - 1).then(pl.lit(value)).otherwise(pl.col(column)).alias(column))


@pytest.mark.parametrize(("change", "words"), [
    (_cell("eq5d-5l.index", 2, "abc"), ["data row 2, column eq5d-5l.index: found 'abc', expected a number"]),
    (_cell("eq5d-5l.index", 3, "NaN"), ["data row 3, column eq5d-5l.index: found nan", "leave the cell empty"]),
    (_cell("due_at", 4, "2025-13-01T09:00:00Z"), ["data row 4, column due_at", "expected a UTC time"]),
    (_cell("event_date", 1, "14.03.2025"), ["data row 1, column event_date: found '14.03.2025'", "YYYY-MM-DD"]),
    (_cell("unit", 5, "atlantis"), ["data row 5, column unit: found 'atlantis'", "a unit of registry demo"]),
    (_cell("time_point", 2, "m6"), ["data row 2, column time_point: found 'm6'", "baseline, m3, m12"]),
    (_cell("status", 2, "done"), ["data row 2, column status: found 'done'", "completed"]),
    (_cell("attr.sex", 1, "f"), ["data row 1, column attr.sex: found 'f'", "one of female, male"]),
    (_cell("attr.asa_class", 1, "9"), ["data row 1, column attr.asa_class: found 9", "from 1 to 5"]),
    (_cell("attr.previous_surgery", 1, "yes"), ["data row 1, column attr.previous_surgery: found 'yes'", "true or false"]),
    (_cell("attr.sex", 2, "male"), ["data rows 1 and 2 are episode 'A' with another attr.sex"]),
    (_cell("time_point", 2, "baseline"), ["data rows 1 and 2 are both episode 'A' at time point baseline"]),
    (_cell("time_point", 3, "baseline"), ["data rows 1 and 3 are both episode 'A' at time point baseline"]),  # not next to each other
    (_cell("attr.sex", 3, "male"), ["data rows 1 and 3 are episode 'A' with another attr.sex"]),
    (lambda t: t.drop("deceased_at"), ["no column deceased_at", "add them"]),
], ids=["number", "nan", "time", "date", "unit", "time-point", "status", "category", "integer", "boolean",
        "episode-disagrees", "twice", "twice-apart", "episode-disagrees-later", "missing-column"])
def test_a_bad_csv_names_the_row_and_column(stored, app, tmp_path, change, words):
    with pytest.raises(CsvError) as info:
        F.from_csv(_broken(app, stored, tmp_path, change), stored, ALL)
    for word in words:
        assert word in str(info.value)
    assert str(info.value).startswith(str(tmp_path))


def test_a_semicolon_csv_with_a_byte_order_mark_reads_the_same(stored, app, tmp_path):
    path = exported(app, stored, tmp_path)
    other = tmp_path / "excel.csv"
    other.write_bytes(b"\xef\xbb\xbf" + pl.read_csv(path, infer_schema=False).write_csv(separator=";").encode())
    assert_frame_equal(F.from_csv(other, stored, ALL), F.from_csv(path, stored, ALL))


def test_sqlite_finds_the_scores_from_the_time_points_invitations(stored, app):
    """SQLite takes the invitations of the time points needed and looks up each one's response
    by (invitation, instrument), instead of reading every response of the registry (at 5 M rows
    41 against 49 CPU s for the three instruments: docs/indicators.md, "Speed")."""
    from promsvc.indicators import dbread

    engine = app.state.engine
    if engine.dialect.name != "sqlite":
        pytest.skip("the plan checked is SQLite's (PostgreSQL hashes the joins)")
    plan = F.plan(stored, ALL)
    params = {"registry": stored.id, "protocol": plan.protocol.id}
    queries = [dbread._score_query(dbread._Sql("sqlite"), plan, params, instrument, scoring, refs)
               for (instrument, scoring), refs in dbread._score_groups(plan).items()]
    assert len(queries) == 3  # eq5d-5l; rand36 by rand and by sf36v1
    with engine.connect() as connection:
        raw = connection.connection.driver_connection
        for query in queries:
            steps = [row[3] for row in raw.execute("EXPLAIN QUERY PLAN " + query.sql, query.params)]
            assert steps[0].startswith("SEARCH i USING INDEX ix_invitation_registry_id"), steps
            assert any(s.startswith("SEARCH r USING") and s.endswith("(invitation_id=? AND instrument_id=?)") for s in steps), steps


def test_a_big_sqlite_file_is_read_by_worker_processes(stored, app, monkeypatch):
    """From a SQLite file of PROCESS_BYTES or more, worker processes run the queries (each
    with a connection of its own): the frame is the one this process reads itself."""
    from promsvc.indicators import dbread

    engine = app.state.engine
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's queries run on the server, side by side on connections of this process")
    in_process = F.from_database(engine, stored, ALL)
    pools = []

    class Pool(dbread.ProcessPoolExecutor):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            pools.append(self)

    monkeypatch.setattr(dbread, "ProcessPoolExecutor", Pool)
    monkeypatch.setattr(dbread, "PROCESS_BYTES", 0)
    monkeypatch.setattr(dbread.os, "cpu_count", lambda: 2)
    assert_frame_equal(F.from_database(engine, stored, ALL), in_process)
    assert len(pools) == 1

    # a query that fails in a worker fails the read, with the database's own error
    bad = dbread.Query("SELECT x FROM nowhere", {}, {"x": pl.String()}, dbread._times)
    with pytest.raises(sqlite3.OperationalError, match="no such table: nowhere"):
        dbread._sqlite_read(engine, [bad, bad])
    assert len(pools) == 2


def test_the_readers_planner_settings_end_with_its_queries(stored, app):
    """PostgreSQL's reader plans its queries as hash joins (dbread.PG_SETTINGS); the
    connections it used go back to the pool with the server's settings."""
    from promsvc import db
    from promsvc.indicators import dbread

    engine = app.state.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("the settings are PostgreSQL's planner's")
    with db.autocommit(engine).connect() as connection:
        before = {name: connection.exec_driver_sql(f"SHOW {name}").scalar() for name in dbread.PG_SETTINGS}
    assert before != dbread.PG_SETTINGS  # else this test could not tell
    F.from_database(engine, stored, ALL)
    pool = db.autocommit(engine)
    connections = [pool.connect() for _ in range(dbread.READERS + 1)]  # the reader's and one more
    try:
        for connection in connections:
            assert {name: connection.exec_driver_sql(f"SHOW {name}").scalar() for name in dbread.PG_SETTINGS} == before
    finally:
        for connection in connections:
            connection.close()
