"""`promsvc indicators check [FILE…]` and `promsvc indicators compute REGISTRY …`."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
from pathlib import Path

from promsvc.commands import CommandError, date, registry_of, settings_and_registries

CHECK = """\
Decode indicator files ({registry}.indicators.yaml) strictly and check them against their
registry as the service does at start-up: formulas (unknown variables, type errors), variables
(time points, instruments, scorings, scores, attributes), what each measure needs, intervals,
targets, levels, periods, standardisation and coverage reference files. Prints one line per good
file and one per problem (file: at path: what; how to fix). Exit status 0 when all pass, 2
otherwise. Without FILE: the files the service would load."""

COMPUTE = """\
Compute a registry's quality indicators at every published level and period: from the database
(PROMSVC_DATABASE_URL), or from a CSV in the export's format (--data: one row per episode ×
time point, e.g. data collected elsewhere). Both give the same numbers for the same data.
Formats: csv (the internal file: every cell, suppressed ones with their numerator and
denominator but no value), json (every field and the stamp) and portal (the national results
portal's upload rows). With -o, a CSV gets a sidecar FILE-metadata.json (W3C CSV on the Web)
with its data dictionary and the stamp: definition versions, scoring provenance, data date and
time of computation. See docs/indicators.md."""

EPILOG = """\
examples:
  promsvc indicators check
  promsvc indicators compute demo -o indicators.csv
  promsvc indicators compute demo --data export.csv --period 2024-2025 --indicator response-m12
  promsvc indicators compute demo --format portal --as-of 2025-12-31 -o portal.csv"""


def add_parser(commands) -> None:
    """Add `indicators check` and `indicators compute` to the `promsvc` subcommands."""
    parser = commands.add_parser("indicators", help="check indicator files; compute quality indicators")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="check indicator files as the service does at start-up", description=CHECK,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    check.add_argument("files", nargs="*", metavar="FILE", help="indicator files (default: those the service would load)")
    check.set_defaults(run=run_check)
    compute = sub.add_parser("compute", help="compute a registry's indicators (CSV, JSON or the portal's rows)",
                             description=COMPUTE, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    compute.add_argument("registry", metavar="REGISTRY", help="registry id, e.g. demo")
    compute.add_argument("--data", metavar="FILE.csv", help="a CSV in the export's format (default: the database)")
    compute.add_argument("--period", metavar="P", help="only this period: a year (2025) or pooled years (2024-2025)")
    compute.add_argument("--indicator", metavar="ID", nargs="+", action="extend", default=[],
                         help="only these indicators (--indicator A B, or the option once per id)")
    compute.add_argument("--format", choices=("csv", "json", "portal"), default="csv", help="output format (default: csv)")
    compute.add_argument("--as-of", metavar="DATE", type=date,
                         help="the data date (YYYY-MM-DD): windows closed and answers counted up to this day (default: today, UTC)")
    compute.add_argument("-o", "--output", metavar="FILE", help="write here (default: standard output, without the sidecar)")
    compute.set_defaults(run=run_compute)


def run_check(args, environ=None, stdout=None) -> int:
    from promsvc.indicators import loader
    from promsvc.registries import loader as registry_loader

    out = stdout or sys.stdout
    settings, registries = settings_and_registries(environ)
    if not args.files:
        try:
            found = loader.load_all(settings, registries)
        except loader.IndicatorError as e:
            for p in e.problems:
                print(f"{e.file}: {p}", file=out)
            return 2
        for iset in found.values():
            print(f"ok {iset.file}: registry {iset.registry}, {len(iset.compiled)} indicator(s)", file=out)
        return 0
    bad = False
    for name in args.files:
        path = Path(name)
        beside = path.parent / (path.name.removesuffix(loader.SUFFIX) + ".yaml")
        known = dict(registries)
        if path.name.endswith(loader.SUFFIX) and beside.is_file():  # its registry file, when it lies beside it
            try:
                registry = registry_loader.load(beside)
                known[registry.id] = registry
            except registry_loader.RegistryError as e:
                bad = True
                print(f"{e.file}: {e.problems[0]}", file=out)
                continue
        good, problems = loader.check_files([path], known)
        for line in problems:
            print(line, file=out)
        for iset in good:
            print(f"ok {name}: registry {iset.registry}, {len(iset.compiled)} indicator(s)", file=out)
        bad = bad or bool(problems)
    return 2 if bad else 0


def run_compute(args, environ=None, stdout=None, stderr=None) -> int:
    import msgspec

    from promsvc.indicators import engine as ind_engine
    from promsvc.indicators import loader, outputs, services

    out, err = stdout or sys.stdout, stderr or sys.stderr
    settings, registries = settings_and_registries(environ)
    registry = registry_of(registries, args.registry)
    try:
        iset = loader.load_all(settings, registries).get(registry.id)
    except loader.IndicatorError as e:
        raise CommandError(f"{e.file}: {e.problems[0]} (promsvc indicators check lists every problem)") from None
    if iset is None:
        raise CommandError(f"registry {registry.id} has no indicator file; write {registry.id}{loader.SUFFIX} beside its registry file")
    now = dt.datetime.now(dt.UTC)
    options = ind_engine.Options(as_of=args.as_of or now.date(), computed_at=now, period=args.period,
                                 indicators=tuple(args.indicator), source=Path(args.data).name if args.data else "database")
    try:
        if args.data:
            results = services.from_csv(args.data, registry, iset, options)
        else:
            from promsvc import db

            with db.opened(settings) as engine:
                results = services.from_database(engine, registry, iset, options)
    except ind_engine.EngineError as e:  # a bad CSV raises promsvc.csvio.CsvError: one line, exit 2 (promsvc.commands)
        raise CommandError(str(e)) from None

    sidecar: tuple[str, ...] | None = None
    if args.format == "json":
        text = msgspec.json.format(outputs.internal_json(results)).decode() + "\n"
    elif args.format == "portal":
        text, notes = outputs.portal_csv(results, iset)
        for note in notes:
            print(f"promsvc: note: {note}", file=err)
        sidecar = outputs.PORTAL_COLUMNS
    else:
        text, sidecar = outputs.internal_csv(results), outputs.CSV_COLUMNS
    if not args.output:
        out.write(text)
        return 0
    target = Path(args.output)
    files = {target: text}
    if sidecar is not None:
        meta = outputs.csv_metadata(results, target.name, sidecar)
        files[target.with_name(target.name + "-metadata.json")] = msgspec.json.format(msgspec.json.encode(meta)).decode() + "\n"
    for path, content in files.items():
        _write(path, content)
    print(f"promsvc: wrote {len(results.results)} cells of {len(results.definitions)} indicator(s) to {target}"
          + (f" (stamp: {target.name}-metadata.json)" if sidecar else ""), file=err)
    return 0


def _write(path: Path, text: str) -> None:
    """Write whole or not at all: a temporary file in the same directory, then renamed."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.")
    except OSError as e:
        raise CommandError(f"cannot write {path}: {e.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
