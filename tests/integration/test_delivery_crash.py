"""Exactly once through crashes and concurrency: a dispatcher that stops mid-batch (in process,
and a real process killed with SIGKILL), and two dispatchers taking from one outbox at once."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import contextmanager

import pytest
from delivery_fixtures import (  # noqa: F401  (fixtures)
    NOW,
    REGISTRIES,
    enrol,
    gateway,
    invitation,
    make_delivery,
    messages,
    smtp,
)

from promsvc.delivery import dispatch, jobs, planning
from promsvc.delivery.email import SmtpChannel
from promsvc.delivery.sink import SmtpSink

HOUR = dt.timedelta(hours=1)


class Crash(BaseException):
    """Stands for the process dying: nothing after it runs (see `crash_after`)."""


@contextmanager
def crash_after(monkeypatch, sends: int, where: str):
    """Make the dispatcher "die" at the (sends+1)-th message, either after its final dot reached
    the server (`after_dot`) or after its text but before its final dot (`before_dot`). The
    end-of-batch writes do not happen, as in a real crash."""
    count = {"n": 0}
    real_prepare, real_finish = SmtpChannel.prepare, SmtpChannel.finish

    def prepare(self, **kw):
        prepared = real_prepare(self, **kw)
        if where == "before_dot" and count["n"] == sends:
            self._drop()  # the process's sockets close with it: the server discards the text
            raise Crash()
        return prepared

    def finish(self, prepared):
        real_finish(self, prepared)
        count["n"] += 1
        if where == "after_dot" and count["n"] == sends + 1:
            self._drop()
            raise Crash()

    @contextmanager
    def no_end_of_batch(connection):
        raise Crash()
        yield

    monkeypatch.setattr(SmtpChannel, "prepare", prepare)
    monkeypatch.setattr(SmtpChannel, "finish", finish)
    monkeypatch.setattr(dispatch, "durable_transaction", no_end_of_batch)
    yield
    monkeypatch.undo()


@pytest.mark.parametrize("where, protocol", [("after_dot", "knee"), ("after_dot", "held"), ("before_dot", "knee")])
def test_restart_in_the_middle_of_a_batch_loses_nothing(make_delivery, smtp, engine, monkeypatch, where, protocol):
    ids = [enrol(engine, protocol=protocol) for _ in range(6)]
    first = make_delivery(smtp, dispatch_lease=300, dispatch_workers=1)
    with crash_after(monkeypatch, 2, where), pytest.raises(Crash):
        jobs.tick(first, NOW)
    statuses = Counter(m.status.value for i in ids for m in messages(engine, i)[:1])
    # Each success is recorded before the next message's final dot: after a crash at most one
    # message per connection is `sending` (its outcome unknown).
    if where == "after_dot":
        # The third reached the server, then the dispatcher died before recording that it had.
        assert len(smtp.snapshot()) == 3
        assert statuses == {"sent": 2, "sending": 1, "queued": 3}
    else:
        # It died with the third's text at the server but not its final dot: the server discards
        # it. The third was recorded as `sending` before its text left.
        assert len(smtp.snapshot()) == 2
        assert statuses == {"sent": 2, "sending": 1, "queued": 3}
    # A new dispatcher (a restarted process) before the lease ends takes nothing …
    second = make_delivery(smtp, dispatch_lease=300)
    jobs.tick(second, NOW + dt.timedelta(minutes=4))
    assert len(smtp.snapshot()) == (3 if where == "after_dot" else 2)
    # … and after it, recovers and sends the rest.
    report = jobs.tick(second, NOW + dt.timedelta(minutes=6))
    received = Counter(m.message_id for m in smtp.snapshot())
    rows = [messages(engine, i)[0] for i in ids]
    assert {f"<{r.id}@prom.example>" for r in rows} == set(received)  # nothing lost
    # The invitations of the two recorded before the crash were opened by the recovery.
    assert all(invitation(engine, i).status.value == "open" for i in ids)
    if where == "after_dot" and protocol == "knee":
        # The one between its final dot and the reply is sent again (the protocol's choice,
        # the default): it may arrive twice, and here it did.
        assert sorted(received.values()) == [1, 1, 1, 1, 1, 2]
        assert Counter(r.status.value for r in rows) == {"sent": 6}
        assert report.counts["recovered: sent again (possible duplicate)"] == 1
    elif where == "after_dot":
        # `unconfirmed: hold`: it waits for staff and is never sent again on its own.
        assert set(received.values()) == {1}
        assert Counter(r.status.value for r in rows) == {"sent": 5, "unconfirmed": 1}
        assert report.counts["recovered: held for staff (unconfirmed)"] == 1
    else:
        assert set(received.values()) == {1}
        assert Counter(r.status.value for r in rows) == {"sent": 6}


def test_an_sms_left_sending_is_repeated_with_its_reference_and_arrives_once(make_delivery, gateway, engine):
    [inv] = [enrol(engine, email=None, sms="+4791234567")]
    d = make_delivery(None, gateway, dispatch_lease=300)
    jobs.tick(d, NOW)
    [sent] = gateway.messages
    # As if the dispatcher had died after the gateway took the SMS but before recording it:
    from sqlmodel import Session

    from promsvc.models import Message
    with Session(engine) as s:
        row = s.get(Message, messages(engine, inv)[0].id)
        row.status, row.claimed_by, row.claimed_until = "sending", "dead", NOW
        s.add(row)
        s.commit()
    report = jobs.tick(d, NOW + HOUR)
    assert report.counts["recovered: retried (idempotent)"] == 1
    assert gateway.requests == 2 and len(gateway.messages) == 1  # repeated, and the gateway sent it once
    assert messages(engine, inv)[0].status.value == "sent"


def _at_once(job, a, b) -> dict:
    """Run `job(delivery, NOW)` for both dispatchers in two threads started together; their reports."""
    reports = {}
    barrier = threading.Barrier(2)

    def run(name, d):
        barrier.wait()
        reports[name] = job(d, NOW)

    threads = [threading.Thread(target=run, args=(n, d)) for n, d in (("a", a), ("b", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return reports


def test_two_dispatchers_at_once_send_each_message_exactly_once(make_delivery, smtp, engine):
    ids = [enrol(engine) for _ in range(120)]
    a = make_delivery(smtp, dispatch_batch=15)
    b = make_delivery(smtp, dispatch_batch=15)
    planning.plan(a, NOW)
    reports = _at_once(dispatch.dispatch, a, b)
    received = Counter(m.message_id for m in smtp.snapshot())
    assert len(received) == 120 and set(received.values()) == {1}
    assert sum(r.counts["sent email"] for r in reports.values()) == 120
    assert all(r.counts["sent email"] > 0 for r in reports.values()), reports  # both took part
    rows = [messages(engine, i)[0] for i in ids]
    assert {r.status.value for r in rows} == {"sent"} and {r.attempts for r in rows} == {1}


def _dispatcher(database_url: str, smtp_port: int, **settings: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMSVC_") or k.startswith("PROMSVC_TEST_")}
    env.update(PROMSVC_DATABASE_URL=database_url, PROMSVC_REGISTRIES_DIR=str(REGISTRIES),
               PROMSVC_SMTP_HOST="127.0.0.1", PROMSVC_SMTP_PORT=str(smtp_port), PROMSVC_SMTP_SECURITY="none",
               PROMSVC_SMTP_FROM="noreply@prom.example", PROMSVC_SEND_WINDOW="00:00-24:00",
               PROMSVC_DISPATCH_INTERVAL="1", PROMSVC_DISPATCH_LEASE="2", PROMSVC_LOG_LEVEL="WARNING")
    env.update({f"PROMSVC_{k.upper()}": v for k, v in settings.items()})
    code = ("import argparse, sys; from promsvc.commands.outbox import run_dispatch; "
            "sys.exit(run_dispatch(argparse.Namespace(once=False, interval=1)))")
    return subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait(condition, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return False


def _first_statuses(engine, ids) -> Counter:
    return Counter(m.status.value for i in ids for m in messages(engine, i)[:1])


def _kill_restart_and_finish(database_url, engine, make_delivery, ids, sink, *, after: int, workers: int = 4,
                             pause: float = 0.0, **settings):
    """Run a dispatcher process until `after` messages arrived (and `pause` seconds more), SIGKILL it, and
    return the statuses at the kill; then let another dispatcher, here in this process (what a restarted
    one runs is the same `jobs.tick`), recover and send until every message is settled. Its clock is set
    past the dead one's lease rather than waiting for it."""
    first = _dispatcher(database_url, sink.port, dispatch_workers=str(workers), **settings)
    try:
        assert _wait(lambda: len(sink.messages) >= after, 60), first.stderr.read1().decode() if first.poll() else ""
        time.sleep(pause)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    at_kill = _first_statuses(engine, ids)
    second = make_delivery(sink, dispatch_workers=workers, send_window="00:00-24:00", dispatch_lease=2, **settings)
    for _ in range(5):
        jobs.tick(second, dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3))
        if set(_first_statuses(engine, ids)) <= {"sent", "unconfirmed"}:
            break
    assert set(_first_statuses(engine, ids)) <= {"sent", "unconfirmed"}, _first_statuses(engine, ids)
    return at_kill


def test_a_dispatcher_killed_mid_batch_loses_nothing_and_leaves_at_most_one_unknown_per_connection(
        database_url, database_kind, engine, make_delivery):
    # Both durability modes, one per database (each run starts two processes).
    durability = "batch" if database_kind == "sqlite" else "message"
    now = dt.datetime.now(dt.UTC)
    ids = [enrol(engine, due_at=now - dt.timedelta(minutes=1)) for _ in range(30)]
    with SmtpSink(delay=0.03) as sink:  # each message takes a moment, so the kill lands mid-batch
        at_kill = _kill_restart_and_finish(database_url, engine, make_delivery, ids, sink, after=8,
                                           dispatch_durability=durability)
        received = Counter(m.message_id for m in sink.snapshot())
    assert at_kill["queued"] > 0, at_kill  # killed in the middle of its batch of 30
    # Only messages between their final dot and the reply are unknown: one per connection at most.
    assert at_kill["sending"] <= 4, at_kill
    rows = [messages(engine, i)[0] for i in ids]
    assert {f"<{r.id}@prom.example>" for r in rows} == set(received), "a message is missing"
    # Those were sent again (the default for invitations): a duplicate only among them.
    assert sum(n - 1 for n in received.values()) <= at_kill["sending"]
    assert Counter(r.status.value for r in rows) == {"sent": 30}


def test_a_message_the_server_dropped_when_the_dispatcher_died_before_the_reply_is_sent_again(database_url,
                                                                                               engine, make_delivery):
    now = dt.datetime.now(dt.UTC)
    ids = [enrol(engine, due_at=now - dt.timedelta(minutes=1)) for _ in range(6)]
    # The server answers 0.3 s after the final dot and keeps the message only then: nearly every
    # moment of the dispatcher's life is spent waiting for a reply, so the kill lands there.
    with SmtpSink(delay=0.3, keep_on_reply=True) as sink:
        # Half-way through the wait for the third message's reply.
        at_kill = _kill_restart_and_finish(database_url, engine, make_delivery, ids, sink, after=2, workers=1,
                                           pause=0.15)
        received = Counter(m.message_id for m in sink.snapshot())
    assert at_kill["sending"] == 1, at_kill
    rows = [messages(engine, i)[0] for i in ids]
    assert {f"<{r.id}@prom.example>" for r in rows} == set(received), "a message is missing"
    assert set(received.values()) == {1}


def test_two_dispatchers_at_once_report_what_each_did_not_what_the_table_holds(make_delivery, smtp, engine):
    ids = [enrol(engine) for _ in range(200)]
    a = make_delivery(smtp, dispatch_batch=20)
    b = make_delivery(smtp, dispatch_batch=20)
    reports = _at_once(jobs.tick, a, b)
    total = Counter()
    for report in reports.values():
        total.update(report.counts)
    assert total["planned invitations"] == 200, reports
    assert total["planned messages"] == 3 * 200, reports  # the invitation and two reminders each
    assert total["sent email"] == 200, reports
    assert len({m.message_id for m in smtp.snapshot()}) == 200 == len(smtp.snapshot())
    assert {messages(engine, i)[0].status.value for i in ids} == {"sent"}


def test_sigterm_lets_the_message_in_flight_finish_and_gives_the_rest_back(database_url, engine):
    from sqlmodel import Session, select

    from promsvc.models import Message

    now = dt.datetime.now(dt.UTC)
    ids = [enrol(engine, due_at=now - dt.timedelta(minutes=1)) for _ in range(30)]
    with SmtpSink(delay=0.05) as sink:
        dispatcher = _dispatcher(database_url, sink.port, dispatch_workers="2", dispatch_lease="600")
        try:
            assert _wait(lambda: len(sink.messages) >= 4, 60)
            dispatcher.send_signal(signal.SIGTERM)
            assert dispatcher.wait(30) == 0, dispatcher.stderr.read().decode()
        finally:
            if dispatcher.poll() is None:
                dispatcher.kill()
        received = Counter(m.message_id for m in sink.snapshot())
    statuses = _first_statuses(engine, ids)
    assert set(received.values()) == {1} and statuses["sent"] == len(received), (statuses, len(received))
    assert statuses["queued"] == 30 - len(received) > 0, statuses  # stopped in the middle …
    with Session(engine) as s:  # … and gave the rest back at once, not after its lease
        assert all(m.claimed_by is None for m in s.exec(select(Message)).all())
