"""Benchmark: every demo indicator at every level and period, by every route, beside a plain baseline.

    .venv/bin/python bench/bench_indicators.py                      # 5 M episode × time-point rows (1 666 667 episodes)
    .venv/bin/python bench/bench_indicators.py --episodes 100000    # a quick run
    .venv/bin/python bench/bench_indicators.py --routes csv --baseline-episodes 200000

Data: the data engineer's synthetic cohort of the demo registry (`promsvc cohort demo`, fixed
seed and end date), written once as a CSV in the export's format and loaded once into a SQLite
file and a PostgreSQL database (PROMSVC_BENCH_PG_URL, default
postgresql+psycopg://postgres@127.0.0.1:5432/bench_indicators); all three are kept in --dir and
reused by later runs with the same --episodes and --seed.

Routes, each in a child process of its own (wall time; peak resident memory of that process and
its worker processes together, sampled from /proc every 20 ms, or the process's own peak
(`RUSAGE_CHILDREN`) if higher; the benchmark's own memory is not counted):

- csv: `frame.from_csv` of the cohort file, then the engine;
- sqlite, postgresql: `frame.from_database`, then the engine;

each exactly what `promsvc indicators compute demo [--data FILE] --format json -o FILE` does,
timed in its phases (start: interpreter, imports, definitions; read; compute; write).

Baseline, in the same run: a straightforward plain-Python implementation of the same
indicators — the export CSV read with the `csv` module into one dict per episode, and every cell
counted by looping over the episodes with each formula evaluated row by row (the reference
engine of the property tests, tests/property/indicator_reference.py). On more than
--baseline-episodes episodes it runs on the first ones and its time is scaled linearly (said so
in the output). The routes' results are compared cell by cell.

Targets (issue 10): < 10 s, ≥ 5× the baseline and < 4 GB on every route. The machine is shared:
read the ratio and the CPU seconds (user + system of the route's process, all threads; for a
database route the database server's work is not in it), not the wall seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TODAY = "2025-12-31"
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_indicators"

_MEASURE = """
import json, os, resource, subprocess, sys, tempfile, time

def tree_rss(pid):
    # resident bytes of a process and all its descendants (a route may read with worker processes)
    try:
        with open(f"/proc/{pid}/statm") as f:
            rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                rss += sum(tree_rss(int(child)) for child in f.read().split())
        return rss
    except (FileNotFoundError, ProcessLookupError):
        return 0

# the child's output to files, not pipes: polled rather than read, a full pipe would stop it
with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
    start = time.perf_counter()
    child = subprocess.Popen(sys.argv[1:], stdout=out, stderr=err, text=True)
    tree_peak = 0
    while child.poll() is None:
        tree_peak = max(tree_peak, tree_rss(child.pid))
        time.sleep(0.02)
    seconds = time.perf_counter() - start
    out.seek(0)
    err.seek(0)
    stdout, stderr = out.read(), err.read()
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps([seconds, max(usage.ru_maxrss * 1024, tree_peak), usage.ru_utime + usage.ru_stime, child.returncode, stdout, stderr]))
"""

# One route: what `promsvc indicators compute` does, phase by phase; prints its timings as JSON.
_ROUTE = """
import datetime as dt, json, os, sys, time
t0 = time.perf_counter()
from promsvc.indicators import engine as E, frame, loader, outputs
from promsvc.registries import loader as registry_loader
from promsvc.settings import Settings
settings = Settings.from_mapping(os.environ)
registries = registry_loader.load_all(settings)
registry = registries["demo"]
iset = loader.load_all(settings, registries)["demo"]
options = E.Options(as_of=dt.date.fromisoformat(sys.argv[2]), computed_at=dt.datetime.now(dt.UTC),
                    source=os.path.basename(sys.argv[1]) if sys.argv[1] != "database" else "database")
wanted = E.needs(E.selected(iset))
t1 = time.perf_counter()
if sys.argv[1] == "database":
    from promsvc import db
    engine = db.make_engine(settings)
    frames = {p: frame.from_database(engine, registry, n) for p, n in wanted.items()}
else:
    frames = {p: frame.from_csv(sys.argv[1], registry, n) for p, n in wanted.items()}
t2 = time.perf_counter()
results = E.compute(frames, iset, registry, options)
t3 = time.perf_counter()
with open(sys.argv[3], "wb") as f:
    f.write(outputs.internal_json(results))
t4 = time.perf_counter()
print(json.dumps({"start": t1 - t0, "read": t2 - t1, "compute": t3 - t2, "write": t4 - t3,
                  "episodes": sum(f.height for f in frames.values()), "cells": len(results.results)}))
"""

# The baseline: csv module + the per-episode reference engine.
_BASELINE = """
import csv, datetime as dt, json, sys, time
sys.path.insert(0, sys.argv[4])
from indicator_reference import reference_cells
from promsvc.episodes.export import score_column
from promsvc.indicators import engine as E, loader
from promsvc.registries import loader as registry_loader
from promsvc.settings import Settings
t0 = time.perf_counter()
settings = Settings.from_mapping({})
registries = registry_loader.load_all(settings)
registry = registries["demo"]
iset = loader.load_all(settings, registries)["demo"]
as_of, limit = dt.date.fromisoformat(sys.argv[2]), int(sys.argv[3])
scores = sorted({r for c in iset.compiled for r in c.needs.scores})
column_of = {r: score_column(r.instrument, r.scoring, r.score, r.scoring is None) for r in scores}  # the export's names
key_of = {r: f"{r.time_point}.{r.instrument}.{r.scoring + '.' if r.scoring else ''}{r.score}" for r in scores}

def time_of(text):
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None

def value(text, kind):
    if text == "":
        return None
    return {"int": int, "bool": lambda t: t == "true"}.get(kind, lambda t: t)(text)

kinds = {f"attr.{a.id}": {"integer": "int", "boolean": "bool"}.get(a.kind, "text")
         for a in registry.protocol("hip_primary").attributes}
episodes = {}
with open(sys.argv[1], newline="", encoding="utf-8") as f:
    for row in csv.DictReader(f):
        ep = episodes.get(row["external_id"])
        if ep is None:
            if len(episodes) == limit:
                break
            ep = episodes[row["external_id"]] = {
                "unit": row["unit"], "protocol": row["protocol"], "event_date": dt.date.fromisoformat(row["event_date"]),
                "withdrawn_at": time_of(row["withdrawn_at"]), "deceased_at": time_of(row["deceased_at"]),
                **{c: value(row[c], k) for c, k in kinds.items()}}
        tp = row["time_point"]
        ep[f"{tp}.status"] = row["status"] or None
        for field in ("due_at", "expires_at", "submitted_at"):
            ep[f"{tp}.{field}"] = time_of(row[field])
        for ref in scores:
            if ref.time_point == tp:
                text = row.get(column_of[ref], "")
                ep[key_of[ref]] = float(text) if text else None
rows = list(episodes.values())
for row in rows:  # a time point without a row: nothing known
    for c in iset.compiled:
        for tp in c.protocol.time_points:
            for field in ("status", "due_at", "expires_at", "submitted_at"):
                row.setdefault(f"{tp.id}.{field}", None)
    for ref in scores:
        row.setdefault(key_of[ref], None)
cells = {c.indicator.id: {f"{k[0]}|{k[1]}": v for k, v in reference_cells(
    rows, c, registry, as_of, iset.references.get(c.indicator.id, [])).items()} for c in iset.compiled}
print(json.dumps({"seconds": time.perf_counter() - t0, "episodes": len(rows), "cells": cells}))
"""


def measure(args: list[str], env: dict | None = None) -> tuple[float, int, float, dict]:
    """Run `python ARGS…` in a child; (wall seconds, peak RSS bytes, CPU seconds (user + system,
    all threads), its JSON output)."""
    done = subprocess.run([sys.executable, "-c", _MEASURE, sys.executable, *args], capture_output=True, text=True,
                          check=True, env=env, cwd=ROOT)
    seconds, peak, cpu, status, out, err = json.loads(done.stdout)
    if status != 0:
        raise SystemExit(f"a child failed:\n{err}")
    return seconds, peak, cpu, json.loads(out.strip().splitlines()[-1])


def promsvc(*args: str, env: dict | None = None) -> None:
    subprocess.run([sys.executable, "-m", "promsvc", *args], check=True, cwd=ROOT, env=env,
                   stdout=subprocess.DEVNULL)


def prepare(opts) -> dict[str, dict]:
    """The cohort as CSV, in SQLite and in PostgreSQL (made once, reused); route → environment."""
    base = dict(os.environ, PROMSVC_DEMO_REGISTRY="1")
    cohort = ["cohort", "demo", "--episodes", str(opts.episodes), "--seed", str(opts.seed), "--today", opts.today]
    tag = f"{opts.episodes}-{opts.seed}-{opts.today}"
    opts.dir.mkdir(parents=True, exist_ok=True)
    csv_file = opts.dir / f"cohort-{tag}.csv"
    routes = {}
    if not csv_file.exists():
        start = time.perf_counter()
        promsvc(*cohort, "-o", str(csv_file), env=base)
        print(f"made {csv_file} ({csv_file.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - start:.0f} s")
    routes["csv"] = {"env": base, "source": str(csv_file)}
    if "sqlite" in opts.routes:
        path = opts.dir / f"cohort-{tag}.sqlite3"
        env = dict(base, PROMSVC_DATABASE_URL=f"sqlite:///{path}")
        if not path.exists():
            start = time.perf_counter()
            promsvc(*cohort, "--load", env=env)
            print(f"loaded {path} in {time.perf_counter() - start:.0f} s")
        routes["sqlite"] = {"env": env, "source": "database"}
    if "postgresql" in opts.routes:
        import sqlalchemy as sa

        url = sa.engine.make_url(os.environ.get("PROMSVC_BENCH_PG_URL", PG_DEFAULT))
        url = url.set(database=f"{url.database}_{tag.replace('-', '_')}")
        admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": url.database}).first()
            if not exists:
                conn.execute(sa.text(f'CREATE DATABASE "{url.database}"'))
        admin.dispose()
        env = dict(base, PROMSVC_DATABASE_URL=url.render_as_string(hide_password=False))
        if not exists:
            start = time.perf_counter()
            promsvc(*cohort, "--load", env=env)
            print(f"loaded PostgreSQL {url.database} in {time.perf_counter() - start:.0f} s")
        routes["postgresql"] = {"env": env, "source": "database"}
    return {name: r for name, r in routes.items() if name in opts.routes or name == "csv"}


def cells_of(path: Path) -> dict:
    import msgspec

    from promsvc.indicators.results import ResultSet

    rs = msgspec.json.decode(path.read_bytes(), type=ResultSet)
    return {(r.indicator, r.period, r.unit): (r.numerator, r.denominator, r.value) for r in rs.results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=1_666_667, help="episodes (3 time points each; default: 5 M rows)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--today", default=TODAY, help="the cohort's last day and the data date")
    parser.add_argument("--dir", type=Path, default=ROOT / "var" / "bench-indicators")
    parser.add_argument("--routes", default="csv,sqlite,postgresql")
    parser.add_argument("--baseline-episodes", type=int, default=30_000,
                        help="run the baseline on at most this many episodes and scale its work (default 30 000)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each route; the best is shown")
    opts = parser.parse_args()
    opts.routes = opts.routes.split(",")
    routes = prepare(opts)

    print(f"\nbaseline: plain Python (csv module, one episode at a time), up to {opts.baseline_episodes} episodes …")
    seconds, peak, base_cpu, base = measure(["-c", _BASELINE, routes["csv"]["source"], opts.today, str(opts.baseline_episodes),
                                   str(ROOT / "tests" / "property")])
    scale = opts.episodes / base["episodes"]
    baseline = seconds - base["seconds"] + base["seconds"] * scale  # start-up once, the work scaled
    print(f"  {base['episodes']} episodes in {seconds:.1f} s, CPU {base_cpu:.1f} s (peak {peak / 2**20:.0f} MiB)"
          + (f"; scaled × {scale:.2f} to {opts.episodes} episodes: {baseline:.1f} s" if scale > 1.0001 else ""))

    print(f"\n{'route':<11} {'total s':>8} {'CPU s':>6} {'start':>6} {'read':>6} {'compute':>8} {'write':>6} {'peak MiB':>9} "
          f"{'× baseline':>10}  target (<10 s, ≥5×, <4 GB)")
    outputs = {}
    for name, route in routes.items():
        if name not in opts.routes:
            continue
        out = opts.dir / f"out-{name}.json"
        best = None
        for _ in range(opts.repeat):
            run = measure(["-c", _ROUTE, route["source"], opts.today, str(out)], env=route["env"])
            best = run if best is None or run[0] < best[0] else best
        seconds, peak, cpu, phases = best
        met = seconds < 10 and baseline / seconds >= 5 and peak < 4e9
        print(f"{name:<11} {seconds:>8.2f} {cpu:>6.1f} {phases['start']:>6.2f} {phases['read']:>6.2f} {phases['compute']:>8.2f} "
              f"{phases['write']:>6.2f} {peak / 2**20:>9.0f} {baseline / seconds:>10.1f}  {'met' if met else 'MISSED'}"
              f"  ({phases['episodes']} episodes, {phases['cells']} cells)")
        outputs[name] = cells_of(out)
    first = next(iter(outputs.values()))
    agree = all(o == first for o in outputs.values())
    print(f"\nroutes give the same cells: {'yes' if agree else 'NO'}")
    if scale <= 1.0001:  # the baseline saw every episode: its cells must be the engine's
        differ = [(ind, key) for ind, cells in base["cells"].items() for key, (num, den, _) in cells.items()
                  if first.get((ind, *key.split("|")), (None, None, None))[1] != den]
        print(f"baseline's denominators equal the engine's: {'yes' if not differ else f'NO: {differ[:3]}'}")

if __name__ == "__main__":
    main()
