"""`promsvc score INSTRUMENT INPUT.csv`: score a CSV file of responses (promsvc/commands/scorecsv.py)."""

from __future__ import annotations

import argparse
import sys

DESCRIPTION = """\
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


def add_parser(commands) -> None:
    """Add `score` to the `promsvc` command's subcommands."""
    score = commands.add_parser(
        "score",
        help="score a CSV file of responses",
        description=DESCRIPTION,
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
    score.set_defaults(run=run_score)


def run_score(args) -> int:
    from promsvc.commands import scorecsv

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
