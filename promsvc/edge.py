"""The edge: what every request is checked for before a handler sees it, and the headers every
response carries.

One place for the rules that hold for every input, so that no handler has to remember them:

- no NUL character anywhere in text: the path, query parameters, JSON bodies (strings and keys),
  form fields. PostgreSQL cannot store it in text, and no registry or patient ever means one;
- JSON nested at most `MAX_JSON_DEPTH` deep (ours nest four levels; a thousand levels made the
  decoder raise RecursionError);
- integer query and path parameters between `INT_MIN` and `INT_MAX` (PostgreSQL's INTEGER, the
  narrowest column one may be compared with) and dates between `MIN_DAY` and `MAX_DAY` (the
  service adds months and years to them; the ends of the calendar overflow);
- a handler that reads a form accepts only `application/x-www-form-urlencoded` (415 otherwise).

A refusal is a 4xx problem document (promsvc.errors) naming the place: `path`,
`query parameter before`, `$.contacts[0].address`, `header Content-Type`. The served API
description states the same bounds (promsvc.openapi).

`security_headers(settings)` is the app's `before_send` hook: `Cache-Control: no-store` on every
response under /api/ (errors included: the router's 404 and 405 too),
`Strict-Transport-Security` when the service's public address is https, and an `Allow` header on
OPTIONS answers that lists every method of the path (`allowed_methods`, made at start-up).
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
from typing import Any, cast

import msgspec
from litestar import Request
from litestar.enums import RequestEncodingType
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from promsvc import errors
from promsvc.settings import Settings

MAX_JSON_DEPTH = 32
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
MIN_DAY, MAX_DAY = dt.date(1900, 1, 1), dt.date(2199, 12, 31)
DAY_PATTERN = r"^(19|20|21)[0-9]{2}-"  # the years MIN_DAY … MAX_DAY, as the API description says them
FORM = RequestEncodingType.URL_ENCODED.value

# A JSON string escape of NUL, `\u0000`, preceded by an even number of backslashes (an odd
# number would make the backslash itself the escaped character).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def day_problem(value: dt.date) -> str | None:
    """Why a date cannot be used, or None: the one bound for every date the service is given."""
    if MIN_DAY <= value <= MAX_DAY:
        return None
    return f"{value.isoformat()} is outside {MIN_DAY.isoformat()} … {MAX_DAY.isoformat()}"


class _Kinds(msgspec.Struct, frozen=True):
    """What the edge needs to know about one route handler's parameters."""

    ints: frozenset[str]
    days: frozenset[str]
    form: bool  # reads its body as a URL-encoded form


_NONE = _Kinds(frozenset(), frozenset(), False)


def handler_kinds(app: Any) -> dict[Any, _Kinds]:
    """What the guard checks for each route handler of `app`: `app.state.edge_kinds`, made by
    the app factory (nothing is worked out while a request waits)."""
    return {handler: _kinds(handler) for route in app.routes if isinstance(route, HTTPRoute)
            for handler in route.route_handlers}


def _kinds(handler: Any) -> _Kinds:
    ints, days, form = set(), set(), False
    for name, field in handler.parsed_fn_signature.parameters.items():
        if name == "data":
            form = getattr(field.kwarg_definition, "media_type", None) == RequestEncodingType.URL_ENCODED
            continue
        types = [t for t in (field.inner_types if field.is_union else (field,)) if not t.is_none_type]
        if any(t.annotation is int for t in types):
            ints.add(name)
        elif any(t.annotation is dt.date for t in types):
            days.add(name)
    return _Kinds(frozenset(ints), frozenset(days), form)


def guard(app: ASGIApp) -> ASGIApp:
    """Middleware: refuse what no handler may see (the module docstring lists it)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        request: Request = Request(scope, receive)
        try:
            await _check(request, scope["app"].state.edge_kinds.get(scope["route_handler"], _NONE))
        except errors.PromsvcError as e:
            response = errors.problem_response(request, e)
            await response.to_asgi_response(app=None, request=request)(scope, receive, send)
            return
        await app(scope, receive, send)

    return middleware


async def _check(request: Request, kinds: _Kinds) -> None:
    scope = request.scope
    if "\x00" in scope["path"]:
        raise _bad("the path contains a NUL character", "path", "remove the NUL (%00) from the address")
    for name, value in scope.get("path_params", {}).items():
        if name in kinds.ints and isinstance(value, int) and not INT_MIN <= value <= INT_MAX:
            raise _bad(_int_text(value), "path", f"give {name} between {INT_MIN} and {INT_MAX}")
    query = scope.get("query_string", b"")
    if query:
        _check_query(urllib.parse.parse_qsl(query.decode("latin-1"), keep_blank_values=True, encoding="utf-8",
                                             errors="replace"), kinds)
    if kinds.form:
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        body = await request.body()
        if media_type != FORM and (media_type or body):  # no type and no body: an empty form
            raise errors.UnsupportedMediaType(
                f"this address reads a form sent as {FORM}, not {media_type or 'a body without a Content-Type'}",
                where="header Content-Type", fix=f"send the form as {FORM} (as a browser does)")
        fields = urllib.parse.parse_qsl(body.decode("latin-1"), keep_blank_values=True, encoding="utf-8",
                                        errors="replace")
        for key, value in fields:
            if "\x00" in key or "\x00" in value:
                raise _bad("a form field contains a NUL character", f"form field {key.replace(chr(0), '')}",
                           "remove the NUL character")
    elif request.method in ("POST", "PUT", "PATCH") and "data" in request.route_handler.parsed_fn_signature.parameters:
        _check_json(await request.body())


def _check_query(pairs: list[tuple[str, str]], kinds: _Kinds) -> None:
    for name, value in pairs:
        where = f"query parameter {name.replace(chr(0), '')}"
        if "\x00" in name or "\x00" in value:
            raise _bad("a query parameter contains a NUL character", where, "remove the NUL (%00) from the address")
        if name in kinds.ints:
            try:
                number = int(value)
            except ValueError:
                continue  # not a number at all: the handler's own check says so
            if not INT_MIN <= number <= INT_MAX:
                raise _bad(_int_text(number), where, f"give {name} between {INT_MIN} and {INT_MAX}")
        elif name in kinds.days:
            try:
                day = dt.date.fromisoformat(value)
            except ValueError:
                continue
            if (why := day_problem(day)) is not None:
                raise _bad(why, where, "give a date of this world's calendar, YYYY-MM-DD")


def _int_text(number: int) -> str:
    shown = str(number) if len(str(number)) <= 30 else f"a number of {len(str(number))} digits"
    return f"{shown} is outside {INT_MIN} … {INT_MAX}"


def _check_json(body: bytes) -> None:
    # Cheap tests first: a body is decoded here only when it could be nested deeply (many
    # brackets) or holds an escaped NUL; otherwise the handler's own decoding is the only one.
    nul = b"\\u0000" in body and _JSON_NUL.search(body) is not None
    if not nul and body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return
    try:
        value = msgspec.json.decode(body)
    except RecursionError:
        raise _too_deep() from None
    except msgspec.DecodeError:
        return  # malformed: the handler's decoding reports it with its position
    where = _find(value)
    if where is not None:
        raise where


def _find(value: Any) -> errors.PromsvcError | None:
    """The first NUL in a decoded JSON value, or nesting beyond the limit, as a problem."""
    stack: list[tuple[Any, str, int]] = [(value, "$", 1)]
    while stack:
        item, path, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return _too_deep()
        if isinstance(item, str):
            if "\x00" in item:
                return _bad("the text contains a NUL character", path, "remove the NUL character (\\u0000)")
        elif isinstance(item, dict):
            for key, inner in reversed(item.items()):
                if "\x00" in key:
                    return _bad("a key contains a NUL character", path, "remove the NUL character (\\u0000)")
                stack.append((inner, f"{path}.{key}", depth + 1))
        elif isinstance(item, list):
            stack.extend((inner, f"{path}[{i}]", depth + 1) for i, inner in reversed(list(enumerate(item))))
    return None


def _too_deep() -> errors.PromsvcError:
    return _bad(f"the JSON body is nested more than {MAX_JSON_DEPTH} levels deep", "$",
                "send the body as described at /schema")


def _bad(detail: str, where: str, fix: str) -> errors.PromsvcError:
    return errors.BadRequest(detail, where=where, fix=fix)


# ------------------------------------------------------------------------------------ headers


def security_headers(settings: Settings):
    """The `before_send` hook: headers every response gets (see the module docstring)."""
    hsts = (b"strict-transport-security", f"max-age={settings.hsts_max_age}".encode()) \
        if settings.base_url.startswith("https://") and settings.hsts_max_age > 0 else None

    async def before_send(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        # cast: ASGI types them as any iterable; Litestar's responses send a list, which is changed in place
        headers = cast(list[tuple[bytes, bytes]], message.setdefault("headers", []))
        if hsts is not None:
            headers.append(hsts)
        if scope.get("method") == "OPTIONS" and message["status"] == 204:
            # Litestar's automatic OPTIONS answer lists the methods of the first handler registered at a
            # path only (GET, OPTIONS where PUT is served too); the route itself knows them all.
            methods = scope["app"].state.allow.get(scope.get("path_template", ""))
            if methods is not None:
                headers[:] = [(k, v) for k, v in headers if k.lower() != b"allow"] + [(b"allow", methods)]
        if scope.get("path", "").startswith("/api/") and not any(k.lower() == b"cache-control" for k, _ in headers):
            # Patient-level data and API keys' answers must not linger in caches, errors included.
            headers.append((b"cache-control", b"no-store"))

    return before_send


def allowed_methods(app: Any) -> dict[str, bytes]:
    """Each route's path template and its methods as an `Allow` value: `app.state.allow`, made at start-up."""
    return {route.path_format: ", ".join(sorted(route.methods)).encode()
            for route in app.routes if isinstance(route, HTTPRoute)}
