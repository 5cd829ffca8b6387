"""`promsvc valuesets list`: the EQ-5D value sets (promsvc/commands/listings.py)."""

from __future__ import annotations

import sys


def add_parser(commands) -> None:
    """Add `valuesets list` to the `promsvc` command's subcommands."""
    valuesets = commands.add_parser("valuesets", help="list the EQ-5D value sets")
    vsub = valuesets.add_subparsers(dest="action", metavar="ACTION", required=True)
    vlist = vsub.add_parser("list", help="every value set: version, method, country, model, DOI")
    vlist.add_argument("--version", metavar="V", help="only this EQ-5D version: EQ-5D-3L, EQ-5D-5L or EQ-5D-Y-3L")
    vlist.add_argument("--method", metavar="M", help="only this method, e.g. VT, TTO, CW")
    vlist.set_defaults(run=run_list)


def run_list(args) -> int:
    from promsvc.commands import listings

    listings.list_valuesets(args.version, args.method, sys.stdout)
    return 0
