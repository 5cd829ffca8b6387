"""`promsvc demo`: a working demo in one command (the README's `make run`).

Migrates the database (default ./var/promsvc.sqlite3), enrols three synthetic episodes in the
demo registry, issues a patient link for each at the baseline time point, creates an API key
of role registry for `demo`, prints links, key and a curl example, and serves.

Run again on the same day, it finds the same episodes (enrolment is idempotent) and issues new
links (the old ones stop working) and a new key (the previous demo key is revoked); a patient
whose baseline was answered in an earlier run gets a further episode with a fresh link. The
episodes' event date is a week ahead of the day of the run, so that their baseline is open
now; on another day new episodes are made.

Indicators and result pages need numbers: the first run also loads a synthetic cohort into the
demo registry (`promsvc cohort`: COHORT_EPISODES episodes over five years up to COHORT_TODAY,
seed COHORT_SEED); later runs find it and leave it. The coverage reference counts shipped with
the demo (promsvc/registries/demo.coverage.csv) are those of this cohort.

Results (docs/reports.md): last, the demo registry's indicators are computed and published, so
that /results/demo and /open/demo/indicators.csv show them.

Delivery (docs/delivery.md): the registry `minutes` (promsvc/delivery/demo) is loaded too, unless
PROMSVC_REGISTRIES_DIR names another directory, and three synthetic patients are enrolled in it
(the same ones all day), whose invitations and reminders fall due minutes apart. Unless
PROMSVC_SMTP_HOST is set, the served app gets an SMTP sink on 127.0.0.1 in this process (port 8025
if free; each message written to var/mail/) and runs the delivery scheduler; every message goes
out once, however often the demo is restarted, as the outbox lives in the same database.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING

from promsvc.commands import CommandError, outbox, server_options
from promsvc.commands import serve as server

if TYPE_CHECKING:
    from promsvc.episodes.schemas import ContactChannel, Language
    from promsvc.settings import Settings

DEMO_ACTOR = "promsvc-demo"  # what the audit names as the actor of the demo's own enrolments
KEY_LABEL = "promsvc demo"
MAIL_DIR = Path("var") / "mail"  # where the demo's own SMTP sink writes what it receives

# The synthetic cohort of the demo: fixed, so that the shipped coverage reference matches it
# (`promsvc cohort demo --episodes 3000 --seed 2026 --today 2026-11-30 --reference …`).
COHORT_EPISODES, COHORT_SEED, COHORT_TODAY = 3000, 2026, dt.date(2026, 11, 30)

PATIENTS: list[tuple[str, str, str, Language, bool, list[tuple[ContactChannel, str]]]] = [
    # (suffix, pseudonym, unit, language, proxy, contacts)
    ("1", "DEMO-PSN-1", "fjord-sentral-ortopedi", "nb", False, [("sms", "+47 400 00 001")]),
    ("2", "DEMO-PSN-2", "dal-universitet-ortopedi", "nn", False, [("email", "demo2@example.org")]),
    ("3", "DEMO-PSN-3", "dal-elvebredd", "en", True, []),
]


def add_parser(commands) -> None:
    """Add `demo` to the `promsvc` command's subcommands."""
    demo = commands.add_parser(
        "demo", help="set up a demo: migrate a SQLite file, enrol demo patients, print links and a key, serve",
        description="Migrate the database (default ./var/promsvc.sqlite3), load a synthetic cohort of 3000 episodes into "
        "the demo registry once (for indicators; `promsvc cohort`), enrol a few synthetic episodes in the demo "
        "registry (the same ones when run again on the same day), issue patient links for them, create an API key "
        "of role registry, print links, key and a curl example, then serve on 127.0.0.1:8000. Also enrols synthetic "
        "patients in the registry `minutes` (time points minutes apart) and, unless PROMSVC_SMTP_HOST is set, e-mails "
        "their invitations and reminders to an SMTP sink in this process (var/mail/), each once through restarts; "
        "`promsvc outbox status` shows the outbox (docs/delivery.md).",
    )
    server_options(demo)
    demo.add_argument("--no-serve", action="store_true", help="set up and print, but do not start the server")
    demo.set_defaults(run=run_demo)


def run_demo(args) -> int:
    return run(args.host, args.port, serve=not args.no_serve)


def setup(env: MutableMapping[str, str] | None = None, today: dt.date | None = None, out=None) -> dict:
    """Migrate, enrol, issue links, make a key; return what was printed (for tests)."""
    from sqlmodel import col, select

    from promsvc import db
    from promsvc.episodes import links as episode_links
    from promsvc.episodes import services
    from promsvc.episodes.schemas import ContactIn, EnrolIn
    from promsvc.errors import Conflict
    from promsvc.models import ApiKey, Role
    from promsvc.registries import loader
    from promsvc.security import Caller, create_key
    from promsvc.settings import Settings

    out = out or sys.stdout
    env = os.environ if env is None else env
    settings = server.prepare(env)
    settings = Settings.from_mapping(env)
    registries = loader.load_all(settings)
    registry = registries.get("demo")
    if registry is None:
        raise CommandError("the demo registry is switched off (PROMSVC_DEMO_REGISTRY=0); switch it on for `promsvc demo`")
    today = today or dt.date.today()
    caller = Caller(key_id=DEMO_ACTOR, role=Role.system)
    links: list[tuple[str, str, str]] = []
    with db.opened(settings) as engine:
        with db.session(engine) as session:
            for suffix, pseudonym, unit, language, proxy, contacts in PATIENTS:
                for attempt in range(1, 100):
                    # A patient who already answered today's baseline (a run before this one) cannot
                    # get another link for it: enrol a further episode instead (…-1-2, …-1-3).
                    payload = EnrolIn(
                        external_id=f"DEMO-{today:%Y%m%d}-{suffix}" + (f"-{attempt}" if attempt > 1 else ""),
                        pseudonym=pseudonym, unit=unit, protocol="hip_primary",
                        event_date=today + dt.timedelta(days=7), language=language, proxy=proxy,
                        contacts=[ContactIn(channel=channel, address=address) for channel, address in contacts],
                    )
                    episode, _ = services.enrol(session, caller, registry, payload, settings)
                    try:
                        link = episode_links.issue_link(session, caller, registry, episode.external_id, "baseline", settings)
                    except Conflict:
                        continue
                    links.append((episode.external_id, language, link.url))
                    break
            for old in session.exec(select(ApiKey).where(col(ApiKey.label) == KEY_LABEL, col(ApiKey.revoked_at).is_(None))):
                old.revoked_at = dt.datetime.now(dt.UTC)
                session.add(old)
            _, key = create_key(session, Role.registry, "demo", KEY_LABEL)
            session.commit()

    loaded = load_cohort(settings, registry)
    base = settings.base_url
    print("\npromsvc demo: the synthetic registry 'demo' with three patients (all data are made up)\n", file=out)
    print(f"Synthetic cohort for indicators: {COHORT_EPISODES} episodes up to {COHORT_TODAY} "
          f"({'loaded now' if loaded else 'loaded before'}; `promsvc cohort --help`)\n", file=out)
    print("Patient links (open one on a phone-sized window; each answers EQ-5D-5L and RAND-36 before surgery):", file=out)
    for external_id, lang, url in links:
        print(f"  {external_id} ({lang}): {url}", file=out)
    print(f"\nAPI key (role registry, registry demo; shown once): {key}\n", file=out)
    print("Read an episode with its answers and scores once a form is submitted:", file=out)
    print(f'  curl -H "Authorization: Bearer {key}" {base}/api/v1/registries/demo/episodes/{links[0][0]}', file=out)
    print("Export everything as CSV:", file=out)
    print(f'  curl -H "Authorization: Bearer {key}" {base}/api/v1/registries/demo/export.csv', file=out)
    print(f"API description: {base}/schema/swagger\n", file=out)
    return {"links": links, "key": key}


def cohort_options():
    from promsvc.episodes import synthetic

    return synthetic.Options(episodes=COHORT_EPISODES, seed=COHORT_SEED, today=COHORT_TODAY)


def load_cohort(settings: Settings, registry) -> bool:
    """Load the demo's synthetic cohort unless it is there; whether it was loaded now."""
    from promsvc import db
    from promsvc.episodes import bulk, synthetic

    options = cohort_options()
    with db.opened(settings) as engine:
        if bulk.already_loaded(engine, registry, synthetic.external_id(options, 0)):
            return False
        bulk.load(engine, registry, synthetic.chunks(registry, options, settings), [])
        return True


def run(host: str, port: int, *, serve: bool = True) -> int:
    env = os.environ
    if "PROMSVC_BASE_URL" not in env:
        shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        env["PROMSVC_BASE_URL"] = f"http://{shown_host}:{port}"
    env.setdefault("PROMSVC_REGISTRIES_DIR", str(outbox.DEMO_REGISTRIES))
    sink = start_mail(env) if serve else None
    try:
        setup(env)
        delivery(env, sink)
        publish_results(env)  # last: after every episode of the demo is in the database
        if serve:
            print(f"Serving on http://{host}:{port} (Ctrl-C to stop)", file=sys.stderr)
            return _serve(host, port)
        return 0
    finally:
        if sink is not None:
            sink.stop()


def publish_results(env, out=None) -> None:
    """Publish the demo registry's indicator results (docs/reports.md) and say where to see them."""
    from promsvc.commands.results import publish
    from promsvc.registries import loader
    from promsvc.settings import Settings

    out = out or sys.stdout
    settings = Settings.from_mapping(env)
    _, pub = publish(settings, loader.load_all(settings), "demo")
    cells = pub.results.results
    base = settings.base_url
    print(f"Results published: {len(cells)} cells of {len(pub.definitions)} indicators "
          f"({sum(r.suppressed for r in cells)} suppressed as too small)", file=out)
    print(f"  result pages: {base}/results/demo   open data: {base}/open/demo/indicators.csv", file=out)
    print("  the annual report as PDF: .venv/bin/promsvc report demo -o demo.pdf\n", file=out)


def start_mail(env: MutableMapping[str, str], directory: str | Path = MAIL_DIR, out=None):
    """Unless the caller configured SMTP (PROMSVC_SMTP_HOST), start an SMTP sink on 127.0.0.1 (port
    8025 if free) that writes each message to `directory` and prints one line per message (number
    and subject: no address, no link), and point `env` at it with the scheduler on. Returns the
    sink, or None."""
    out = out or sys.stdout
    if env.get("PROMSVC_SMTP_HOST"):
        return None
    try:
        from promsvc.delivery.sink import SmtpSink, free_port
    except ImportError:  # aiosmtpd is a test dependency; `make run` installs it
        print("promsvc demo: no SMTP sink (pip install -e '.[test]' for aiosmtpd); nothing is e-mailed", file=out)
        return None
    host = "127.0.0.1"
    port = 8025 if _port_free(host, 8025) else free_port(host)

    def show(message) -> None:
        number = sink.earlier_files + sink.messages.index(message) + 1
        print(f"mail {number:06d} received: {message.subject}", file=out, flush=True)

    # aiosmtpd logs every SMTP command at INFO, addresses included: keep it off the screen (the
    # sink prints one line per message), so that the links printed above stay in view.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    sink = SmtpSink(host, port, directory=directory, on_message=show).start()
    for key, value in outbox.DEMO_SETTINGS:
        env.setdefault(key, value)
    env.update(PROMSVC_SMTP_HOST=host, PROMSVC_SMTP_PORT=str(port), PROMSVC_SMTP_SECURITY="none",
               PROMSVC_SCHEDULER="1")
    return sink


def delivery(env: MutableMapping[str, str], sink, out=None) -> int:
    """Enrol the `minutes` patients (once a day) and print where their mail goes; return how many
    were enrolled now."""
    from promsvc.registries import loader
    from promsvc.settings import Settings

    out = out or sys.stdout
    settings = Settings.from_mapping(env)
    if "minutes" not in loader.load_all(settings):
        print(f"Delivery demo: registry 'minutes' not loaded (PROMSVC_REGISTRIES_DIR={settings.registries_dir}); "
              f"unset it, or set it to {outbox.DEMO_REGISTRIES}, for the delivery demo.\n", file=out)
        return 0
    created = outbox.enrol_minutes(env, len(PATIENTS), out, per_day=True)
    if sink is not None:
        print(f"E-mail goes to an SMTP sink on {sink.host}:{sink.port} in this process; each message is written to "
              f"{Path(sink.directory).resolve()}/NNNNNN.eml and shown below as one line (number, subject).", file=out)
        print(f"The delivery scheduler ticks every {settings.dispatch_interval} s; stop with Ctrl-C and run again: "
              "nothing is enrolled or sent twice.", file=out)
    elif settings.smtp_host:
        print(f"E-mail goes to {settings.smtp_host}:{settings.smtp_port} (PROMSVC_SMTP_HOST); the scheduler runs "
              f"{'in the server' if settings.scheduler else 'with `promsvc dispatch` (PROMSVC_SCHEDULER is off)'}.",
              file=out)
    same = " (with the same PROMSVC_DATABASE_URL)" if env.get("PROMSVC_DATABASE_URL") else ""
    print(f"Operations view (another terminal, this directory{same}): {_command()} outbox status\n", file=out,
          flush=True)
    return created


def _command() -> str:
    """How to call promsvc from here: `promsvc` when it is on the PATH, else as this process was called
    (`.venv/bin/promsvc` under `make run`)."""
    import shutil

    called = sys.argv[0]
    if os.path.basename(called) != "promsvc":
        return "promsvc"
    found = shutil.which("promsvc")
    return "promsvc" if found and os.path.realpath(found) == os.path.realpath(called) else called


def _port_free(host: str, port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the sink will: a closed one's port is free
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _serve(host: str, port: int) -> int:
    return server.serve(host, port, workers=1)
