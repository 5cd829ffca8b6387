"""`promsvc registries check [FILE…]`: the checks the service makes at start-up, including the
licensed wording each registry needs (looked for in PROMSVC_OVERLAYS_DIR)."""

from __future__ import annotations

import os
import sys


def add_parser(commands) -> None:
    """Add `registries check` to the `promsvc` command's subcommands."""
    registries = commands.add_parser("registries", help="check registry configuration files")
    rsub = registries.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = rsub.add_parser(
        "check", help="check registry files as the service does at start-up",
        description="Decode registry configuration files strictly and check them (units, protocols, time points, "
        "instruments, scorings, value sets, channels, reminders). Prints one line per good file and one per problem "
        "(file: at path: what; how to fix). Exit status 0 when all pass, 2 otherwise.",
    )
    check.add_argument("files", nargs="*", metavar="FILE", help="registry files (default: those the service would load)")
    check.set_defaults(run=run_check)


def run_check(args) -> int:
    return check(args.files)


def check(files: list[str], env=None, out=None) -> int:
    """Check registry files (default: those the service would load) against the instruments the
    service would load (shipped, and PROMSVC_INSTRUMENTS_DIR's) and the overlays of
    PROMSVC_OVERLAYS_DIR; 0 when all pass, else 2."""
    from instruments import DefinitionError
    from promsvc.registries import loader
    from promsvc.settings import Settings

    out = out or sys.stdout
    settings = Settings.from_mapping(os.environ if env is None else env)
    try:
        if not files:
            registries = loader.load_all(settings)
            for registry in registries.values():
                print(f"ok {registry.id}: {len(registry.unit_ids())} units, {len(registry.protocols)} protocol(s)", file=out)
            return 0
        catalogue = loader.instrument_catalogue(settings)
        bad = False
        for path in files:
            problems = loader.check_files([path], settings.overlays_dir, catalogue)
            if problems:
                bad = True
                print("\n".join(problems), file=out)
                continue
            registry = loader.load(path, catalogue)
            print(f"ok {path}: registry {registry.id}, {len(registry.unit_ids())} units, {len(registry.protocols)} protocol(s)", file=out)
        return 2 if bad else 0
    except (loader.RegistryError, DefinitionError) as e:
        for p in e.problems:
            print(f"{e.file}: {p}", file=out)
        return 2
