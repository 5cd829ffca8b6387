"""`promsvc db upgrade`."""

from __future__ import annotations

import os
import sys


def add_parser(commands) -> None:
    """Add `db upgrade` to the `promsvc` command's subcommands."""
    db = commands.add_parser("db", help="database migrations")
    dsub = db.add_subparsers(dest="action", metavar="ACTION", required=True)
    dsub.add_parser("upgrade", help="apply every migration not yet applied (PROMSVC_DATABASE_URL)").set_defaults(run=run_upgrade)


def run_upgrade(args) -> int:
    return upgrade()


def shown(url: str) -> str:
    """A database URL fit to print: no password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def upgrade(env=None) -> int:
    from promsvc import migrations
    from promsvc.db import opened
    from promsvc.settings import Settings

    settings = Settings.from_mapping(os.environ if env is None else env)
    with opened(settings) as engine:
        before = migrations.current(engine)
        migrations.upgrade(engine)
        after = migrations.current(engine)
    what = "already at" if before == after else f"upgraded from {before or 'empty'} to"
    print(f"{shown(settings.database_url)}: {what} revision {after}", file=sys.stderr)
    return 0
