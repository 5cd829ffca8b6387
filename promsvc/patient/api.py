"""The patient's form as JSON, for apps: the same flow as the pages (docs/patient.md).

    GET  /api/v1/forms/{token}?lang=nb   the form: instruments, items, options, the draft
    PUT  /api/v1/forms/{token}/draft     save the draft (replaces it)
    POST /api/v1/forms/{token}/submit    submit (the body's answers, or else the draft's)

The token in the address is the only credential. Errors are problem details (promsvc.errors).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal, cast

from litestar import Controller, Request, Response, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody
from sqlmodel import Session

from instruments.answers import TEXT_LIMIT
from promsvc import errors
from promsvc.deps import DbSession, RegistriesDep
from promsvc.patient import drafts, links, pages, submission
from promsvc.patient.schemas import (
    DraftIn,
    DraftOut,
    FormOut,
    InstrumentOut,
    ItemOut,
    Language,
    OptionOut,
    ReceiptOut,
    Respondent,
    SubmitIn,
    TimePointOut,
)
from promsvc.patient.texts import language
from promsvc.registries.loader import Registries
from promsvc.registries.overlays import Overlays
from promsvc.responses.submission import InvalidAnswers
from promsvc.responses.validation import validate


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)



def _open_api(db_session: Session, registries: Registries, token: str) -> links.Link:
    try:
        return links.open_link(db_session, registries, token, _now())
    except links.LinkNotFound:
        raise _not_found() from None
    except links.LinkGone as e:
        raise _gone_problem(e.reason) from None


def _keep_late(db_session: Session, registries: Registries, token: str, data: DraftIn) -> None:
    """A draft sent after the deadline is still kept (not thrown away), when its codes are valid;
    the request is answered 410 all the same (docs/patient.md, expiry)."""
    late = links.late_link(db_session, registries, token, _now())
    if late is None:
        return
    clean, problems = validate(late.instruments, data.answers, conditions=False)
    if not problems:
        drafts.save_draft(db_session, late, clean, now=_now(), language=data.language, replace=True)


def _gone_problem(reason: str) -> errors.Gone:
    return errors.Gone(f"the form can no longer be answered: it is {reason}", where="path token", fix="ask the registry for a new link")


def _json_only(request: Request) -> None:
    # A cross-site HTML form cannot send application/json, so this also keeps such forms out.
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise errors.PromsvcError("send the body as application/json", where="header Content-Type", fix="set Content-Type: application/json")


def _form_out(overlays: Overlays, link: links.Link, lang: str) -> FormOut:
    out = []
    for ins, wording in zip(link.instruments, links.wordings(link, overlays, lang), strict=True):
        items = []
        for item in ins.items:
            options = [
                OptionOut(code=o.code, label=wording.option(item, o.code), unanswered=o.unanswered)
                for o in ins.options_of(item)
            ] if item.kind in ("choice", "multi") else None
            items.append(ItemOut(id=item.id, kind=item.kind, text=wording.item(item), options=options, min=item.min, max=item.max,
                                 max_length=(item.max_length or TEXT_LIMIT) if item.kind == "text" else None, when=item.when))
        overlay = overlays.get(link.registry.id, ins)
        out.append(InstrumentOut(
            id=ins.id, version=ins.version, title=wording.title, wording="overlay" if overlay else "ours",
            instructions=wording.instructions, items=items,
        ))
    # cast: a usable link's invitation is open or started (TAKES_ANSWERS); texts.language gives one of Languages
    return FormOut(
        status=cast(Literal["open", "started"], link.invitation.status.value if hasattr(link.invitation.status, "value") else link.invitation.status),
        language=cast(Language, lang),
        languages=list(link.registry.languages),
        respondents=["patient", "proxy"] if link.proxy_allowed else ["patient"],
        registry=getattr(link.registry.name, lang),
        time_point=TimePointOut(id=link.time_point.id, title=getattr(link.time_point.title, lang)),
        expires_at=link.invitation.expires_at,
        instruments=out,
        draft=_draft_out(link),
    )


def _draft_out(link: links.Link) -> DraftOut | None:
    d = link.draft
    if d is None:
        return None
    # cast: texts.language gives one of Languages; a draft's respondent was checked when it was saved (check_respondent)
    return DraftOut(answers=dict(d.answers), language=cast(Language, language(d.language)), respondent=cast(Respondent, d.respondent), updated_at=d.updated_at)


def _problem_headers(request: Request, exc: Exception) -> Response:
    response = errors.problem_response(request, exc)
    response.headers.update(pages.SECURITY_HEADERS)
    return response


class FormsApi(Controller):
    """The patient's form as JSON, for apps. The token in the address is the only credential."""

    path = "/api/v1/forms/{token:str}"
    tags = ["forms"]
    response_headers = {k: v for k, v in pages.SECURITY_HEADERS.items() if k != "Content-Security-Policy"}
    exception_handlers = {Exception: _problem_headers}

    @get("/", sync_to_thread=True)
    def read(self, token: FromPath[str], db_session: DbSession, registries: RegistriesDep, lang: FromQuery[Language | None] = None) -> FormOut:
        """The form: its instruments with items and options in `lang` (default: the draft's or the episode's language), and the draft."""
        link = _open_api(db_session, registries, token)
        return _form_out(registries.overlays, link, language(lang, link.draft.language if link.draft else link.episode.language,
                                                  link.registry.languages))

    @put("/draft", sync_to_thread=True)
    def save(self, token: FromPath[str], request: Request, data: JSONBody[DraftIn], db_session: DbSession, registries: RegistriesDep) -> DraftOut:
        """Replace the draft. Codes are checked (422 per item); conditions only on submit. The first answer marks the invitation started."""
        _json_only(request)
        try:
            link = _open_api(db_session, registries, token)
        except errors.Gone:
            _keep_late(db_session, registries, token, data)
            raise
        clean, problems = validate(link.instruments, data.answers, conditions=False)
        if problems:
            raise InvalidAnswers(problems)
        respondent = submission.check_respondent(link, data.respondent)
        drafts.save_draft(db_session, link, clean, now=_now(), language=data.language, respondent=respondent, replace=True)
        saved = _draft_out(link)
        assert saved is not None  # save_draft gave the link its draft
        return saved

    @post("/submit")
    async def submit(self, token: FromPath[str], request: Request, data: JSONBody[SubmitIn]) -> Response[ReceiptOut]:
        """Store and score the answers (the body's, or else the draft's): 201 with the receipt; 200 with the
        same receipt when they were stored before; 422 naming each answer that cannot be stored."""
        _json_only(request)
        try:
            receipt, created = await submission.submit(request.app.state, token, data.answers, language=data.language,
                                                       respondent=data.respondent)
        except links.LinkNotFound:
            raise _not_found() from None
        except links.LinkGone as e:
            raise _gone_problem(e.reason) from None
        return Response(ReceiptOut(received_at=receipt.received_at, instruments=receipt.instruments),
                        status_code=201 if created else 200)


def _not_found() -> errors.NotFound:
    return errors.NotFound("no form at this address", where="path token", fix="check that the whole link was used")
