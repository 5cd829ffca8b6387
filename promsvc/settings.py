"""Settings: one typed, frozen object built from an explicit mapping (usually the environment).

    settings = Settings.from_mapping(os.environ)
    app = create_app(settings)

Nothing is read or cached at import: tests build their own `Settings(...)` and pass it in.
Every field is documented with `Meta(description=...)`; docs/service.md's table is generated
from these descriptions (`promsvc.settings.markdown_table()`) and a test keeps the two equal.
An environment variable is the field name in capitals with the prefix `PROMSVC_`
(`database_url` ← `PROMSVC_DATABASE_URL`); `PROMSVC_<NAME>_FILE` reads the value from a file (a Docker
or systemd secret). Unknown `PROMSVC_*` variables are refused, so a
misspelt setting cannot be silently ignored (`PROMSVC_TEST_*` are left to the test suite).
"""

from __future__ import annotations

import datetime as dt
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from msgspec import Meta

PREFIX = "PROMSVC_"
IGNORED_PREFIXES = ("PROMSVC_TEST_",)
DEFAULT_DATABASE_URL = "sqlite:///./var/promsvc.sqlite3"


class SettingsError(Exception):
    """A setting that cannot be used; the message names the variable and how to fix it."""


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    database_url: Annotated[str, Meta(description=(
        "SQLAlchemy URL of the database. SQLite (the default) creates the file's directory; "
        "for PostgreSQL use `postgresql+psycopg://user:password@host:5432/name`."
    ))] = DEFAULT_DATABASE_URL
    base_url: Annotated[str, Meta(description=(
        "Public address of the service, without a trailing slash; patient links are "
        "`{base_url}/q/{token}`."
    ))] = "http://127.0.0.1:8000"
    registries_dir: Annotated[str, Meta(description=(
        "Directory of extra registry configuration files (`*.yaml`), loaded and checked at start-up "
        "beside the shipped ones. Empty: none."
    ))] = ""
    instruments_dir: Annotated[str, Meta(description=(
        "Directory of registries' own instrument definitions (`*.yaml`, docs/instruments.md), loaded and checked "
        "at start-up beside the shipped ones (their examples are run); registry files may ask them. An id may "
        "repeat a shipped one only with a new version. Empty: the shipped instruments only."
    ))] = ""
    overlays_dir: Annotated[str, Meta(description=(
        "Directory of licensed instrument wording supplied by registries: `{overlays_dir}/{registry id}/*.yaml`, "
        "one overlay per instrument version (docs/instruments.md). Empty: our short labels only."
    ))] = ""
    demo_registry: Annotated[bool, Meta(description=(
        "Load the shipped synthetic registry `demo` (promsvc/registries/demo.yaml)."
    ))] = True
    due_time: Annotated[str, Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description=(
        "Local time of day (HH:MM, in `time_zone`) at which an invitation falls due on its day: "
        "due = event date + offset at this time, stored in UTC."
    ))] = "09:00"
    time_zone: Annotated[str, Meta(description=(
        "IANA time zone of `due_time` (e.g. Europe/Oslo); daylight saving is applied per date."
    ))] = "Europe/Oslo"
    migrate_on_start: Annotated[bool, Meta(description=(
        "Apply database migrations when the application starts. `promsvc serve` migrates once "
        "before starting its workers and turns this off for them."
    ))] = True
    secret_key: Annotated[str, Meta(description=(
        "Secret for signed cookies and CSRF tokens of the patient pages. Empty: a random secret is "
        "made per process (`promsvc serve` makes one and shares it with its workers)."
    ))] = ""
    log_level: Annotated[str, Meta(pattern=r"^(DEBUG|INFO|WARNING|ERROR)$", description=(
        "Level of the service's log (DEBUG, INFO, WARNING, ERROR). Log lines never carry answers, "
        "tokens, pseudonyms, external ids or contact details at any level."
    ))] = "INFO"
    hsts_max_age: Annotated[int, Meta(ge=0, le=63072000, description=(
        "Seconds of `Strict-Transport-Security` sent with every response when `base_url` is https "
        "(browsers then use only HTTPS for the service that long). 0: not sent."
    ))] = 31536000
    trusted_proxies: Annotated[str, Meta(description=(
        "Addresses or networks (comma-separated, e.g. `10.0.0.5,10.1.0.0/16`) of the reverse proxies or load "
        "balancers whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed. Empty: none; the client's address "
        "is the connection's peer (what the code page's rate limit counts by)."
    ))] = ""
    header_timeout: Annotated[int, Meta(ge=1, le=300, description=(
        "Seconds a client may take to send a request's headers (from connecting, or from the end of the previous "
        "response); a slower one is disconnected."
    ))] = 10
    shutdown_timeout: Annotated[int, Meta(ge=1, le=3600, description=(
        "Seconds `promsvc serve` waits on SIGTERM for requests under way to finish before it closes their "
        "connections."
    ))] = 30
    log_json: Annotated[bool, Meta(description=(
        "Write the log as one JSON object per line (time, level, logger, message), for a log collector."
    ))] = False
    metrics: Annotated[bool, Meta(description=(
        "Serve Prometheus metrics at `/metrics` (requests, submissions, messages by status, age of the oldest due "
        "message). Counts and times only; keep the path away from the public (docs/deploy.md)."
    ))] = False
    api_docs: Annotated[bool, Meta(description=(
        "Serve the API documentation page (Swagger UI, from the installed package, with a Content-Security-Policy) at "
        "`/schema/swagger`. 0: only the description itself, `/schema/openapi.json`."
    ))] = True
    debug: Annotated[bool, Meta(description=(
        "Litestar debug mode: tracebacks in 500 responses. Never in production."
    ))] = False
    # ---- retention (promsvc.retention, docs/deploy.md)
    retention_contact_days: Annotated[int, Meta(ge=0, le=3650, description=(
        "Days contact details are kept after an episode's last invitation closed (answered, expired, failed); "
        "then `promsvc retention run` deletes them. A registry's file may set its own (`retention.contact_days`)."
    ))] = 30
    retention_draft_days: Annotated[int, Meta(ge=0, le=3650, description=(
        "Days a draft (saved, unsubmitted answers) is kept after its invitation closed; then `promsvc retention "
        "run` deletes it. A registry's file may set its own (`retention.draft_days`)."
    ))] = 7
    # ---- delivery (promsvc.delivery, docs/delivery.md)
    scheduler: Annotated[bool, Meta(description=(
        "Run the delivery scheduler inside the web server process (it ticks every `dispatch_interval`). "
        "Off: run `promsvc dispatch` as its own process. Several instances may run at once."
    ))] = False
    dispatch_interval: Annotated[int, Meta(ge=1, le=3600, description=(
        "Seconds between two ticks of the delivery scheduler."
    ))] = 30
    dispatch_batch: Annotated[int, Meta(ge=1, le=10000, description=(
        "Messages one dispatcher claims at a time (one claim, one connection per channel)."
    ))] = 500
    dispatch_workers: Annotated[int, Meta(ge=1, le=32, description=(
        "Sending threads of one dispatcher: a batch's messages are shared among them, each with its own "
        "SMTP or gateway connection and database connection."
    ))] = 4
    dispatch_lease: Annotated[int, Meta(ge=1, le=86400, description=(
        "Seconds a claim on a batch of messages lasts; a batch not finished by then (its dispatcher "
        "died) is taken over. Must exceed the time a batch takes."
    ))] = 600
    dispatch_durability: Annotated[str, Meta(pattern=r"^(batch|message)$", description=(
        "`message`: every attempt record is flushed to disk before its message leaves. `batch`: "
        "attempt records survive a crash of the process at once and a power failure at the end of each batch "
        "(much faster; see docs/delivery.md)."
    ))] = "batch"
    send_window: Annotated[str, Meta(pattern=r"^[0-9]{2}:[0-9]{2}-[0-9]{2}:[0-9]{2}$", description=(
        "Local time range (in `time_zone`) in which e-mail and SMS may leave, e.g. 09:00-20:00; "
        "a message due outside it waits for the next opening."
    ))] = "09:00-20:00"
    letter_time: Annotated[str, Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description=(
        "Local time of day at which the day's letters of each registry are put in one PDF batch."
    ))] = "10:00"
    retry_base: Annotated[int, Meta(ge=1, le=86400, description=(
        "Seconds before the first retry after a temporary failure; each further retry waits twice as long "
        "(at most 6 hours)."
    ))] = 300
    retry_max: Annotated[int, Meta(ge=1, le=20, description=(
        "Attempts on one channel before it counts as failed and the next channel is tried."
    ))] = 5
    templates_dir: Annotated[str, Meta(description=(
        "Directory of registries' own message templates: `{templates_dir}/{registry id}/KIND.CHANNEL.LANGUAGE.txt` "
        "(docs/delivery.md). Empty: the shipped templates."
    ))] = ""
    smtp_host: Annotated[str, Meta(description=(
        "SMTP server for e-mail to patients. Empty: no e-mail (the next channel of the protocol is used)."
    ))] = ""
    smtp_port: Annotated[int, Meta(ge=1, le=65535, description="Port of the SMTP server.")] = 587
    smtp_security: Annotated[str, Meta(pattern=r"^(starttls|tls|none)$", description=(
        "`starttls` (required, certificate checked), `tls` (implicit TLS, port 465) or `none` (only for a "
        "relay on the same host)."
    ))] = "starttls"
    smtp_username: Annotated[str, Meta(description="SMTP login; empty: no login.")] = ""
    smtp_password: Annotated[str, Meta(description="SMTP password.")] = ""
    smtp_from: Annotated[str, Meta(description=(
        "Sender address of e-mail to patients; the display name is the registry's `sender`."
    ))] = "noreply@promsvc.example"
    smtp_ca_file: Annotated[str, Meta(description=(
        "Extra CA certificates (PEM) to trust for the SMTP server and the SMS gateway. Empty: the system's."
    ))] = ""
    sms_gateway_url: Annotated[str, Meta(description=(
        "URL of the SMS gateway (docs/delivery.md, SMS gateway contract). Empty: no SMS."
    ))] = ""
    sms_gateway_token: Annotated[str, Meta(description=(
        "Bearer token for the SMS gateway; empty: none sent."
    ))] = ""

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(
                f"PROMSVC_TIME_ZONE: unknown time zone {self.time_zone!r}; use an IANA name such as Europe/Oslo"
            ) from None
        if self.base_url.endswith("/"):
            raise SettingsError(f"PROMSVC_BASE_URL: {self.base_url!r} ends with '/'; leave the slash out")

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> Settings:
        """Settings from `PROMSVC_*` entries of a mapping such as `os.environ`; defaults for the rest."""
        fields = {f.name: f for f in msgspec.structs.fields(cls)}
        raw: dict[str, Any] = {}
        for key, value in env.items():
            if not key.startswith(PREFIX) or key.startswith(IGNORED_PREFIXES):
                continue
            name = key[len(PREFIX):].lower()
            if name.endswith("_file") and name.removesuffix("_file") in fields:
                # PROMSVC_<SETTING>_FILE: the value is the content of that file (Docker and systemd secrets)
                name, key, value = name.removesuffix("_file"), key.removesuffix("_FILE"), _read_secret(key, value)
            if name not in fields:
                known = ", ".join(PREFIX + n.upper() for n in fields)
                raise SettingsError(f"{key}: no such setting; known settings: {known}")
            raw[name] = _parse(key, value, fields[name].type)
        try:
            return msgspec.convert(raw, cls)
        except msgspec.ValidationError as e:
            text, _, where = str(e).rpartition(" - at ")
            name = where.strip("`").removeprefix("$.")
            raise SettingsError(f"{PREFIX}{name.upper()}: {text or e}") from None

    # ---- derived values

    def due_clock(self) -> dt.time:
        hours, minutes = self.due_time.split(":")
        return dt.time(int(hours), int(minutes), tzinfo=ZoneInfo(self.time_zone))

    def registry_dirs(self) -> list[Path]:
        return [Path(self.registries_dir)] if self.registries_dir else []


def _read_secret(key: str, path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as e:
        raise SettingsError(f"{key}: cannot read {path!r} ({e.strerror})") from None


def _parse(key: str, value: str, type_: Any) -> Any:
    base = typing.get_args(type_)[0] if typing.get_origin(type_) is Annotated else type_
    if base is bool:
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
        raise SettingsError(f"{key}: {value!r} is not a yes/no value; use 1 or 0")
    if base is int:
        try:
            return int(value.strip())
        except ValueError:
            raise SettingsError(f"{key}: {value!r} is not a whole number") from None
    return value


def documentation() -> list[tuple[str, str, str]]:
    """(environment variable, default, description) of every setting, in declaration order."""
    rows = []
    for field in msgspec.structs.fields(Settings):
        meta = next((m for m in getattr(field.type, "__metadata__", ()) if isinstance(m, Meta)), None)
        default = field.default
        shown = ("1" if default else "0") if isinstance(default, bool) else (default or "(empty)")
        rows.append((PREFIX + field.name.upper(), str(shown), (meta.description if meta else "") or ""))
    return rows


def markdown_table() -> str:
    """The settings table of docs/service.md."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for name, default, description in documentation():
        lines.append(f"| `{name}` | `{default}` | {description} |")
    return "\n".join(lines) + "\n"
