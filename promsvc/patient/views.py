"""The patient pages as the patient sees them: each page built from a link, its texts and the
request (promsvc.patient.controllers decides which page; this module builds it).

Every page has its language switch (the registry's languages), ends with links to the
registry's privacy page and the accessibility statement, and names whom to contact when a
link cannot be used. The receipt and the copy of the answers carry no registry name, so that a
screen seen by others says nothing about the patient's health.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.response import Redirect
from sqlmodel import Session, select

from instruments.answers import is_asked
from promsvc import audit, csrf
from promsvc.models import Invitation
from promsvc.models import Response as StoredResponse
from promsvc.patient import forms, links, pages, paging
from promsvc.patient.texts import LANGUAGES, Texts, language
from promsvc.registries.schema import Registry
from promsvc.responses import submission as responses
from promsvc.settings import Settings


def redirect(path: str) -> Response:
    return Redirect(path, status_code=303, headers=dict(pages.SECURITY_HEADERS))


def link_language(request: Request, link: links.Link) -> str:
    stored = link.draft.language if link.draft is not None else link.episode.language
    return language(request.query_params.get("lang"), stored, link.registry.languages)


class View:
    """One request's view of a usable link: language, texts, pages, wording, addresses and the
    CSRF token. `requested` (a posted language) wins over `?lang=` and the saved language."""

    def __init__(self, request: Request, settings: Settings, link: links.Link, token: str, requested: str | None = None):
        self.request, self.settings, self.link = request, settings, link
        self.lang = language(requested, link_language(request, link), link.registry.languages)
        self.t = Texts(self.lang)
        self.base = f"/q/{token}"
        self.nonce = csrf.nonce(request)
        self.pages = paging.pages_of(link.instruments)
        self.wordings = {w.instrument.id: w for w in links.wordings(link, request.app.state.registries.overlays, self.lang)}

    def page_href(self, number: int) -> str:
        return f"{self.base}/s/{number}"

    def page(self, number: int) -> paging.Page:
        if not 1 <= number <= len(self.pages):
            raise links.LinkNotFound()
        return self.pages[number - 1]

    def deadline(self) -> str:
        return self.t.deadline(self.link.invitation.expires_at, self.settings.time_zone)

    def _here(self) -> str:
        # Where the language switch goes: this page, or for a page shown in answer to a POST
        # (errors, the deadline passed) the page to GET instead (the review for "Send").
        path = self.request.url.path
        if self.request.method == "GET":
            return path
        return f"{self.base}/review" if path.endswith("/submit") else path

    def render(self, template: str, page_title: str, *, status: int = 200, **context: Any) -> Response:
        return pages.render(
            self.request, template, t=self.t, page_title=f"{page_title} – {self.t('questionnaire')}",
            site_name=getattr(self.link.registry.name, self.lang), status=status, nonce=self.nonce,
            secure=self.settings.base_url.startswith("https://"),
            csrf_token=csrf.token(self.settings.secret_key, self.nonce, self.link.invitation.id),
            languages=pages.languages(self.lang, pages.switch_to(self._here()), self.link.registry.languages),
            footer=pages.footer(self.t, privacy_href(self.link.registry, self.base, self.lang)),
            **context,
        )


def privacy_href(registry: Registry, base: str, lang: str) -> str | None:
    return f"{base}/privacy?lang={lang}" if registry.privacy or registry.contact else None


def contact_view(t: Texts, registry: Registry | None) -> dict[str, Any] | None:
    """Whom to contact, in `t`'s language; None when the registry gave no contact."""
    contact = registry.contact if registry is not None else None
    if contact is None:
        return None
    return {
        "intro": t("contact_intro", name=getattr(contact.name, t.lang)),
        "rows": [(t("contact_phone"), contact.phone, f"tel:{contact.phone.replace(' ', '')}"),
                 (t("contact_email"), contact.email, f"mailto:{contact.email}")],
        "postal_label": t("contact_postal"),
        "postal": contact.postal.splitlines(),
    }


# ---------------------------------------------------------------------------------------------
# The questionnaire


def start_page(view: View, *, errors: list | None = None, respondent: str | None = None, confirmed: bool | None = None, status: int = 200) -> Response:
    link, t = view.link, view.t
    resumed = link.draft is not None
    if respondent is None:
        respondent = link.respondent if resumed else ""
    if confirmed is None:
        confirmed = resumed and link.respondent == "proxy"
    by_field = {e.field_id: e.message for e in errors or []}
    questions = paging.progress(link.instruments, link.answers).total
    minutes = paging.usual_minutes(link.instruments)
    size = t("start_size", questions=questions, pages=len(view.pages)) if len(view.pages) > 1 \
        else t("start_size_one_page", questions=questions)
    return view.render(
        "start.html", getattr(link.time_point.title, view.lang), status=status, errors=errors or [],
        heading=t("questionnaire"), caption=getattr(link.time_point.title, view.lang),
        registry_name=getattr(link.registry.name, view.lang), size=size,
        usual_time=t("start_time", minutes=minutes) if minutes > 1 else t("start_time_one"),
        resumed=resumed, deadline=view.deadline(), action=view.base, proxy_allowed=link.proxy_allowed,
        respondent=respondent, confirmed=confirmed,
        respondent_error=by_field.get("field-respondent"), confirm_error=by_field.get("field-proxy-confirm"),
    )


def page_view(view: View, page: paging.Page, answers: dict, *, entered=None, found=None, status: int = 200) -> Response:
    link, t = view.link, view.t
    wording = view.wordings[page.instrument.id]
    by_item = {e.field_id.removeprefix("field-"): e.message for e in found or []}
    items = forms.items_view(page, wording, t, answers, entered=entered, errors=by_item)
    heading = wording.title if page.parts == 1 else f"{wording.title} ({t('part_of', part=page.part, parts=page.parts)})"
    done = paging.progress(link.instruments, link.answers)
    return view.render(
        "section.html", f"{t('page_progress', n=page.number, total=len(view.pages))}: {heading}",
        status=status, errors=found or [], heading=heading, instructions=wording.instructions if page.part == 1 else None,
        items=items, number=page.number, total=len(view.pages), action=view.page_href(page.number),
        answered=t("answered_progress", answered=done.answered, total=done.total),
        proxy=link.respondent == "proxy", credit=t.get(f"credit_{page.instrument.id}"),
    )


def review_page(view: View, *, errors: list | None = None, status: int = 200) -> Response:
    link = view.link
    sections = forms.review_view(view.pages, view.wordings, link.answers, view.page_href)
    return view.render(
        "review.html", view.t("review_title"), status=status, errors=errors or [], heading=view.t("review_title"),
        sections=sections, any_skipped=any(s.skipped for s in sections), action=f"{view.base}/submit",
        back_href=view.page_href(len(view.pages)), proxy=link.respondent == "proxy", deadline=view.deadline(),
    )


def problem_anchor(view: View, path: str) -> str:
    # "$.answers.rand36.q3" → the page with item q3 of rand36 (the review links there)
    parts = path.split(".")
    if len(parts) >= 4 and any(i.id == parts[2] for i in view.link.instruments):
        try:
            page = paging.page_of_item(view.pages, parts[2], parts[3])
        except StopIteration:
            return "main"
        return f"{view.page_href(page.number)}#{forms.field_id(parts[3])}"
    return "main"


def late_page(view: View) -> Response:
    """After the deadline: the answers posted were kept; nothing can be sent (410)."""
    t = view.t
    return view.render(
        "message.html", t("late_title"), status=410, title=t("late_title"),
        paragraphs=[t("late_body", deadline=view.deadline())], link=None,
        contact=contact_view(t, view.link.registry),
    )


# ---------------------------------------------------------------------------------------------
# After sending: the receipt (reached by redirect) and the copy of the answers


def to_receipt(base: str, settings: Settings, invitation_id: str, receipt: responses.Receipt) -> Response:
    """303 to the receipt, with the cookie that lets this browser see it for a while."""
    response = redirect(f"{base}/receipt")
    response.cookies.append(pages.receipt_cookie(settings.secret_key, invitation_id, receipt.received_at,
                                                 settings.base_url.startswith("https://")))
    return response


def _sent_view(request: Request, db_session: Session, registries, token: str, invitation: Invitation):
    rows = db_session.exec(select(StoredResponse).where(StoredResponse.invitation_id == invitation.id)).all()
    registry = registries.get(invitation.registry_id)
    allowed = registry.languages if registry is not None else LANGUAGES
    t = Texts(language(request.query_params.get("lang"), rows[0].language if rows else None, allowed))
    switch = pages.languages(t.lang, pages.switch_to(request.url.path), allowed)
    foot = pages.footer(t, privacy_href(registry, f"/q/{token}", t.lang) if registry is not None else None)
    return rows, registry, t, switch, foot


def receipt_page(request: Request, db_session: Session, settings: Settings, registries, token: str,
                 invitation: Invitation, receipt: responses.Receipt) -> Response:
    # Nothing about health here, not even the registry's name: the page may be seen by others.
    _rows, _registry, t, switch, foot = _sent_view(request, db_session, registries, token, invitation)
    return pages.render(
        request, "receipt.html", t=t, page_title=t("receipt_title"), received=t.time(receipt.received_at, settings.time_zone),
        copy_href=f"/q/{token}/answers?lang={t.lang}", minutes=pages.RECEIPT_MINUTES, languages=switch, footer=foot,
    )


def copy_page(request: Request, db_session: Session, settings: Settings, registries, token: str,
              invitation: Invitation, receipt: responses.Receipt) -> Response:
    """The answers as sent (no scores), to read or print; audited as a read of patient data."""
    rows, registry, t, switch, foot = _sent_view(request, db_session, registries, token, invitation)
    order = {i: n for n, i in enumerate(receipt.instruments)}
    sections = []
    for row in sorted(rows, key=lambda r: order.get(r.instrument_id, 0)):
        ins = registries.instruments.version(row.instrument_id, row.instrument_version)
        if ins is None:
            continue  # an instrument version no longer loaded: nothing to word its answers with
        wording = forms.Wording(ins, t.lang, registries.overlays.get(invitation.registry_id, ins) if registry else None)
        answers = dict(row.answers)
        items = []
        for number, item in enumerate(ins.items, start=1):
            if not is_asked(ins, item, answers):
                continue
            code = answers.get(item.id)
            if code is None:
                shown = t("copy_unanswered")
            elif item.kind == "choice":
                shown = wording.option(item, code)
            elif item.kind == "multi":
                shown = "; ".join(wording.option(item, c) for c in code)
            else:
                shown = str(code)
            items.append({"number": number, "text": wording.item(item), "answer": shown, "answered": code is not None})
        sections.append({"title": wording.title, "questions": items})
    audit.record(db_session, "patient", "patient", "response.copy", invitation.registry_id, invitation.episode_id, "ok")
    db_session.commit()
    return pages.render(
        request, "answers.html", t=t, page_title=t("copy_title"), sections=sections,
        sent=t.time(receipt.received_at, settings.time_zone), back_href=f"/q/{token}/receipt?lang={t.lang}",
        languages=switch, footer=foot,
    )


# ---------------------------------------------------------------------------------------------
# What a patient is entitled to know


def privacy_page(request: Request, registry: Registry, token: str, stored_language: str) -> Response:
    t = Texts(language(request.query_params.get("lang"), stored_language, registry.languages))
    privacy = registry.privacy
    return pages.render(
        request, "privacy.html", t=t, page_title=t("privacy_title"), site_name=getattr(registry.name, t.lang),
        registry_name=getattr(registry.name, t.lang),
        controller=getattr(privacy.controller, t.lang) if privacy else None,
        legal_basis=getattr(privacy.legal_basis, t.lang) if privacy else None,
        statement=getattr(privacy.statement, t.lang) if privacy else None,
        contact=contact_view(t, registry), back_href=f"/q/{token}?lang={t.lang}",
        languages=pages.languages(t.lang, pages.switch_to(request.url.path), registry.languages),
        footer=pages.footer(t, None),
    )


# ---------------------------------------------------------------------------------------------
# Links that cannot be used, and failures


def gone_page(request: Request, exc: links.LinkGone) -> Response:
    registry = request.app.state.registries.get(exc.registry_id) if exc.registry_id else None
    allowed = registry.languages if registry is not None else LANGUAGES
    t = Texts(language(request.query_params.get("lang"), exc.language, allowed))
    if exc.reason == "expired" and exc.expires_at is not None:
        reason = t("gone_expired", deadline=t.deadline(exc.expires_at, request.app.state.settings.time_zone))
    else:
        reason = t(f"gone_{exc.reason}")
    return problem_page(request, 410, "gone_title", [reason], lang=t.lang, registry=registry)


def problem_page(request: Request, status: int, title: str, paragraphs: list[str], *, lang: str | None = None,
                 registry: Registry | None = None, link: tuple[str, str] | None = None, switch_path: str | None = None) -> Response:
    """A 403/404/410/500 page: in the patient's language (else `?lang=`, else bokmål), with the
    language switch, and whom to contact when the registry is known. `paragraphs` are text keys
    or finished texts."""
    allowed = registry.languages if registry is not None else LANGUAGES
    t = Texts(language(request.query_params.get("lang"), lang, allowed))
    contact = contact_view(t, registry)
    shown = [t.get(p) or p for p in paragraphs]
    if contact is None and status in (403, 410):
        shown.append(t("gone_contact"))
    token = request.path_params.get("token")
    here = request.url.path if request.method == "GET" else switch_path or (f"/q/{token}" if token else "/")
    return pages.message(
        request, t, status, t(title), shown,
        link={"href": link[0], "text": t(link[1])} if link else None, contact=contact,
        languages=pages.languages(t.lang, pages.switch_to(switch_path or here), allowed),
        footer=pages.footer(t, privacy_href(registry, f"/q/{token}", t.lang) if registry is not None and token else None),
        site_name=getattr(registry.name, t.lang) if registry is not None else None,
    )

