"""Delivery's view of the settings, checked once, and the context every job runs in."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from promsvc.db import make_engine
from promsvc.delivery.email import SmtpConfig
from promsvc.delivery.messages import TemplateError, Templates
from promsvc.delivery.sms import SmsConfig
from promsvc.delivery.timing import Backoff, SendWindow
from promsvc.registries.schema import Registry
from promsvc.settings import Settings, SettingsError

DELIVERY_CHANNELS = ("email", "sms", "letter")  # `clinic` links are issued by staff, not sent


@dataclass(frozen=True)
class DeliveryConfig:
    window: SendWindow
    tz: ZoneInfo
    letter_time: dt.time
    backoff: Backoff
    batch: int
    lease: dt.timedelta
    durability: str  # batch | message
    base_url: str
    smtp: SmtpConfig | None
    sms: SmsConfig | None

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryConfig:
        """Raises SettingsError naming the variable when a delivery setting cannot be used."""
        try:
            window = SendWindow.parse(settings.send_window, settings.time_zone)
        except ValueError as e:
            raise SettingsError(f"PROMSVC_SEND_WINDOW: {e}") from None
        smtp = sms = None
        if settings.smtp_host:
            if settings.smtp_username and settings.smtp_security == "none" and settings.smtp_host not in (
                    "127.0.0.1", "localhost", "::1"):
                raise SettingsError("PROMSVC_SMTP_SECURITY: none would send the SMTP password in clear text; "
                                    "use starttls or tls")
            try:
                smtp = SmtpConfig(host=settings.smtp_host, port=settings.smtp_port, security=settings.smtp_security,
                                  username=settings.smtp_username, password=settings.smtp_password,
                                  from_address=settings.smtp_from, ca_file=settings.smtp_ca_file)
            except ValueError as e:
                raise SettingsError(f"PROMSVC_SMTP_FROM: {e}") from None
        if settings.sms_gateway_url:
            try:
                sms = SmsConfig(url=settings.sms_gateway_url, token=settings.sms_gateway_token,
                                ca_file=settings.smtp_ca_file)
            except ValueError as e:
                raise SettingsError(f"PROMSVC_SMS_GATEWAY_URL: {e}") from None
        hours, minutes = settings.letter_time.split(":")
        return cls(
            window=window,
            tz=ZoneInfo(settings.time_zone),
            letter_time=dt.time(int(hours), int(minutes)),
            backoff=Backoff(base=dt.timedelta(seconds=settings.retry_base), max_attempts=settings.retry_max),
            batch=settings.dispatch_batch,
            lease=dt.timedelta(seconds=settings.dispatch_lease),
            durability=settings.dispatch_durability,
            base_url=settings.base_url,
            smtp=smtp,
            sms=sms,
        )

    def configured(self, channel: str) -> bool:
        return channel == "letter" or (channel == "email" and self.smtp is not None) or (
            channel == "sms" and self.sms is not None)


def new_instance_id() -> str:
    """Who holds a claim: host, process and a random part (a restarted process is someone new)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass
class Delivery:
    """Everything the jobs need: configuration, registries, templates and a database engine.

    The engine is delivery's own. With `dispatch_durability=batch` its connections commit
    without waiting for the disk (SQLite `synchronous=NORMAL`, PostgreSQL
    `synchronous_commit=off`): a commit survives a crash of the process at once, and is made
    durable against a power failure by the last commit of each batch, which waits for the disk
    (see `durable()` and docs/delivery.md).
    """

    config: DeliveryConfig
    registries: Mapping[str, Registry]
    templates: Templates
    engine: Engine
    workers: int = 1  # sending threads per batch, each with its own connections
    instance: str = field(default_factory=new_instance_id)
    # Set to stop gracefully: each sending thread finishes the message in flight, records it and
    # gives the rest of its share back at once; no new batch is claimed.
    stopping: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def from_settings(cls, settings: Settings, registries: Mapping[str, Registry], *,
                      templates: Templates | None = None, engine: Engine | None = None) -> Delivery:
        """Delivery as the settings describe it; `templates` already loaded (else they are read
        here), and `engine` to share one (else delivery's own, `delivery_engine`)."""
        config = DeliveryConfig.from_settings(settings)
        templates = templates if templates is not None else load_templates(settings, registries)
        if engine is None:
            engine = delivery_engine(settings.database_url, config.durability, settings.dispatch_workers)
        return cls(config, registries, templates, engine, workers=settings.dispatch_workers)

    def close(self) -> None:
        self.engine.dispose()


def delivery_engine(url: str, durability: str = "batch", workers: int = 1) -> Engine:
    # Per worker: a connection for its transactions and, on PostgreSQL, one for its `sending` records.
    engine = make_engine(url, pool_size=2 * workers + 2, max_overflow=2)
    if durability != "batch":
        return engine

    @sa.event.listens_for(engine, "connect")
    def _relaxed(dbapi_connection, record):
        # Registered after promsvc.db's own listener, so it overrides synchronous=FULL.
        record.info["relaxed"] = True
        # The same relaxation in each database's words: SQLite's commit skips the fsync of the
        # WAL, PostgreSQL's returns before the WAL is flushed.
        if engine.dialect.name == "sqlite":
            dbapi_connection.execute("PRAGMA synchronous=NORMAL")
        else:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET synchronous_commit TO off")
            dbapi_connection.commit()

    return engine


@contextmanager
def durable_transaction(connection: sa.Connection) -> Iterator[None]:
    """A transaction whose commit waits for the disk, and with it every earlier commit of the
    database: the end of a batch under `dispatch_durability=batch` (a no-op difference otherwise).
    Start it when `connection` has no transaction open."""
    relaxed = connection.info.get("relaxed", False)
    # SQLite's durability is the connection's (a PRAGMA, not allowed inside a transaction),
    # PostgreSQL's the transaction's (SET LOCAL): the same rule, set where each database takes it.
    sqlite = connection.dialect.name == "sqlite"
    raw = connection.connection.driver_connection
    assert raw is not None  # the pool's connection is open: it has its driver's connection
    if relaxed and sqlite:
        raw.execute("PRAGMA synchronous=FULL")  # cannot change inside a transaction
    try:
        with connection.begin():
            if relaxed and not sqlite:
                connection.exec_driver_sql("SET LOCAL synchronous_commit TO on")
            yield
    finally:
        if relaxed and sqlite:
            raw.execute("PRAGMA synchronous=NORMAL")


def load_templates(settings: Settings, registries: Mapping[str, Registry]) -> Templates:
    """Every registry's message templates, read and checked (at start-up); SettingsError names
    the template file, what is wrong and how to fix it."""
    try:
        return Templates.load(registries, settings.templates_dir or None)
    except TemplateError as e:
        raise SettingsError(f"message templates: {e}") from None
