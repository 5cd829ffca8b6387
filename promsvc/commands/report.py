"""`promsvc report REGISTRY [--unit ID] [--period P] [--lang nb|nn|en] -o FILE.pdf`: the
registry's results report (or one unit's) as a PDF, from the newest publication in the database
of PROMSVC_DATABASE_URL (`promsvc results publish` makes one)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from promsvc.commands import CommandError, registry_of, settings_and_registries

DESCRIPTION = """\
Write the results report of a registry as a PDF: every indicator with its chart of units, funnel
plot, trend and table, score distributions, coverage and response rates, method notes, the
definitions with their versions, the data date and provenance. With --unit: one hospital or
department against its parent units and the whole country. Numbers come from the newest
publication of the registry (see `promsvc results publish`); suppressed cells show as
"fewer than N"."""

EPILOG = """\
examples:
  promsvc report demo -o demo.pdf                               the demo registry's newest year, in bokmål
  promsvc report demo --lang en --period 2024 -o demo-2024.pdf
  promsvc report demo --unit fjord-sentral --lang nn -o fjord.pdf"""


def add_parser(commands) -> None:
    report = commands.add_parser("report", help="write a registry's (or a unit's) results report as PDF",
                                 description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    report.add_argument("registry", metavar="REGISTRY", help="registry id, e.g. demo")
    report.add_argument("--unit", metavar="ID", help="a unit's report against its parents and the whole country")
    report.add_argument("--period", metavar="P", help="the year to report (default: the newest published)")
    report.add_argument("--lang", choices=("nb", "nn", "en"), default="nb", help="language (default: nb)")
    report.add_argument("-o", "--output", metavar="FILE.pdf", required=True, help="where to write the PDF")
    report.set_defaults(run=run)


def run(args, environ=None, stderr=None) -> int:
    from promsvc import db
    from promsvc.reports import documents, publication
    from promsvc.reports.published import Index

    stderr = stderr or sys.stderr
    settings, registries = settings_and_registries(environ)
    registry = registry_of(registries, args.registry)
    if args.unit is not None and args.unit not in registry.unit_ids():
        raise CommandError(f"registry {registry.id} has no unit {args.unit!r}; its units: {', '.join(registry.unit_ids())}")
    with db.opened(settings) as engine:
        with db.session(engine) as session:
            found = publication.newest(session, registry.id)
    if found is None:
        raise CommandError(f"nothing is published for registry {registry.id}; run `promsvc results publish {registry.id}` first")
    head, pub = found
    ix = Index(pub, registry)
    periods = sorted({p for d in ix.definitions for p in ix.periods(d)})
    if args.period is not None and args.period not in periods:
        raise CommandError(f"no results for period {args.period!r}; published: {', '.join(periods)}")
    pdf = (documents.unit_report(ix, args.unit, args.lang, args.period) if args.unit
           else documents.registry_report(ix, args.lang, args.period))
    out = Path(args.output)
    tmp = out.with_name(out.name + ".part")
    tmp.write_bytes(pdf)
    tmp.replace(out)  # a reader never sees half a file
    print(f"promsvc: wrote {out} ({len(pdf) // 1024} KiB) from the publication of "
          f"{head.published_at:%Y-%m-%d %H:%M} UTC", file=stderr)
    return 0
