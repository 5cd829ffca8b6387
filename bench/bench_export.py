"""Benchmark: the CSV export of a large registry, streamed a chunk of episodes at a time.

    .venv/bin/python bench/bench_export.py                     # 20 000 episodes on SQLite
    .venv/bin/python bench/bench_export.py --episodes 50000

Prints figures; it is not a test. A fresh SQLite database gets N demo episodes (enrolled through
`episodes.services.enrol_batch`, three time points each), and every second one answers its
baseline (EQ-5D-5L and RAND-36, validated, scored and stored by `responses.submission`). Then, in
the same run:

- **export**: `episodes.export.export_csv`, the text the endpoint streams, consumed piece by
  piece as a client would read it;
- **baseline**: the same episodes, invitations, responses and current scores read whole into
  memory (what the export did before it was streamed), without making any CSV.

Reported: rows, seconds, rows per second, the CSV's size, and the peak of memory allocated by
Python (tracemalloc, in a second pass) during each.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlmodel import select  # noqa: E402

import instruments  # noqa: E402
from promsvc import db, migrations  # noqa: E402
from promsvc.episodes import services  # noqa: E402
from promsvc.episodes.export import export_csv  # noqa: E402
from promsvc.episodes.schemas import EnrolIn  # noqa: E402
from promsvc.models import Episode, Invitation, Response, Role, Score, Status  # noqa: E402
from promsvc.registries import loader  # noqa: E402
from promsvc.responses import submission as responses  # noqa: E402
from promsvc.security import Caller  # noqa: E402
from promsvc.settings import Settings  # noqa: E402


def fill(engine, settings: Settings, n: int, seed: int = 1) -> None:
    registry = loader.load_all(settings)["demo"]
    protocol = registry.protocol("hip_primary")
    chosen = [instruments.get(i) for i in protocol.time_point("baseline").instruments]
    uses = {i.id: protocol.instrument_use(i.id) for i in chosen}
    rng = random.Random(seed)
    system = Caller(key_id="bench", role=Role.system)
    event = dt.date.today() + dt.timedelta(days=7)
    now = dt.datetime.now(dt.UTC)
    for start in range(0, n, services.MAX_BATCH):
        with db.session(engine) as s:
            payloads = [EnrolIn(external_id=f"E{i:07d}", pseudonym=f"P{i:07d}", unit="dal-universitet",
                                protocol="hip_primary", event_date=event)
                        for i in range(start, min(n, start + services.MAX_BATCH))]
            out = services.enrol_batch(s, system, registry, payloads, settings)
            ids = [e.id for e in out.episodes[::2]]  # every second episode answers its baseline
            episodes = {e.id: e for e in s.exec(select(Episode).where(Episode.id.in_(ids)))}
            invitations = s.exec(select(Invitation).where(Invitation.episode_id.in_(ids), Invitation.time_point == "baseline")).all()
            s.execute(sa.update(Invitation).where(Invitation.id.in_([i.id for i in invitations])).values(status=Status.open))
            prepared = [
                responses.prepare(invitation=inv, episode=episodes[inv.episode_id], instruments=chosen, uses=uses,
                                  answers={ins.id: {item.id: rng.choice(ins.codes_of(item)) for item in ins.items} for ins in chosen},
                                  language="nb", respondent="patient", started_at=None, now=now)
                for inv in invitations
            ]
            assert all(responses.store(s.connection(), prepared))
            s.commit()


def measure(name: str, run) -> dict:
    """Timed in one pass, memory in another: tracemalloc slows Python down severalfold."""
    began = time.perf_counter()
    rows, size = run()
    seconds = time.perf_counter() - began
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"name": name, "rows": rows, "seconds": seconds, "size": size, "peak": peak}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=20000, help="episodes in the registry (default 20 000)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="promsvc-bench-export-"))
    try:
        url = f"sqlite:///{workdir / 'export.sqlite3'}"
        migrations.upgrade(url)
        settings = Settings(database_url=url)
        engine = db.make_engine(url)
        began = time.perf_counter()
        fill(engine, settings, args.episodes)
        print(f"{args.episodes} episodes, {args.episodes * 3} time points, {args.episodes // 2 + args.episodes % 2} "
              f"baselines answered: made in {time.perf_counter() - began:.0f} s", file=sys.stderr)
        registry = loader.load_all(settings)["demo"]

        def streamed():
            rows = size = 0
            for piece in export_csv(engine, registry):
                rows += piece.count("\n")
                size += len(piece.encode())
            return rows - 1, size  # less the header

        def whole():
            with db.session(engine) as s:
                tables = [s.exec(select(Episode).where(Episode.registry_id == "demo")).all(),
                          s.exec(select(Invitation).where(Invitation.registry_id == "demo")).all(),
                          s.exec(select(Response).where(Response.registry_id == "demo")).all(),
                          s.exec(select(Score).where(Score.current == sa.true())).all()]
                return len(tables[1]), 0

        results = [measure("baseline: read whole", whole), measure("export, streamed", streamed)]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"\n{'':<22} {'rows':>8} {'seconds':>8} {'rows/s':>8} {'CSV MB':>7} {'peak MB':>8}")
    for r in results:
        csv_mb = f"{r['size'] / 1e6:.1f}" if r["size"] else ""
        print(f"{r['name']:<22} {r['rows']:>8} {r['seconds']:>8.1f} {r['rows'] / r['seconds']:>8.0f} {csv_mb:>7} {r['peak'] / 1e6:>8.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
