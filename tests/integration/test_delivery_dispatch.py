"""Dispatch end to end on SQLite and PostgreSQL: a real SMTP server and a real SMS gateway on
127.0.0.1, a clock the tests give (`now`), never the wall clock."""

from __future__ import annotations

import datetime as dt

from delivery_fixtures import (  # noqa: F401  (fixtures)
    DAY,
    NOW,
    delivery,
    enrol,
    events,
    gateway,
    invitation,
    make_delivery,
    messages,
    set_episode,
    set_status,
    smtp,
    tokens,
)
from sqlmodel import Session

from promsvc.delivery import jobs
from promsvc.invitations import links
from promsvc.models import Status
from promsvc.security import hash_token

HOUR = dt.timedelta(hours=1)


def test_an_invitation_goes_out_once_with_a_working_link(delivery, smtp, engine):
    inv = enrol(engine)
    jobs.tick(delivery, NOW)
    [m] = smtp.snapshot()
    assert m.rcpt_tos == ("pasient@example.no",)
    assert "Testregisteret" in m.subject
    [token] = tokens(smtp)
    with Session(engine) as s:
        assert links.find_invitation(s, hash_token(token)).id == inv
    assert invitation(engine, inv).status == Status.open
    assert invitation(engine, inv).channel == "email"  # the channel of the last link issued
    assert events(engine, inv)[-1] == ("open", "invitation sent (email)")
    planned = messages(engine, inv)
    assert [(m.kind, m.number, m.status.value) for m in planned] == [
        ("invitation", 0, "sent"), ("reminder", 1, "queued"), ("reminder", 2, "queued")]
    assert planned[0].attempts == 1 and planned[0].link_id is not None
    assert [m.due_at for m in planned[1:]] == [NOW + 7 * DAY, NOW + 14 * DAY]
    # Ticking again, at once or later the same day, sends nothing more.
    jobs.tick(delivery, NOW)
    jobs.tick(delivery, NOW + 5 * HOUR)
    assert len(smtp.snapshot()) == 1


def test_reminders_carry_fresh_links_and_every_link_keeps_working(delivery, smtp, engine):
    inv = enrol(engine)
    jobs.tick(delivery, NOW)
    set_status(engine, inv, Status.started)  # a saved draft: not completed, so reminded
    jobs.tick(delivery, NOW + 7 * DAY)
    jobs.tick(delivery, NOW + 14 * DAY)
    jobs.tick(delivery, NOW + 21 * DAY)
    sent = smtp.snapshot()
    assert [m.subject.split(":")[0] for m in sent] == ["Spørreskjema fra Testregisteret", "Påminnelse", "Påminnelse"]
    found = tokens(smtp)
    assert len(set(found)) == 3
    with Session(engine) as s:
        assert {links.find_invitation(s, hash_token(t)).id for t in found} == {inv}


def test_no_reminder_once_answered(delivery, smtp, engine):
    inv = enrol(engine)
    jobs.tick(delivery, NOW)
    set_status(engine, inv, Status.completed)
    jobs.tick(delivery, NOW + 7 * DAY)
    jobs.tick(delivery, NOW + 14 * DAY)
    assert len(smtp.snapshot()) == 1
    assert [(m.status.value, m.skip_reason) for m in messages(engine, inv)[1:]] == [
        ("skipped", "completed"), ("skipped", "completed")]


def test_nothing_leaves_outside_the_window(delivery, smtp, engine):
    enrol(engine, due_at=NOW + 11 * HOUR)  # 21:00 in Oslo
    jobs.tick(delivery, NOW + 11 * HOUR)
    jobs.tick(delivery, NOW + 20 * HOUR)  # 06:00
    assert smtp.snapshot() == []
    [first, *_] = messages(engine)
    assert first.due_at == NOW + DAY - HOUR  # 09:00 the next morning
    jobs.tick(delivery, NOW + DAY - HOUR)
    assert len(smtp.snapshot()) == 1


def test_the_spring_forward_night(delivery, smtp, engine):
    # Due Saturday 28 March 2026 at 22:30 CET; the window opens Sunday 09:00 CEST = 07:00 UTC.
    saturday = dt.datetime(2026, 3, 28, 21, 30, tzinfo=dt.UTC)
    enrol(engine, due_at=saturday)
    jobs.tick(delivery, saturday)
    jobs.tick(delivery, dt.datetime(2026, 3, 29, 6, 59, tzinfo=dt.UTC))  # 08:59 CEST
    assert smtp.snapshot() == []
    jobs.tick(delivery, dt.datetime(2026, 3, 29, 7, 0, tzinfo=dt.UTC))
    assert len(smtp.snapshot()) == 1


def test_the_fall_back_night(delivery, smtp, engine):
    # Due Saturday 24 October 2026 at 21:00 CEST; the window opens Sunday 09:00 CET = 08:00 UTC.
    saturday = dt.datetime(2026, 10, 24, 19, 0, tzinfo=dt.UTC)
    enrol(engine, due_at=saturday)
    jobs.tick(delivery, saturday)
    jobs.tick(delivery, dt.datetime(2026, 10, 25, 7, 59, tzinfo=dt.UTC))  # 08:59 CET
    assert smtp.snapshot() == []
    jobs.tick(delivery, dt.datetime(2026, 10, 25, 8, 0, tzinfo=dt.UTC))
    assert len(smtp.snapshot()) == 1


def test_every_record_on_disk_mode_sends_the_same(make_delivery, smtp, engine):
    d = make_delivery(smtp, dispatch_durability="message")
    ids = [enrol(engine) for _ in range(5)]
    jobs.tick(d, NOW)
    assert len(smtp.snapshot()) == 5
    assert {messages(engine, i)[0].status.value for i in ids} == {"sent"}
