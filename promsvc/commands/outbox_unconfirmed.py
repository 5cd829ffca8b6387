"""`promsvc outbox unconfirmed`: the messages held for staff, and what staff decide about them.

A message is held (`unconfirmed`) when its send was cut between the final dot and the server's
reply and its protocol says `unconfirmed: hold` (docs/delivery.md). Staff look in the mail
server's log for its Message-ID (`<MESSAGE ID@sender domain>`), then either send it again or
record it as delivered. Ids only; never an address.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from promsvc.commands import CommandError


def add_parser(outbox_actions) -> None:
    held = outbox_actions.add_parser(
        "unconfirmed", help="messages held for staff after a cut send: list, send again, or record as delivered",
        description=__doc__.split("\n\n")[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    held.add_argument("--registry", metavar="R", help="only this registry")
    what = held.add_mutually_exclusive_group()
    what.add_argument("--resend", nargs="+", metavar="ID", help="send these messages again (a duplicate is possible)")
    what.add_argument("--delivered", nargs="+", metavar="ID", help="record these messages as delivered")
    held.set_defaults(run=run_unconfirmed)


def run_unconfirmed(args, environ=None, stdout=None) -> int:
    import os

    from promsvc import db
    from promsvc.delivery.services import held_messages, settle_held
    from promsvc.settings import Settings

    out = stdout or sys.stdout
    now = dt.datetime.now(dt.UTC)
    with db.opened(Settings.from_mapping(os.environ if environ is None else environ)) as engine:
        with db.session(engine) as session:
            if args.resend or args.delivered:
                ids = args.resend or args.delivered
                done = settle_held(session, ids, resend=bool(args.resend), now=now)
                unknown = sorted(set(ids) - set(done))
                if unknown:
                    raise CommandError(f"not held (unknown, or settled already): {', '.join(unknown)}")
                print(f"{len(done)} message(s) {'queued to be sent again' if args.resend else 'recorded as delivered'}",
                      file=out)
                return 0
            rows = held_messages(session, args.registry)
    if not rows:
        print("no messages held for staff", file=out)
    for row in rows:
        print(f"{row.id}  {row.registry:<12} {row.kind:<10} #{row.number} {row.channel:<6} since "
              f"{row.since:%Y-%m-%d %H:%M} UTC  invitation {row.invitation}", file=out)
    return 0
