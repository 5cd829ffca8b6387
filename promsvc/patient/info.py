"""Pages that need no link: the service page at `/` (what a newcomer who opens the address
`promsvc demo` prints finds: what this is and where the API is described) and the
accessibility statement at `/accessibility` (linked from every patient page)."""

from __future__ import annotations

from litestar import Request, Response, get

from promsvc.patient import pages
from promsvc.patient.texts import Texts, language

A11Y_PARAGRAPHS = ("a11y_scope", "a11y_standard", "a11y_tested", "a11y_limits", "a11y_feedback", "a11y_complaint")


@get(pages.ACCESSIBILITY_PATH, include_in_schema=False, sync_to_thread=False)
def accessibility(request: Request) -> Response:
    t = Texts(language(request.query_params.get("lang")))
    return pages.render(
        request, "accessibility.html", t=t, page_title=t("a11y_title"), paragraphs=[t(p) for p in A11Y_PARAGRAPHS],
        languages=pages.languages(t.lang, pages.switch_to(pages.ACCESSIBILITY_PATH)),
    )


@get("/", include_in_schema=False, sync_to_thread=False)
def service_page(request: Request) -> Response:
    return pages.render(request, "service.html", t=Texts("en"), page_title="promsvc", site_name="promsvc")


routes = [accessibility, service_page]
