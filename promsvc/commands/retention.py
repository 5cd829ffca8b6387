"""`promsvc retention run`: delete contact details and drafts that are no longer needed."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from promsvc.commands import registry_of, settings_and_registries

DESCRIPTION = """\
Delete, in every registry (or one), the contact details of episodes whose invitations have all
closed (answered, expired, withdrawn, failed) longer ago than the contact period, and the drafts
(saved, unsubmitted answers) of invitations closed longer ago than the draft period. Answers,
scores, invitations and the audit trail are kept. Periods: the registry's `retention:` or else
PROMSVC_RETENTION_CONTACT_DAYS and PROMSVC_RETENTION_DRAFT_DAYS. Each deletion is audited per
episode (actor retention); the output gives counts only. Run it nightly (docs/deploy.md)."""

EPILOG = """\
examples:
  promsvc retention run --dry-run          what would be deleted, deleting nothing
  promsvc retention run --registry demo"""


def add_parser(commands) -> None:
    """Add `retention run` to the `promsvc` command's subcommands."""
    retention = commands.add_parser("retention", help="delete contact details and drafts no longer needed")
    sub = retention.add_subparsers(dest="action", metavar="ACTION", required=True)
    run = sub.add_parser("run", help="delete what the retention periods say is no longer needed",
                         description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("--registry", metavar="R", help="only this registry")
    run.add_argument("--dry-run", action="store_true", help="count what would be deleted; delete nothing")
    run.set_defaults(run=run_retention)


def run_retention(args, environ=None, stdout=None, now: dt.datetime | None = None) -> int:
    from promsvc import db, retention

    out = stdout or sys.stdout
    settings, registries = settings_and_registries(environ)
    if args.registry is not None:
        registries = {args.registry: registry_of(registries, args.registry)}
    with db.opened(settings) as engine:
        done = retention.run(engine, settings, registries, now=now or dt.datetime.now(dt.UTC), dry_run=args.dry_run)
    verb = "would be deleted" if args.dry_run else "deleted"
    for d in done:
        print(f"{d.registry}: contact details of {d.episodes} episode(s) ({d.contacts} address(es), kept "
              f"{d.contact_days} days) and {d.drafts} draft(s) (kept {d.draft_days} days) {verb}", file=out)
    return 0
