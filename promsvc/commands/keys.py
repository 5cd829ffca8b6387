"""`promsvc keys create|list|revoke`: API keys, printed once and stored hashed."""

from __future__ import annotations

import datetime as dt
import os
import sys

from sqlmodel import select

from promsvc import db, migrations
from promsvc.commands import CommandError
from promsvc.models import ApiKey, Role
from promsvc.registries import loader
from promsvc.security import create_key
from promsvc.settings import Settings


def _engine(env):
    settings = Settings.from_mapping(os.environ if env is None else env)
    engine = db.make_engine(settings)
    migrations.upgrade(engine)
    return settings, engine


def create(role: str, registry: str | None, label: str, env=None, out=None) -> int:
    out = out or sys.stdout
    settings, engine = _engine(env)
    try:
        if Role(role) is Role.registry and not registry:
            raise CommandError("a registry key needs --registry ID (it may read only that registry's data)")
        if registry is not None:
            known = loader.load_all(settings)
            if registry not in known:
                raise CommandError(f"no registry {registry!r}; registries: {', '.join(sorted(known)) or '(none)'}")
        with db.session(engine) as session:
            row, key = create_key(session, role, registry, label)
            session.commit()
        print(key, file=out)
        scope = f" for registry {registry}" if registry else ""
        print(f"created key {row.id} (role {role}{scope}); it is shown only now and stored hashed. "
              f"Use it as `Authorization: Bearer KEY`.", file=sys.stderr)
        return 0
    finally:
        engine.dispose()


def list_keys(env=None, out=None) -> int:
    out = out or sys.stdout
    _, engine = _engine(env)
    try:
        with db.session(engine) as session:
            rows = session.exec(select(ApiKey).order_by(ApiKey.created_at)).all()
        print("id\trole\tregistry\tlabel\tcreated_at\trevoked_at", file=out)
        for r in rows:
            print("\t".join([r.id, Role(r.role).value, r.registry_id or "", r.label, _t(r.created_at), _t(r.revoked_at)]), file=out)
        return 0
    finally:
        engine.dispose()


def revoke(key_id: str, env=None) -> int:
    _, engine = _engine(env)
    try:
        with db.session(engine) as session:
            row = session.get(ApiKey, key_id)
            if row is None:
                raise CommandError(f"no key with id {key_id!r}; see `promsvc keys list`")
            if row.revoked_at is None:
                row.revoked_at = dt.datetime.now(dt.UTC)
                session.add(row)
                session.commit()
        print(f"key {key_id} is revoked", file=sys.stderr)
        return 0
    finally:
        engine.dispose()


def _t(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""
