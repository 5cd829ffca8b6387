"""HTTP endpoints of delivery: the operations view, the episode flags, and the code entry page.

    GET  /api/v1/outbox/status?registry=R        queued, sent, failed … per registry and channel;
                                                 response rate per time point so far
    GET  /api/v1/outbox/dry-run?registry=R&day=D what the jobs would do on a local day (default today)
    GET  /api/v1/registries/{r}/episodes/{x}/delivery-flags
    PUT  /api/v1/registries/{r}/episodes/{x}/delivery-flags   deceased, reserved address, consent withdrawn
    GET  /code, POST /code                        staff type a letter's short code → the patient's form

The outbox views show counts and message ids only: role admin, or registry for its own registry.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post, put
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, JSONBody, QueryParameter

from promsvc import csrf, templating
from promsvc.delivery import services
from promsvc.deps import CallerDep, DbSession, RegistriesDep
from promsvc.errors import Forbidden
from promsvc.invitations import links
from promsvc.models import Role
from promsvc.security import Caller, require

STATUS_ROLES = (Role.registry,)  # and admin
FLAG_ROLES = (Role.system, Role.registry)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _registry_of(db_session, caller: Caller, registry: str | None, action: str) -> str | None:
    """The registry a view is limited to: the caller's own for a registry key."""
    require(db_session, caller, action, STATUS_ROLES, registry)
    if caller.role is not Role.admin and caller.registry_id is None:
        raise Forbidden("a registry key without a registry may not read the outbox", where="header Authorization",
                        fix="use a key made with --registry ID")
    return registry or caller.registry_id


class OutboxController(Controller):
    path = "/outbox"
    tags = ["delivery"]

    @get("/status", sync_to_thread=True, summary="Outbox status and response rates",
         description="Messages per registry, channel and status (queued, sending, sent, unconfirmed, retrying, "
                     "failed, skipped), why messages were skipped, the response rate per time point so far, and "
                     "letter batches waiting to be fetched. Counts only. Role admin, or registry (own registry).")
    def status(self, db_session: DbSession, caller: CallerDep,
               registry: Annotated[str | None, QueryParameter(description="Only this registry.")] = None,
               ) -> services.OutboxStatus:
        return services.outbox_status(db_session, _registry_of(db_session, caller, registry, "outbox.status"),
                                      utcnow())

    @get("/dry-run", sync_to_thread=True, summary="What would be sent on a day",
         description="Every message due on one local day (default: the rest of today), checked as the dispatcher "
                     "would check it now: send (and by which channel), skip (and why), wait, or go to the letter "
                     "batch. Nothing is written or sent. Role admin, or registry (own registry).")
    def dry_run(self, request: Request, db_session: DbSession, caller: CallerDep,
                registry: Annotated[str | None, QueryParameter(description="Only this registry.")] = None,
                day: Annotated[dt.date | None, QueryParameter(description="A local date, YYYY-MM-DD.")] = None,
                ) -> services.DryRun:
        registry = _registry_of(db_session, caller, registry, "outbox.dry-run")
        return services.dry_run(request.app.state.delivery, utcnow(), registry, day)


class DeliveryFlagsController(Controller):
    path = "/registries/{registry:str}/episodes/{external_id:str}/delivery-flags"
    tags = ["delivery"]

    @get("/", sync_to_thread=True, summary="Read an episode's delivery flags",
         description="Role system or registry (own registry). Audited.")
    def read(self, registry: FromPath[str], external_id: FromPath[str], db_session: DbSession, caller: CallerDep,
             registries: RegistriesDep) -> services.FlagsOut:
        from promsvc import audit
        from promsvc.episodes.services import episode_for, registry_for

        reg = registry_for(db_session, caller, registries, registry, "episode.flags.read", FLAG_ROLES)
        episode = episode_for(db_session, caller, reg, external_id, "episode.flags.read")
        audit.record(db_session, caller.key_id, caller.role, "episode.flags.read", reg.id, episode.id, "ok")
        out = services.flags_out(db_session, episode)
        db_session.commit()
        return out

    @put("/", sync_to_thread=True, summary="Set an episode's delivery flags",
         description="Deceased, reserved address (sperret adresse), consent withdrawn: any of them stops every "
                     "message not yet sent (checked again right before each send). Omitted flags are kept; false "
                     "clears a flag. Role system or registry (own registry). Audited.")
    def set(self, registry: FromPath[str], external_id: FromPath[str], data: JSONBody[services.FlagsIn],
            db_session: DbSession, caller: CallerDep, registries: RegistriesDep) -> services.FlagsOut:
        from promsvc.episodes.services import episode_for, registry_for

        reg = registry_for(db_session, caller, registries, registry, "episode.flags", FLAG_ROLES)
        episode = episode_for(db_session, caller, reg, external_id, "episode.flags")
        return services.set_flags(db_session, caller, episode, data, utcnow())


# ------------------------------------------------------------------------------ code entry page

_CSRF_PURPOSE = "code"  # the form's token is good for this page only (promsvc.csrf)
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}


def _page(request: Request, problem: str | None = None, status: int = 200) -> Response[str]:
    """The code page (promsvc/delivery/pages/code.html), with `problem` (`unknown`, `too_many`) said above the form."""
    settings = request.app.state.settings
    nonce = csrf.nonce(request)
    page = templating.render("delivery/code.html", problem=problem,
                             csrf_token=csrf.token(settings.secret_key, nonce, _CSRF_PURPOSE))
    response = Response(page, media_type="text/html; charset=utf-8", status_code=status, headers=_HEADERS)
    response.cookies.append(csrf.cookie(nonce, "/code", settings.base_url.startswith("https:")))
    return response


@get("/code", sync_to_thread=False, include_in_schema=False)
def code_form(request: Request) -> Response[str]:
    return _page(request)


@post("/code", sync_to_thread=True, include_in_schema=False)
def code_open(request: Request, db_session: DbSession,
              data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]) -> Response[str]:
    """A typed code opens its invitation through a fresh link (303 to /q/{token}); any failure
    looks the same, whether the code never existed or has expired."""
    tries, address = request.app.state.code_tries, request.client.host if request.client else "?"
    wait = tries.wait(address)
    if wait > 0:
        response = _page(request, "too_many", status=429)
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response
    if not csrf.ok(request, data, request.app.state.settings.secret_key, _CSRF_PURPOSE):
        tries.failed(address)
        return _page(request, "unknown", status=400)
    opened = links.open_code(db_session, str(data.get("code", ""))[:40], utcnow())
    if opened is None:
        db_session.rollback()  # the lookup's transaction (SQLite: its write lock) ends before the try is counted
        tries.failed(address)
        return _page(request, "unknown", status=404)
    db_session.commit()
    settings = request.app.state.settings
    return Response("", status_code=303, headers={**_HEADERS, "Location": f"{settings.base_url}/q/{opened[1]}"})


def api_handlers() -> list:
    """Handlers under /api/v1 (registered by promsvc.app)."""
    return [OutboxController, DeliveryFlagsController]


def page_handlers() -> list:
    """Handlers outside the API (registered by promsvc.app)."""
    return [code_form, code_open]
