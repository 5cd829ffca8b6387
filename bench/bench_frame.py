"""Benchmark: loading a synthetic cohort (`promsvc cohort --load`, `-o`) and reading the indicator
frame back (`frame.from_database`, `frame.from_csv`), at the size of a large registry.

    .venv/bin/python bench/bench_frame.py                                  # 1.7 M episodes ≈ 5 M rows
    .venv/bin/python bench/bench_frame.py --episodes 200000 --databases sqlite

Prints figures; it is not a test. For each database, a fresh one (SQLite: a file under --dir;
PostgreSQL: the database `promsvc_bench_frame` on PROMSVC_TEST_PG_URL's server) gets the cohort
with `promsvc cohort --load`; the same cohort is written once with `-o`. Then the frame that the
demo indicators need (every attribute, every time point, EQ-5D-5L index at every time point,
RAND-36 PF, GS-PEQ top boxes) is read by each route in a process of its own, which reports
its seconds and peak memory (maximum resident set).

Baselines, in the same run, on a small cohort (--baseline-episodes, default 20 000):
- loading: the same rows written as ORM objects (`session.add_all`, one commit per chunk);
- reading: the service's export (`episodes.export.export_csv`, what a registry downloads) into
  a file, then `frame.from_csv`: the route there was before `from_database`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROMSVC = str(Path(sys.executable).with_name("promsvc"))
PG = os.environ.get("PROMSVC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TODAY = "2026-12-01"
READ = """
import json, resource, sys, time
from promsvc.db import make_engine
from promsvc.indicators import frame as F
from promsvc.registries import loader
route, source = sys.argv[1], sys.argv[2]
demo = loader.demo()
protocol = demo.protocol("hip_primary")
tps = [tp.id for tp in protocol.time_points]
scores = {F.ScoreRef(tp, "eq5d-5l", "index") for tp in tps} | {F.ScoreRef(tp, "rand36", "pf") for tp in tps}
scores |= {F.ScoreRef(tp.id, "gs-peq", f"gspeq{n}_top") for tp in protocol.time_points if "gs-peq" in tp.instruments for n in (1, 8, 9)}
needs = F.Needs(protocol=protocol.id, attributes=frozenset(a.id for a in protocol.attributes),
                time_points=frozenset(tps), scores=frozenset(scores))
started = time.perf_counter()
if route == "database":
    frame = F.from_database(make_engine(source), demo, needs)
elif route == "export":
    from promsvc.episodes.export import export_csv
    with open(source + ".export.csv", "w", encoding="utf-8") as f:
        for piece in export_csv(make_engine(source), demo):
            f.write(piece)
    frame = F.from_csv(source + ".export.csv", demo, needs)
else:
    frame = F.from_csv(source, demo, needs)
print(json.dumps({"seconds": time.perf_counter() - started, "rows": frame.height, "columns": frame.width,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(args: list[str], env: dict | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(args, check=True, env={**os.environ, **(env or {})}, cwd=ROOT)
    return time.perf_counter() - started


def read(route: str, source: str) -> dict:
    out = subprocess.run([sys.executable, "-c", READ, route, source], check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def fresh(kind: str, folder: Path, name: str) -> str:
    if kind == "sqlite":
        path = folder / f"{name}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    import sqlalchemy as sa

    admin = sa.create_engine(PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return sa.engine.make_url(PG).set(database=name).render_as_string(hide_password=False)


def orm_load(url: str, episodes: int) -> float:
    """The baseline loader: the cohort's rows as ORM objects, one commit per chunk."""
    sys.path.insert(0, str(ROOT))
    from sqlmodel import Session

    from promsvc import migrations
    from promsvc.db import make_engine
    from promsvc.episodes import bulk, synthetic
    from promsvc.models import AuditEntry, Episode, Invitation, InvitationEvent, Response, Score
    from promsvc.registries import loader
    from promsvc.settings import Settings

    engine = make_engine(url)
    migrations.upgrade(engine)
    models = {m.__tablename__: m for m in (Episode, Invitation, InvitationEvent, Response, Score, AuditEntry)}
    options = synthetic.Options(episodes=episodes, seed=2, today=dt.date.fromisoformat(TODAY))
    started = time.perf_counter()
    for chunk in synthetic.chunks(loader.demo(), options, Settings()):
        with Session(engine) as session:
            for table, frame in bulk._tables(loader.demo(), chunk, bulk._Ids()):
                json_columns = [c for c in ("attributes", "answers", "values") if c in frame.columns]
                for row in frame.iter_rows(named=True):
                    for c in json_columns:
                        row[c] = json.loads(row[c])
                    session.add(models[table.name](**row))
                session.flush()
            session.commit()
    seconds = time.perf_counter() - started
    engine.dispose()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=1_700_000)
    parser.add_argument("--baseline-episodes", type=int, default=20_000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--no-csv", action="store_true", help="skip writing and reading the CSV")
    parser.add_argument("--dir", default=None, help="where the files go (default: a temporary directory; several GB)")
    args = parser.parse_args()
    folder = Path(args.dir or tempfile.mkdtemp(prefix="bench_frame_"))
    folder.mkdir(parents=True, exist_ok=True)
    n, small = args.episodes, args.baseline_episodes
    print(f"cohort of the demo registry, seed 7, to {TODAY}: {n} episodes (baseline: {small}); files in {folder}", flush=True)

    csv_file = folder / "cohort.csv"
    for kind in [] if args.no_csv else ["csv"]:
        seconds = run([PROMSVC, "cohort", "demo", "--episodes", str(n), "--seed", "7", "--today", TODAY, "-o", str(csv_file)])
        print(f"write CSV   {n:>9} episodes  {seconds:7.1f} s  {csv_file.stat().st_size / 1e9:.2f} GB", flush=True)
        result = read(kind, str(csv_file))
        print(f"from_csv    {result['rows']:>9} episodes  {result['seconds']:7.1f} s  peak {result['peak_mb']:.0f} MB", flush=True)

    for kind in [k for k in args.databases.split(",") if k]:
        url = fresh(kind, folder, "promsvc_bench_frame")
        seconds = run([PROMSVC, "cohort", "demo", "--episodes", str(n), "--seed", "7", "--today", TODAY, "--load"],
                      {"PROMSVC_DATABASE_URL": url})
        print(f"{kind:<10} load      {n:>9} episodes  {seconds:7.1f} s  ({3 * n / seconds:,.0f} episode × time-point rows/s)", flush=True)
        result = read("database", url)
        print(f"{kind:<10} from_database {result['rows']:>5} episodes  {result['seconds']:7.1f} s  peak {result['peak_mb']:.0f} MB",
              flush=True)

        base = fresh(kind, folder, "promsvc_bench_frame_base")
        seconds = orm_load(base, small)
        print(f"{kind:<10} baseline load (ORM objects) {small} episodes  {seconds:7.1f} s  ({3 * small / seconds:,.0f} rows/s)",
              flush=True)
        quick = fresh(kind, folder, "promsvc_bench_frame_small")
        seconds = run([PROMSVC, "cohort", "demo", "--episodes", str(small), "--seed", "7", "--today", TODAY, "--load"],
                      {"PROMSVC_DATABASE_URL": quick})
        print(f"{kind:<10} load (same run, {small} episodes)  {seconds:7.1f} s  ({3 * small / seconds:,.0f} rows/s)", flush=True)
        result = read("export", quick) if kind == "sqlite" else None
        if result:
            print(f"{kind:<10} baseline export + from_csv {small} episodes  {result['seconds']:7.1f} s  "
                  f"({3 * small / result['seconds']:,.0f} rows/s)", flush=True)
        result = read("database", quick)
        print(f"{kind:<10} from_database ({small} episodes)  {result['seconds']:7.1f} s  "
              f"({3 * small / result['seconds']:,.0f} rows/s)", flush=True)


if __name__ == "__main__":
    main()
