"""`promsvc scores recompute`: re-score stored answers and report the differences."""

from __future__ import annotations

import argparse
import sys

from promsvc.commands import settings_and_registries

DESCRIPTION = """\
Score the stored answers again, with the scorings and value sets the registry's protocol names
now (or those given here), and add a new score row wherever the values or what produced them
(instrument, scoring and value set versions) differ; the old row is kept with current = false.
Prints, per instrument, scoring and score, how many responses changed and the largest absolute
change. Names no patient, episode or response. Uses PROMSVC_DATABASE_URL and the registry
settings, like the service."""

EPILOG = """\
examples:
  promsvc scores recompute --dry-run                                   what would change, writing nothing
  promsvc scores recompute --registry demo --instrument rand36 --scoring sf36v1
  promsvc scores recompute --instrument eq5d-5l --method VT --country England"""


def add_parser(commands) -> None:
    """Add `scores recompute` to the `promsvc` command's subcommands."""
    scores = commands.add_parser("scores", help="re-score stored answers")
    sub = scores.add_subparsers(dest="action", metavar="ACTION", required=True)
    rc = sub.add_parser(
        "recompute", help="score stored answers again and report the differences",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rc.add_argument("--registry", metavar="R", help="only this registry's responses")
    rc.add_argument("--instrument", metavar="I", help="only this instrument's responses, e.g. eq5d-5l")
    rc.add_argument("--scoring", metavar="S", help="only this scoring (needs --instrument), e.g. sf36v1; default: the protocol's scorings")
    rc.add_argument("--method", metavar="M", help="EQ-5D value set method (needs --instrument); default: the protocol's")
    rc.add_argument("--country", metavar="C", help="EQ-5D value set country (needs --instrument); default: the protocol's")
    rc.add_argument("--dry-run", action="store_true", help="report what would change; write nothing")
    rc.set_defaults(run=run_recompute)


def run_recompute(args, environ=None, stdout=None, stderr=None) -> int:
    from promsvc import db
    from promsvc.responses.recompute import RecomputeError, recompute

    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    settings, registries = settings_and_registries(environ)
    with db.opened(settings) as engine:
        try:
            with db.session(engine) as session:
                report = recompute(
                    session, registries, registry=args.registry, instrument=args.instrument, scoring=args.scoring,
                    method=args.method, country=args.country, dry_run=args.dry_run,
                )
        except RecomputeError as e:
            print(f"promsvc: error: {e}", file=stderr)
            return 2
    for line in report.lines():
        print(line, file=stdout)
    return 0
