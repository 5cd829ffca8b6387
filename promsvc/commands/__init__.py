"""The service's subcommands of `promsvc`: serve, db upgrade, keys, registries check, demo.

`register(commands)` adds them to the argument parser of promsvc/cli.py; each command's logic
is in its own module here and is imported only when that command runs.
"""

from __future__ import annotations

import argparse


class CommandError(Exception):
    """A problem the user can fix (a wrong option, an unknown registry); printed as one line, exit 2."""


def register(commands) -> None:
    """Add the service's subcommands to the `promsvc` subparsers."""
    serve = commands.add_parser(
        "serve", help="run the web service (applies database migrations first)",
        description="Run the web service with uvicorn. Settings come from PROMSVC_* environment variables "
        "(docs/service.md). Database migrations are applied once before the workers start; every "
        "registry file is checked first.",
    )
    _server_options(serve)
    serve.add_argument("--workers", type=_positive, default=1, metavar="N", help="worker processes (default: 1)")
    serve.set_defaults(run=_serve)

    db = commands.add_parser("db", help="database migrations")
    dsub = db.add_subparsers(dest="action", metavar="ACTION", required=True)
    upgrade = dsub.add_parser("upgrade", help="apply every migration not yet applied (PROMSVC_DATABASE_URL)")
    upgrade.set_defaults(run=_db_upgrade)

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
    create.set_defaults(run=_keys_create)
    ksub.add_parser("list", help="every key: id, role, registry, label, created, revoked").set_defaults(run=_keys_list)
    revoke = ksub.add_parser("revoke", help="revoke a key by its id (from `keys list`)")
    revoke.add_argument("key_id", metavar="KEY_ID")
    revoke.set_defaults(run=_keys_revoke)

    registries = commands.add_parser("registries", help="check registry configuration files")
    rsub = registries.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = rsub.add_parser(
        "check", help="check registry files as the service does at start-up",
        description="Decode registry configuration files strictly and check them (units, protocols, time points, "
        "instruments, scorings, value sets, channels, reminders). Prints one line per good file and one per problem "
        "(file: at path: what; how to fix). Exit status 0 when all pass, 2 otherwise.",
    )
    check.add_argument("files", nargs="*", metavar="FILE", help="registry files (default: those the service would load)")
    check.set_defaults(run=_registries_check)

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
    _server_options(demo)
    demo.add_argument("--no-serve", action="store_true", help="set up and print, but do not start the server")
    demo.set_defaults(run=_demo)


def _server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=8000, help="port (default: 8000)")


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"give a whole number of at least 1, not {text!r}")
    return int(text)


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"give a port from 1 to 65535, not {text!r}")
    return int(text)


def _serve(args) -> int:
    from promsvc.commands import serve

    return serve.run(args.host, args.port, args.workers)


def _db_upgrade(args) -> int:
    from promsvc.commands import database

    return database.upgrade()


def _keys_create(args) -> int:
    from promsvc.commands import keys

    return keys.create(args.role, args.registry, args.label)


def _keys_list(args) -> int:
    from promsvc.commands import keys

    return keys.list_keys()


def _keys_revoke(args) -> int:
    from promsvc.commands import keys

    return keys.revoke(args.key_id)


def _registries_check(args) -> int:
    from promsvc.commands import registries

    return registries.check(args.files)


def _demo(args) -> int:
    from promsvc.commands import demo

    return demo.run(args.host, args.port, serve=not args.no_serve)
