"""The `promsvc` command: each verb is in a module of this package with `add_parser(commands)`,
which adds its subcommand(s) (options, help, and `run`: the function that carries it out) to
the subparsers of `promsvc`. `VERBS` lists the modules in the order `promsvc --help` shows them.

A verb module imports only the standard library (and light modules of this package) when it is
loaded, and what its command needs when it runs, so that `promsvc instruments list` does not load
polars or SQLAlchemy; heavier logic of a verb sits in a module beside it (`scorecsv`, `listings`,
`outbox_unconfirmed`).

Exit status: 0 on success, 2 when the input or a name on the command line is wrong (one message
on standard error, no output file). Standard output carries data only; what produced the scores
and any progress go to standard error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import importlib
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

# Each is promsvc.commands.<module>; the order is that of `promsvc --help`.
VERBS = (
    "score", "instruments", "valuesets", "serve", "database", "keys", "registries", "demo",
    "scores", "outbox", "indicators", "cohort", "report", "results", "retention",
)


class CommandError(Exception):
    """A problem the user can fix (a wrong option, an unknown registry); printed as one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like every other promsvc error."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="promsvc", description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for verb in VERBS:
        importlib.import_module(f"promsvc.commands.{verb}").add_parser(commands)
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
        ("promsvc.commands.listings", "UsageError"),
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
# Option types and look-ups shared by several verbs


def date(text: str) -> dt.date:
    """An option's date, given as YYYY-MM-DD."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"give a date as YYYY-MM-DD, not {text!r}") from None


def settings_and_registries(environ=None):
    """The settings of `environ` (default: the process's environment) and the registries they
    name. A registry that cannot be used is a one-line CommandError naming its file and first
    problem (`promsvc registries check` lists them all)."""
    from promsvc.registries import loader
    from promsvc.settings import Settings

    settings = Settings.from_mapping(os.environ if environ is None else environ)
    try:
        return settings, loader.load_all(settings)
    except loader.RegistryError as e:
        more = f" ({len(e.problems) - 1} more; `promsvc registries check` lists them)" if len(e.problems) > 1 else ""
        raise CommandError(f"{e.file}: {e.problems[0]}{more}") from None


def registry_of(registries, registry_id: str):
    """The registry of an id given on the command line, or a CommandError naming those there are."""
    registry = registries.get(registry_id)
    if registry is None:
        raise CommandError(f"no registry {registry_id!r}; known: {', '.join(sorted(registries)) or 'none'}")
    return registry


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"give a whole number of at least 1, not {text!r}")
    return int(text)


def server_options(parser: argparse.ArgumentParser) -> None:
    """--host and --port, of `serve` and `demo`."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=8000, help="port (default: 8000)")


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"give a port from 1 to 65535, not {text!r}")
    return int(text)
