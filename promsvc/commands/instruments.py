"""`promsvc instruments list|show|check`: the instruments promsvc can score (promsvc/commands/listings.py)."""

from __future__ import annotations

import sys


def add_parser(commands) -> None:
    """Add `instruments list|show|check` to the `promsvc` command's subcommands."""
    instruments = commands.add_parser("instruments", help="list, describe and check instrument definitions")
    sub = instruments.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="the instruments promsvc can score").set_defaults(run=run_list)
    show = sub.add_parser("show", help="one instrument's items with their codes, its scorings, licence and citation")
    show.add_argument("id", metavar="ID", help="instrument id, e.g. rand36, or the path of a definition file")
    show.add_argument("--lang", choices=("nb", "nn", "en"), default="en", help="language of the labels (default: en)")
    show.set_defaults(run=run_show)
    check = sub.add_parser(
        "check",
        help="validate definition files and run their examples",
        description="Validate instrument definition files and run the examples in each (answer patterns "
        "with their published scores). Prints one line per file that passes and one line per problem "
        "(file: at path: what). Exit status 0 when all pass, 2 otherwise.",
    )
    check.add_argument("files", nargs="*", metavar="FILE", help="definition files (default: every shipped definition)")
    check.add_argument("--overlay", action="append", default=[], metavar="FILE", help="also check a wording overlay against its instrument and list what it lacks (repeatable)")
    check.set_defaults(run=run_check)


def run_list(args) -> int:
    from promsvc.commands import listings

    listings.list_instruments(sys.stdout)
    return 0


def run_show(args) -> int:
    from promsvc.commands import listings

    listings.show_instrument(args.id, args.lang, sys.stdout)
    return 0


def run_check(args) -> int:
    from promsvc.commands import listings

    return 0 if listings.check(args.files, args.overlay, sys.stdout) else 2
