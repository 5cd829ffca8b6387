"""Rendering the patient pages: templates, security headers and the CSRF token.

CSRF: a signed double-submit token. The browser gets a random nonce in an HttpOnly,
SameSite=Lax cookie scoped to ``/q/``; every form carries ``csrf_token`` =
HMAC-SHA256(secret_key, nonce | invitation id). A POST whose field does not match its cookie
is refused (403) before anything is read or saved. Another site can neither read the
nonce nor forge the HMAC without the service's secret, and a token is good for one link only.
No JavaScript is involved, so the pages keep working with scripts off.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.enums import MediaType

from promsvc.patient.texts import LANGUAGE_NAMES, LANGUAGES, Texts

HERE = Path(__file__).parent
STATIC_PATH = "/static/patient"
STATIC_DIR = HERE / "static"
STYLESHEET = f"{STATIC_PATH}/patient.css"

CSRF_COOKIE = "promsvc_csrf"
CSRF_FIELD = "csrf_token"

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

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def languages(current: str, href) -> list[dict[str, Any]]:
    """The language switch: `href(code)` is where choosing that language goes."""
    return [
        {"code": code, "name": LANGUAGE_NAMES[code], "current": code == current, "href": href(code)}
        for code in LANGUAGES
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
    """A page with the security headers; `nonce` (see `csrf_nonce`) is set as the CSRF cookie,
    `Secure` when the service is reached over HTTPS (`secure`)."""
    context.setdefault("errors", [])
    context.setdefault("languages", [])
    html = _env.get_template(template).render(
        t=t, page_title=page_title, site_name=site_name or t("questionnaire"), static_url=STYLESHEET, **context
    )
    cookies = [_csrf_cookie(nonce, secure)] if nonce is not None else []
    return Response(html, status_code=status, media_type=MediaType.HTML, headers=dict(SECURITY_HEADERS), cookies=cookies)


def message(
    request: Request, t: Texts, status: int, paragraphs: Mapping[str, list[str]] | list[str], title: str,
    *, link: dict[str, str] | None = None, also: list[Texts] = (),
) -> Response:
    """A plain page with a heading and a few paragraphs (gone, not found, refused, failed),
    in `t`'s language and then in each of `also`."""
    messages = []
    for texts in [t, *also]:
        messages.append({
            "lang": texts.lang,
            "title": texts(title),
            "paragraphs": [texts(p) for p in paragraphs],
            "link": {"href": link["href"], "text": texts(link["text"])} if link else None,
        })
    return render(request, "message.html", t=t, page_title=t(title), status=status, messages=messages)


def csrf_nonce(request: Request) -> str:
    """The browser's CSRF nonce, or a new one (set again with every page)."""
    given = request.cookies.get(CSRF_COOKIE, "")
    return given if _well_formed(given) else secrets.token_urlsafe(32)


def csrf_token(secret: str, nonce: str, invitation_id: str) -> str:
    mac = hmac.new(secret.encode(), f"{nonce}|{invitation_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def csrf_ok(request: Request, form: Mapping[str, str], secret: str, invitation_id: str) -> bool:
    nonce = request.cookies.get(CSRF_COOKIE, "")
    given = form.get(CSRF_FIELD, "")
    if not _well_formed(nonce) or not isinstance(given, str) or not given:
        return False
    return hmac.compare_digest(csrf_token(secret, nonce, invitation_id), given)


def _well_formed(nonce: str) -> bool:
    return 40 <= len(nonce) <= 64 and nonce.replace("-", "").replace("_", "").isalnum() and nonce.isascii()


def _csrf_cookie(nonce: str, secure: bool) -> Cookie:
    return Cookie(
        key=CSRF_COOKIE,
        value=nonce,
        path="/q/",
        httponly=True,
        samesite="lax",
        secure=secure,
    )
