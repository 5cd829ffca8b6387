"""Who gets nothing, channel fallback, retries, expiry and catch-up after an outage."""

from __future__ import annotations

import datetime as dt

import pytest
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
    smtp,
    tokens,
)
from sqlmodel import Session, select

from promsvc.delivery import jobs
from promsvc.delivery.sink import SmtpSink
from promsvc.invitations import links
from promsvc.models import InvitationLink, LetterBatch, Status
from promsvc.security import hash_token

HOUR = dt.timedelta(hours=1)


@pytest.mark.parametrize(
    ("flags", "reason"),
    [
        ({"withdrawn_at": NOW - DAY, "withdrawn_reason": "moved abroad"}, "withdrawn"),
        ({"deceased_at": NOW - DAY}, "deceased"),
        ({"consent_withdrawn_at": NOW - DAY}, "consent_withdrawn"),
        ({"reserved_address": True}, "reserved_address"),
    ],
)
def test_flagged_episodes_get_nothing(delivery, smtp, gateway, engine, flags, reason):
    inv = enrol(engine, sms="+4791234567", letter="Storgata 1\n0155 Oslo", **flags)
    for day in (0, 7, 14, 29):
        jobs.tick(delivery, NOW + day * DAY)
    assert smtp.snapshot() == [] and gateway.messages == []
    assert [(m.status.value, m.skip_reason) for m in messages(engine, inv)] == [("skipped", reason)] * 3


def test_a_flag_set_after_the_invitation_stops_the_reminders(delivery, smtp, engine):
    inv = enrol(engine)
    jobs.tick(delivery, NOW)
    set_episode(engine, inv, deceased_at=NOW + DAY)
    jobs.tick(delivery, NOW + 7 * DAY)
    assert len(smtp.snapshot()) == 1
    assert messages(engine, inv)[1].skip_reason == "deceased"


def test_no_email_contact_falls_back_to_sms(delivery, smtp, gateway, engine):
    inv = enrol(engine, email=None, sms="+47 912 34 567")
    jobs.tick(delivery, NOW)
    assert smtp.snapshot() == []
    [sms] = gateway.messages
    assert sms.to == "+4791234567" and sms.reference == messages(engine, inv)[0].id
    assert "http://testserver.local/q/" in sms.text and "Testregisteret" in sms.text


def test_a_permanent_failure_falls_back_and_all_failing_fails_the_invitation(make_delivery, gateway, engine):
    with SmtpSink(rcpt_reply=lambda address: "550 5.1.1 unknown user") as smtp:
        gateway.reply = lambda payload: 400
        d = make_delivery(smtp, gateway)
        inv = enrol(engine, sms="+4791234567")
        jobs.tick(d, NOW)  # e-mail 550 → SMS next, at once
        jobs.tick(d, NOW)  # SMS 400 → no letter address → failed
    [first, *reminders] = messages(engine, inv)
    assert first.status.value == "failed"
    assert first.last_error == "email: SMTP RCPT: 550; sms: SMS gateway: 400; letter: no contact"
    assert "unknown user" not in first.last_error  # the server's text may quote the address
    assert invitation(engine, inv).status == Status.failed
    assert events(engine, inv)[-1] == ("failed", "not delivered: " + first.last_error)
    jobs.tick(d, NOW + 7 * DAY)
    jobs.tick(d, NOW + 14 * DAY)
    assert {m.skip_reason for m in messages(engine, inv)[1:]} == {"invitation_failed"}


def test_temporary_failures_are_retried_with_backoff_then_fall_back(make_delivery, gateway, engine):
    refuse = {"on": True}
    with SmtpSink(rcpt_reply=lambda address: "451 4.3.0 try later" if refuse["on"] else None) as smtp:
        d = make_delivery(smtp, gateway)  # retry_base 600 s, retry_max 3
        inv = enrol(engine, sms="+4791234567")
        jobs.tick(d, NOW)
        m = messages(engine, inv)[0]
        assert (m.status.value, m.channel_attempts, m.next_attempt_at) == ("retrying", 1, NOW + 10 * dt.timedelta(minutes=1))
        jobs.tick(d, NOW + 9 * dt.timedelta(minutes=1))  # not yet
        assert messages(engine, inv)[0].channel_attempts == 1
        jobs.tick(d, NOW + 10 * dt.timedelta(minutes=1))
        m = messages(engine, inv)[0]
        assert (m.status.value, m.channel_attempts, m.next_attempt_at) == ("retrying", 2, NOW + 30 * dt.timedelta(minutes=1))
        jobs.tick(d, NOW + 30 * dt.timedelta(minutes=1))  # third attempt fails: e-mail used up → SMS
        jobs.tick(d, NOW + 30 * dt.timedelta(minutes=1))
        assert smtp.snapshot() == []
    [sms] = gateway.messages
    m = messages(engine, inv)[0]
    assert (m.status.value, m.channel, m.attempts) == ("sent", "sms", 4)
    assert m.last_error == "email: SMTP RCPT: 451"


def test_the_smtp_server_down_puts_the_batch_back(make_delivery, gateway, engine):
    from promsvc.delivery.sink import free_port

    d = make_delivery(None, gateway, smtp_host="127.0.0.1", smtp_port=free_port(), smtp_security="none",
                      dispatch_workers=1)
    ids = [enrol(engine) for _ in range(3)]
    jobs.tick(d, NOW)
    rows = [messages(engine, i)[0] for i in ids]
    assert sorted(r.status.value for r in rows) == ["queued", "queued", "retrying"]  # one tried, two put back
    assert [r.last_error for r in rows if r.status.value == "retrying"][0].startswith("email: cannot connect")
    assert {r.next_attempt_at for r in rows} == {NOW + 10 * dt.timedelta(minutes=1)}
    assert all(r.claimed_by is None for r in rows)


def test_letters_make_one_pdf_batch_a_day_with_working_codes(delivery, smtp, gateway, engine):
    inv = enrol(engine, protocol="knee", email=None, letter="Kari Nordmann\nStorgata 1\n0155 Oslo", language="nn")
    other = enrol(engine, protocol="knee", email=None, letter="Ola Nordmann, Elvegata 2, 5003 Bergen")
    jobs.tick(delivery, NOW)  # 10:00: the letter batch time (PROMSVC_LETTER_TIME)
    with Session(engine) as s:
        [batch] = s.exec(select(LetterBatch)).all()
        assert batch.letters == 2 and batch.registry_id == "dlv"
        assert batch.pdf.startswith(b"%PDF")
    assert [m.status.value for m in (messages(engine, inv)[0], messages(engine, other)[0])] == ["sent", "sent"]
    assert invitation(engine, inv).status == Status.open
    # Each letter printed a code; a typed code opens its invitation through a fresh link.
    with Session(engine) as s:
        codes = s.exec(select(InvitationLink).where(InvitationLink.kind == "code")).all()
        assert {c.invitation_id for c in codes} == {inv, other}
    jobs.tick(delivery, NOW + HOUR)
    with Session(engine) as s:
        assert len(s.exec(select(LetterBatch)).all()) == 1  # nothing new: one batch a day


def test_a_letter_due_after_the_batch_time_waits_for_tomorrows_batch(delivery, engine):
    inv = enrol(engine, email=None, letter="Storgata 1, 0155 Oslo", due_at=NOW + 2 * HOUR)
    jobs.tick(delivery, NOW + 2 * HOUR)
    m = messages(engine, inv)[0]
    assert (m.status.value, m.channel, m.next_attempt_at) == ("queued", "letter", NOW + DAY)
    jobs.tick(delivery, NOW + DAY)
    assert messages(engine, inv)[0].status.value == "sent"


def test_short_codes(engine, delivery):
    inv = enrol(engine, email=None, letter="Storgata 1, 0155 Oslo")
    jobs.tick(delivery, NOW)
    with Session(engine) as s:
        code_row = s.exec(select(InvitationLink).where(InvitationLink.kind == "code")).one()
    # The code itself is only in the PDF; find it by hashing candidates is impossible, so make one.
    code = links.new_code()
    with Session(engine) as s:
        s.add(InvitationLink(invitation_id=inv, token_hash=links.code_hash(code), kind="code", channel="letter",
                             issued_at=NOW))
        s.commit()
        typed = links.format_code(code).lower().replace("0", "o")  # as staff might type it
        opened = links.open_code(s, typed, NOW)
        assert opened is not None and opened[0].id == inv
        s.commit()
        assert links.find_invitation(s, hash_token(opened[1])).id == inv
        assert links.open_code(s, "AAAA-BBBB-CCCC", NOW) is None
        assert links.open_code(s, links.format_code(code), NOW + 31 * DAY) is None  # expired
    assert code_row.token_hash != links.code_hash(code)


def test_expiry_ends_the_invitation_and_nothing_is_sent_after_it(delivery, smtp, engine):
    inv = enrol(engine, window=10 * DAY)  # reminders at +7 (planned) and +14 (after expiry: not planned)
    jobs.tick(delivery, NOW - HOUR)  # 08:00: planned, but the window is not open yet
    assert len(messages(engine, inv)) == 2
    assert jobs.tick(delivery, NOW + 11 * DAY).counts["invitations expired"] == 1  # an outage until after expiry
    assert smtp.snapshot() == []
    assert invitation(engine, inv).status == Status.expired
    assert events(engine, inv)[-1] == ("expired", "window closed")
    assert [(m.number, m.status.value, m.skip_reason) for m in messages(engine, inv)] == [
        (0, "skipped", "expired"), (1, "skipped", "expired")]


def test_catch_up_after_an_outage_sends_each_message_once_and_keeps_reminders_apart(delivery, smtp, engine):
    inv = enrol(engine, due_at=NOW - 15 * DAY)  # invitation and both reminders overdue
    jobs.tick(delivery, NOW)
    assert len(smtp.snapshot()) == 1  # the invitation only; the reminders wait
    rows = messages(engine, inv)
    assert [(m.status.value, m.next_attempt_at) for m in rows[1:]] == [("queued", NOW + 7 * DAY)] * 2
    jobs.tick(delivery, NOW + 7 * DAY)
    jobs.tick(delivery, NOW + 7 * DAY)
    assert len(smtp.snapshot()) == 2  # reminder 1; reminder 2 waits another week
    jobs.tick(delivery, NOW + 14 * DAY)
    assert len(smtp.snapshot()) == 3  # reminder 2, a week after reminder 1
    jobs.tick(delivery, NOW + 20 * DAY)
    assert len(smtp.snapshot()) == 3
    assert invitation(engine, inv).status == Status.expired


def test_a_clinic_only_protocol_plans_nothing_to_send(delivery, smtp, engine):
    inv = enrol(engine, protocol="desk", time_point="visit")
    jobs.tick(delivery, NOW)
    assert [(m.status.value, m.skip_reason) for m in messages(engine, inv)] == [("skipped", "no_delivery_channel")]
    assert smtp.snapshot() == []
