"""Delivery's commands: `promsvc outbox status|dry-run|letters|demo`, `promsvc dispatch`,
`promsvc smtp-sink`. Settings come from PROMSVC_* variables, as for the service; nothing
printed names a patient, an address or a token (except the demo's own synthetic sink)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import sys
import time
from pathlib import Path

from promsvc.commands import CommandError

DEMO_REGISTRIES = Path(__file__).parents[1] / "delivery" / "demo"

STATUS_EPILOG = """\
columns: due (its time has come: the dispatcher takes it now), later (its time not yet come),
sending (an attempt under way), sent, unconfirmed (cut between the final dot and the reply, held
for staff by the protocol's choice: promsvc outbox unconfirmed), failed (every channel failed),
skipped (on purpose; reasons listed below), retrying (after a temporary failure; also in due or later).
Response rate = answered / invited, where invited = open + started + completed + expired."""


def add_parser(commands) -> None:
    """Add delivery's subcommands to the `promsvc` command."""
    outbox = commands.add_parser("outbox", help="delivery: outbox status, dry run, letter batches, demo")
    sub = outbox.add_subparsers(dest="action", metavar="ACTION", required=True)

    status = sub.add_parser("status", help="queued, sent, failed, retrying … per registry and channel; response rates",
                            epilog=STATUS_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    status.add_argument("--registry", metavar="R", help="only this registry")
    status.add_argument("--json", action="store_true", help="print JSON (as GET /api/v1/outbox/status)")
    status.set_defaults(run=run_status)

    dry = sub.add_parser("dry-run", help="what would be sent today, checked as the dispatcher would; sends nothing")
    dry.add_argument("--registry", metavar="R", help="only this registry")
    dry.add_argument("--day", metavar="YYYY-MM-DD", type=dt.date.fromisoformat, help="another local day")
    dry.add_argument("--list", action="store_true", help="one line per message (ids only) besides the totals")
    dry.add_argument("--json", action="store_true", help="print JSON (as GET /api/v1/outbox/dry-run)")
    dry.set_defaults(run=run_dry_run)

    letters = sub.add_parser("letters", help="write the letter batches not yet fetched as PDF files",
                             description="Write each letter batch not yet fetched to DIR as REGISTRY-DATE-ID.pdf, "
                             "then mark it fetched and delete the PDF from the database (it holds live links).")
    letters.add_argument("--out", metavar="DIR", required=True, help="directory for the PDF files")
    letters.add_argument("--registry", metavar="R", help="only this registry")
    letters.add_argument("--keep", action="store_true", help="keep the PDFs in the database too")
    letters.set_defaults(run=run_letters)

    from promsvc.commands import outbox_unconfirmed

    outbox_unconfirmed.add_parser(sub)

    demo = sub.add_parser(
        "demo", help="a registry with time points minutes apart, e-mailed to a local SMTP server",
        description="Enrol synthetic patients in the registry `minutes` (promsvc/delivery/demo/minutes.yaml: time "
        "points 1 and 4 minutes after enrolment, a reminder 3 minutes after each invitation, expiry after 8 minutes) "
        "and run the delivery scheduler, which e-mails each invitation and reminder to the SMTP server on "
        "127.0.0.1:8025 (start one with `promsvc smtp-sink`, or pass --sink). Stop it with Ctrl-C and start it "
        "again with --no-enrol: every message still goes out exactly once. See docs/delivery.md.",
    )
    demo.add_argument("--patients", type=int, default=3, metavar="N", help="patients to enrol (default 3)")
    demo.add_argument("--no-enrol", action="store_true", help="only dispatch (after a restart)")
    demo.add_argument("--sink", action="store_true", help="also run an SMTP sink on 127.0.0.1:8025 in this process")
    demo.set_defaults(run=run_demo)

    dispatch = commands.add_parser(
        "dispatch", help="run the delivery scheduler as its own process (a worker)",
        description="Tick every PROMSVC_DISPATCH_INTERVAL seconds: recover, plan, expire, dispatch e-mail and SMS, "
        "make the day's letter batches. Any number of workers (and servers with PROMSVC_SCHEDULER=1) may run "
        "against one database. Applies database migrations first.",
    )
    dispatch.add_argument("--once", action="store_true", help="one tick, print what it did, and exit")
    dispatch.add_argument("--interval", type=int, metavar="S", help="seconds between ticks (default: the setting)")
    dispatch.set_defaults(run=run_dispatch)

    sink = commands.add_parser(
        "smtp-sink", help="a local SMTP server that keeps what it receives (for the demo and tests)",
        description="Listen on HOST:PORT (default 127.0.0.1:8025), accept every message, print one line per "
        "message (time, Message-ID, subject) and, with --dir, write it there as NNNNNN.eml. Not for production. "
        "Needs aiosmtpd (pip install -e '.[test]').",
    )
    sink.add_argument("--host", default="127.0.0.1")
    sink.add_argument("--port", type=int, default=8025)
    sink.add_argument("--dir", metavar="DIR", help="write each message to DIR")
    sink.set_defaults(run=run_smtp_sink)


def _settings(environ=None):
    from promsvc.settings import Settings

    return Settings.from_mapping(os.environ if environ is None else environ)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ------------------------------------------------------------------------------------ status


def run_status(args, environ=None, stdout=None) -> int:
    import msgspec

    from promsvc import db
    from promsvc.delivery.services import outbox_status

    out = stdout or sys.stdout
    settings = _settings(environ)
    with db.opened(settings) as engine:
        with db.session(engine) as session:
            status = outbox_status(session, args.registry, _now())
    if args.json:
        out.write(msgspec.json.encode(status).decode() + "\n")
        return 0
    print_status(status, out)
    return 0


def print_status(status, out) -> None:
    columns = ("due", "later", "sending", "sent", "unconfirmed", "failed", "skipped", "retrying")
    print(f"Outbox at {status.at:%Y-%m-%d %H:%M:%S} UTC", file=out)
    if status.nothing_left_to_send:
        print("Nothing left to send.", file=out)
    else:
        nxt = f" (next at {status.next_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC)" if status.next_at else ""
        print(f"Left to send: {status.due} due now, {status.later} later{nxt}"
              + (f", {status.sending} being sent" if status.sending else ""), file=out)
    if status.unconfirmed:
        print(f"{status.unconfirmed} unconfirmed: held for staff (promsvc outbox unconfirmed)", file=out)
    if status.failed:
        print(f"{status.failed} failed on every channel (their invitations are `failed`)", file=out)
    print(f"{'registry':<14}{'channel':<9}" + "".join(f"{c:>12}" for c in columns), file=out)
    if not status.messages:
        print("  (no messages)", file=out)
    for row in status.messages:
        print(f"{row.registry:<14}{row.channel:<9}" + "".join(f"{getattr(row, c):>12}" for c in columns), file=out)
    if status.skipped:
        print("\nSkipped, by reason:", file=out)
        for s in status.skipped:
            print(f"  {s.registry:<14}{s.reason:<22}{s.messages:>8}", file=out)
    print("\nResponse rate per time point so far (answered / invited):", file=out)
    if not status.response_rates:
        print("  (no invitations)", file=out)
    for r in status.response_rates:
        rate = f"{100 * r.response_rate:5.1f} %" if r.response_rate is not None else "    –  "
        print(f"  {r.registry:<14}{r.protocol:<14}{r.time_point:<10} {r.answered:>6} / {r.invited:<6} {rate}"
              f"   (invitations {r.invitations}: " + ", ".join(f"{k} {v}" for k, v in r.by_status.items() if v) + ")",
              file=out)
    print(f"\nLetter batches waiting to be fetched: {status.letter_batches_waiting}", file=out)


# ----------------------------------------------------------------------------------- dry run


def run_dry_run(args, environ=None, stdout=None) -> int:
    import msgspec

    from promsvc.delivery.services import dry_run

    out = stdout or sys.stdout
    delivery = _delivery(_settings(environ))
    try:
        result = dry_run(delivery, _now(), args.registry, args.day)
    finally:
        delivery.close()
    if args.json:
        out.write(msgspec.json.encode(result).decode() + "\n")
        return 0
    print(f"Dry run for {result.day} ({result.time_zone}); nothing is sent or written.", file=out)
    if not result.totals:
        print("  nothing due", file=out)
    for what, n in result.totals.items():
        print(f"  {n:>7}  {what}", file=out)
    if args.list:
        for e in result.entries:
            print(f"  {e.at:%H:%M}Z {e.registry:<12} {e.kind:<10} #{e.number} {e.verdict:<12} {e.channel or '':<7} "
                  f"{e.reason or ''}  message {e.message or '-'} invitation {e.invitation}", file=out)
    return 0


def _delivery(settings):
    from promsvc.delivery.config import Delivery
    from promsvc.registries import loader

    return Delivery.from_settings(settings, loader.load_all(settings))


# ----------------------------------------------------------------------------------- letters


def run_letters(args, environ=None, stdout=None) -> int:
    import sqlalchemy as sa

    from promsvc import db
    from promsvc.models import LetterBatch, table

    out = stdout or sys.stdout
    settings = _settings(environ)
    target = Path(args.out)
    target.mkdir(parents=True, exist_ok=True)
    engine = db.make_engine(settings)
    L = table(LetterBatch)
    written = 0
    try:
        with engine.connect() as conn:
            ids = conn.execute(sa.select(L.c.id).where(L.c.pdf.is_not(None),
                                                       *([L.c.registry_id == args.registry] if args.registry else []))
                               .order_by(L.c.created_at)).scalars().all()
            conn.rollback()
            for batch_id in ids:
                with conn.begin():
                    row = conn.execute(sa.select(L).where(L.c.id == batch_id, L.c.pdf.is_not(None))
                                       .with_for_update()).first()
                    if row is None:  # fetched meanwhile
                        continue
                    name = f"{row.registry_id}-{row.created_at:%Y%m%d}-{row.id[:8]}.pdf"
                    (target / name).write_bytes(row.pdf)
                    conn.execute(sa.update(L).where(L.c.id == batch_id).values(
                        fetched_at=_now(), **({} if args.keep else {"pdf": None})))
                print(f"{target / name}: {row.letters} letters", file=out)
                written += 1
    finally:
        engine.dispose()
    if not written:
        print("no letter batches waiting", file=out)
    return 0


# ---------------------------------------------------------------------------------- dispatch


def run_dispatch(args, environ=None, stdout=None) -> int:
    import logging

    from promsvc import migrations
    from promsvc.delivery import jobs
    from promsvc.scheduler import DeliveryScheduler

    out = stdout or sys.stdout
    settings = _settings(environ)
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    migrations.upgrade(settings.database_url)
    delivery = _delivery(settings)
    if args.once:
        try:
            print(jobs.tick(delivery), file=out)
        finally:
            delivery.close()
        return 0
    scheduler = DeliveryScheduler(delivery, args.interval or settings.dispatch_interval, blocking=True)
    # SIGTERM (docker stop, systemd): the messages in flight finish and are recorded, the rest is
    # given back for the next dispatcher, then the process ends with status 0.
    signal.signal(signal.SIGTERM, lambda *_: scheduler.shutdown(wait=True))
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        scheduler.shutdown(wait=True)
    finally:
        delivery.close()
    return 0


# --------------------------------------------------------------------------------- smtp sink


def run_smtp_sink(args, environ=None, stdout=None) -> int:
    try:
        import aiosmtpd  # noqa: F401

        from promsvc.delivery.sink import SmtpSink
    except ImportError:
        raise CommandError("the SMTP sink needs aiosmtpd: pip install -e '.[test]'") from None
    out = stdout or sys.stdout

    def show(received) -> None:
        print(f"{time.strftime('%H:%M:%S')} {received.message_id} {received.subject}", file=out, flush=True)

    sink = SmtpSink(args.host, args.port, directory=args.dir, on_message=show)
    sink.start()
    print(f"SMTP sink on {args.host}:{args.port}; Ctrl-C to stop", file=out, flush=True)
    try:
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        sink.stop()
        print(f"{len(sink.messages)} messages received", file=out)
    return 0


# -------------------------------------------------------------------------------------- demo


def demo_environment(environ=None, now: dt.datetime | None = None) -> dict[str, str]:
    """The settings of the delivery demo: the `minutes` registry, a local SMTP server, a sending
    window open all day, a tick every 5 seconds (each unless set in the environment)."""
    env = dict(os.environ if environ is None else environ)
    env["PROMSVC_REGISTRIES_DIR"] = str(DEMO_REGISTRIES)
    for key, value in DEMO_SETTINGS:
        env.setdefault(key, value)
    return env


# The delivery demo's settings (also `promsvc demo`'s when it runs its own SMTP sink).
DEMO_SETTINGS = (("PROMSVC_SMTP_HOST", "127.0.0.1"), ("PROMSVC_SMTP_PORT", "8025"),
                 ("PROMSVC_SMTP_SECURITY", "none"), ("PROMSVC_SEND_WINDOW", "00:00-24:00"),
                 ("PROMSVC_DISPATCH_INTERVAL", "5"), ("PROMSVC_SMTP_FROM", "noreply@promsvc.example"))


def run_demo(args, environ=None, stdout=None) -> int:
    import logging

    from promsvc import db, migrations
    from promsvc.scheduler import DeliveryScheduler
    from promsvc.settings import Settings

    out = stdout or sys.stdout
    env = demo_environment(environ)
    settings = Settings.from_mapping(env)
    logging.basicConfig(level="WARNING", format="%(asctime)s %(name)s %(levelname)s %(message)s")
    migrations.upgrade(settings.database_url)
    sink = None
    if args.sink:
        from promsvc.delivery.sink import SmtpSink

        sink = SmtpSink(settings.smtp_host, settings.smtp_port, on_message=lambda m: print(
            f"  → received {m.message_id} {m.subject}", file=out, flush=True)).start()
    if not args.no_enrol:
        enrol_minutes(env, args.patients, out)
    delivery = _delivery(settings)

    class Verbose(DeliveryScheduler):
        def tick(self):
            report = super().tick()
            if report is not None and report.counts:
                print(f"{time.strftime('%H:%M:%S')} tick: {report}", file=out, flush=True)
            return report

    scheduler = Verbose(delivery, settings.dispatch_interval, blocking=True)
    print(f"Dispatching every {settings.dispatch_interval} s to {settings.smtp_host}:{settings.smtp_port}; "
          "Ctrl-C to stop (restart with --no-enrol). `promsvc outbox status` shows the outbox.", file=out, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: scheduler.shutdown(wait=False))
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        delivery.close()
        if sink is not None:
            sink.stop()
    with db.opened(settings) as engine:
        from promsvc.delivery.services import outbox_status

        with db.session(engine) as session:
            print_status(outbox_status(session, "minutes", _now()), out)
    return 0


def enrol_minutes(env, patients: int, out, *, per_day: bool = False) -> int:
    """Enrol synthetic patients in the registry `minutes` (which `env`'s PROMSVC_REGISTRIES_DIR must
    load), their first time point due a minute from now; return how many were enrolled now.
    `per_day`: the same external ids all day (a second run on the same day enrols nothing);
    otherwise new ones on every run."""
    from zoneinfo import ZoneInfo

    from promsvc.settings import Settings

    settings = Settings.from_mapping(env)
    local = (_now() + dt.timedelta(minutes=1)).astimezone(ZoneInfo(settings.time_zone))
    enrol_settings = Settings.from_mapping({**env, "PROMSVC_DUE_TIME": f"{local:%H:%M}"})
    stamp = f"{local:%Y%m%d}" if per_day else _now().strftime("%Y%m%d%H%M%S")
    return _demo_enrol(enrol_settings, patients, local.date(), out, stamp)


def _demo_enrol(settings, patients: int, event_date: dt.date, out, stamp: str) -> int:
    from promsvc import db
    from promsvc.episodes import services
    from promsvc.episodes.schemas import ContactIn, EnrolIn
    from promsvc.models import Role
    from promsvc.registries import loader
    from promsvc.security import Caller

    registry = loader.load_all(settings)["minutes"]
    caller = Caller(key_id="promsvc-outbox-demo", role=Role.system)
    engine = db.make_engine(settings)
    created = 0
    try:
        with db.session(engine) as session:
            for n in range(1, patients + 1):
                _, new = services.enrol(session, caller, registry, EnrolIn(
                    external_id=f"MIN-{stamp}-{n}", pseudonym=f"MIN-PSN-{stamp}-{n}", unit="minutes-hospital",
                    protocol="fast", event_date=event_date, language=("nb", "nn", "en")[(n - 1) % 3],
                    contacts=[ContactIn(channel="email", address=f"demo{n}@example.org")],
                ), settings)
                created += new
    finally:
        engine.dispose()
    if not created:
        print(f"The {patients} synthetic patients of registry 'minutes' (external ids MIN-{stamp}-N) were enrolled "
              "by an earlier run: nothing new is enrolled, and nothing is sent twice.", file=out)
        return 0
    print(f"Enrolled {created} synthetic patients in registry 'minutes': each gets an invitation 1 and 4 minutes "
          "from now, a reminder 3 minutes after each, and expiry after 8 minutes.", file=out)
    return created
