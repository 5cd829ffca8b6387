"""`promsvc results publish REGISTRY [--data FILE.csv]` and `promsvc results list REGISTRY`:
publish a registry's indicator results for the result pages, reports and open data."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from promsvc.commands import CommandError, date, registry_of, settings_and_registries

DESCRIPTION = """\
Compute every indicator of the registry with the indicator engine (from the database of
PROMSVC_DATABASE_URL, or from a CSV in the export's format with --data), summarise its scores per
time point (aggregates of at least 10 episodes only), and store the result as the registry's
newest publication. The result pages (/results/REGISTRY), open data (/open/REGISTRY/indicators.csv
and .json) and `promsvc report` serve the newest publication; nothing is shown until the first one.
Prints one line: cells, suppressed cells, periods and the publication's id."""


def add_parser(commands) -> None:
    results = commands.add_parser("results", help="publish indicator results for pages, reports and open data")
    sub = results.add_subparsers(dest="action", metavar="ACTION", required=True)
    publish = sub.add_parser("publish", help="compute and store a registry's results as its newest publication",
                             description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    publish.add_argument("registry", metavar="REGISTRY", help="registry id, e.g. demo")
    publish.add_argument("--data", metavar="FILE.csv", help="compute from this CSV (the export's format) instead of the database")
    publish.add_argument("--as-of", metavar="DATE", type=date, help="the data date (default: today, UTC)")
    publish.set_defaults(run=run_publish)
    listing = sub.add_parser("list", help="a registry's publications, newest first")
    listing.add_argument("registry", metavar="REGISTRY")
    listing.set_defaults(run=run_list)


def publish(settings, registries, registry_id: str, data: str | None = None, as_of: dt.date | None = None):
    """Compute and store; returns (publication row, publication). Used by `make run` too."""
    from promsvc import db
    from promsvc.indicators import loader as indicator_loader
    from promsvc.reports import publication
    from promsvc.reports import publish as publishing

    registry = registry_of(registries, registry_id)
    isets = indicator_loader.load_all(settings, registries)
    iset = isets.get(registry_id)
    if iset is None:
        raise CommandError(f"registry {registry_id} has no indicator file ({registry_id}.indicators.yaml beside its registry file)")
    with db.opened(settings) as engine:
        if data is not None:
            pub = publishing.from_csv(data, iset, registry, as_of=as_of)
        else:
            pub = publishing.from_database(engine, iset, registry, as_of=as_of)
        with db.session(engine) as session:
            row = publication.save(session, pub)
            session.commit()
            session.refresh(row)
            session.expunge(row)
    return row, pub


def run_publish(args, environ=None, stdout=None) -> int:
    stdout = stdout or sys.stdout
    settings, registries = settings_and_registries(environ)
    row, pub = publish(settings, registries, args.registry, args.data, args.as_of)
    cells = pub.results.results
    periods = sorted({r.period for r in cells if "-" not in r.period})
    span = f"{periods[0]}–{periods[-1]}" if periods else "no periods"
    print(f"published {args.registry}: {len(cells)} cells ({sum(r.suppressed for r in cells)} suppressed) of "
          f"{len(pub.definitions)} indicators, {span}, {len(pub.summaries)} score summaries; id {row.id}", file=stdout)
    return 0


def run_list(args, environ=None, stdout=None) -> int:
    from promsvc import db
    from promsvc.reports import publication

    stdout = stdout or sys.stdout
    settings, registries = settings_and_registries(environ)
    registry_of(registries, args.registry)
    with db.opened(settings) as engine:
        with db.session(engine) as session:
            heads = publication.listing(session, args.registry)
    for h in heads:
        print(f"{h.id}  {h.published_at:%Y-%m-%d %H:%M} UTC  period {h.period}  etag {h.etag[:16]}", file=stdout)
    return 0
