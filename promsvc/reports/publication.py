"""Where published results come from: the table `publication`.

Results are published explicitly (`promsvc results publish REGISTRY`, and `make run` for the
demo): the engine computes them from the database, and the results, the definitions that
produced them and the score summaries are stored as one row. Result pages, reports and open data
serve the newest row of a registry; a request only reads. Its ETag is the SHA-256 of the stored
content, so it changes exactly when something new is published.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import msgspec
import sqlalchemy as sa
from sqlmodel import Session, col, select

from promsvc.models import PublicationRow, utcnow
from promsvc.reports.published import Publication

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Publication)


class Head(msgspec.Struct, frozen=True):
    """What identifies the newest publication, read without its content."""

    id: str
    etag: str
    published_at: dt.datetime
    period: str


def save(session: Session, publication: Publication) -> PublicationRow:
    """Store a publication (the caller commits)."""
    content = _encoder.encode(publication)
    years = [r.period for r in publication.results.results if "-" not in r.period]
    row = PublicationRow(
        registry_id=publication.registry, published_at=publication.published_at, period=max(years, default=""),
        etag=hashlib.sha256(content).hexdigest(), content=content,
    )
    session.add(row)
    return row


def head(session: Session, registry_id: str) -> Head | None:
    row = session.exec(
        select(PublicationRow.id, PublicationRow.etag, PublicationRow.published_at, PublicationRow.period)
        .where(PublicationRow.registry_id == registry_id)
        .order_by(sa.desc(col(PublicationRow.published_at)), sa.desc(col(PublicationRow.id)))
        .limit(1)
    ).first()
    return Head(*row) if row is not None else None


def load(session: Session, publication_id: str) -> Publication:
    content = session.exec(select(PublicationRow.content).where(PublicationRow.id == publication_id)).one()
    return _decoder.decode(content)


def newest(session: Session, registry_id: str) -> tuple[Head, Publication] | None:
    found = head(session, registry_id)
    return (found, load(session, found.id)) if found is not None else None


def listing(session: Session, registry_id: str) -> list[Head]:
    rows = session.exec(
        select(PublicationRow.id, PublicationRow.etag, PublicationRow.published_at, PublicationRow.period)
        .where(PublicationRow.registry_id == registry_id)
        .order_by(sa.desc(col(PublicationRow.published_at)))
    ).all()
    return [Head(*row) for row in rows]


def make(results, definitions, summaries, now: dt.datetime | None = None) -> Publication:
    return Publication(registry=results.registry, published_at=now or utcnow(), results=results,
                       definitions=list(definitions), summaries=list(summaries))
