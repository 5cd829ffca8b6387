"""The delivery scheduler: APScheduler ticks every `dispatch_interval` seconds and runs
`promsvc.delivery.jobs.tick`; it decides nothing else.

Everything scheduled is a row in the database with a due time (docs/delivery.md), so the
scheduler keeps no jobs of its own: its one interval job lives in memory, and a restart loses
nothing. APScheduler's own misfire rules therefore only concern the tick itself: ticks never
overlap in one process (`max_instances=1`), and ticks missed while the process was stopped or
busy collapse into one (`coalesce=True`, no grace limit). The catch-up policy for messages is
the database's: after an outage each overdue message is sent once, never after its
invitation has expired.

Started inside the web server when `PROMSVC_SCHEDULER=1`, or on its own by `promsvc dispatch`.
Any number of schedulers may run against one database; claims keep them apart.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from promsvc.delivery import jobs
from promsvc.delivery.config import Delivery

log = logging.getLogger("promsvc.scheduler")


class DeliveryScheduler:
    """One APScheduler with one interval job: the delivery tick."""

    def __init__(self, delivery: Delivery, interval: int, *, blocking: bool = False):
        self.delivery = delivery
        self.interval = interval
        # APScheduler logs every run of the tick at INFO ("Running job …", "… executed
        # successfully"): routine lines that would scroll away what matters (the demo's links).
        # Its warnings and errors (a missed or failed run) still show.
        logging.getLogger("apscheduler").setLevel(max(logging.WARNING, logging.getLogger("apscheduler").level))
        options = dict(timezone=dt.UTC, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None})
        self._scheduler = BlockingScheduler(**options) if blocking else BackgroundScheduler(**options)
        self._scheduler.add_job(self.tick, "interval", seconds=interval, id="delivery-tick",
                                next_run_time=dt.datetime.now(dt.UTC))
        self.ticks = 0
        self.failures = 0
        self._lock = threading.Lock()

    def tick(self) -> jobs.Report | None:
        """Run one tick; a failure is logged by its type only (its text may quote patient data)."""
        with self._lock:
            try:
                report = jobs.tick(self.delivery)
                self.ticks += 1
                return report
            except Exception as e:  # the next tick tries again; nothing is lost
                self.failures += 1
                log.error("delivery tick failed: %s", type(e).__name__)
                return None

    def start(self) -> None:
        """Start ticking (a BlockingScheduler returns only when shut down)."""
        log.info("delivery scheduler: a tick every %d s (instance %s)", self.interval, self.delivery.instance)
        self._scheduler.start()

    def shutdown(self, wait: bool = True) -> None:
        """Stop: the tick under way finishes its messages in flight and gives the rest back
        (`Delivery.stopping`); with `wait`, return when it has."""
        self.delivery.stopping.set()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=wait)
        self.delivery.close()
