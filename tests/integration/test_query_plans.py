"""Statements given a list of ids look them up by primary key, on SQLite too.

Without statistics, SQLite's planner guesses that any equality on an indexed column matches about
ten rows, so `id IN (500 ids) AND status = 'queued'` would walk the index on `status` (every
queued row) instead of looking up the 500 ids: each dispatch batch would scan the backlog.
`promsvc.db.unindexed` prevents it; this test reads the plans of what the dispatcher and a
submission actually run.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from delivery_fixtures import NOW, enrol, make_delivery, smtp  # noqa: F401  (fixtures)
from patient_fixtures import make_link

from promsvc.delivery import jobs

BY_IDS = re.compile(r"WHERE (\w+)\.id IN \((?!\s*SELECT)")  # a list, not a subquery


@pytest.fixture
def statements():
    seen: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if conn.dialect.name == "sqlite" and BY_IDS.search(statement):
            seen.append((statement, parameters[0] if executemany else parameters))

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", record)
    yield seen
    sa.event.remove(sa.engine.Engine, "before_cursor_execute", record)


def test_statements_given_ids_look_them_up_by_primary_key(database_kind, engine, make_delivery, smtp, client,
                                                          statements):
    if database_kind != "sqlite":
        pytest.skip("the plans checked are SQLite's (PostgreSQL plans with statistics)")
    for _ in range(30):
        enrol(engine)
    jobs.tick(make_delivery(smtp), NOW)
    token, _ = make_link(engine)
    answers = {"eq5d-5l": {"MO": 1, "SC": 1, "UA": 1, "PD": 1, "AD": 1, "VAS": 90}}
    assert client.post(f"/api/v1/forms/{token}/submit", json={"answers": answers}).status_code == 201

    checked = set()
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        for statement, parameters in statements:
            table = BY_IDS.search(statement).group(1)
            plan = [row[3] for row in raw.execute("EXPLAIN QUERY PLAN " + statement, parameters)]
            steps = [step for step in plan if re.match(rf"(SEARCH|SCAN) {table}\b", step)]
            assert steps and all(f"sqlite_autoindex_{table}_1 (id=?)" in step or "PRIMARY KEY" in step
                                 for step in steps), f"{statement}\n→ {plan}"
            checked.add(statement.split(" WHERE")[0])
    assert any(s.startswith("UPDATE invitation SET status") for s in checked)  # the dispatcher opens them
    assert any(s.startswith("UPDATE message SET claimed_by") for s in checked)  # the release of a batch
