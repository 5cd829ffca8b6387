"""Helpers of the delivery tests: a registry made for them (`dlv`), an SMTP server and an SMS
gateway on 127.0.0.1, a `Delivery` wired to both, and episodes made directly in the database.

Import the fixtures into a test module: `from delivery_fixtures import delivery, gateway, smtp  # noqa: F401`.
Times are given, never read from the clock: NOW is Monday 4 January 2027, 10:00 in Oslo.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from pathlib import Path

import msgspec
import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from promsvc.delivery.config import Delivery
from promsvc.delivery.sink import SmsGatewayStub, SmtpSink
from promsvc.models import Contact, Episode, Invitation, InvitationEvent, Message, Status
from promsvc.registries import loader

REGISTRIES = Path(__file__).parent / "delivery_registries"
NOW = dt.datetime(2027, 1, 4, 9, 0, tzinfo=dt.UTC)  # 10:00 CET
DAY = dt.timedelta(days=1)
LINK = re.compile(r"http://testserver\.local/q/([A-Za-z0-9_-]{43})")


@pytest.fixture
def smtp():
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def gateway():
    with SmsGatewayStub(token="sms-token") as stub:
        yield stub


def delivery_settings(make_settings, smtp: SmtpSink | None, gateway: SmsGatewayStub | None, **changes):
    values = dict(registries_dir=str(REGISTRIES), smtp_from="noreply@prom.example", retry_base=600, retry_max=3)
    if smtp is not None:
        values.update(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_security="none")
    if gateway is not None:
        values.update(sms_gateway_url=gateway.url, sms_gateway_token="sms-token")
    values.update(changes)
    return make_settings(**values)


@pytest.fixture
def make_delivery(make_settings, engine):
    made = []

    def make(smtp=None, gateway=None, **changes) -> Delivery:
        settings = delivery_settings(make_settings, smtp, gateway, **changes)
        d = Delivery.from_settings(settings, loader.load_all(settings))
        made.append(d)
        return d

    yield make
    for d in made:
        d.close()


@pytest.fixture
def delivery(make_delivery, smtp, gateway) -> Delivery:
    return make_delivery(smtp, gateway)


def enrol(engine, *, protocol: str = "knee", time_point: str = "m3", due_at: dt.datetime = NOW,
          window: dt.timedelta = 30 * DAY, email: str | None = "pasient@example.no", sms: str | None = None,
          letter: str | None = None, language: str = "nb", registry: str = "dlv", status: Status = Status.planned,
          **flags) -> str:
    """One episode with one invitation due at `due_at`; returns the invitation id."""
    with Session(engine, expire_on_commit=False) as s:
        episode = Episode(registry_id=registry, external_id=f"ext-{uuid.uuid4().hex[:10]}",
                          pseudonym=f"psn-{uuid.uuid4().hex[:8]}", unit_id="dlv-hf" if registry == "dlv" else "fjord-sentral",
                          protocol_id=protocol,
                          event_date=(due_at - 91 * DAY).date(), language=language, payload_hash="x" * 64,
                          created_at=due_at - 100 * DAY, **flags)
        s.add(episode)
        s.flush()
        for channel, address in (("email", email), ("sms", sms), ("letter", letter)):
            if address:
                s.add(Contact(episode_id=episode.id, channel=channel, address=address))
        invitation = Invitation(episode_id=episode.id, registry_id=registry, time_point=time_point, due_at=due_at,
                                expires_at=due_at + window, status=status, status_at=due_at - 100 * DAY)
        s.add(invitation)
        s.flush()
        s.add(InvitationEvent(invitation_id=invitation.id, status=status, at=due_at - 100 * DAY))
        s.commit()
        return invitation.id


def messages(engine, invitation_id: str | None = None) -> list[Message]:
    with Session(engine) as s:
        q = select(Message).order_by(Message.invitation_id, Message.kind, Message.number)
        if invitation_id:
            q = q.where(Message.invitation_id == invitation_id)
        return list(s.exec(q).all())


def invitation(engine, invitation_id: str) -> Invitation:
    with Session(engine) as s:
        return s.get(Invitation, invitation_id)


def events(engine, invitation_id: str) -> list[tuple[str, str | None]]:
    with Session(engine) as s:
        rows = s.exec(select(InvitationEvent).where(InvitationEvent.invitation_id == invitation_id)
                      .order_by(InvitationEvent.at, InvitationEvent.id)).all()
        return [(Status(e.status).value, e.note) for e in rows]


def set_status(engine, invitation_id: str, status: Status) -> None:
    with Session(engine) as s:
        s.execute(sa.update(Invitation).where(Invitation.id == invitation_id).values(status=status))
        s.commit()


def set_episode(engine, invitation_id: str, **values) -> None:
    with Session(engine) as s:
        episode_id = s.get(Invitation, invitation_id).episode_id
        s.execute(sa.update(Episode).where(Episode.id == episode_id).values(**values))
        s.commit()


def tokens(sink: SmtpSink) -> list[str]:
    return [t for m in sink.snapshot() for t in LINK.findall(m.text)]


def replace(settings, **changes):
    return msgspec.structs.replace(settings, **changes)
