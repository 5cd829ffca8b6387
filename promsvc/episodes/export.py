"""The CSV export of a registry: one row per episode × time point, with the episode's attributes
(`attr.id`), the invitation's status, the response times, the answers (`instrument.item`) and the
current scores (`instrument.score`). promsvc.indicators.frame.from_csv reads this format back.

The text is made and sent a chunk of episodes at a time (`EXPORT_CHUNK`), so that the memory
an export takes does not grow with the registry: a national registry has hundreds of thousands
of episodes. Each chunk is read with a few set-based queries (invitations, responses, current
scores of its episodes).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
from collections.abc import Iterator, Sequence

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

import instruments
from instruments import Catalogue, Instrument
from promsvc import audit, db, numbers
from promsvc.episodes import attributes
from promsvc.errors import NotFound
from promsvc.models import Episode, Invitation, Response, Score, Status
from promsvc.registries.schema import Registry
from promsvc.security import Caller

log = logging.getLogger("promsvc.export")

EPISODE_COLUMNS = ["external_id", "pseudonym", "unit", "protocol", "event_date", "language", "withdrawn_at", "deceased_at"]
ATTRIBUTE_PREFIX = "attr."  # then the attribute's id: attr.asa_class
TIME_POINT_COLUMNS = ["time_point", "status", "status_at", "due_at", "expires_at",
                      "started_at", "submitted_at", "respondent", "channel"]
EXPORT_CHUNK = 500  # episodes read and written at a time; also bounds the ids in one IN (…)


class Column(msgspec.Struct, frozen=True):
    name: str
    instrument: str
    kind: str  # attribute | item | score
    key: str  # attribute id, item id or score id
    scoring: str | None = None  # for scores: the scoring that produced it


def asked_instruments(registry: Registry, protocol_id: str | None = None,
                      catalogue: Catalogue | None = None) -> dict[str, Instrument]:
    """Instrument id → the definition the registry's protocols ask (the version a protocol
    names, else the newest), from `catalogue` (the service's, `Registries.instruments`; default:
    the shipped instruments)."""
    catalogue = catalogue or instruments.catalogue()
    asked: dict[str, Instrument] = {}
    for protocol in registry.protocols:
        if protocol_id not in (None, protocol.id):
            continue
        for tp in protocol.time_points:
            for instrument_id in tp.instruments:
                asked.setdefault(instrument_id, catalogue.find(instrument_id, protocol.instrument_use(instrument_id).version))
    return asked


def exported_scorings(registry: Registry, protocol_id: str | None = None,
                      catalogue: Catalogue | None = None) -> dict[str, list[str]]:
    """Instrument id → the scorings whose scores are exported, in the order the registry's
    protocols list them (the first is an instrument's "first scoring in the registry")."""
    asked = asked_instruments(registry, protocol_id, catalogue)
    order: dict[str, list[str]] = {}
    for protocol in registry.protocols:
        if protocol_id not in (None, protocol.id):
            continue
        for tp in protocol.time_points:
            for instrument_id in tp.instruments:
                use = protocol.instrument_use(instrument_id)
                scorings = list(use.scorings) or [asked[instrument_id].scoring().id]
                known = order.setdefault(instrument_id, [])
                known.extend(s for s in scorings if s not in known)
    return order


def score_column(instrument_id: str, scoring_id: str, score_id: str, first: bool,
                 catalogue: Catalogue | None = None) -> str:
    """A score's column: `instrument.score` for the first scoring, `instrument.scoring.score` for
    the others; a score named like an item is `…score_score` (Instrument.score_column)."""
    prefix = f"{instrument_id}." if first else f"{instrument_id}.{scoring_id}."
    return prefix + (catalogue or instruments.catalogue())[instrument_id].score_column(score_id)


def attribute_ids(registry: Registry, protocol_id: str | None = None) -> list[str]:
    """The attributes the export has a column for: every attribute of its protocols, once."""
    ids = [a.id for p in registry.protocols if protocol_id in (None, p.id) for a in p.attributes]
    return list(dict.fromkeys(ids))


def export_columns(registry: Registry, protocol_id: str | None = None,
                   catalogue: Catalogue | None = None) -> tuple[list[str], list[Column]]:
    """The header, and the columns after the fixed ones: the episode's attributes (`attr.id`,
    before the time point's columns), then answers (`instrument.item`) and scores (`score_column`).
    Definitions come from `catalogue` (default: the shipped instruments), in the version each
    protocol asks.
    """
    asked = asked_instruments(registry, protocol_id, catalogue)
    columns = [Column(ATTRIBUTE_PREFIX + a, "", "attribute", a) for a in attribute_ids(registry, protocol_id)]
    for instrument_id, scorings in exported_scorings(registry, protocol_id, catalogue).items():
        ins = asked[instrument_id]
        columns += [Column(f"{instrument_id}.{item.id}", instrument_id, "item", item.id) for item in ins.items]
        for n, scoring_id in enumerate(scorings):
            scoring = ins.scoring(scoring_id)
            prefix = f"{instrument_id}." if n == 0 else f"{instrument_id}.{scoring_id}."  # as score_column
            columns += [
                Column(prefix + ins.score_column(score_id), instrument_id, "score", score_id, scoring_id)
                for score_id in [s.id for s in scoring.scales] + [s.id for s in scoring.summaries]
            ]
    names = [c.name for c in columns]
    first_answer = sum(c.kind == "attribute" for c in columns)
    return EPISODE_COLUMNS + names[:first_answer] + TIME_POINT_COLUMNS + names[first_answer:], columns


def start_export(session: Session, caller: Caller, registry: Registry, protocol_id: str | None) -> None:
    """Check what is asked for and audit the export (404 for an unknown protocol); then the
    caller sends `export_csv`."""
    if protocol_id is not None and registry.protocol(protocol_id) is None:
        audit.refuse(session, caller, "responses.export", registry.id, None, "not_found", NotFound(
            f"registry {registry.id} has no protocol {protocol_id!r}", where="query parameter protocol",
            fix=f"use one of: {', '.join(p.id for p in registry.protocols)}, or leave it out",
        ))
    audit.record(session, caller.key_id, caller.role, "responses.export", registry.id, None, "ok")
    session.commit()


def export_csv(engine: Engine, registry: Registry, protocol_id: str | None = None,
               chunk: int = EXPORT_CHUNK, catalogue: Catalogue | None = None) -> Iterator[str]:
    """The CSV text of the export, piece by piece: the header, then the rows of `chunk`
    episodes at a time (in enrolment order). It reads with a session of its own, because the
    response is sent after the request's session has closed, and every statement of it is a
    transaction of its own (`db.reader`): an export of a large registry takes minutes, and a
    transaction here would hold SQLite's write lock (db.py) while it reads."""
    header, columns = export_columns(registry, protocol_id, catalogue)
    yield _csv([header])
    done = 0
    try:
        with db.reader(engine) as session:
            query = select(Episode.id).where(Episode.registry_id == registry.id)
            if protocol_id is not None:
                query = query.where(Episode.protocol_id == protocol_id)
            ids = session.exec(query.order_by(col(Episode.created_at), col(Episode.external_id))).all()
            for done in range(0, len(ids), chunk):
                text = _csv(_rows(session, registry, columns, ids[done:done + chunk]))
                session.rollback()  # its connection goes back to the pool while the client reads
                yield text
    except Exception as e:
        # The response has begun: the server can only cut it short, which clients see as an
        # incomplete transfer. The error's text may quote row ids; the log names its type.
        log.error("the export of registry %s stopped after %d episodes (%s)", registry.id, done, type(e).__name__)
        raise ExportStopped(f"the export of registry {registry.id} stopped") from None


class ExportStopped(Exception):
    """The database failed while an export was being sent."""


def _rows(session: Session, registry: Registry, columns: list[Column], ids: Sequence[str]) -> Iterator[list[str]]:
    """The rows of the episodes `ids`, in that order."""
    episodes = {e.id: e for e in session.exec(select(Episode).where(col(Episode.id).in_(ids)))}
    invitations: dict[str, list[Invitation]] = {}
    for inv in session.exec(select(Invitation).where(col(Invitation.episode_id).in_(ids))):
        invitations.setdefault(inv.episode_id, []).append(inv)
    responses: dict[str, list[Response]] = {}
    for r in session.exec(select(Response).where(col(Response.episode_id).in_(ids))):
        responses.setdefault(r.invitation_id, []).append(r)
    scores: dict[str, list[Score]] = {}
    response_ids = [r.id for answered in responses.values() for r in answered]
    for start in range(0, len(response_ids), EXPORT_CHUNK):
        chunk = response_ids[start:start + EXPORT_CHUNK]
        for s in session.exec(select(Score).where(col(Score.response_id).in_(chunk), Score.current == sa.true())):
            scores.setdefault(s.response_id, []).append(s)

    answers_and_scores = [c for c in columns if c.kind != "attribute"]
    for episode in (episodes[i] for i in ids):
        protocol = registry.protocol(episode.protocol_id)
        order = {tp.id: n for n, tp in enumerate(protocol.time_points)} if protocol else {}
        known = episode.attributes or {}
        about = [
            episode.external_id, episode.pseudonym, episode.unit_id, episode.protocol_id,
            episode.event_date.isoformat(), episode.language, _time(episode.withdrawn_at), _time(episode.deceased_at),
            *(attributes.cell(known.get(c.key)) for c in columns if c.kind == "attribute"),
        ]
        for inv in sorted(invitations.get(episode.id, []), key=lambda i: (order.get(i.time_point, 99), i.due_at)):
            answered = responses.get(inv.id, [])
            answers: dict[tuple[str, str], object] = {}
            values: dict[tuple[str, str | None, str], object] = {}  # str | None: read with a column's scoring
            for r in answered:
                for item_id, code in (r.answers or {}).items():
                    answers[(r.instrument_id, item_id)] = code
                for s in scores.get(r.id, []):
                    for score_id, value in (s.values or {}).items():
                        values[(r.instrument_id, s.scoring, score_id)] = value
            row = [
                *about, inv.time_point, Status(inv.status).value, _time(inv.status_at), _time(inv.due_at), _time(inv.expires_at),
                _time(min((r.started_at for r in answered), default=None)),
                _time(max((r.submitted_at for r in answered), default=None)),
                answered[0].respondent if answered else "", answered[0].channel if answered else "",
            ]
            for c in answers_and_scores:
                if c.kind == "item":
                    row.append(_cell(answers.get((c.instrument, c.key))))
                else:
                    row.append(_cell(values.get((c.instrument, c.scoring, c.key))))
            yield row


def _csv(rows) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([inert(cell) for cell in row] for row in rows)
    return buffer.getvalue()


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def inert(cell: str) -> str:
    """A text cell that a spreadsheet would run as a formula (it starts with = + - @, a tab or a
    carriage return), with a `'` put before it, which the spreadsheet shows as text. A number
    (a negative score) is left as it is."""
    if not cell.startswith(_FORMULA_START):
        return cell
    try:
        if cell == cell.strip():
            float(cell)
            return cell
    except ValueError:
        pass
    return "'" + cell


def _time(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):  # a multi-select answer: its codes as `promsvc score` reads them
        return " ".join(map(str, value))
    if isinstance(value, float):
        return repr(numbers.clean(value)) if value == value else ""
    return str(value)
