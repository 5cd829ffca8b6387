"""The one CSRF mechanism of every HTML form the service serves (the patient pages and the
letter-code page): a signed double-submit token.

The browser gets a random nonce in an HttpOnly, SameSite=Lax cookie (`COOKIE`) scoped to the
form's path (`/q/`, `/code`); every form carries `FIELD` = HMAC-SHA256(secret key, nonce |
purpose), where the purpose names what the form acts on (a patient link's invitation id; `code`
for the code page). A POST whose field does not match its cookie is refused before anything is
read or saved. Another site can neither read the nonce nor forge the HMAC without the service's
secret, and a patient form's token is good for its own link only. No JavaScript is involved, so
the pages keep working with scripts off and with the keyboard only.

The JSON API needs none of this: its credentials (an API key, a form link's token) travel in
the request itself, never in a cookie a browser would add on its own.

Why not Litestar's `CSRFConfig` (checked against Litestar 2.x's CSRFMiddleware):
- it is one middleware over the whole app: it sets its cookie on every response to a GET that is
  not excluded (the public result pages and open data would carry a cookie), and refuses every
  POST and PUT without its token unless excluded, so the API's routes would need an exclusion
  list kept in step with them;
- it refuses before the handler runs, but the patient pages must look the link up first: a
  second "Send" of a link already answered shows the receipt to the browser that sent it and
  the 410 page to anyone else, and a refusal is a page in the patient's language with a way
  back to the form;
- its token is bound to nothing (ours to one link), and on a GET it takes the cookie's value
  without checking it, so a malformed cookie would be copied into every form and never replaced.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping

from litestar import Request
from litestar.datastructures import Cookie

COOKIE = "promsvc_csrf"
FIELD = "csrf_token"


def nonce(request: Request) -> str:
    """The browser's nonce, or a new one (the page sets it again with `cookie`)."""
    given = request.cookies.get(COOKIE, "")
    return given if _well_formed(given) else secrets.token_urlsafe(32)


def token(secret: str, nonce: str, purpose: str) -> str:
    """The value of the form's `FIELD` for this browser's nonce and the form's purpose."""
    mac = hmac.new(secret.encode(), f"{nonce}|{purpose}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def ok(request: Request, form: Mapping[str, str | list[str]], secret: str, purpose: str) -> bool:
    """Does the posted form carry the token of this browser's cookie and this purpose?"""
    given_nonce = request.cookies.get(COOKIE, "")
    given = form.get(FIELD, "")
    if not _well_formed(given_nonce) or not isinstance(given, str) or not given:
        return False
    return hmac.compare_digest(token(secret, given_nonce, purpose), given)


def cookie(nonce: str, path: str, secure: bool) -> Cookie:
    """The nonce's cookie, for the forms under `path`; `Secure` when the service is reached over HTTPS."""
    return Cookie(key=COOKIE, value=nonce, path=path, httponly=True, samesite="lax", secure=secure)


def _well_formed(nonce: str) -> bool:
    return 40 <= len(nonce) <= 64 and nonce.replace("-", "").replace("_", "").isalnum() and nonce.isascii()
