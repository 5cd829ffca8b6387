"""The patient side: HTML pages at `/q/{token}`, and (from promsvc.patient.api) the same flow
as JSON at `/api/v1/forms/{token}`.

Pages (server-rendered, no JavaScript; docs/patient.md):

    GET  /q/{token}              start: what this is, and who answers (when proxies may)
    POST /q/{token}              the declaration → the first section not yet answered
    GET  /q/{token}/s/{n}        section n: one instrument
    POST /q/{token}/s/{n}        save it → next, back, "save and continue later", or a language
    GET  /q/{token}/saved        "your answers are saved"
    GET  /q/{token}/review       what was skipped, with links back
    POST /q/{token}/submit       store and score → the receipt

`routes` is what the application factory registers.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import HTTPException
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from sqlmodel import Session

from promsvc.deps import DbSession, RegistriesDep, SettingsDep
from promsvc.patient import forms, pages
from promsvc.patient import services as links
from promsvc.patient.api import FormsApi
from promsvc.patient.texts import Texts, language
from promsvc.registries.schema import Registry
from promsvc.responses import services as responses
from promsvc.settings import Settings

log = logging.getLogger("promsvc.patient")

Form = URLEncodedBody[dict[str, str]]
# A section's fields: the checkboxes of a multi item send one value per ticked option.
SectionForm = URLEncodedBody[dict[str, str | list[str]]]
Registries = dict[str, Registry]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _lang(request: Request, link: links.Link) -> str:
    stored = link.draft.language if link.draft is not None else link.episode.language
    return language(request.query_params.get("lang"), stored)


class _Page:
    """One request's view of a link: language, texts, addresses and the CSRF token."""

    def __init__(self, request: Request, settings: Settings, link: links.Link, token: str, lang: str):
        self.request, self.settings, self.link, self.lang = request, settings, link, lang
        self.t = Texts(lang)
        self.base = f"/q/{token}"
        self.nonce = pages.csrf_nonce(request)

    def section_href(self, number: int) -> str:
        return f"{self.base}/s/{number}"

    def render(self, template: str, page_title: str, *, status: int = 200, switch: bool = True, **context: Any) -> Response:
        return pages.render(
            self.request, template, t=self.t, page_title=f"{page_title} – {self.t('questionnaire')}",
            site_name=getattr(self.link.registry.name, self.lang), status=status, nonce=self.nonce,
            secure=self.settings.base_url.startswith("https://"),
            csrf_token=pages.csrf_token(self.settings.secret_key, self.nonce, self.link.invitation.id),
            languages=pages.languages(self.lang, lambda code: f"?lang={code}") if switch else [],
            **context,
        )

    def expires(self) -> str:
        return self.t.date(self.link.invitation.expires_at, self.settings.time_zone)


def _redirect(path: str) -> Response:
    return Redirect(path, status_code=303, headers=dict(pages.SECURITY_HEADERS))


def _open(db_session: Session, registries: Registries, token: str) -> links.Link:
    return links.open_link(db_session, registries, token, _now())


def _check_csrf(request: Request, data: dict[str, str], settings: Settings, link: links.Link) -> None:
    if not pages.csrf_ok(request, data, settings.secret_key, link.invitation.id):
        raise _CsrfRefused(f"/q/{request.path_params['token']}", _lang(request, link))


class _CsrfRefused(Exception):
    def __init__(self, form_href: str, lang: str):
        self.form_href, self.lang = form_href, lang


def _needs_declaration(link: links.Link) -> bool:
    return link.proxy_allowed and link.draft is None


class PatientPages(Controller):
    path = "/q/{token:str}"
    include_in_schema = False

    @get("/", sync_to_thread=True)
    def start(self, token: FromPath[str], request: Request, db_session: DbSession, settings: SettingsDep, registries: RegistriesDep) -> Response:
        link = _open(db_session, registries, token)
        page = _Page(request, settings, link, token, _lang(request, link))
        links.set_language(db_session, link, page.lang, _now())
        return _start_page(page)

    @post("/", sync_to_thread=True, status_code=303)
    def declare(self, token: FromPath[str], request: Request, data: Form, db_session: DbSession, settings: SettingsDep, registries: RegistriesDep) -> Response:
        link = _open(db_session, registries, token)
        _check_csrf(request, data, settings, link)
        page = _Page(request, settings, link, token, language(data.get("lang"), _lang(request, link)))
        respondent = "patient"
        if link.proxy_allowed:
            respondent = data.get("respondent", "")
            confirmed = data.get("proxy_confirm") == "yes"
            found = []
            if respondent not in ("patient", "proxy"):
                found.append(forms.FieldError("field-respondent", page.t("error_respondent")))
            elif respondent == "proxy" and not confirmed:
                found.append(forms.FieldError("field-proxy-confirm", page.t("error_proxy_confirm")))
            if found:
                return _start_page(page, errors=found, respondent=respondent, confirmed=confirmed, status=422)
        links.save_draft(db_session, link, {}, now=_now(), language=page.lang, respondent=respondent)
        number = forms.first_unfinished(link.instruments, link.answers)
        return _redirect(page.section_href(number) if number else f"{page.base}/review")

    @get("/s/{number:int}", sync_to_thread=True)
    def section(self, token: FromPath[str], number: FromPath[int], request: Request, db_session: DbSession, settings: SettingsDep, registries: RegistriesDep) -> Response:
        link = _open(db_session, registries, token)
        _section_number(link, number)
        if _needs_declaration(link):
            return _redirect(f"/q/{token}")
        page = _Page(request, settings, link, token, _lang(request, link))
        links.set_language(db_session, link, page.lang, _now())
        return _section_page(page, number, link.answers.get(link.instruments[number - 1].id, {}))

    @post("/s/{number:int}", sync_to_thread=True, status_code=303)
    def save_section(self, token: FromPath[str], number: FromPath[int], request: Request, data: SectionForm, db_session: DbSession, settings: SettingsDep, registries: RegistriesDep) -> Response:
        link = _open(db_session, registries, token)
        _check_csrf(request, data, settings, link)
        _section_number(link, number)
        if _needs_declaration(link):
            return _redirect(f"/q/{token}")
        action = forms.one_value(data, "action") or "next"
        chosen = action.removeprefix("lang-") if action.startswith("lang-") else None
        page = _Page(request, settings, link, token, language(chosen or forms.one_value(data, "lang"), _lang(request, link)))
        instrument = link.instruments[number - 1]
        wording = links.wordings(link, settings.overlays_dir, page.lang)[number - 1]
        answers, entered, found = forms.parse_section(instrument, data, wording, page.t)
        if found:
            return _section_page(page, number, answers, entered=entered, found=found, status=422)
        links.save_draft(db_session, link, {instrument.id: answers}, now=_now(), language=page.lang)
        if action == "back":
            return _redirect(page.section_href(number - 1) if number > 1 else page.base)
        if action == "save":
            return _redirect(f"{page.base}/saved")
        if chosen:
            return _redirect(page.section_href(number))
        return _redirect(page.section_href(number + 1) if number < len(link.instruments) else f"{page.base}/review")

    @get("/saved", sync_to_thread=True)
    def saved(self, token: FromPath[str], request: Request, db_session: DbSession, settings: SettingsDep, registries: RegistriesDep) -> Response:
        link = _open(db_session, registries, token)
        page = _Page(request, settings, link, token, _lang(request, link))
        return page.render("saved.html", page.t("saved_title"), expires=page.expires(), continue_href=page.base)

    @get("/review", sync_to_thread=True)
    def review(self, token: FromPath[str], request: Request, db_session: DbSession, settings: SettingsDep, registries: RegistriesDep) -> Response:
        link = _open(db_session, registries, token)
        if _needs_declaration(link):
            return _redirect(f"/q/{token}")
        page = _Page(request, settings, link, token, _lang(request, link))
        links.set_language(db_session, link, page.lang, _now())
        return _review_page(page)

    @post("/submit", sync_to_thread=True, status_code=200)
    def submit(self, token: FromPath[str], request: Request, data: Form, db_session: DbSession, settings: SettingsDep, registries: RegistriesDep) -> Response:
        try:
            link = _open(db_session, registries, token)
        except links.LinkGone as gone:
            # A second submission (another tab, a retry): show the receipt already given.
            receipt = _stored_receipt(db_session, token, gone)
            return _receipt_page(request, settings, Texts(language(request.query_params.get("lang"), gone.language)), receipt)
        _check_csrf(request, data, settings, link)
        if _needs_declaration(link):
            return _redirect(f"/q/{token}")
        page = _Page(request, settings, link, token, _lang(request, link))
        try:
            receipt, _created = links.submit(db_session, link, link.answers, page.lang, link.respondent, _now())
        except responses.InvalidAnswers as e:
            found = [
                forms.FieldError(_problem_anchor(page, p.path), p.message) for p in e.problems
            ]
            return _review_page(page, errors=found, status=422)
        return _receipt_page(request, settings, page.t, receipt)


def _section_number(link: links.Link, number: int) -> None:
    if not 1 <= number <= len(link.instruments):
        raise links.LinkNotFound()


def _stored_receipt(db_session: Session, token: str, gone: links.LinkGone) -> responses.Receipt:
    invitation = links.find_invitation(db_session, token)
    receipt = responses.stored_receipt(db_session, invitation.id) if gone.reason == "completed" and invitation else None
    if receipt is None:
        raise gone
    return receipt


def _problem_anchor(page: _Page, path: str) -> str:
    # "$.answers.rand36.q3" → the section of rand36, at item q3 (the review links there)
    parts = path.split(".")
    if len(parts) >= 4 and any(i.id == parts[2] for i in page.link.instruments):
        return f"{page.section_href(page.link.instrument_number(parts[2]))}#{forms.field_id(parts[3])}"
    return "main"


def _start_page(page: _Page, *, errors: list | None = None, respondent: str | None = None, confirmed: bool | None = None, status: int = 200) -> Response:
    link = page.link
    resumed = link.draft is not None
    if respondent is None:
        respondent = link.respondent if resumed else ""
    if confirmed is None:
        confirmed = resumed and link.respondent == "proxy"
    by_field = {e.field_id: e.message for e in errors or []}
    return page.render(
        "start.html", getattr(link.time_point.title, page.lang), status=status, errors=errors or [],
        heading=page.t("questionnaire"), caption=getattr(link.time_point.title, page.lang),
        registry_name=getattr(link.registry.name, page.lang), total=len(link.instruments),
        resumed=resumed, expires=page.expires(), action=page.base, proxy_allowed=link.proxy_allowed,
        respondent=respondent, confirmed=confirmed,
        respondent_error=by_field.get("field-respondent"), confirm_error=by_field.get("field-proxy-confirm"),
    )


def _section_page(page: _Page, number: int, answers: dict, *, entered=None, found=None, status: int = 200) -> Response:
    link = page.link
    instrument = link.instruments[number - 1]
    wording = links.wordings(link, page.settings.overlays_dir, page.lang)[number - 1]
    by_item = {e.field_id.removeprefix("field-"): e.message for e in found or []}
    items = forms.items_view(instrument, wording, page.t, answers, entered=entered, errors=by_item)
    return page.render(
        "section.html", f"{page.t('progress', n=number, total=len(link.instruments))}: {wording.title}",
        status=status, errors=found or [], heading=wording.title, instructions=wording.instructions,
        items=items, number=number, total=len(link.instruments), action=page.section_href(number),
        proxy=link.respondent == "proxy",
    )


def _review_page(page: _Page, *, errors: list | None = None, status: int = 200) -> Response:
    link = page.link
    sections = forms.review_view(list(zip(link.instruments, links.wordings(link, page.settings.overlays_dir, page.lang))), link.answers, page.section_href)
    return page.render(
        "review.html", page.t("review_title"), status=status, errors=errors or [], sections=sections,
        any_skipped=any(s.skipped for s in sections), action=f"{page.base}/submit",
        back_href=page.section_href(len(link.instruments)), proxy=link.respondent == "proxy",
    )


def _receipt_page(request: Request, settings: Settings, t: Texts, receipt: responses.Receipt) -> Response:
    # Nothing about health here, not even the registry's name: the page may be seen by others.
    return pages.render(request, "receipt.html", t=t, page_title=t("receipt_title"), received=t.time(receipt.received_at, settings.time_zone))


# ---------------------------------------------------------------------------------------------
# What the pages show when a link cannot be used, or something fails


def _not_found_page(request: Request, exc: Exception) -> Response:
    # The same generic page whether the token never existed or is unusable for another reason.
    return pages.message(request, Texts("nb"), 404, ["not_found_body"], "not_found_title", also=[Texts("nn"), Texts("en")])


def _gone_page(request: Request, exc: links.LinkGone) -> Response:
    t = Texts(language(request.query_params.get("lang"), exc.language))
    return pages.message(request, t, 410, [f"gone_{exc.reason}", "gone_contact"], "gone_title")


def _csrf_page(request: Request, exc: _CsrfRefused) -> Response:
    t = Texts(exc.lang)
    return pages.message(request, t, 403, ["forbidden_body"], "forbidden_title", link={"href": exc.form_href, "text": "forbidden_link"})


def _failed_page(request: Request, exc: Exception) -> Response:
    if isinstance(exc, HTTPException) and exc.status_code == 404:
        return _not_found_page(request, exc)
    status = exc.status_code if isinstance(exc, HTTPException) and exc.status_code < 500 else 500
    if status == 500:
        # Only the type and the route template: the message may quote answers, the path has the token.
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.scope.get("path_template", "?"))
    return pages.message(request, Texts("nb"), status, ["error_body"], "error_title", also=[Texts("en")])


PatientPages.exception_handlers = {
    links.LinkNotFound: _not_found_page,
    links.LinkGone: _gone_page,
    _CsrfRefused: _csrf_page,
    Exception: _failed_page,
}


def _static_headers(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


routes = [
    PatientPages,
    FormsApi,
    create_static_files_router(path=pages.STATIC_PATH, directories=[pages.STATIC_DIR], name="patient-static", after_request=_static_headers),
]
