"""What running the service in production needs besides its API: health checks for the load
balancer and the container, Prometheus metrics (optional), and JSON log lines (optional).

    GET /health/live    200 while the process answers at all (no database: a restart would not help it)
    GET /health/ready   200 when the database answers and its migrations are at this version's head;
                        503 (a problem document saying which) otherwise: take the instance out of rotation
    GET /metrics        Prometheus text (PROMSVC_METRICS=1): requests by route template, method and status
                        with their duration; submissions stored; messages by status; the age of the oldest
                        due message. Counts and times only: never a path, token or patient detail.

Request and submission counts are kept per process (prometheus-client). `promsvc serve --workers N`
runs the workers in prometheus-client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set up and
removed by the server), so that a scrape shows the sum of all workers whichever answers it. The
message counts are read from the database at each scrape, once.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
from typing import Any

import sqlalchemy as sa
from litestar import Request, Response, get
from litestar.datastructures import State

from promsvc import errors

_STARTED = time.time()


@get("/health/live", sync_to_thread=False, tags=["health"], summary="The process is alive",
     description="200 while the process answers. Needs no key.")
def live() -> dict[str, Any]:
    return {"status": "live", "uptime_seconds": round(time.time() - _STARTED, 1)}


@get("/health/ready", sync_to_thread=True, tags=["health"], summary="Ready to serve",
     description="200 when the database answers and its migrations are at head; 503 otherwise. Needs no key.",
     responses={503: errors.problem_spec("Not ready: the database cannot be reached or is not migrated")})
def ready(state: State) -> dict[str, Any]:
    from promsvc import migrations

    try:
        at = migrations.current(state.engine)
    except sa.exc.SQLAlchemyError as e:
        raise errors.Unavailable(f"the database cannot be reached ({type(e).__name__})", where="database",
                                 fix="check PROMSVC_DATABASE_URL and that the database server runs") from None
    if at != migrations.head():
        raise errors.Unavailable(f"the database is at migration {at}, this version needs {migrations.head()}",
                                 where="database", fix="run `promsvc db upgrade`")
    return {"status": "ready", "migration": at}


# ------------------------------------------------------------------------------------ metrics


class Metrics:
    """The service's Prometheus metrics (one registry per application)."""

    def __init__(self, engine):
        from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess

        own = CollectorRegistry()
        self.requests = Histogram("promsvc_request_seconds", "HTTP requests by route template, method and status",
                                  ["route", "method", "status"], registry=own)
        self.submissions = Counter("promsvc_submissions_total", "Questionnaire submissions stored", registry=own)
        # prometheus-client's own switch (read when it is imported): this process is one of several workers
        # writing their counts to files there, and a scrape reads them all.
        shared = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if shared:
            self.registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(self.registry, path=shared)
        else:
            self.registry = own
        self.registry.register(_OutboxCollector(engine))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(route=route, method=method, status=str(status)).observe(seconds)
        if status == 201 and route.endswith("/submit"):
            self.submissions.inc()


class _OutboxCollector:
    """Messages by status and the age of the oldest due message, read from the database at scrape time."""

    def __init__(self, engine):
        self.engine = engine

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        from promsvc.models import Message

        M = Message.__table__
        now = dt.datetime.now(dt.UTC)
        by_status = GaugeMetricFamily("promsvc_messages", "Messages to patients by status", labels=["status"])
        age = GaugeMetricFamily("promsvc_queue_oldest_due_seconds", "Age of the oldest message due and not yet sent")
        with self.engine.connect() as conn:
            for status, n in conn.execute(sa.select(M.c.status, sa.func.count()).group_by(M.c.status)):
                by_status.add_metric([getattr(status, "value", str(status))], n)
            oldest = conn.execute(sa.select(sa.func.min(M.c.next_attempt_at))
                                  .where(M.c.status.in_(("queued", "retrying")), M.c.next_attempt_at <= now)).scalar()
            conn.rollback()
        age.add_metric([], (now - oldest).total_seconds() if oldest else 0.0)
        yield by_status
        yield age


@get("/metrics", sync_to_thread=True, include_in_schema=False)
def metrics(request: Request) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


# ------------------------------------------------------------------------------------ logs


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (PROMSVC_LOG_JSON=1). The messages are
    the same as in text form: they never carry patient data."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps({"time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
                           "level": record.levelname, "logger": record.name, "message": record.getMessage()},
                          ensure_ascii=False)
