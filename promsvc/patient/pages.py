"""Rendering the patient pages: templates, security headers and the CSRF cookie.

CSRF: the service's one mechanism (promsvc.csrf), its cookie scoped to ``/q/`` and each form's
token bound to the link's invitation (a POST without it is refused with 403 before anything is
read or saved).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.enums import MediaType

from promsvc import csrf, templating
from promsvc.patient.texts import LANGUAGE_NAMES, LANGUAGES, Texts

HERE = Path(__file__).parent
STATIC_PATH = "/static/patient"
STATIC_DIR = HERE / "static"
STYLESHEET = f"{STATIC_PATH}/patient.css"
ACCESSIBILITY_PATH = "/accessibility"

# Sent with every patient page and every form API response (answers must not linger in
# caches, nor the link leak through a Referer). The pages have no script at all.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}

def languages(current: str, href, allowed=LANGUAGES) -> list[dict[str, Any]]:
    """The language switch: `href(code)` is where choosing that language goes; only the
    `allowed` languages (a registry's `languages`) are offered."""
    return [
        {"code": code, "name": LANGUAGE_NAMES[code], "current": code == current, "href": href(code)}
        for code in LANGUAGES if code in allowed
    ]


def render(
    request: Request,
    template: str,
    *,
    t: Texts,
    page_title: str,
    site_name: str | None = None,
    status: int = 200,
    nonce: str | None = None,
    secure: bool = False,
    **context: Any,
) -> Response:
    """A page with the security headers; `nonce` (see `promsvc.csrf.nonce`) is set as the CSRF cookie,
    `Secure` when the service is reached over HTTPS (`secure`)."""
    context.setdefault("errors", [])
    context.setdefault("languages", [])
    context.setdefault("footer", None)
    html = templating.render(
        f"patient/{template}",
        t=t, page_title=page_title, site_name=site_name or t("questionnaire"), static_url=STYLESHEET, **context
    )
    cookies = [csrf.cookie(nonce, "/q/", secure)] if nonce is not None else []
    return Response(html, status_code=status, media_type=MediaType.HTML, headers=dict(SECURITY_HEADERS), cookies=cookies)


def message(
    request: Request, t: Texts, status: int, title: str, paragraphs: list[str], *,
    link: dict[str, str] | None = None, contact: dict[str, Any] | None = None,
    languages: Sequence[dict[str, Any]] = (), footer: dict[str, str] | None = None, site_name: str | None = None,
) -> Response:
    """A plain page with a heading and a few paragraphs (gone, not found, refused, failed), in
    `t`'s language, with the language switch, and whom to contact when that is known."""
    return render(
        request, "message.html", t=t, page_title=title, status=status, title=title, paragraphs=paragraphs,
        link=link, contact=contact, languages=list(languages), footer=footer, site_name=site_name,
    )


def switch_to(path: str):
    """Language switch addresses for a page at `path` (`?lang=xx`)."""
    return lambda code: f"{path}?lang={code}"


def footer(t: Texts, privacy_href: str | None) -> dict[str, str]:
    """The links every patient page ends with: the registry's privacy page (when known) and
    the accessibility statement, in the page's language."""
    links = {"accessibility": f"{ACCESSIBILITY_PATH}?lang={t.lang}"}
    if privacy_href:
        links["privacy"] = privacy_href
    return links


# ---- the receipt: shown only in the browser that sent the answers, for a short while

RECEIPT_COOKIE = "promsvc_receipt"
RECEIPT_MINUTES = 15


def receipt_cookie(secret: str, invitation_id: str, received_at: dt.datetime, secure: bool) -> Cookie:
    """Lets this browser see the receipt and the copy of the answers until `received_at` +
    RECEIPT_MINUTES: a signed expiry time, bound to the invitation."""
    until = int((received_at + dt.timedelta(minutes=RECEIPT_MINUTES)).timestamp())
    remaining = max(0, until - int(dt.datetime.now(dt.UTC).timestamp()))
    return Cookie(key=RECEIPT_COOKIE, value=f"{until}.{_receipt_mac(secret, invitation_id, until)}", path="/q/",
                  max_age=remaining, httponly=True, samesite="lax", secure=secure)


def receipt_ok(request: Request, secret: str, invitation_id: str, now: dt.datetime) -> bool:
    given = request.cookies.get(RECEIPT_COOKIE, "")
    until, _, mac = given.partition(".")
    if not until.isdigit() or int(until) <= now.timestamp():
        return False
    return hmac.compare_digest(_receipt_mac(secret, invitation_id, int(until)), mac)


def _receipt_mac(secret: str, invitation_id: str, until: int) -> str:
    digest = hmac.new(secret.encode(), f"receipt|{invitation_id}|{until}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")
