"""`promsvc cohort`: a synthetic cohort, written as the export's CSV or loaded into the database."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

from promsvc.commands import date, positive

DESCRIPTION = """\
Make a synthetic cohort of one protocol of a registry: episodes across all its hospitals and
departments (of very different sizes), spread over YEARS years up to today, with attributes,
statuses (answered, expired, withdrawn, deceased, still open or planned), plausible answers,
and the scores the scoring engine gives them. Every value is made up. The same registry, seed
and --today give the same cohort.

-o writes it in the export's CSV format (one row per episode × time point), which
`promsvc indicators compute --data` reads; --load writes it into the database of
PROMSVC_DATABASE_URL (migrated first) in bulk. --reference writes coverage reference counts
(unit,year,count) that match the cohort: a few units have a coverage under 60 %."""

EPILOG = """\
examples:
  promsvc cohort demo --episodes 5000 -o cohort.csv --reference coverage.csv
  promsvc cohort demo --episodes 1700000 --seed 7 --load           5 M episode × time-point rows
  promsvc cohort registries/hip.yaml --episodes 2000 --years 3 --today 2026-01-31 -o hip.csv"""


def add_parser(commands) -> None:
    """Add `cohort` to the `promsvc` command's subcommands."""
    p = commands.add_parser("cohort", help="make a synthetic cohort (CSV in the export's format, or into the database)",
                            description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("registry", metavar="REGISTRY", help="a registry id the service knows (e.g. demo), or a registry file")
    p.add_argument("--episodes", type=positive, required=True, metavar="N", help="how many episodes")
    p.add_argument("--years", type=_years, default=5, metavar="Y", help="over how many years, up to today (default: 5)")
    p.add_argument("--seed", type=int, default=1, metavar="S", help="random seed (default: 1)")
    p.add_argument("--today", type=date, metavar="YYYY-MM-DD", help="the day the cohort ends at (default: today)")
    p.add_argument("--protocol", metavar="ID", help="the registry's protocol (default: its first)")
    p.add_argument("--reference", metavar="FILE.csv", help="also write coverage reference counts (unit,year,count)")
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("-o", "--output", metavar="FILE.csv", help="write the cohort as CSV in the export's format")
    out.add_argument("--load", action="store_true", help="load it into the database of PROMSVC_DATABASE_URL")
    p.set_defaults(run=run)


def _years(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 30:
        raise argparse.ArgumentTypeError(f"give a whole number of years from 1 to 30, not {text!r}")
    return int(text)


def registry_named(name: str, settings):
    """A registry by id (as the service loads them) or from a registry file."""
    from promsvc.commands import CommandError
    from promsvc.registries import loader

    registries = loader.load_all(settings)
    if name in registries:
        return registries[name]
    if Path(name).is_file():
        return loader.load(name)
    raise CommandError(f"no registry {name!r}; give one of {', '.join(sorted(registries))}, or a registry file")


def run(args, environ=None, stderr=None) -> int:
    from promsvc import db, migrations
    from promsvc.commands import CommandError
    from promsvc.commands.database import shown
    from promsvc.episodes import bulk, synthetic
    from promsvc.settings import Settings

    stderr = stderr or sys.stderr
    settings = Settings.from_mapping(os.environ if environ is None else environ)
    registry = registry_named(args.registry, settings)
    options = synthetic.Options(episodes=args.episodes, years=args.years, seed=args.seed,
                                today=args.today or dt.date.today(), protocol=args.protocol)
    try:
        synthetic.protocol_of(registry, options.protocol)
    except ValueError as e:
        raise CommandError(str(e)) from None
    started = time.perf_counter()
    counts: list = []
    chunks = synthetic.chunks(registry, options, settings)
    if args.output:
        rows = bulk.write_csv(registry, chunks, args.output, counts)
        where = args.output
    else:
        with db.opened(settings) as engine:
            migrations.upgrade(engine)
            first = synthetic.external_id(options, 0)
            if bulk.already_loaded(engine, registry, first):
                raise CommandError(f"registry {registry.id} in {shown(settings.database_url)} already has the episodes of "
                                   f"seed {options.seed} ({first} …); give another --seed, or use an empty database")
            written = bulk.load(engine, registry, chunks, counts)
        rows = written.get("invitation", 0)
        where = f"{shown(settings.database_url)} ({', '.join(f'{n} {t}' for t, n in written.items())})"
    if args.reference:
        synthetic.reference_counts(registry, options, counts).write_csv(args.reference)
    seconds = time.perf_counter() - started
    print(f"cohort: {args.episodes} episodes, {rows} episode × time-point rows of registry {registry.id} "
          f"(seed {options.seed}, {options.years} years to {options.today}) → {where} in {seconds:.1f} s", file=stderr)
    return 0
