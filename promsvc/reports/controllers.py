"""Routes of the published results.

Public, without a key (aggregates only, from the newest publication; cacheable with ETag):

    GET /results/{registry}[?lang=&q=&period=]          the registry's result page
    GET /results/{registry}/{unit}[?lang=&q=&period=]   one unit's page
    GET /open/{registry}/indicators.csv | .json         open data with its data dictionary

With a key (under /api/v1, no-store like every API response; audited):

    GET /api/v1/registries/{registry}/report.pdf[?unit=&period=&lang=]   roles analyst, registry
    GET /api/v1/registries/{registry}/portal.csv                        role registry: the national
                                                                        results portal's upload file
"""

from __future__ import annotations

import hashlib
from typing import Annotated

from litestar import Controller, Request, Response, get
from litestar.enums import MediaType
from litestar.params import FromPath, QueryParameter
from litestar.static_files import create_static_files_router
from sqlmodel import Session

from promsvc import audit
from promsvc.deps import CallerDep, DbSession, RegistriesDep
from promsvc.episodes.services import registry_for
from promsvc.errors import Invalid, NotFound
from promsvc.models import Role
from promsvc.registries.schema import Language, Registry
from promsvc.reports import documents, opendata, pages, publication
from promsvc.reports.published import Index
from promsvc.reports.texts import LANGUAGES, Words
from promsvc.security import Caller

REPORT_ROLES = (Role.analyst, Role.registry)
PORTAL_ROLES = (Role.registry,)

# Public aggregates: caches may keep them, and must ask again (If-None-Match) after five minutes.
PUBLIC_HEADERS = {
    "Cache-Control": "public, max-age=300",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
PAGE_HEADERS = PUBLIC_HEADERS | {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
}


Lang = Annotated[str | None, QueryParameter(description="nb, nn or en (default nb)")]
Query = Annotated[str, QueryParameter(description="search text")]
PeriodParam = Annotated[str | None, QueryParameter(description="a year (default: the report year)")]


def _lang(value: str | None) -> str:
    return value if value in LANGUAGES else "nb"


def _registry(registries: dict[str, Registry], registry_id: str) -> Registry:
    registry = registries.get(registry_id)
    if registry is None:
        raise NotFound(f"no registry {registry_id!r}", where="path", fix=f"use one of: {', '.join(sorted(registries))}")
    return registry


def _message(lang: str, title: str, text: str) -> Response:
    """A page that says there is nothing here (404), in the page's language."""
    html = pages.render("message.html", lang=lang, title=title, text=text)
    return Response(html, status_code=404, media_type=MediaType.HTML, headers=PAGE_HEADERS | {"Cache-Control": "no-cache"})


def _not_modified(request: Request, etag: str) -> Response | None:
    given = request.headers.get("if-none-match", "")
    if etag in [t.strip() for t in given.split(",")] or given.strip() == "*":
        return Response(b"", status_code=304, headers=PUBLIC_HEADERS | {"ETag": etag})
    return None


class ResultPages(Controller):
    path = "/results"
    include_in_schema = False

    @get("/{registry:str}", sync_to_thread=True)
    def registry_page(self, request: Request, registry: FromPath[str], db_session: DbSession, registries: RegistriesDep,
                      lang: Lang = None, q: Query = "", period: PeriodParam = None) -> Response:
        return self._page(request, db_session, registries.get(registry), None, lang, q, period)

    @get("/{registry:str}/{unit:str}", sync_to_thread=True)
    def unit_page(self, request: Request, registry: FromPath[str], unit: FromPath[str], db_session: DbSession,
                  registries: RegistriesDep, lang: Lang = None, q: Query = "", period: PeriodParam = None) -> Response:
        reg = registries.get(registry)
        if reg is not None and unit not in reg.unit_ids():
            reg = None  # an unknown unit: the same page as an unknown registry
        return self._page(request, db_session, reg, unit, lang, q, period)

    def _page(self, request: Request, db_session: Session, registry: Registry | None, unit: str | None,
              lang: str | None, q: str, period: str | None) -> Response:
        lang = _lang(lang)
        w = Words(lang)
        q = q.strip()[:100]
        if registry is None:
            return _message(lang, w("not_found"), w("not_found_text"))
        head = publication.head(db_session, registry.id)
        if head is None:
            return _message(lang, w.text(registry.name), w("no_publication"))
        # One page per publication, language, search and period: its ETag names all four.
        variant = hashlib.sha256(f"{lang}\0{q}\0{period}\0{unit}".encode()).hexdigest()[:16]
        etag = f'"{head.etag[:32]}-{variant}"'
        if (cached := _not_modified(request, etag)) is not None:
            return cached
        ix = Index(publication.load(db_session, head.id), registry)
        context = pages.page(ix, lang=lang, query=q, period=period, unit=unit,
                             published=f"{head.published_at:%Y-%m-%d %H:%M} UTC")
        html = pages.render("results.html", **context)
        return Response(html, media_type=MediaType.HTML, headers=PAGE_HEADERS | {"ETag": etag})


class OpenData(Controller):
    path = "/open/{registry:str}"
    tags = ["open data"]

    @get("/indicators.csv", sync_to_thread=True, media_type="text/csv; charset=utf-8",
         summary="Published indicator results as CSV (open data, no key)",
         description="Every published cell of the newest publication (never a suppressed cell, never patient-level "
                     "data), with the definition versions. Cacheable: send If-None-Match with the ETag.")
    def csv(self, request: Request, registry: FromPath[str], db_session: DbSession, registries: RegistriesDep) -> Response:
        return self._serve(request, db_session, _registry(registries, registry), "csv")

    @get("/indicators.json", sync_to_thread=True, media_type=MediaType.JSON,
         summary="Published indicator results as JSON with the data dictionary (open data, no key)",
         description="As indicators.csv, with the data dictionary, the definitions with their versions and the "
                     "publication's stamp (data date, computation time, scoring provenance).")
    def json(self, request: Request, registry: FromPath[str], db_session: DbSession, registries: RegistriesDep) -> Response:
        return self._serve(request, db_session, _registry(registries, registry), "json")

    @get("/indicators.csv-metadata.json", sync_to_thread=True, media_type="application/csvm+json",
         summary="The data dictionary of indicators.csv (W3C CSV on the Web metadata, no key)",
         description="What each column of indicators.csv holds, and what produced the file (definition versions, "
                     "scoring provenance, data date).")
    def csv_metadata(self, request: Request, registry: FromPath[str], db_session: DbSession, registries: RegistriesDep) -> Response:
        return self._serve(request, db_session, _registry(registries, registry), "csv-metadata.json")

    def _serve(self, request: Request, db_session: Session, registry: Registry, kind: str) -> Response:
        head = publication.head(db_session, registry.id)
        if head is None:
            raise NotFound(f"nothing is published for registry {registry.id} yet", where="path",
                           fix=f"publish first: promsvc results publish {registry.id}")
        etag = f'"{head.etag[:40]}-{kind}"'
        if (cached := _not_modified(request, etag)) is not None:
            return cached
        pub = publication.load(db_session, head.id)
        headers = PUBLIC_HEADERS | {"ETag": etag}
        if kind == "csv":
            body, media = opendata.csv_bytes(pub), "text/csv; charset=utf-8"
            headers["Link"] = '<indicators.csv-metadata.json>; rel="describedby"; type="application/csvm+json"'
        elif kind == "json":
            body, media = opendata.json_bytes(pub), MediaType.JSON
        else:
            body, media = opendata.csv_metadata_bytes(pub, "indicators.csv"), "application/csvm+json"
        return Response(body, media_type=media, headers=headers)


def _published(db_session: Session, caller: Caller, registry: Registry, action: str):
    found = publication.newest(db_session, registry.id)
    if found is None:
        audit.refuse(db_session, caller, action, registry.id, None, "not_found", NotFound(
            f"nothing is published for registry {registry.id} yet", where="path",
            fix=f"publish first: promsvc results publish {registry.id}"))
    return found


class ReportsApi(Controller):
    path = "/registries/{registry:str}"
    tags = ["results"]

    @get("/report.pdf", sync_to_thread=True, media_type="application/pdf",
         summary="The registry's results report (PDF), or one unit's",
         description="From the newest publication. Roles analyst and registry (own registry). Audited as report.read.")
    def report(self, registry: FromPath[str], db_session: DbSession, caller: CallerDep, registries: RegistriesDep,
               unit: Annotated[str | None, QueryParameter(description="A unit's report against its parents and the country.")] = None,
               period: Annotated[str | None, QueryParameter(description="A year; default: the newest.")] = None,
               lang: Annotated[Language, QueryParameter(description="nb, nn or en")] = "nb") -> Response:
        reg = registry_for(db_session, caller, registries, registry, "report.read", REPORT_ROLES)
        if unit is not None and unit not in reg.unit_ids():
            audit.refuse(db_session, caller, "report.read", reg.id, None, "not_found", NotFound(
                f"registry {reg.id} has no unit {unit!r}", where="query unit"))
        head, pub = _published(db_session, caller, reg, "report.read")
        ix = Index(pub, reg)
        if period is not None and period not in {p for d in ix.definitions for p in ix.periods(d)}:
            audit.refuse(db_session, caller, "report.read", reg.id, None, "invalid", Invalid(
                f"no results for period {period!r}", where="query period", fix=f"the newest is {head.period}"))
        pdf = documents.unit_report(ix, unit, lang, period) if unit else documents.registry_report(ix, lang, period)
        audit.record(db_session, caller.key_id, caller.role, "report.read", reg.id, None, "ok")
        db_session.commit()
        name = f"{reg.id}-{unit + '-' if unit else ''}{period or head.period}-{lang}.pdf"
        return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @get("/portal.csv", sync_to_thread=True, media_type="text/csv; charset=utf-8",
         summary="The national results portal's upload file (context, year, orgnr, ind_id, var, denominator)",
         description="Aggregate rows of the newest publication's published cells. Role registry (own registry). Audited as portal.read.")
    def portal(self, registry: FromPath[str], db_session: DbSession, caller: CallerDep, registries: RegistriesDep) -> Response:
        reg = registry_for(db_session, caller, registries, registry, "portal.read", PORTAL_ROLES)
        head, pub = _published(db_session, caller, reg, "portal.read")
        body = opendata.portal_bytes(pub)
        audit.record(db_session, caller.key_id, caller.role, "portal.read", reg.id, None, "ok")
        db_session.commit()
        return Response(body, media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{reg.id}-portal-{head.period}.csv"'})


def _static_headers(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


api_handlers = [ReportsApi]
routes = [
    ResultPages,
    OpenData,
    create_static_files_router(path=pages.STATIC_PATH, directories=[pages.STATIC_DIR], name="results-static",
                               after_request=_static_headers),
]
