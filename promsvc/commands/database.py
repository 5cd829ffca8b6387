"""`promsvc db upgrade`."""

from __future__ import annotations

import os
import sys

from sqlalchemy.engine import make_url

from promsvc import migrations
from promsvc.db import make_engine
from promsvc.settings import Settings


def shown(url: str) -> str:
    """A database URL fit to print: no password."""
    return make_url(url).render_as_string(hide_password=True)


def upgrade(env=None) -> int:
    settings = Settings.from_mapping(os.environ if env is None else env)
    engine = make_engine(settings)
    try:
        before = migrations.current(engine)
        migrations.upgrade(engine)
        after = migrations.current(engine)
    finally:
        engine.dispose()
    what = "already at" if before == after else f"upgraded from {before or 'empty'} to"
    print(f"{shown(settings.database_url)}: {what} revision {after}", file=sys.stderr)
    return 0
