"""The operations view (API and command line), the episode flags a registry sets, the code entry
page, links from messages on the patient pages, and the scheduler."""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import time
from zoneinfo import ZoneInfo

import pytest
from delivery_fixtures import (  # noqa: F401  (fixtures)
    DAY,
    NOW,
    REGISTRIES,
    enrol,
    gateway,
    invitation,
    make_delivery,
    messages,
    set_status,
    smtp,
    tokens,
)
from service_helpers import bearer
from sqlmodel import Session, select

from promsvc.commands import outbox as outbox_command
from promsvc.delivery import dispatch, expiry, jobs, planning
from promsvc.invitations import links
from promsvc.models import Episode, InvitationLink, LetterBatch, Status
from promsvc.scheduler import DeliveryScheduler

OSLO = ZoneInfo("Europe/Oslo")


def _demo_messages(engine, d, n=3):
    ids = [enrol(engine, registry="demo", protocol="hip_primary", time_point=tp)
           for tp in ("baseline", "m3", "m12")[:n]]
    jobs.tick(d, NOW)
    return ids


def test_outbox_status_counts_per_registry_and_channel_with_response_rates(client, keys, engine, make_delivery, smtp):
    d = make_delivery(smtp)
    ids = _demo_messages(engine, d)
    set_status(engine, ids[0], Status.completed)
    enrol(engine, registry="dlv", email=None)  # another registry: not shown to demo's key
    jobs.tick(d, NOW)
    r = client.get("/api/v1/outbox/status", headers=bearer(keys.registry))
    assert r.status_code == 200, r.text
    body = r.json()
    assert {m["registry"] for m in body["messages"]} == {"demo"}
    [email] = [m for m in body["messages"] if m["channel"] == "email"]
    assert email["sent"] == 3
    queued = sum(m["queued"] for m in body["messages"])
    assert queued == 3  # one reminder each (demo: after 7 days, at most 1)
    rates = {r["time_point"]: r for r in body["response_rates"]}
    assert rates["baseline"]["answered"] == 1 and rates["baseline"]["invited"] == 1
    assert rates["baseline"]["response_rate"] == 1.0 and rates["m3"]["response_rate"] == 0.0
    assert "pasient@example.no" not in r.text  # counts only
    # admin sees every registry; a registry key may not ask for another; an analyst may not look.
    assert {m["registry"] for m in client.get("/api/v1/outbox/status", headers=bearer(keys.admin)).json()["messages"]} \
        == {"demo", "dlv"}
    assert client.get("/api/v1/outbox/status?registry=dlv", headers=bearer(keys.registry)).status_code == 403
    assert client.get("/api/v1/outbox/status", headers=bearer(keys.analyst)).status_code == 403
    assert client.get("/api/v1/outbox/status").status_code == 401


def test_dry_run_lists_what_would_be_sent_today(client, keys, engine):
    # Noon tomorrow in Oslo, inside the sending window whatever the time of the test run.
    tomorrow = dt.datetime.now(OSLO).date() + dt.timedelta(days=1)
    due = dt.datetime.combine(tomorrow, dt.time(12), OSLO).astimezone(dt.UTC)
    inv = enrol(engine, registry="demo", protocol="hip_primary", due_at=due)
    flagged = enrol(engine, registry="demo", protocol="hip_primary", time_point="m12", due_at=due, deceased_at=NOW)
    r = client.get(f"/api/v1/outbox/dry-run?day={tomorrow.isoformat()}", headers=bearer(keys.registry))
    assert r.status_code == 200, r.text
    entries = {e["invitation"]: e for e in r.json()["entries"]}
    # Not planned yet: the planner would make the row (checked once it is).
    assert entries[inv]["verdict"].startswith("send") and entries[flagged]["verdict"].startswith("send")
    assert messages(engine) == []  # nothing written


def test_dry_run_checks_planned_messages_as_the_dispatcher_would(engine, make_delivery, smtp):
    from promsvc.delivery.services import dry_run

    d = make_delivery(smtp)
    ok = enrol(engine, due_at=NOW + dt.timedelta(hours=2))
    dead = enrol(engine, due_at=NOW + dt.timedelta(hours=2), deceased_at=NOW)
    letter = enrol(engine, due_at=NOW + dt.timedelta(hours=2), email=None, letter="Storgata 1, 0155 Oslo")
    planning.plan(d, NOW)
    result = dry_run(d, NOW)
    verdicts = {e.invitation: (e.verdict, e.channel, e.reason) for e in result.entries}
    assert verdicts[ok] == ("send", "email", None)
    assert verdicts[dead] == ("skip", None, "deceased")
    assert verdicts[letter] == ("letter-batch", "letter", None)
    assert result.totals == {"letter-batch letter": 1, "send email": 1, "skip deceased": 1}
    assert smtp.snapshot() == [] and {m.status.value for m in messages(engine)} == {"queued"}


def test_the_registry_sets_delivery_flags_and_nothing_more_is_sent(client, keys, engine, make_delivery, smtp):
    d = make_delivery(smtp)
    inv = enrol(engine, registry="demo", protocol="hip_primary")
    jobs.tick(d, NOW)
    with Session(engine) as s:
        external_id = s.exec(select(Episode)).one().external_id
    url = f"/api/v1/registries/demo/episodes/{external_id}/delivery-flags"
    r = client.put(url, json={"deceased": True}, headers=bearer(keys.registry))
    assert r.status_code == 200, r.text
    assert r.json()["deceased_at"] is not None and r.json()["pending_messages"] == 1
    assert client.get(url, headers=bearer(keys.system)).json()["reserved_address"] is False
    jobs.tick(d, NOW + 7 * DAY)
    assert len(smtp.snapshot()) == 1
    assert messages(engine, inv)[1].skip_reason == "deceased"
    # Clearing a flag set by mistake.
    assert client.put(url, json={"deceased": False}, headers=bearer(keys.registry)).json()["deceased_at"] is None
    # Access and input are checked.
    assert client.put(url, json={"deceased": True}, headers=bearer(keys.other)).status_code == 403
    assert client.put(url, json={"deceased": True}, headers=bearer(keys.analyst)).status_code == 403
    assert client.put(url, json={"dead": True}, headers=bearer(keys.registry)).status_code == 400
    assert client.put("/api/v1/registries/demo/episodes/nosuch/delivery-flags", json={},
                      headers=bearer(keys.registry)).status_code == 404


def test_a_link_from_a_message_opens_the_patient_page_until_expiry(client, engine, make_delivery, smtp):
    d = make_delivery(smtp)
    inv = enrol(engine, registry="demo", protocol="hip_primary", due_at=dt.datetime.now(dt.UTC) - DAY,
                window=10 * DAY)
    jobs.tick(d, dt.datetime.now(dt.UTC).replace(hour=10))
    [token] = tokens(smtp)
    assert invitation(engine, inv).status == Status.open
    page = client.get(f"/q/{token}")
    assert page.status_code == 200, page.text
    expiry.expire(d, dt.datetime.now(dt.UTC) + 10 * DAY)
    assert client.get(f"/q/{token}").status_code == 410


def _letter_code(engine) -> str:
    """An open invitation of the demo registry and the short code of its letter."""
    inv = enrol(engine, registry="demo", protocol="hip_primary", status=Status.open,
                due_at=dt.datetime.now(dt.UTC) - DAY)
    code = links.new_code()
    with Session(engine) as s:
        s.add(InvitationLink(invitation_id=inv, token_hash=links.code_hash(code), kind="code", channel="letter",
                             issued_at=dt.datetime.now(dt.UTC)))
        s.commit()
    return code


def test_staff_type_a_letter_code_and_reach_the_form(client, engine):
    code = _letter_code(engine)
    form = client.get("/code")
    assert form.status_code == 200 and 'name="code"' in form.text
    assert form.headers["referrer-policy"] == "no-referrer" and "no-store" in form.headers["cache-control"]
    nonce = form.text.split('name="csrf_token" value="')[1].split('"')[0]
    typed = links.format_code(code).lower()
    r = client.post("/code", data={"code": typed, "csrf_token": nonce}, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert r.headers["location"].startswith("http://testserver.local/q/")
    assert client.get(r.headers["location"].removeprefix("http://testserver.local")).status_code == 200
    # Unknown codes and forged posts get the same plain refusal.
    assert client.post("/code", data={"code": "AAAA-BBBB-CCCC", "csrf_token": nonce}).status_code == 404
    client.cookies.clear()
    assert client.post("/code", data={"code": typed, "csrf_token": nonce}).status_code == 400


def _env(database_url, **extra):
    env = {"PROMSVC_DATABASE_URL": database_url, "PROMSVC_REGISTRIES_DIR": str(REGISTRIES)}
    env.update(extra)
    return env


def test_the_outbox_commands(database_url, engine, make_delivery, smtp, tmp_path):
    d = make_delivery(smtp)
    _demo_messages(engine, d, 2)
    enrol(engine, email=None, letter="Kari Nordmann\nStorgata 1\n0155 Oslo")
    jobs.tick(d, NOW)  # 10:00: the day's letter batch too
    out = io.StringIO()
    assert outbox_command.run_status(argparse.Namespace(registry=None, json=False), _env(database_url), out) == 0
    text = out.getvalue()
    assert "demo" in text and "email" in text and "Response rate per time point" in text
    assert "Letter batches waiting to be fetched: 1" in text
    assert "example.no" not in text
    out = io.StringIO()
    outbox_command.run_status(argparse.Namespace(registry="demo", json=True), _env(database_url), out)
    assert {m["registry"] for m in json.loads(out.getvalue())["messages"]} == {"demo"}
    out = io.StringIO()
    args = argparse.Namespace(out=str(tmp_path / "letters"), registry=None, keep=False)
    assert outbox_command.run_letters(args, _env(database_url), out) == 0
    [pdf] = list((tmp_path / "letters").glob("dlv-*.pdf"))
    assert pdf.read_bytes().startswith(b"%PDF")
    with Session(engine) as s:
        [batch] = s.exec(select(LetterBatch)).all()
        assert batch.pdf is None and batch.fetched_at is not None  # the live links leave the database
    out = io.StringIO()
    outbox_command.run_dry_run(argparse.Namespace(registry=None, day=None, list=True, json=False),
                               _env(database_url), out)
    assert out.getvalue().startswith("Dry run for ")


def test_the_scheduler_ticks_on_its_own(make_delivery, smtp, engine):
    enrol(engine, due_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    d = make_delivery(smtp, send_window="00:00-24:00")
    scheduler = DeliveryScheduler(d, interval=1)
    scheduler.start()
    try:
        deadline = time.monotonic() + 10
        while not smtp.snapshot() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        scheduler.shutdown()
    assert len(smtp.snapshot()) == 1 and scheduler.ticks >= 1 and scheduler.failures == 0


@pytest.mark.parametrize("env", [{"PROMSVC_SEND_WINDOW": "20:00-09:00"}, {"PROMSVC_SMTP_HOST": "mail.example", "PROMSVC_SMTP_FROM": "nobody"},
                                 {"PROMSVC_SMTP_HOST": "mail.example", "PROMSVC_SMTP_USERNAME": "u",
                                  "PROMSVC_SMTP_SECURITY": "none"}])
def test_bad_delivery_settings_stop_the_start(env, database_url):
    from promsvc.app import create_app
    from promsvc.settings import Settings, SettingsError

    with pytest.raises(SettingsError, match="PROMSVC_"):
        create_app(Settings.from_mapping({**_env(database_url), **env}))


def test_promsvc_dispatch_once(database_url, engine, smtp):
    enrol(engine, due_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))
    env = _env(database_url, PROMSVC_SMTP_HOST="127.0.0.1", PROMSVC_SMTP_PORT=str(smtp.port),
               PROMSVC_SMTP_SECURITY="none", PROMSVC_SEND_WINDOW="00:00-24:00")
    out = io.StringIO()
    assert outbox_command.run_dispatch(argparse.Namespace(once=True, interval=None), env, out) == 0
    assert "sent email 1" in out.getvalue()
    assert len(smtp.snapshot()) == 1


# ------------------------------------------------- `promsvc demo` (the README's `make run`)


def test_promsvc_demo_mails_the_minutes_registry_to_its_own_sink_once_through_restarts(database_url, engine,
                                                                                         tmp_path):
    from promsvc.commands import demo as demo_command
    from promsvc.delivery.config import Delivery
    from promsvc.registries import loader
    from promsvc.settings import Settings

    assert demo_command.start_mail({"PROMSVC_SMTP_HOST": "mail.example.org"}) is None  # the caller's SMTP
    mail = tmp_path / "mail"
    now = dt.datetime.now(dt.UTC)

    def run(ticks):  # one run of the demo: its sink, its enrolment, the scheduler's ticks
        out = io.StringIO()
        env = {"PROMSVC_DATABASE_URL": database_url, "PROMSVC_REGISTRIES_DIR": str(outbox_command.DEMO_REGISTRIES)}
        sink = demo_command.start_mail(env, mail, out)
        try:
            assert env["PROMSVC_SCHEDULER"] == "1" and env["PROMSVC_SMTP_PORT"] == str(sink.port)
            created = demo_command.delivery(env, sink, out)
            settings = Settings.from_mapping(env)
            d = Delivery.from_settings(settings, loader.load_all(settings))
            try:
                for minutes in ticks:
                    jobs.tick(d, now + dt.timedelta(minutes=minutes))
            finally:
                d.close()
            return created, sink.snapshot(), out.getvalue()
        finally:
            sink.stop()

    created, received, printed = run([0, 2.5, 2.5])
    assert created == 3 and len(received) == 3  # the invitations of the first time point, once
    assert "Operations view" in printed and "promsvc outbox status" in printed and str(mail) in printed
    assert printed.count("received: ") == 3 and "mail 000003 received: " in printed
    assert "example.org" not in printed and "/q/" not in printed  # number and subject only
    created, received, printed = run([2.5, 3])  # a restart: nothing enrolled or sent again
    assert created == 0 and received == [] and "earlier run" in printed
    created, received, printed = run([6, 6, 10, 10, 20])
    assert created == 0 and len(received) == 9  # the second invitations and every reminder, once each
    assert "mail 000012 received: " in printed
    assert sorted(p.name for p in mail.iterdir()) == [f"{n:06d}.eml" for n in range(1, 13)]
    out = io.StringIO()
    outbox_command.run_status(argparse.Namespace(registry="minutes", json=True),
                              {"PROMSVC_DATABASE_URL": database_url}, out)
    [row] = json.loads(out.getvalue())["messages"]
    assert (row["channel"], row["sent"], row["queued"], row["failed"]) == ("email", 12, 0, 0)


def test_the_code_page_refuses_an_address_after_ten_wrong_codes_until_they_run_out(app, client, engine):
    from promsvc.delivery.ratelimit import FailedTries

    code = _letter_code(engine)
    clock = [NOW]
    built = app.state["code_tries"]  # made by create_app
    app.state["code_tries"] = FailedTries(engine, "secret", limit=10, window=600.0, clock=lambda: clock[0])
    try:
        page = client.get("/code")

        def post(typed: str):
            nonce = page.text.split('name="csrf_token" value="')[1].split('"')[0]
            return client.post("/code", data={"code": typed, "csrf_token": nonce}, follow_redirects=False)

        for n in range(10):
            clock[0] += dt.timedelta(seconds=1)
            page = post(f"AAAA-BBBB-CC{n:02d}")
            assert page.status_code == 404
        refused = post(links.format_code(code))
        assert refused.status_code == 429 and "For mange feil forsøk" in refused.text
        assert refused.headers["retry-after"] == "591"  # the first wrong try leaves the window at +601 s
        clock[0] = NOW + dt.timedelta(seconds=601.5)
        page = refused
        assert post(links.format_code(code)).status_code == 303
    finally:
        app.state["code_tries"] = built


def test_wrong_codes_count_across_workers_sharing_the_database(make_settings, engine):
    from litestar.testing import TestClient

    from promsvc.app import create_app

    code = _letter_code(engine)
    # Two workers (or instances): each its own application, one database and one secret key.
    with TestClient(create_app(make_settings())) as a, TestClient(create_app(make_settings())) as b:
        def post(client, typed: str):
            page = client.get("/code")
            nonce = page.text.split('name="csrf_token" value="')[1].split('"')[0]
            return client.post("/code", data={"code": typed, "csrf_token": nonce}, follow_redirects=False)

        for n in range(10):
            assert post((a, b)[n % 2], f"AAAA-BBBB-CC{n:02d}").status_code == 404
        assert post(a, links.format_code(code)).status_code == 429
        assert post(b, links.format_code(code)).status_code == 429


def test_the_status_shows_due_later_unconfirmed_and_failed_apart_and_says_when_nothing_is_left(engine, make_delivery,
                                                                                              smtp):
    import sqlalchemy as sa

    from promsvc.delivery.services import outbox_status
    from promsvc.models import Message

    d = make_delivery(smtp)
    due, later, held, failed = enrol(engine), enrol(engine, due_at=NOW + DAY), enrol(engine, protocol="held"), \
        enrol(engine, protocol="held")
    planning.plan(d, NOW)
    with Session(engine) as s:
        for inv, status in ((held, "unconfirmed"), (failed, "failed")):
            s.execute(sa.update(Message).where(Message.invitation_id == inv).values(status=status))
        s.commit()

    def shown():
        with Session(engine) as s:
            status = outbox_status(s, "dlv", NOW)
        out = io.StringIO()
        outbox_command.print_status(status, out)
        return status, out.getvalue()

    status, text = shown()
    # due now: the first invitation; later: the other's invitation and both's two reminders each
    assert (status.due, status.later, status.unconfirmed, status.failed) == (1, 5, 1, 1), status
    assert "Left to send: 1 due now, 5 later (next at 2027-01-05 09:00 UTC)" in text
    assert "1 unconfirmed: held for staff" in text and "1 failed" in text
    with Session(engine) as s:
        s.execute(sa.update(Message).where(Message.invitation_id.in_([due, later])).values(status="sent"))
        s.commit()
    status, text = shown()
    assert (status.due, status.later) == (0, 0)
    assert "Nothing left to send." in text


def test_staff_list_held_messages_and_send_them_again_or_record_them_delivered(database_url, engine, make_delivery,
                                                                              smtp):
    import sqlalchemy as sa

    from promsvc.commands import CommandError
    from promsvc.commands.outbox_unconfirmed import run_unconfirmed
    from promsvc.models import Message

    d = make_delivery(smtp)
    first, second = enrol(engine, protocol="held"), enrol(engine, protocol="held")
    planning.plan(d, NOW)
    with Session(engine) as s:
        s.execute(sa.update(Message).values(status="unconfirmed", sent_at=NOW))
        s.commit()
    ids = [messages(engine, i)[0].id for i in (first, second)]

    def run(**kw):
        out = io.StringIO()
        args = argparse.Namespace(**{"registry": None, "resend": None, "delivered": None, **kw})
        assert run_unconfirmed(args, _env(database_url), out) == 0
        return out.getvalue()

    listed = run()
    assert all(i in listed for i in ids) and "example.no" not in listed
    assert "1 message(s) queued to be sent again" in run(resend=[ids[0]])
    assert "1 message(s) recorded as delivered" in run(delivered=[ids[1]])
    assert [messages(engine, i)[0].status.value for i in (first, second)] == ["retrying", "sent"]
    assert "no messages held for staff" in run()
    with pytest.raises(CommandError):
        run(delivered=[ids[1]])  # settled already
    dispatch.dispatch(d, NOW)
    assert len(smtp.snapshot()) == 1 and messages(engine, first)[0].status.value == "sent"
