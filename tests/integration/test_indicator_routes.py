"""The database and the export's CSV of the same database give the same indicator results, on
SQLite and PostgreSQL (every demo indicator, every cell)."""

from __future__ import annotations

import datetime as dt

from test_frame import answer, enrol, exported, stored  # noqa: F401  (stored: a fixture)

from promsvc.indicators import engine, frame

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def test_the_database_and_the_csv_give_the_same_results(stored, app, tmp_path):  # noqa: F811
    iset = app.state.indicators["demo"]
    wanted = engine.needs(list(iset.compiled))
    path = exported(app, stored, tmp_path)
    as_of = dt.date.today() + dt.timedelta(days=800)  # every window of the episodes enrolled for next week has closed
    results = {}
    for source, read in (("database", lambda n: frame.from_database(app.state.engine, stored, n)),
                         ("csv", lambda n: frame.from_csv(path, stored, n))):
        frames = {p: read(n) for p, n in wanted.items()}
        results[source] = engine.compute(frames, iset, stored, engine.Options(as_of=as_of, computed_at=NOW)).results
    assert results["database"] == results["csv"]
    response = {(r.period, r.unit): r for r in results["csv"] if r.indicator == "response-baseline"}
    national = next(r for (p, u), r in response.items() if u == "")
    assert national.counts == {"withdrawn": 1, "deceased": 1} and national.denominator == 2 and national.numerator == 2
