"""The analyst API: a registry's indicator definitions and results (read-only, audited).

    GET /api/v1/registries/{registry}/indicators              definitions (audited as indicators.read)
    GET /api/v1/registries/{registry}/indicators/results      results from the database, filtered by
        ?period=2025&level=hospital&unit=ID&indicator=ID&as_of=YYYY-MM-DD   (audited as indicators.results)

Roles: analyst, registry (its own registry) and admin. Results are aggregates only, as the
internal file of `promsvc indicators compute` has them (a suppressed cell keeps its numerator and
denominator, never a value); no row about a single patient is ever returned.

A service process computes one request's results at a time: at 5 M episode × time-point rows one
takes half a minute or more, 2 GB and every core (docs/indicators.md, "Speed"), and two at once
would each take as long again beside the patients' requests. A request that finds one running
waits up to BUSY_WAIT seconds for it, then gets 503 with Retry-After (audited as `busy`).
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.datastructures import State
from litestar.params import FromPath, QueryParameter

from promsvc import audit
from promsvc.deps import CallerDep, DbSession, RegistriesDep
from promsvc.episodes.services import registry_for
from promsvc.errors import BadRequest, NotFound, Unavailable, problem_spec
from promsvc.indicators import engine as ind_engine
from promsvc.indicators import services
from promsvc.indicators.loader import IndicatorSet
from promsvc.indicators.results import ResultSet
from promsvc.indicators.schema import IndicatorFile, Level
from promsvc.models import Role

READ_ROLES = (Role.analyst, Role.registry)
_COMPUTING = threading.Lock()  # one computation of results at a time in this process
BUSY_WAIT = 10.0  # seconds a request waits for the one running: a small registry's takes far less
RETRY_AFTER = 60  # seconds: about what a large registry's takes


def _indicators(session, caller, state: State, registry_id: str, action: str) -> IndicatorSet:
    iset = state.indicators.get(registry_id)
    if iset is None:
        audit.refuse(session, caller, action, registry_id, None, "not_found", NotFound(
            f"registry {registry_id} has no quality indicators", where="path",
            fix=f"write {registry_id}.indicators.yaml beside its registry file (docs/indicators.md)",
        ))
    return iset


class IndicatorController(Controller):
    path = "/registries/{registry:str}/indicators"
    tags = ["indicators"]

    @get("/", sync_to_thread=True, summary="A registry's indicator definitions",
         description="Every definition as its indicator file declares it. Roles analyst, registry (own), admin. Audited.")
    def definitions(self, registry: FromPath[str], db_session: DbSession, caller: CallerDep, registries: RegistriesDep,
                    state: State) -> IndicatorFile:
        reg = registry_for(db_session, caller, registries, registry, "indicators.read", READ_ROLES)
        iset = _indicators(db_session, caller, state, reg.id, "indicators.read")
        audit.record(db_session, caller.key_id, caller.role, "indicators.read", reg.id, None, "ok")
        db_session.commit()
        return IndicatorFile(registry=reg.id, indicators=iset.indicators)

    @get("/results", sync_to_thread=True, summary="A registry's indicator results",
         description="Computed from the database at the data date (default today, UTC), at every published level "
                     "and period, then filtered. Aggregates only. Roles analyst, registry (own), admin. Audited.",
         responses={503: problem_spec("Another request's results are being computed in this service process; "
                                      "come back after Retry-After seconds")})
    def results(
        self, registry: FromPath[str], db_session: DbSession, caller: CallerDep, registries: RegistriesDep, state: State,
        period: Annotated[str | None, QueryParameter(description="A year (2025) or pooled years (2024-2025).",
                                                     pattern=r"^[0-9]{4}(-[0-9]{4})?$")] = None,
        level: Annotated[Level | None, QueryParameter(description="national, rhf, hf, hospital or department.")] = None,
        unit: Annotated[str | None, QueryParameter(description="A unit id (the national row has none).")] = None,
        indicator: Annotated[list[str] | None, QueryParameter(description="Only these indicator ids.")] = None,
        as_of: Annotated[dt.date | None, QueryParameter(description="The data date (YYYY-MM-DD).")] = None,
    ) -> ResultSet:
        action = "indicators.results"
        reg = registry_for(db_session, caller, registries, registry, action, READ_ROLES)
        iset = _indicators(db_session, caller, state, reg.id, action)
        if unit is not None and unit not in reg.unit_ids():
            audit.refuse(db_session, caller, action, reg.id, None, "not_found", NotFound(
                f"registry {reg.id} has no unit {unit!r}", where="query parameter unit",
                fix="use a unit id of the registry, or leave it out",
            ))
        now = dt.datetime.now(dt.UTC)
        options = ind_engine.Options(as_of=as_of or now.date(), computed_at=now, period=period,
                                     indicators=tuple(indicator or ()))
        if not _COMPUTING.acquire(timeout=BUSY_WAIT):
            audit.refuse(db_session, caller, action, reg.id, None, "busy", Unavailable(
                "this service process is computing indicator results for another request",
                fix=f"try again in about {RETRY_AFTER} s; for a large registry, `promsvc indicators compute` "
                    "computes outside the service", headers={"Retry-After": str(RETRY_AFTER)}))
        try:
            computed = services.from_database(state.engine, reg, iset, options)
        except ind_engine.EngineError as e:
            audit.refuse(db_session, caller, action, reg.id, None, "invalid", BadRequest(
                str(e), where="query", fix="see GET …/indicators for the ids; periods are 2025 or 2024-2025"))
        finally:
            _COMPUTING.release()
        audit.record(db_session, caller.key_id, caller.role, action, reg.id, None, "ok")
        db_session.commit()
        return msgspec.structs.replace(computed, results=[
            r for r in computed.results if (level is None or r.level == level) and (unit is None or r.unit == unit)])
