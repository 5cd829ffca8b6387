"""One error hierarchy, one mapper to HTTP problem details (RFC 9457).

Services raise `PromsvcError` subclasses; `problem_response` turns them (and Litestar's own
errors: malformed JSON, unknown fields, wrong types, unknown routes) into
`application/problem+json`:

    {"type": "https://promsvc.example/problems/conflict", "title": "Conflict", "status": 409,
     "detail": "what is wrong", "where": "$.unit", "fix": "how to fix it",
     "errors": [{"path": "$[3].unit", "message": "..."}]}

A 4xx always says what, where and how to fix it. Bad input never gives a 500. A 500 says
nothing about the request and logs only the exception type and the route template (an
exception's text may quote patient data).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

log = logging.getLogger("promsvc.errors")

PROBLEM_BASE = "https://promsvc.example/problems/"
MEDIA_TYPE = "application/problem+json"


class FieldError(msgspec.Struct, frozen=True):
    """One problem at one place of the request body (a JSON path such as `$[3].unit`);
    for a wrong answer also what was found and what is allowed."""

    path: str
    message: str
    found: Any = msgspec.UNSET
    allowed: str | msgspec.UnsetType = msgspec.UNSET


class PromsvcError(Exception):
    """Base of every error the service raises on purpose."""

    status = 400
    slug = "bad-request"
    title = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        where: str | None = None,
        fix: str | None = None,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(detail)
        self.detail, self.where, self.fix = detail, where, fix
        self.errors = errors or []
        self.headers = headers or {}

    def problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.where is not None:
            body["where"] = self.where
        if self.fix is not None:
            body["fix"] = self.fix
        if self.errors:
            body["errors"] = [msgspec.to_builtins(e) for e in self.errors]
        return body


class BadRequest(PromsvcError):
    """The body is not what the endpoint reads (not JSON, wrong shape)."""


class Invalid(PromsvcError):
    """Well-formed but not acceptable: unknown unit or protocol, a code outside an item's options."""

    status, slug, title = 422, "invalid", "Unprocessable content"


class Unauthorized(PromsvcError):
    status, slug, title = 401, "unauthorized", "Unauthorized"

    def __init__(self, detail: str, **kw):
        kw.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="promsvc"'})
        super().__init__(detail, **kw)


class Forbidden(PromsvcError):
    status, slug, title = 403, "forbidden", "Forbidden"


class NotFound(PromsvcError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(PromsvcError):
    status, slug, title = 409, "conflict", "Conflict"


class Gone(PromsvcError):
    status, slug, title = 410, "gone", "Gone"


class Unavailable(PromsvcError):
    status, slug, title = 503, "unavailable", "Service unavailable"


class UnsupportedMediaType(PromsvcError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


_MSGSPEC_AT = re.compile(r"^(?P<text>.*?)(?: - at `(?P<path>[^`]*)`)?$", re.S)


def from_msgspec(error: msgspec.ValidationError | msgspec.DecodeError | str, *, prefix: str = "$") -> FieldError:
    """A msgspec message ("Expected `int`, got `str` - at `$.items[3]`") as a FieldError."""
    m = _MSGSPEC_AT.match(str(error))
    assert m is not None
    path = m.group("path") or "$"
    if prefix != "$":
        path = prefix + path[1:]
    return FieldError(path, m.group("text"))


def problem_response(request: Request, exc: Exception) -> Response:
    """The one exception handler of the application."""
    if isinstance(exc, PromsvcError):
        return _response(exc.problem(), exc.status, exc.headers)
    if isinstance(exc, ValidationException):
        return _response(_litestar_validation(exc), 400, {})
    if isinstance(exc, HTTPException):
        status = exc.status_code
        body = {
            "type": PROBLEM_BASE + _slug(status),
            "title": _title(status),
            "status": status,
            "detail": exc.detail if status != 404 else "no such resource",
        }
        if status == 404:
            body["fix"] = "check the path against the API description at /schema"
        elif status == 400:
            body["fix"] = "send a well-formed JSON body (Content-Type: application/json) as described at /schema"
        elif status == 405:
            body["fix"] = "check the method against the API description at /schema"
        return _response(body, status, dict(exc.headers or {}))
    log.error(
        "unhandled %s on %s %s", type(exc).__name__, request.method, request.scope.get("path_template", "?")
    )
    body = {
        "type": PROBLEM_BASE + "internal",
        "title": "Internal server error",
        "status": 500,
        "detail": "the server failed to handle the request; nothing about it was logged but its route",
    }
    return _response(body, 500, {})


def _litestar_validation(exc: ValidationException) -> dict[str, Any]:
    # Litestar keeps msgspec's own error (with the full path, e.g. `$.data[3].unit`) as the
    # cause; its `extra` has only the first key. Paths are given relative to the body (`$`).
    # A parameter (query, path, header) is named as such: `query parameter period`.
    parameters = {entry["key"]: f"{getattr(entry['source'], 'value', entry['source'])} parameter {entry['key']}"
                  for entry in (exc.extra if isinstance(exc.extra, list) else [])
                  if isinstance(entry, dict) and entry.get("key") and entry.get("source") not in (None, "body")}
    errors: list[dict[str, str]] = []
    cause = exc.__cause__
    if isinstance(cause, msgspec.ValidationError):
        fe = from_msgspec(cause)
        path = fe.path
        if path == "$" and "required field `data`" in fe.message:
            errors.append({"path": "$", "message": "the request has no JSON body"})
        elif path.startswith("$.data"):
            errors.append({"path": "$" + path[len("$.data"):], "message": fe.message})
        else:
            errors.append({"path": parameters.get(path[2:], path), "message": fe.message})
    else:
        for entry in exc.extra if isinstance(exc.extra, list) else []:
            if isinstance(entry, dict):
                errors.append({"path": parameters.get(entry.get("key"), "$"), "message": str(entry.get("message", ""))})
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + "bad-request",
        "title": "Bad request",
        "status": 400,
        "detail": errors[0]["message"] if errors else str(exc.detail),
        "fix": "send JSON as described at /schema (unknown fields are refused)",
    }
    if errors:
        body["where"] = errors[0]["path"]
        body["errors"] = errors
    return body


def problem_spec(description: str):
    """An OpenAPI response of a problem document, for a handler's `responses`."""
    from litestar.openapi.datastructures import ResponseSpec

    return ResponseSpec(data_container=dict[str, Any], description=description, media_type=MEDIA_TYPE)


def _response(body: dict[str, Any], status: int, headers: dict[str, str]) -> Response:
    return Response(content=body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


_TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
           405: "Method not allowed", 409: "Conflict", 410: "Gone", 413: "Content too large",
           415: "Unsupported media type", 422: "Unprocessable content", 429: "Too many requests",
           503: "Service unavailable"}


def _title(status: int) -> str:
    return _TITLES.get(status, "Error")


def _slug(status: int) -> str:
    return _title(status).lower().replace(" ", "-")
