"""The `promsvc` command: score files of responses, and look up instruments and value sets.

Exit status: 0 on success, 2 when the input or a name on the command line is wrong (one message
on standard error, no output file). Standard output carries data only; what produced the scores
and any progress go to standard error.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys

DESCRIPTION = """\
Score patient-reported outcome data (PROMs) in bulk, and look up the instruments, scorings and
EQ-5D value sets that promsvc knows."""

EPILOG = """\
examples:
  promsvc score eq5d-5l responses.csv -o scored.csv             Norwegian EQ-5D-5L value set (the default)
  promsvc score eq5d-5l promsvc/examples/eq5d-5l.csv --round 3  the bundled example file (synthetic)
  promsvc score eq5d-5l responses.csv --country England         another country's value set
  promsvc score eq5d-5l responses.csv --method CW --country UK  5L answers on the UK 3L value set (crosswalk)
  promsvc score rand36 rand.csv --scoring sf36v1 --round 1      SF-36 v1 scales with PCS and MCS
  promsvc score my-instrument.yaml answers.csv                  an instrument of your own, from its file
  promsvc instruments list                                      what can be scored
  promsvc instruments show rand36 --lang nb                     items, codes and scorings of one instrument
  promsvc valuesets list --version EQ-5D-5L                     the EQ-5D-5L value sets

Run `promsvc COMMAND --help` for the options of a command."""

SCORE_DESCRIPTION = """\
Read a CSV file with one response per row, and write the same rows with the score columns
added (EQ-5D: index; RAND-36: pf rp bp gh vt sf re mh, and pcs mcs with --scoring sf36v1).

The header names the columns. Item columns are named by item id (EQ-5D: MO SC UA PD AD VAS;
RAND-36: q1 … q36) and hold the codes as printed on the form; an empty cell is a missing
answer, scored by the scoring's own rule (an EQ-5D state with a missing dimension gets an empty
index). Every row is written out with the values it came with (pseudonym, dates, hospital as
text, exactly; item cells as the codes they hold, " 01 " as 1), and the score cells appended;
a cell is in quotes only where it needs them. Columns may be separated by ',' or ';' (detected
from the header line); the output uses the same, and keeps a UTF-8 byte-order mark (which Excel
needs) and CRLF line ends if the input has them. Scores are written to 12 significant digits
and at most 12 decimals (0.13692, not 0.13692000000000004) unless --round is given; "no score"
is an empty cell.
A score named like an item (nrs-pain's pain) goes in a column <name>_score.

Any bad cell (a code the item does not have, text that is not a number) stops the run with
exit status 2 and a message naming the data row (the first row after the header is row 1) and
the column; no output file is written then. A line on standard error names what produced the
scores: instrument and scoring with their versions, and the value set with its DOI."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like every other promsvc error."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="promsvc", description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    score = commands.add_parser(
        "score",
        help="score a CSV file of responses",
        description=SCORE_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    score.add_argument("instrument", metavar="INSTRUMENT", help="instrument id, e.g. eq5d-5l, eq5d-3l, rand36 (see `promsvc instruments list`), or the path of a definition file (FILE.yaml)")
    score.add_argument("input", metavar="INPUT.csv", help="the responses: a header line, then one response per row")
    score.add_argument("--country", metavar="C", help="EQ-5D value set country, e.g. Norway, England, Denmark (default: the instrument's; see `promsvc valuesets list`)")
    score.add_argument("--method", metavar="M", help="EQ-5D value set method: VT, TTO, VAS, IVP, or CW (5L answers, 3L value set), RCW_VH / RCW_EQ (3L answers, 5L value set); default: VT for 5L, TTO for 3L, IVP for Y")
    score.add_argument("--scoring", metavar="S", help="which scoring of the instrument, e.g. rand (default) or sf36v1 for rand36")
    score.add_argument("-o", "--output", metavar="OUTPUT.csv", help="write here (replaced only when every row scored); default: standard output")
    score.add_argument("--round", metavar="N", type=_decimals, help="round scores to N decimals (halves away from zero, as Excel and SPSS); default: 12 significant digits, at most 12 decimals")
    score.add_argument("--sep", metavar="SEP", type=_separator, help="column separator of INPUT: ',' or ';' (or the words comma, semicolon); default: detected from the header line")
    score.set_defaults(run=_score)

    instruments = commands.add_parser("instruments", help="list, describe and check instrument definitions")
    sub = instruments.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="the instruments promsvc can score").set_defaults(run=_instruments_list)
    show = sub.add_parser("show", help="one instrument's items with their codes, its scorings, licence and citation")
    show.add_argument("id", metavar="ID", help="instrument id, e.g. rand36, or the path of a definition file")
    show.add_argument("--lang", choices=("nb", "nn", "en"), default="en", help="language of the labels (default: en)")
    show.set_defaults(run=_instruments_show)
    check = sub.add_parser(
        "check",
        help="validate definition files and run their examples",
        description="Validate instrument definition files and run the examples in each (answer patterns "
        "with their published scores). Prints one line per file that passes and one line per problem "
        "(file: at path: what). Exit status 0 when all pass, 2 otherwise.",
    )
    check.add_argument("files", nargs="*", metavar="FILE", help="definition files (default: every shipped definition)")
    check.add_argument("--overlay", action="append", default=[], metavar="FILE", help="also check a wording overlay against its instrument and list what it lacks (repeatable)")
    check.set_defaults(run=_instruments_check)

    valuesets = commands.add_parser("valuesets", help="list the EQ-5D value sets")
    vsub = valuesets.add_subparsers(dest="action", metavar="ACTION", required=True)
    vlist = vsub.add_parser("list", help="every value set: version, method, country, model, DOI")
    vlist.add_argument("--version", metavar="V", help="only this EQ-5D version: EQ-5D-3L, EQ-5D-5L or EQ-5D-Y-3L")
    vlist.add_argument("--method", metavar="M", help="only this method, e.g. VT, TTO, CW")
    vlist.set_defaults(run=_valuesets_list)

    from promsvc.commands import register  # serve, db, keys, registries, demo: the service's commands

    register(commands)

    from promsvc.commands import scores as scores_command

    scores_command.add_parser(commands)  # promsvc scores recompute

    from promsvc.commands import outbox as outbox_command

    outbox_command.add_parser(commands)  # promsvc outbox status|dry-run|letters|demo, dispatch, smtp-sink

    from promsvc.commands import indicators as indicators_command

    indicators_command.add_parser(commands)  # promsvc indicators check|compute

    from promsvc.commands import cohort as cohort_command

    cohort_command.add_parser(commands)  # promsvc cohort

    from promsvc.commands import report as report_command
    from promsvc.commands import results as results_command

    report_command.add_parser(commands)  # promsvc report REGISTRY -o FILE.pdf
    results_command.add_parser(commands)  # promsvc results publish|list

    from promsvc.commands import retention as retention_command

    retention_command.add_parser(commands)  # promsvc retention run
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line `argv` (default: this process's arguments); return the exit status."""
    status = _run(argv)
    if argv is None:
        # This process is about to exit. msgspec 0.22 can crash (SIGSEGV) in the garbage
        # collection during interpreter shutdown once the instrument schema's decoder exists
        # (see msgspec issue #717), which would turn exit status 0 or 2 into 139. Frozen
        # objects are left alone by that collection.
        gc.freeze()
    return status


def _run(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.run(args)
    except BrokenPipeError:
        # e.g. `promsvc score … | head`: the reader left; stop quietly without a traceback at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        if not _is_user_error(e):
            raise
        print(f"promsvc: error: {e}", file=sys.stderr)
        return 2


def _is_user_error(error: Exception) -> bool:
    """Is this an error about the user's input or names (not a bug)?

    Looked up in sys.modules: importing polars or numpy only to name their errors would slow
    down every command, and an error class can only be raised once its module is loaded.
    """
    kinds = [
        ("promsvc.csvio", "CsvError"),
        ("promsvc.listings", "UsageError"),
        ("scoring.errors", "ScoringError"),
        ("instruments.loader", "DefinitionError"),
        ("promsvc.commands", "CommandError"),
        ("promsvc.registries.loader", "RegistryError"),
        ("promsvc.indicators.loader", "IndicatorError"),
        ("promsvc.settings", "SettingsError"),
        ("promsvc.reports.fonts", "FontMissing"),
    ]
    return any(
        (module := sys.modules.get(name)) is not None and isinstance(error, getattr(module, cls))
        for name, cls in kinds
    )


# ---------------------------------------------------------------------------------------------
# Commands: each imports what it needs, so `promsvc instruments list` does not load polars.


def _score(args) -> int:
    from promsvc import scorecsv

    request = scorecsv.Request(
        instrument=args.instrument,
        input=args.input,
        output=args.output,
        scoring=args.scoring,
        method=args.method,
        country=args.country,
        round=args.round,
        separator=args.sep,
    )
    scorecsv.run(request, stdout=sys.stdout, stderr=sys.stderr)
    return 0


def _instruments_list(args) -> int:
    from promsvc import listings

    listings.list_instruments(sys.stdout)
    return 0


def _instruments_show(args) -> int:
    from promsvc import listings

    listings.show_instrument(args.id, args.lang, sys.stdout)
    return 0


def _instruments_check(args) -> int:
    from promsvc import listings

    return 0 if listings.check(args.files, args.overlay, sys.stdout) else 2


def _valuesets_list(args) -> int:
    from promsvc import listings

    listings.list_valuesets(args.version, args.method, sys.stdout)
    return 0


def _decimals(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = -1
    if not 0 <= n <= 12:
        raise argparse.ArgumentTypeError(f"give a whole number of decimals from 0 to 12, not {text!r}")
    return n


def _separator(text: str) -> str:
    sep = {"comma": ",", "semicolon": ";"}.get(text.lower(), text)
    if sep not in (",", ";"):
        raise argparse.ArgumentTypeError(f"give ',' or ';' (or comma, semicolon), not {text!r}")
    return sep


if __name__ == "__main__":
    sys.exit(main())
