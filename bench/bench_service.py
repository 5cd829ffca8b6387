"""Load test of submissions against a running server, beside a bare parse-only endpoint.

    .venv/bin/python bench/bench_service.py [--seconds 10] [--connections 32] [--processes 4]
                                            [--workers 2] [--databases sqlite,postgresql]

For each database it starts the service with N workers in a subprocess as `promsvc serve` does,
plus the benchmark's parse route (bench/bench_app.py; the production app has no such route),
enrols episodes and issues one patient link per time point through the API, then runs the load generator: several processes holding
`--connections` keep-alive HTTP connections in total, each sending requests back to back.

Measured in the same run, one after the other:

- **parse**: `POST /bench/parse/{token}`: the same body as a submission, decoded into the same
  struct and answered with a receipt; no database, no validation, no scoring. What the
  framework itself costs.
- **submit**: `POST /api/v1/forms/{token}/submit` with complete EQ-5D-5L and RAND-36 answers:
  validated, stored once, scored (EQ-5D-5L index; RAND-36 `rand` and `sf36v1`), the invitation
  completed and audited, all in one transaction. Every request uses a fresh link.

Prints requests per second, p50 and p99 latency and errors for each, and the submit rate as a
share of the parse rate (target: ≥ 40 % and p99 < 50 ms). PostgreSQL: a fresh database on the
server of PROMSVC_TEST_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test),
dropped afterwards. Never part of the test pass/fail.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


# ------------------------------------------------------------------ answers


def bodies(n: int, seed: int = 1) -> list[bytes]:
    """`n` different complete EQ-5D-5L + RAND-36 submissions (valid codes, chosen at random)."""
    import instruments

    rng = random.Random(seed)
    out = []
    chosen = {i: instruments.get(i) for i in ("eq5d-5l", "rand36")}
    for _ in range(n):
        answers = {
            ins_id: {item.id: rng.choice(ins.codes_of(item)) for item in ins.items}
            for ins_id, ins in chosen.items()
        }
        out.append(json.dumps({"answers": answers, "respondent": "patient"}).encode())
    return out


# ------------------------------------------------------------------ load generator


def _thread(port: int, path_of, tokens: list[str], payloads: list[bytes], deadline: float, results: list):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies: list[float] = []
    errors: dict[str, int] = {}
    sample = ""
    n = 0
    while time.perf_counter() < deadline and n < len(tokens):
        body = payloads[n % len(payloads)]
        start = time.perf_counter()
        try:
            conn.request("POST", path_of(tokens[n]), body=body, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            data = response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            status, data = type(e).__name__, b""
        latencies.append(time.perf_counter() - start)
        n += 1
        if status != 201:
            errors[str(status)] = errors.get(str(status), 0) + 1
            sample = sample or data[:300].decode("utf-8", "replace")
    conn.close()
    results.append((latencies, errors, sample))


def _process(args) -> tuple[list[float], dict[str, int], str, float]:
    port, kind, token_chunks, payloads, start_at, seconds = args
    path_of = (lambda t: f"/api/v1/forms/{t}/submit") if kind == "submit" else (lambda t: f"/bench/parse/{t}")
    while time.time() < start_at:  # every process starts at once
        time.sleep(0.001)
    began = time.perf_counter()
    deadline = began + seconds
    results: list = []
    threads = [threading.Thread(target=_thread, args=(port, path_of, chunk, payloads, deadline, results)) for chunk in token_chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    latencies = [x for r in results for x in r[0]]
    errors: dict[str, int] = {}
    for r in results:
        for k, v in r[1].items():
            errors[k] = errors.get(k, 0) + v
    sample = next((r[2] for r in results if r[2]), "")
    return latencies, errors, sample, elapsed


def load(port: int, kind: str, tokens: list[str], payloads: list[bytes], *, connections: int, processes: int,
         seconds: float) -> dict:
    """Run `connections` connections in `processes` processes for `seconds` (or until tokens run out)."""
    chunks = [tokens[i::connections] for i in range(connections)]
    per_process = [chunks[p::processes] for p in range(processes)]
    start_at = time.time() + 0.5
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        parts = pool.map(_process, [(port, kind, c, payloads, start_at, seconds) for c in per_process])
    latencies = sorted(x for p in parts for x in p[0])
    errors: dict[str, int] = {}
    for p in parts:
        for k, v in p[1].items():
            errors[k] = errors.get(k, 0) + v
    elapsed = max(p[3] for p in parts)
    ok = len(latencies) - sum(errors.values())
    return {
        "kind": kind,
        "requests": len(latencies),
        "ok": ok,
        "rate": ok / elapsed if elapsed else 0.0,
        "p50": _quantile(latencies, 0.50) * 1000,
        "p99": _quantile(latencies, 0.99) * 1000,
        "errors": errors,
        "sample": next((p[2] for p in parts if p[2]), ""),
        "seconds": elapsed,
    }


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(q * len(values)))]


# ------------------------------------------------------------------ server and data


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(port: int, method: str, path: str, body=None, key: str | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    conn.request(method, path, body=json.dumps(body).encode() if body is not None else None, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


class Server:
    def __init__(self, database_url: str, workers: int, workdir: Path):
        self.port = _free_port()
        self.url = database_url
        env = {k: v for k, v in os.environ.items() if not k.startswith("PROMSVC_")}
        env.update({
            "PROMSVC_DATABASE_URL": database_url,
            "PROMSVC_BASE_URL": f"http://127.0.0.1:{self.port}",
        })
        self.log = open(workdir / f"server-{self.port}.log", "w")
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "bench_app.py"), "--port", str(self.port), "--workers", str(workers)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=workdir,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if _request(self.port, "POST", "/bench/parse/x", {"answers": {}})[0] == 201:
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise SystemExit(f"the server did not start; see {self.log.name}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def make_tokens(server: Server, n: int) -> list[str]:
    """Enrol ceil(n / 3) episodes and issue a link for each of their three time points."""
    from promsvc import db
    from promsvc.security import create_key

    engine = db.make_engine(server.url)
    with db.session(engine) as s:
        _, key = create_key(s, "system", None, "benchmark")
        s.commit()
    engine.dispose()
    import datetime as dt

    event = (dt.date.today() + dt.timedelta(days=7)).isoformat()
    run = uuid.uuid4().hex[:6]
    ids = [f"BENCH-{run}-{i}" for i in range((n + 2) // 3)]
    for start in range(0, len(ids), 1000):
        batch = [{"external_id": x, "pseudonym": f"P-{x}", "unit": "dal-universitet", "protocol": "hip_primary",
                  "event_date": event} for x in ids[start:start + 1000]]
        status, data = _request(server.port, "POST", "/api/v1/registries/demo/episodes/batch", batch, key)
        if status not in (200, 201):
            raise SystemExit(f"enrolment failed: {status} {data[:300]!r}")

    def link(args):
        external_id, tp = args
        status, data = _request(server.port, "POST", f"/api/v1/registries/demo/episodes/{external_id}/time-points/{tp}/link", key=key)
        if status != 201:
            raise SystemExit(f"link failed: {status} {data[:300]!r}")
        return json.loads(data)["url"].rsplit("/", 1)[1]

    with ThreadPoolExecutor(16) as pool:
        tokens = list(pool.map(link, [(x, tp) for x in ids for tp in ("baseline", "m3", "m12")]))
    return tokens[:n]


def pg_database(admin_url: str):
    import sqlalchemy as sa

    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"promsvc_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)

    def drop():
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


# ------------------------------------------------------------------ main


def run_one(name: str, url: str, args, payloads: list[bytes], workdir: Path) -> list[dict]:
    server = Server(url, args.workers, workdir)
    try:
        return _measure(name, server, args, payloads)
    except BaseException:
        server.log.flush()
        print(Path(server.log.name).read_text()[-3000:], file=sys.stderr)
        raise
    finally:
        server.stop()


def _measure(name: str, server: Server, args, payloads: list[bytes]) -> list[dict]:
    print(f"[{name}] server on port {server.port} with {args.workers} worker(s); making links…", file=sys.stderr)
    tokens = make_tokens(server, args.submissions)
    dummy = ["t"] * 10_000_000
    load(server.port, "parse", dummy, payloads, connections=args.connections, processes=args.processes, seconds=2)  # warm-up
    results = []
    for kind in ("parse", "submit"):
        result = load(server.port, kind, tokens if kind == "submit" else dummy, payloads,
                      connections=args.connections, processes=args.processes, seconds=args.seconds)
        result["database"] = name
        results.append(result)
        if kind == "submit" and result["ok"] >= len(tokens):
            print(f"[{name}] all {len(tokens)} links were used before {args.seconds}s; raise --submissions", file=sys.stderr)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each measurement (default 10)")
    parser.add_argument("--connections", type=int, default=32, help="keep-alive connections in total (default 32)")
    parser.add_argument("--processes", type=int, default=4, help="load generator processes (default 4)")
    parser.add_argument("--workers", type=int, default=max(2, os.cpu_count() or 2), help="server worker processes")
    parser.add_argument("--submissions", type=int, default=30000, help="links made beforehand, one per submission")
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    args = parser.parse_args()

    payloads = bodies(200)
    workdir = Path(tempfile.mkdtemp(prefix="promsvc-bench-"))
    results: list[dict] = []
    try:
        for name in args.databases.split(","):
            if name == "sqlite":
                results += run_one(name, f"sqlite:///{workdir / 'bench.sqlite3'}", args, payloads, workdir)
            elif name == "postgresql":
                url, drop = pg_database(os.environ.get("PROMSVC_TEST_PG_URL", PG_DEFAULT))
                try:
                    results += run_one(name, url, args, payloads, workdir)
                finally:
                    drop()
            else:
                raise SystemExit(f"unknown database {name!r}; use sqlite, postgresql")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"\n{args.connections} connections from {args.processes} processes, {args.workers} server workers, "
          f"{args.seconds:g} s each, {os.cpu_count()} CPUs (server and load generator share them)\n")
    print(f"{'database':<11} {'endpoint':<7} {'requests/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}  vs parse")
    for r in results:
        parse = next(x for x in results if x["database"] == r["database"] and x["kind"] == "parse")
        share = f"{r['rate'] / parse['rate']:.0%}" if r["kind"] == "submit" and parse["rate"] else ""
        errors = sum(r["errors"].values())
        print(f"{r['database']:<11} {r['kind']:<7} {r['rate']:>10.0f} {r['p50']:>8.1f} {r['p99']:>8.1f} {errors:>7}  {share}")
        if errors:
            print(f"            errors {r['errors']}; first: {r['sample']}")
    print("\ntarget: submit ≥ 40 % of parse, p99 < 50 ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
