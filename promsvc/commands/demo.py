"""`promsvc demo`: a working demo in one command (the README's `make run`).

Migrates the database (default ./var/promsvc.sqlite3), enrols three synthetic episodes in the
demo registry, issues a patient link for each at the baseline time point, creates an API key
of role registry for `demo`, prints links, key and a curl example, and serves.

Run again on the same day, it finds the same episodes (enrolment is idempotent) and issues new
links (the old ones stop working) and a new key (the previous demo key is revoked). The
episodes' event date is a week ahead of the day of the run, so that their baseline is open
now; on another day new episodes are made.
"""

from __future__ import annotations

import datetime as dt
import os
import sys

from sqlmodel import select

from promsvc import db
from promsvc.commands import CommandError
from promsvc.commands import serve as server
from promsvc.episodes import services
from promsvc.episodes.schemas import ContactIn, EnrolIn
from promsvc.models import ApiKey, Role
from promsvc.registries import loader
from promsvc.security import Caller, create_key
from promsvc.settings import Settings

DEMO_ACTOR = "promsvc-demo"  # what the audit names as the actor of the demo's own enrolments
KEY_LABEL = "promsvc demo"

PATIENTS = [
    # (suffix, pseudonym, unit, language, proxy, contacts)
    ("1", "DEMO-PSN-1", "fjord-sentral-ortopedi", "nb", False, [ContactIn(channel="sms", address="+47 400 00 001")]),
    ("2", "DEMO-PSN-2", "dal-universitet-ortopedi", "nn", False, [ContactIn(channel="email", address="demo2@example.org")]),
    ("3", "DEMO-PSN-3", "dal-elvebredd", "en", True, []),
]


def setup(env: dict[str, str] | None = None, today: dt.date | None = None, out=None) -> dict:
    """Migrate, enrol, issue links, make a key; return what was printed (for tests)."""
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
    engine = db.make_engine(settings)
    links: list[tuple[str, str, str]] = []
    try:
        with db.session(engine) as session:
            for suffix, pseudonym, unit, language, proxy, contacts in PATIENTS:
                payload = EnrolIn(
                    external_id=f"DEMO-{today:%Y%m%d}-{suffix}", pseudonym=pseudonym, unit=unit,
                    protocol="hip_primary", event_date=today + dt.timedelta(days=7), language=language,
                    contacts=contacts, proxy=proxy,
                )
                episode, _ = services.enrol(session, caller, registry, payload, settings)
                link = services.issue_link(session, caller, registry, episode.external_id, "baseline", settings)
                links.append((episode.external_id, language, link.url))
            for old in session.exec(select(ApiKey).where(ApiKey.label == KEY_LABEL, ApiKey.revoked_at.is_(None))):
                old.revoked_at = dt.datetime.now(dt.UTC)
                session.add(old)
            _, key = create_key(session, Role.registry, "demo", KEY_LABEL)
            session.commit()
    finally:
        engine.dispose()

    base = settings.base_url
    print("\npromsvc demo: the synthetic registry 'demo' with three patients (all data are made up)\n", file=out)
    print("Patient links (open one on a phone-sized window; each answers EQ-5D-5L and RAND-36 before surgery):", file=out)
    for external_id, language, url in links:
        print(f"  {external_id} ({language}): {url}", file=out)
    print(f"\nAPI key (role registry, registry demo; shown once): {key}\n", file=out)
    print("Read an episode with its answers and scores once a form is submitted:", file=out)
    print(f'  curl -H "Authorization: Bearer {key}" {base}/api/v1/registries/demo/episodes/{links[0][0]}', file=out)
    print("Export everything as CSV:", file=out)
    print(f'  curl -H "Authorization: Bearer {key}" {base}/api/v1/registries/demo/export.csv', file=out)
    print(f"API description: {base}/schema/swagger\n", file=out)
    return {"links": links, "key": key}


def run(host: str, port: int, *, serve: bool = True) -> int:
    if "PROMSVC_BASE_URL" not in os.environ:
        shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        os.environ["PROMSVC_BASE_URL"] = f"http://{shown_host}:{port}"
    setup()
    if serve:
        print(f"Serving on http://{host}:{port} (Ctrl-C to stop)", file=sys.stderr)
        return _serve(host, port)
    return 0


def _serve(host: str, port: int) -> int:
    return server.serve(host, port, workers=1)
