"""`promsvc keys create|list|revoke`: API keys, printed once and stored hashed."""

from __future__ import annotations

import datetime as dt
import os
import sys

from promsvc.commands import CommandError


def add_parser(commands) -> None:
    """Add `keys create|list|revoke` to the `promsvc` command's subcommands."""
    keys = commands.add_parser("keys", help="create, list and revoke API keys")
    ksub = keys.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = ksub.add_parser(
        "create", help="create an API key; it is printed once and stored hashed",
        description="Create an API key and print it on standard output (once: only its hash is stored). "
        "Roles: system (enrol, issue links), registry (patient-level data of one registry; needs --registry), "
        "analyst (aggregates only), admin (everything, reads the audit).",
    )
    create.add_argument("--role", required=True, choices=("system", "registry", "analyst", "admin"))
    create.add_argument("--registry", metavar="ID", help="the registry the key may use (required for role registry)")
    create.add_argument("--label", metavar="L", default="", help="a note on who holds the key (no personal data)")
    create.set_defaults(run=run_create)
    ksub.add_parser("list", help="every key: id, role, registry, label, created, revoked").set_defaults(run=run_list)
    revoke = ksub.add_parser("revoke", help="revoke a key by its id (from `keys list`)")
    revoke.add_argument("key_id", metavar="KEY_ID")
    revoke.set_defaults(run=run_revoke)


def run_create(args) -> int:
    return create(args.role, args.registry, args.label)


def run_list(args) -> int:
    return list_keys()


def run_revoke(args) -> int:
    return revoke(args.key_id)


def _engine(env):
    from promsvc import db, migrations
    from promsvc.settings import Settings

    settings = Settings.from_mapping(os.environ if env is None else env)
    engine = db.make_engine(settings)
    migrations.upgrade(engine)
    return settings, engine


def create(role: str, registry: str | None, label: str, env=None, out=None) -> int:
    from promsvc import db
    from promsvc.models import Role
    from promsvc.registries import loader
    from promsvc.security import create_key

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
    from sqlmodel import col, select

    from promsvc import db
    from promsvc.models import ApiKey, Role

    out = out or sys.stdout
    _, engine = _engine(env)
    try:
        with db.session(engine) as session:
            rows = session.exec(select(ApiKey).order_by(col(ApiKey.created_at))).all()
        print("id\trole\tregistry\tlabel\tcreated_at\trevoked_at", file=out)
        for r in rows:
            print("\t".join([r.id, Role(r.role).value, r.registry_id or "", r.label, _t(r.created_at), _t(r.revoked_at)]), file=out)
        return 0
    finally:
        engine.dispose()


def revoke(key_id: str, env=None) -> int:
    from promsvc import db
    from promsvc.models import ApiKey

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
