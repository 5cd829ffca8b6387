"""Benchmark: what the indicator reader's queries cost the database itself, before a row leaves it.

    .venv/bin/python bench/bench_reader_queries.py sqlite:////work/benchdata/cohort-1666667-7-2025-12-31.sqlite3
    .venv/bin/python bench/bench_reader_queries.py postgresql+psycopg://postgres@127.0.0.1:5432/bench_indicators_1666667_7_2025_12_31

The database made by `bench_indicators.py` (its --dir and database names). For each query that
`frame.from_database` runs for the demo indicators (built by promsvc.indicators.dbread itself),
one after the other, on a quiet machine:

- database: the query wrapped in an aggregate over every column it selects, so the database
  does all its joins and extractions but sends one row. SQLite runs in this process: its CPU
  seconds. PostgreSQL runs with the reader's planner settings and no parallel workers, in one
  server process on this machine: that process's CPU seconds (from /proc);
- fetched (SQLite only): the rows fetched through the `sqlite3` module, as the reader fetches
  them, before polars sees them: this process's CPU seconds.

The sum of the database column is the least CPU any reader of the service's tables spends on
these rows; over the machine's cores, the least wall time of the database route's reading.
"""

from __future__ import annotations

import argparse
import os
import time

from promsvc import db
from promsvc.indicators import dbread, engine, loader
from promsvc.indicators import frame as F
from promsvc.registries import loader as registry_loader
from promsvc.settings import Settings


def queries(dialect: str) -> list[dbread.Query]:
    settings = Settings.from_mapping({"PROMSVC_DEMO_REGISTRY": "1"})
    registries = registry_loader.load_all(settings)
    registry = registries["demo"]
    wanted = engine.needs(engine.selected(loader.load_all(settings, registries)["demo"]))
    return [q for needs in wanted.values() for q in dbread.queries(dialect, registry, F.plan(registry, needs))]


def aggregated(query: dbread.Query) -> str:
    """The query with every column it selects counted, so that all are computed, and one row sent."""
    names = [f"c{n}" for n in range(len(query.columns))]
    return f"WITH t({', '.join(names)}) AS ({query.sql}) SELECT count(*), {', '.join(f'count({c})' for c in names)} FROM t"


def label(query: dbread.Query) -> str:
    if "instrument" in query.params:
        return f"scores {query.params['instrument']} · {query.params['scoring']}"
    return "time points" if "invitation" in query.sql.split(" WHERE ")[0] else "episodes"


def server_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="the database's SQLAlchemy URL")
    url = parser.parse_args().url
    eng = db.make_engine(url)
    sqlite = eng.dialect.name == "sqlite"
    print(f"{'query':<28} {'rows':>9} {'database CPU s':>15} {'fetched CPU s':>14}")
    total = [0.0, 0.0]
    with db.autocommit(eng).connect() as connection:
        raw = connection.connection.dbapi_connection
        if not sqlite:
            for name, value in dbread.PG_SETTINGS.items() | {"max_parallel_workers_per_gather": "0"}.items():
                raw.execute("SELECT set_config(%s, %s, false)", (name, value))
            pid = raw.execute("SELECT pg_backend_pid()").fetchone()[0]
        for query in queries(eng.dialect.name):
            if sqlite:
                start = time.process_time()
                rows = raw.execute(aggregated(query), query.params).fetchone()[0]
                database = time.process_time() - start
                start = time.process_time()
                cursor = raw.execute(query.sql, query.params)
                while cursor.fetchmany(dbread.BLOCK):
                    pass
                fetched = time.process_time() - start
            else:
                from sqlalchemy import text

                compiled = text(aggregated(query)).bindparams(**query.params).compile(dialect=eng.dialect)
                start = server_cpu(pid)
                rows = raw.execute(compiled.string, compiled.params).fetchone()[0]
                database, fetched = server_cpu(pid) - start, 0.0
            total[0] += database
            total[1] += fetched
            print(f"{label(query):<28} {rows:>9} {database:>15.2f} {f'{fetched:.2f}' if sqlite else '':>14}", flush=True)
    print(f"{'total':<28} {'':>9} {total[0]:>15.2f} {f'{total[1]:.2f}' if sqlite else '':>14}")
    print(f"least wall time of the reading on {os.cpu_count()} cores: {total[0] / (os.cpu_count() or 1):.1f} s")


if __name__ == "__main__":
    main()
