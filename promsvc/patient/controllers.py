"""The patient side: HTML pages at `/q/{token}`, and (from promsvc.patient.api) the same flow
as JSON at `/api/v1/forms/{token}`.

Pages (server-rendered, no JavaScript; docs/patient.md):

    GET  /q/{token}              start: what this is, how long it takes, and who answers
    POST /q/{token}              the declaration → where the patient left off (or page 1)
    GET  /q/{token}/s/{n}        page n (an instrument, or a section of a long one)
    POST /q/{token}/s/{n}        save it → next, back, "save and continue later", or a language
    GET  /q/{token}/saved        "your answers are saved"
    GET  /q/{token}/review       what was skipped, with links back
    POST /q/{token}/submit       store and score → 303 to the receipt
    GET  /q/{token}/receipt      the receipt: when, what happens next, a link to the copy
    GET  /q/{token}/answers      a printable copy of the answers (answers only)
    GET  /q/{token}/privacy      the registry's data controller, legal basis, privacy statement, contact

The page building lives in promsvc.patient.views; `routes` is what the application factory
registers.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping

from litestar import Controller, Request, Response, get, post
from litestar.concurrency import sync_to_thread
from litestar.exceptions import HTTPException
from litestar.params import FromPath, URLEncodedBody
from litestar.static_files import create_static_files_router
from sqlmodel import Session

from promsvc import csrf
from promsvc.deps import DbSession, RegistriesDep, SettingsDep
from promsvc.patient import drafts, forms, info, links, pages, paging, submission, views
from promsvc.patient.api import FormsApi
from promsvc.patient.views import View, redirect
from promsvc.responses import submission as responses

log = logging.getLogger("promsvc.patient")

Form = URLEncodedBody[dict[str, str]]
# A page's fields: the checkboxes of a multi item send one value per ticked option.
PageForm = URLEncodedBody[dict[str, str | list[str]]]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class _SeeReceipt(Exception):
    """A page of a link already sent, opened in the browser that sent it (back, reload)."""

    def __init__(self, token: str):
        self.token = token


class _SeeStart(Exception):
    """The receipt or copy asked for in a browser that did not send the answers, of a link
    that can still be answered: its start page."""

    def __init__(self, token: str):
        self.token = token


def _open(request: Request, db_session: Session, settings, registries, token: str) -> links.Link:
    """The usable link of `token`. A GET of a link already sent, in the browser that sent it
    (its receipt cookie), goes to the receipt instead of an error (the back button)."""
    try:
        return links.open_link(db_session, registries, token, _now())
    except links.LinkGone as gone:
        if gone.reason == "completed" and request.method == "GET" and \
                pages.receipt_ok(request, settings.secret_key, gone.invitation_id, _now()):
            raise _SeeReceipt(token) from None
        raise


def _check_csrf(request: Request, data: Mapping[str, str | list[str]], settings, link: links.Link) -> None:
    if not csrf.ok(request, data, settings.secret_key, link.invitation.id):
        raise _CsrfRefused(f"/q/{request.path_params['token']}", views.link_language(request, link), link.registry)


class _CsrfRefused(Exception):
    def __init__(self, form_href: str, lang: str, registry):
        self.form_href, self.lang, self.registry = form_href, lang, registry


def _needs_declaration(link: links.Link) -> bool:
    return link.proxy_allowed and link.draft is None


class PatientPages(Controller):
    path = "/q/{token:str}"
    include_in_schema = False

    @get("/", sync_to_thread=True)
    def start(self, token: FromPath[str], request: Request, db_session: DbSession, settings: SettingsDep, registries: RegistriesDep) -> Response:
        link = _open(request, db_session, settings, registries, token)
        view = View(request, settings, link, token)
        drafts.set_language(db_session, link, view.lang, _now())
        return views.start_page(view)

    @post("/", sync_to_thread=True, status_code=303)
    def declare(self, token: FromPath[str], request: Request, data: Form, db_session: DbSession, settings: SettingsDep, registries: RegistriesDep) -> Response:
        link = _open(request, db_session, settings, registries, token)
        _check_csrf(request, data, settings, link)
        view = View(request, settings, link, token, data.get("lang"))
        respondent = "patient"
        if link.proxy_allowed:
            respondent = data.get("respondent", "")
            confirmed = data.get("proxy_confirm") == "yes"
            found = []
            if respondent not in ("patient", "proxy"):
                found.append(forms.FieldError("field-respondent", view.t("error_respondent")))
            elif respondent == "proxy" and not confirmed:
                found.append(forms.FieldError("field-proxy-confirm", view.t("error_proxy_confirm")))
            if found:
                return views.start_page(view, errors=found, respondent=respondent, confirmed=confirmed, status=422)
        drafts.save_draft(db_session, link, {}, now=_now(), language=view.lang, respondent=respondent)
        resume = paging.resume_page(view.pages, link.answers, link.seen)
        return redirect(view.page_href(resume.number) if resume else f"{view.base}/review")

    @get("/s/{number:int}", sync_to_thread=True)
    def section(self, token: FromPath[str], number: FromPath[int], request: Request, db_session: DbSession, settings: SettingsDep, registries: RegistriesDep) -> Response:
        link = _open(request, db_session, settings, registries, token)
        view = View(request, settings, link, token)
        page = view.page(number)
        if _needs_declaration(link):
            return redirect(view.base)
        drafts.set_language(db_session, link, view.lang, _now())
        return views.page_view(view, page, link.answers.get(page.instrument.id, {}))

    @post("/s/{number:int}", sync_to_thread=True, status_code=303)
    def save_section(self, token: FromPath[str], number: FromPath[int], request: Request, data: PageForm, db_session: DbSession, settings: SettingsDep, registries: RegistriesDep) -> Response:
        try:
            link = _open(request, db_session, settings, registries, token)
        except links.LinkGone as gone:
            if gone.reason != "expired":
                raise
            return _late(request, data, db_session, settings, registries, token, gone, number)
        _check_csrf(request, data, settings, link)
        action = forms.one_value(data, "action") or "next"
        chosen = action.removeprefix("lang-") if action.startswith("lang-") else None
        view = View(request, settings, link, token, chosen or forms.one_value(data, "lang"))
        page = view.page(number)
        if _needs_declaration(link):
            return redirect(view.base)
        wording = view.wordings[page.instrument.id]
        answers, entered, found = forms.parse_page(page, data, wording, view.t, link.answers.get(page.instrument.id, {}))
        if found:
            return views.page_view(view, page, answers, entered=entered, found=found, status=422)
        drafts.save_draft(db_session, link, {page.instrument.id: answers}, now=_now(), language=view.lang,
                         seen=paging.with_seen(link.seen, link.answers, page))
        if action == "back":
            return redirect(view.page_href(number - 1) if number > 1 else view.base)
        if action == "save":
            return redirect(f"{view.base}/saved")
        if chosen:
            return redirect(view.page_href(number))
        return redirect(view.page_href(number + 1) if number < len(view.pages) else f"{view.base}/review")

    @get("/saved", sync_to_thread=True)
    def saved(self, token: FromPath[str], request: Request, db_session: DbSession, settings: SettingsDep, registries: RegistriesDep) -> Response:
        link = _open(request, db_session, settings, registries, token)
        view = View(request, settings, link, token)
        return view.render("saved.html", view.t("saved_title"), heading=view.t("saved_title"), deadline=view.deadline(), continue_href=view.base)

    @get("/review", sync_to_thread=True)
    def review(self, token: FromPath[str], request: Request, db_session: DbSession, settings: SettingsDep, registries: RegistriesDep) -> Response:
        link = _open(request, db_session, settings, registries, token)
        if _needs_declaration(link):
            return redirect(f"/q/{token}")
        view = View(request, settings, link, token)
        drafts.set_language(db_session, link, view.lang, _now())
        return views.review_page(view)

    @post("/submit", status_code=303)
    async def submit(self, token: FromPath[str], request: Request, data: Form, db_session: DbSession, settings: SettingsDep, registries: RegistriesDep) -> Response:
        ready = await sync_to_thread(_ready_to_submit, request, data, db_session, settings, registries, token)
        if isinstance(ready, Response):
            return ready
        # The draft's answers, through the same path as the form API's (promsvc.patient.submission).
        view, link = ready
        try:
            receipt, _created = await submission.submit(request.app.state, token, link.answers, language=view.lang,
                                                        respondent=link.respondent)
        except responses.InvalidAnswers as e:
            found = [forms.FieldError(views.problem_anchor(view, p.path), p.message) for p in e.problems]
            return await sync_to_thread(views.review_page, view, errors=found, status=422)
        return views.to_receipt(view.base, settings, link.invitation.id, receipt)

    @get("/receipt", sync_to_thread=True)
    def receipt(self, token: FromPath[str], request: Request, db_session: DbSession, settings: SettingsDep, registries: RegistriesDep) -> Response:
        sent = _sent(request, db_session, settings, registries, token)
        return views.receipt_page(request, db_session, settings, registries, token, *sent)

    @get("/answers", sync_to_thread=True)
    def answers(self, token: FromPath[str], request: Request, db_session: DbSession, settings: SettingsDep, registries: RegistriesDep) -> Response:
        sent = _sent(request, db_session, settings, registries, token)
        return views.copy_page(request, db_session, settings, registries, token, *sent)

    @get("/privacy", sync_to_thread=True)
    def privacy(self, token: FromPath[str], request: Request, db_session: DbSession, registries: RegistriesDep) -> Response:
        invitation = links.find_invitation(db_session, token)
        registry = registries.get(invitation.registry_id) if invitation is not None else None
        if invitation is None or registry is None:
            raise links.LinkNotFound()
        episode_language = links.link_language(db_session, invitation)
        return views.privacy_page(request, registry, token, episode_language)


def _ready_to_submit(request: Request, data: dict[str, str], db_session: Session, settings, registries,
                     token: str) -> tuple[View, links.Link] | Response:
    """The checks of the submit button before the answers go: the link is usable, the form is
    this browser's (CSRF), the declaration was made; else the page to show instead. Ends the
    request's transaction, so that it holds no lock while the answers are stored."""
    try:
        link = _open(request, db_session, settings, registries, token)
    except links.LinkGone as gone:
        if gone.reason == "expired":
            return _late(request, data, db_session, settings, registries, token, gone, None)
        return _sent_before(request, data, db_session, settings, token, gone)
    _check_csrf(request, data, settings, link)
    if _needs_declaration(link):
        return redirect(f"/q/{token}")
    view = View(request, settings, link, token)
    db_session.commit()
    return view, link


def _sent(request: Request, db_session: Session, settings, registries, token: str):
    """The invitation and receipt of a link whose answers this browser sent a moment ago (its
    receipt cookie); otherwise what opening the link shows (the start page or a 410)."""
    invitation = links.find_invitation(db_session, token)
    receipt = responses.stored_receipt(db_session, invitation.id) if invitation is not None else None
    if invitation is None or receipt is None or not pages.receipt_ok(request, settings.secret_key, invitation.id, _now()):
        _open(request, db_session, settings, registries, token)  # raises LinkGone / LinkNotFound
        raise _SeeStart(token)
    return invitation, receipt


def _sent_before(request: Request, data: Mapping[str, str | list[str]], db_session: Session, settings, token: str, gone: links.LinkGone) -> Response:
    """A second submission (another tab, a retry, back and send again) from the browser that
    holds the form's CSRF token: the receipt of the first. Anyone else: the 410 page."""
    receipt = responses.stored_receipt(db_session, gone.invitation_id) if gone.reason == "completed" else None
    if receipt is None or not csrf.ok(request, data, settings.secret_key, gone.invitation_id):
        raise gone
    return views.to_receipt(f"/q/{token}", settings, gone.invitation_id, receipt)


def _late(request: Request, data: Mapping[str, str | list[str]], db_session: Session, settings, registries, token: str,
          gone: links.LinkGone, number: int | None) -> Response:
    """A page posted after the deadline: what it carries is kept in the draft (not thrown away),
    and the page says plainly that the questionnaire can no longer be sent (410)."""
    link = links.late_link(db_session, registries, token, _now())
    if link is None or not csrf.ok(request, data, settings.secret_key, link.invitation.id):
        raise gone
    view = View(request, settings, link, token)
    if number is not None and 1 <= number <= len(view.pages):
        page = view.pages[number - 1]
        answers, _entered, _found = forms.parse_page(page, data, view.wordings[page.instrument.id], view.t,
                                                     link.answers.get(page.instrument.id, {}))
        drafts.save_draft(db_session, link, {page.instrument.id: answers}, now=_now(),
                         seen=paging.with_seen(link.seen, link.answers, page))
    return views.late_page(view)


# ---------------------------------------------------------------------------------------------
# What the pages show when a link cannot be used, or something fails


def _not_found_page(request: Request, exc: Exception) -> Response:
    # The same generic page whether the token never existed or is unusable for another reason.
    return views.problem_page(request, 404, "not_found_title", ["not_found_body"])


def _gone_page(request: Request, exc: links.LinkGone) -> Response:
    return views.gone_page(request, exc)


def _csrf_page(request: Request, exc: _CsrfRefused) -> Response:
    return views.problem_page(request, 403, "forbidden_title", ["forbidden_body"], lang=exc.lang,
                              registry=exc.registry, link=(exc.form_href, "forbidden_link"), switch_path=exc.form_href)


def _failed_page(request: Request, exc: Exception) -> Response:
    if isinstance(exc, HTTPException) and exc.status_code == 404:
        return _not_found_page(request, exc)
    status = exc.status_code if isinstance(exc, HTTPException) and exc.status_code < 500 else 500
    if status == 500:
        # Only the type and the route template: the message may quote answers, the path has the token.
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.scope.get("path_template", "?"))
    return views.problem_page(request, status, "error_title", ["error_body"])


PatientPages.exception_handlers = {
    links.LinkNotFound: _not_found_page,
    links.LinkGone: _gone_page,
    _CsrfRefused: _csrf_page,
    _SeeReceipt: lambda request, exc: redirect(f"/q/{exc.token}/receipt"),
    _SeeStart: lambda request, exc: redirect(f"/q/{exc.token}"),
    Exception: _failed_page,
}


def _static_headers(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


routes = [
    PatientPages,
    FormsApi,
    *info.routes,
    create_static_files_router(path=pages.STATIC_PATH, directories=[pages.STATIC_DIR], name="patient-static", after_request=_static_headers),
]
