"""Benchmark: dispatch N due invitations by e-mail to a local SMTP server (aiosmtpd).

    .venv/bin/python bench/bench_dispatch.py                      # 10 000 and 100 000, SQLite and PostgreSQL
    .venv/bin/python bench/bench_dispatch.py --sizes 10000 --databases sqlite
    .venv/bin/python bench/bench_dispatch.py --processes 2        # two dispatcher processes (SKIP LOCKED)

Prints figures; it is not a test. For each database and size: N invitations are written
straight into a fresh database, already planned (one `message` row each, due now); then the
dispatcher(s) run until nothing is due, and the SMTP server, in a process of its own, counts
what it received and checks that no Message-ID arrived twice. Reported: seconds, messages per
second, the per-message cost, and how the time grows from the smallest size to the largest.

PostgreSQL: PROMSVC_TEST_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test), a
temporary database is created and dropped. Settings as in production (durability `batch`,
batch 500, 4 sending workers) unless given.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from promsvc import migrations  # noqa: E402
from promsvc.db import make_engine  # noqa: E402
from promsvc.delivery.sink import free_port  # noqa: E402
from promsvc.models import Contact, Episode, Invitation, Message  # noqa: E402

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REGISTRIES = ROOT / "tests" / "integration" / "delivery_registries"
NOW = dt.datetime(2027, 1, 4, 9, 0, tzinfo=dt.UTC)  # 10:00 in Oslo: the window is open


# ------------------------------------------------------------------------------ the SMTP server


def _smtp_server(port: int, ready, stop, results, pipelining: bool) -> None:
    """An aiosmtpd server that counts messages and distinct Message-IDs (keeps nothing else)."""
    from aiosmtpd.controller import Controller

    seen: set[bytes] = set()
    state = {"n": 0}

    class Counting:
        async def handle_EHLO(self, server, session, envelope, hostname, responses):
            session.host_name = hostname
            if pipelining:
                responses.insert(-1, "250-PIPELINING")
            return responses

        async def handle_DATA(self, server, session, envelope):
            state["n"] += 1
            content = envelope.original_content or envelope.content
            start = content.find(b"Message-ID: <")
            seen.add(content[start:content.find(b">", start)])
            return "250 OK"

    controller = Controller(Counting(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    results.send((state["n"], len(seen), usage.ru_utime + usage.ru_stime))


class SmtpServer:
    def __init__(self, pipelining: bool = False):
        self.port = free_port()
        self._ready, self._stop = mp.Event(), mp.Event()
        self._parent, child = mp.Pipe()
        self._process = mp.Process(target=_smtp_server, args=(self.port, self._ready, self._stop, child, pipelining),
                                   daemon=True)

    def __enter__(self):
        self._process.start()
        self._ready.wait(20)
        return self

    def counts(self) -> tuple[int, int, float]:
        """(messages, distinct Message-IDs, CPU seconds the server used)"""
        self._stop.set()
        result = self._parent.recv()
        self._process.join(10)
        return result

    def __exit__(self, *exc):
        if self._process.is_alive():
            self._stop.set()
            self._process.join(5)


def machine_busy() -> float:
    """CPU seconds the whole machine has spent busy since boot (all cores; Linux /proc/stat):
    the dispatcher, the SMTP server and the database server together."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


# ----------------------------------------------------------------------------------- databases


def sqlite_url(directory: str) -> str:
    return f"sqlite:///{directory}/bench-{uuid.uuid4().hex[:6]}.sqlite3"


def pg_database() -> tuple[str, callable]:
    admin_url = sa.engine.make_url(os.environ.get("PROMSVC_TEST_PG_URL", PG_DEFAULT))
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"promsvc_dispatch_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return admin_url.set(database=name).render_as_string(hide_password=False), drop


def fill(url: str, n: int) -> float:
    """N episodes, each with an e-mail contact and one invitation with its message row due now."""
    started = time.perf_counter()
    engine = make_engine(url)
    chunk = 5000
    with engine.begin() as conn:
        for start in range(0, n, chunk):
            count = min(chunk, n - start)
            ids = [uuid.uuid4().hex for _ in range(count)]
            invs = [uuid.uuid4().hex for _ in range(count)]
            conn.execute(sa.insert(Episode.__table__), [dict(
                id=e, registry_id="dlv", external_id=f"b-{start + k}", pseudonym=f"p-{start + k}", unit_id="dlv-hf",
                protocol_id="knee", event_date=dt.date(2026, 10, 5), language="nb", proxy_allowed=False,
                payload_hash="x" * 64, created_at=NOW, reserved_address=False) for k, e in enumerate(ids)])
            conn.execute(sa.insert(Contact.__table__), [dict(episode_id=e, channel="email",
                                                             address=f"patient{start + k}@example.no")
                                                        for k, e in enumerate(ids)])
            conn.execute(sa.insert(Invitation.__table__), [dict(
                id=i, episode_id=e, registry_id="dlv", time_point="m3", due_at=NOW, expires_at=NOW + dt.timedelta(days=30),
                status="planned", status_at=NOW) for i, e in zip(invs, ids, strict=True)])
            conn.execute(sa.insert(Message.__table__), [dict(
                id=uuid.uuid4().hex, invitation_id=i, registry_id="dlv", kind="invitation", number=0, channel=None,
                status="queued", due_at=NOW, next_attempt_at=NOW, attempts=0, channel_attempts=0, created_at=NOW)
                for i in invs])
    if engine.dialect.name == "sqlite":
        # The fill is one transaction, so its whole size sits in the write-ahead log, which every
        # read then searches until a checkpoint. Rows that arrived over weeks would long since
        # have been checkpointed (SQLite does so every 1000 pages): start from that state.
        raw = engine.raw_connection()
        raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        raw.close()
    engine.dispose()
    return time.perf_counter() - started


# ---------------------------------------------------------------------------------- dispatching


def settings_for(url: str, port: int, args):
    from promsvc.settings import Settings

    return Settings(database_url=url, registries_dir=str(REGISTRIES), demo_registry=False, smtp_host="127.0.0.1",
                    smtp_port=port, smtp_security="none", smtp_from="noreply@prom.example",
                    dispatch_batch=args.batch, dispatch_workers=args.workers, dispatch_durability=args.durability)


def _dispatch_process(url: str, port: int, args, go, results) -> None:
    from promsvc.delivery.config import Delivery
    from promsvc.delivery.dispatch import dispatch
    from promsvc.registries import loader

    settings = settings_for(url, port, args)
    d = Delivery.from_settings(settings, loader.load_all(settings))
    go.wait()
    started = time.process_time()
    report = dispatch(d, NOW)
    d.close()
    results.send((dict(report.counts), time.process_time() - started))


def dispatch(url: str, port: int, args) -> tuple[float, dict]:
    go = mp.Event()
    pipes, processes = [], []
    for _ in range(args.processes):
        parent, child = mp.Pipe()
        p = mp.Process(target=_dispatch_process, args=(url, port, args, go, child))
        p.start()
        pipes.append(parent)
        processes.append(p)
    time.sleep(2.0)  # let every process import and connect before the clock starts
    busy_before = machine_busy()
    started = time.perf_counter()
    go.set()
    counts: dict = {}
    cpu = 0.0
    for pipe in pipes:
        process_counts, process_cpu = pipe.recv()
        cpu += process_cpu
        for key, value in process_counts.items():
            counts[key] = counts.get(key, 0) + value
    elapsed = time.perf_counter() - started
    busy = machine_busy() - busy_before
    for p in processes:
        p.join()
    return elapsed, counts, cpu, busy


def run_one(kind: str, n: int, args) -> dict:
    tmp = tempfile.mkdtemp(prefix="promsvc-dispatch-bench-")
    drop = None
    url, drop = pg_database() if kind == "postgresql" else (sqlite_url(tmp), None)
    try:
        migrations.upgrade(url)
        filled = fill(url, n)
        with SmtpServer(args.pipelining) as server:
            elapsed, counts, dispatcher_cpu, busy = dispatch(url, server.port, args)
            received, distinct, server_cpu = server.counts()
        engine = make_engine(url)
        with engine.connect() as conn:
            statuses = dict(conn.execute(sa.select(Message.__table__.c.status, sa.func.count())
                                         .group_by(Message.__table__.c.status)).all())
        engine.dispose()
        return dict(database=kind, n=n, fill=filled, seconds=elapsed, received=received, distinct=distinct,
                    server_cpu=server_cpu, dispatcher_cpu=dispatcher_cpu, busy=busy,
                    counts=counts, statuses={getattr(k, "value", k): v for k, v in statuses.items()})
    finally:
        if drop is not None:
            drop()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated numbers of due invitations")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--processes", type=int, default=1, help="dispatcher processes (default 1)")
    parser.add_argument("--workers", type=int, default=4, help="sending threads per dispatcher (default 4)")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--durability", choices=("batch", "message"), default="batch")
    parser.add_argument("--pipelining", action="store_true",
                        help="the SMTP server advertises PIPELINING (RFC 2920), as Postfix and Exchange do")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"promsvc dispatch benchmark: {os.cpu_count()} CPUs, {args.processes} dispatcher process(es) × "
          f"{args.workers} workers, batch {args.batch}, durability {args.durability}, "
          f"SMTP server {'with' if args.pipelining else 'without'} PIPELINING")
    print(f"{'database':<11}{'due':>8}{'seconds':>10}{'msg/s':>9}{'ms/msg':>8}  received  check      "
          "CPU: dispatcher  SMTP server  machine")
    for kind in args.databases.split(","):
        first = None
        for n in sizes:
            r = run_one(kind, n, args)
            ok = r["received"] == n and r["distinct"] == n and r["statuses"].get("sent") == n
            rate = n / r["seconds"]
            print(f"{kind:<11}{n:>8}{r['seconds']:>10.1f}{rate:>9.0f}{1000 * r['seconds'] / n:>8.2f}  "
                  f"{r['received']:>8}  {'each once' if ok else 'MISMATCH ' + str(r['statuses']):<10} "
                  f"{r['dispatcher_cpu']:>11.1f} s {r['server_cpu']:>10.1f} s {r['busy']:>7.1f} s", flush=True)
            if first is None:
                first = r
            else:
                growth = (r["seconds"] / first["seconds"]) / (n / first["n"])
                print(f"{'':<11}time ×{r['seconds'] / first['seconds']:.1f} for ×{n / first['n']:.0f} rows "
                      f"(per-message cost ×{growth:.2f})", flush=True)
    return 0


if __name__ == "__main__":
    asyncio.set_event_loop_policy(None)
    raise SystemExit(main())
