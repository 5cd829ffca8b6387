"""The application factory: all wiring in one place.

    app = create_app(Settings.from_mapping(os.environ))

`create_app` reads and checks every configuration file (`load_configuration`: registries,
instruments, overlays, indicators, message templates; the app refuses to start on a bad one),
builds the database engine, and registers the routers of each domain: enrolment and
episodes (`promsvc.episodes`), the stateless scoring endpoint (`promsvc.scoring_api`), the audit
read (`promsvc.admin`), delivery's operations view, episode flags and code entry page
(`promsvc.delivery.controllers`) and, when that module exists, the patient side: the module-level list
`routes` of `promsvc.patient.controllers`.

Application state (`request.app.state` / `state` in handlers), all of it built here, none of it
made later by a request: `settings`, `engine`,
`registries` (`promsvc.registries.loader.Registries`: id → Registry, `.instruments`, the
one catalogue of instruments: the shipped ones and those of `PROMSVC_INSTRUMENTS_DIR`, and
`.overlays`, the registries' licensed wording),
`indicators` (registry id → `promsvc.indicators.loader.IndicatorSet`, for registries with an
indicator file), `writer`, `delivery` (the outbox views' `promsvc.delivery.config.Delivery`),
`code_tries` (the code page's rate limit, kept in the database), `scheduler` (PROMSVC_SCHEDULER),
`metrics` (PROMSVC_METRICS), `allow` (each route's methods, for OPTIONS answers) and
`edge_kinds` (what `promsvc.edge.guard` checks for each handler).
Dependencies every handler can ask for: `db_session` (see promsvc.db), `caller` (the API key's
`promsvc.security.Caller`; raises 401), `settings`, `registries`.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import logging
import os
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.logging import LoggingConfig
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from promsvc import db, edge, errors, openapi, security, templating
from promsvc.delivery.messages import Templates
from promsvc.indicators import loader as indicator_loader
from promsvc.patient.submission import prepare_arrivals
from promsvc.registries import loader
from promsvc.registries.loader import Registries
from promsvc.responses.writer import Writer
from promsvc.settings import Settings

log = logging.getLogger("promsvc.access")

API_PREFIX = "/api/v1"


@dataclass(frozen=True)
class Configuration:
    """Every file the service reads to run, read and checked at start-up (`load_configuration`)."""

    registries: Registries  # registry files, the instrument catalogue and the overlays (licensed wording)
    indicators: dict[str, Any]  # registry id → promsvc.indicators.loader.IndicatorSet
    templates: Templates  # the message templates of every registry


def load_configuration(settings: Settings) -> Configuration:
    """Read and check every configuration file: a bad one raises an error that names the file,
    what is wrong and how to fix it (RegistryError, DefinitionError, IndicatorError,
    SettingsError), so that the service stops before it serves anyone rather than failing a
    patient's request later. `create_app` and `promsvc serve` (before its workers start) call it."""
    from promsvc.delivery.config import DeliveryConfig, load_templates

    registries = loader.load_all(settings)  # with their instruments and overlays
    indicators = indicator_loader.load_all(settings, registries)
    DeliveryConfig.from_settings(settings)  # delivery's settings (SettingsError names the variable)
    return Configuration(registries, indicators, load_templates(settings, registries))


def create_app(settings: Settings, *, handlers: Sequence[Any] = ()) -> Litestar:
    """The service's app. `handlers`: more route handlers (the benchmark's app, bench/bench_app.py,
    adds its parse-only route; the production app has none)."""
    from promsvc import ops
    from promsvc.delivery.config import Delivery
    from promsvc.delivery.ratelimit import FailedTries

    config = load_configuration(settings)
    registries = config.registries
    templating.load_all()  # every page template compiled now, none by a request
    engine = db.make_engine(settings)
    if not settings.secret_key:
        # One process only; `promsvc serve` shares one secret between its workers.
        settings = _with(settings, secret_key=secrets.token_urlsafe(32))
    state: dict[str, Any] = {
        "settings": settings, "engine": engine, "registries": registries, "indicators": config.indicators,
        # submissions with their answers, group-committed on the event loop (docs/service.md)
        "writer": Writer(engine, functools.partial(prepare_arrivals, registries)),
        # the outbox views' delivery (configuration, templates) on the app's engine
        "delivery": Delivery.from_settings(settings, registries, templates=config.templates, engine=engine),
        "code_tries": FailedTries(engine, settings.secret_key),  # the code page's rate limit (in the database)
    }
    if settings.metrics:
        state["metrics"] = ops.Metrics(engine)
    if settings.scheduler:  # the delivery scheduler in this process (docs/delivery.md), started with the app
        from promsvc.scheduler import DeliveryScheduler

        state["scheduler"] = DeliveryScheduler(Delivery.from_settings(settings, registries, templates=config.templates),
                                               settings.dispatch_interval)

    def on_startup(app: Litestar) -> None:
        openapi.complete(app)  # security scheme and problem responses in the served description
        if settings.migrate_on_start:
            from promsvc import migrations

            migrations.upgrade(engine)
        if app.state.get("scheduler") is not None:
            app.state.scheduler.start()

    async def on_shutdown(app: Litestar) -> None:
        await app.state.writer.close()
        if app.state.get("scheduler") is not None:
            app.state.scheduler.shutdown()
        engine.dispose()

    json_logs: dict[str, Any] = {"formatters": {"standard": {"()": "promsvc.ops.JsonFormatter"}}} if settings.log_json else {}
    app = Litestar(
        route_handlers=[*_routers(), ops.live, ops.ready, *([ops.metrics] if settings.metrics else []), *handlers],
        state=State(state),
        dependencies={
            "db_session": Provide(db.provide_session),
            "caller": Provide(security.provide_caller, sync_to_thread=True),
            "settings": Provide(_provide_settings, sync_to_thread=False),
            "registries": Provide(_provide_registries, sync_to_thread=False),
        },
        exception_handlers={Exception: errors.problem_response},
        middleware=[access_log, edge.guard],  # edge: what no handler may see (NUL, depth, ranges, forms)
        before_send=[edge.security_headers(settings)],
        on_startup=[on_startup],
        on_shutdown=[on_shutdown],
        openapi_config=openapi.config(settings),  # /schema: the description, and Swagger UI served locally
        logging_config=LoggingConfig(
            root={"level": settings.log_level, "handlers": ["queue_listener"]},
            **json_logs,
            loggers={
                "promsvc": {"level": settings.log_level, "propagate": True},
                "alembic": {"level": "WARNING", "propagate": True},
            },
            log_exceptions="never",  # tracebacks may quote patient data; errors.py logs type + route
        ),
        debug=settings.debug,
    )
    app.state.allow = edge.allowed_methods(app)  # the Allow header of OPTIONS answers
    app.state.edge_kinds = edge.handler_kinds(app)  # what the edge checks per handler
    return app


def app_from_environment() -> Litestar:
    """The factory uvicorn calls in each worker (`promsvc serve`)."""
    return create_app(Settings.from_mapping(os.environ))


def _routers() -> list[Any]:
    from promsvc.admin.controllers import AuditController
    from promsvc.delivery.controllers import api_handlers as delivery_api
    from promsvc.delivery.controllers import page_handlers as delivery_pages
    from promsvc.episodes.controllers import EpisodeController, ExportController
    from promsvc.indicators.controllers import IndicatorController
    from promsvc.reports import controllers as reports
    from promsvc.scoring_api.controllers import score

    handlers: list[Any] = [
        Router(
            path=API_PREFIX,
            route_handlers=[EpisodeController, ExportController, IndicatorController, AuditController, score, *delivery_api(),
                            *reports.api_handlers],
        ),  # Cache-Control: no-store on every response under /api/ (promsvc.edge.security_headers)
    ]
    if importlib.util.find_spec("promsvc.patient") and importlib.util.find_spec("promsvc.patient.controllers"):
        patient = importlib.import_module("promsvc.patient.controllers")
        handlers.extend(getattr(patient, "routes", []))
    handlers.extend(delivery_pages())  # /code: a letter's short code
    handlers.extend(reports.routes)  # /results pages and /open data: public aggregates (docs/reports.md)
    return handlers


def _provide_settings(state: State) -> Settings:
    return state.settings


def _provide_registries(state: State) -> Registries:
    return state.registries


def _with(settings: Settings, **changes: Any) -> Settings:
    import msgspec

    return msgspec.structs.replace(settings, **changes)


def access_log(app: ASGIApp) -> ASGIApp:
    """Log method, route template (`/q/{token}`, never the path itself), status and duration."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, send_wrapper)
        finally:
            seconds = time.perf_counter() - start
            route = scope.get("path_template") or "-"
            log.info("%s %s %d %.1fms", scope.get("method", "-"), route, status, seconds * 1000)
            metrics = scope["app"].state.get("metrics") if "app" in scope else None
            if metrics is not None:
                metrics.observe(scope.get("method", "-"), route, status, seconds)

    return middleware
