"""The served OpenAPI description and its documentation page.

`config(settings)` is the app's OpenAPIConfig: the description at /schema/openapi.json, and (unless
PROMSVC_API_DOCS=0) Swagger UI at /schema/swagger (and /schema), served from the `swagger-ui-bundle-v2`
package installed with promsvc: no script, style or image is loaded from anywhere else, and the
page's Content-Security-Policy lets the browser load nothing else either.

`complete(app)` completes, once at start-up, what Litestar's generated description says too
little about:

- the bearer security scheme of the API keys, on every operation that needs a key;
- the errors an operation can answer with, each as a problem document (`application/problem+json`,
  promsvc.errors);
- request bodies as strict as their msgspec structs: `additionalProperties: false` where unknown
  fields are refused (`forbid_unknown_fields`), and the length bounds of a top-level array (the
  batch enrolment's 1 … 1000), which Litestar leaves out.

tests/integration/test_schemathesis.py checks the operations against the result.
"""

from __future__ import annotations

import html
from typing import Any

import msgspec.inspect as mi
from litestar import Litestar, Request, Response, Router, get
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.datastructures import ResponseHeader
from litestar.exceptions import NotFoundException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin
from litestar.params import FromPath
from litestar.response import File
from litestar.routes import HTTPRoute

import promsvc
from promsvc import edge
from promsvc.errors import MEDIA_TYPE, _title
from promsvc.settings import Settings

# Errors by kind of operation (a superset of what each answers with: 400 for a malformed parameter
# or body, 404 for what a path or a registry names, 409/410/422 from the services, 413/415 for bodies).
API_ERRORS: tuple[int, ...] = (400, 401, 403, 404, 409, 410, 413, 415, 422)  # needs a key
FORM_ERRORS: tuple[int, ...] = (400, 404, 409, 410, 413, 415, 422)  # the patient form API: the link is the key
OPEN_ERRORS: tuple[int, ...] = (400, 404)  # open data: no key; 404 for a registry that has published nothing
PROBLEM = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"}, "where": {"type": "string"}, "fix": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}


def config(settings: Settings) -> OpenAPIConfig:
    """The app's OpenAPI configuration (see the module docstring)."""
    return OpenAPIConfig(
        title="promsvc",
        version=getattr(promsvc, "__version__", "0.1.0"),
        description=("Collect and score patient-reported outcome and experience measures for quality registries. "
                     "Text never holds a NUL character (U+0000): a request with one, anywhere, is refused with 400."),
        path="/schema",
        render_plugins=[ApiDocs()] if settings.api_docs else [JsonRenderPlugin()],
        openapi_router=Router("/schema", route_handlers=[], include_in_schema=False,
                              response_headers=[ResponseHeader(name="Content-Security-Policy", value=DOCS_CSP),
                                                ResponseHeader(name="X-Content-Type-Options", value="nosniff")]),
    )


def complete(app: Litestar) -> None:
    """Complete the description Litestar serves (its cached document, changed in place)."""
    document: dict[str, Any] = app.plugins.get(OpenAPIPlugin).provide_openapi_schema()
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = PROBLEM
    components.setdefault("securitySchemes", {})["apiKey"] = {
        "type": "http", "scheme": "bearer", "description": "An API key made by `promsvc keys create`."}
    problem = {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, item in document.get("paths", {}).items():
        for operation in item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for parameter in operation.get("parameters", []):
                _bounded(parameter.get("schema", {}))
            if path.startswith("/open/"):
                errors = OPEN_ERRORS
            elif path.startswith("/api/v1/forms/"):
                errors = FORM_ERRORS
            elif path.startswith("/api/v1/"):
                errors = API_ERRORS
                operation["security"] = [{"apiKey": []}]
            else:
                continue  # /health/*: what they answer with is declared on the handlers
            for status in errors:
                operation["responses"][str(status)] = {"description": _title(status), "content": problem}
    _strict_bodies(app, document)


def _strict_bodies(app: Litestar, document: dict[str, Any]) -> None:
    by_title = {schema.get("title"): schema for schema in document["components"]["schemas"].values()}
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            data = handler.parsed_fn_signature.parameters.get("data")
            if data is None or not handler.resolve_include_in_schema():
                continue
            info = mi.type_info(data.raw)  # with its Annotated bounds, which `annotation` drops
            for method in handler.http_methods:
                body = document["paths"].get(route.path_format, {}).get(method.lower(), {}).get("requestBody")
                schema = (body or {}).get("content", {}).get("application/json", {}).get("schema")
                if isinstance(info, mi.ListType) and schema is not None:
                    if info.min_length is not None:
                        schema["minItems"] = info.min_length
                    if info.max_length is not None:
                        schema["maxItems"] = info.max_length
            for struct in _structs(info):
                component = by_title.get(struct.cls.__name__)
                if component is not None:
                    if struct.forbid_unknown_fields:
                        component["additionalProperties"] = False
                    for field in component.get("properties", {}).values():
                        _bounded(field)


def _bounded(schema: dict[str, Any]) -> None:
    """What the edge refuses in every integer and date (promsvc.edge), said in their schema."""
    for variant in [schema, *schema.get("oneOf", [])]:
        if variant.get("type") == "integer":
            variant["minimum"] = max(variant.get("minimum", edge.INT_MIN), edge.INT_MIN)
            variant["maximum"] = min(variant.get("maximum", edge.INT_MAX), edge.INT_MAX)
        elif variant.get("format") == "date":
            variant["pattern"] = edge.DAY_PATTERN


def _structs(info: mi.Type, seen: set[type] | None = None):
    """Every struct type a request body's type contains."""
    seen = set() if seen is None else seen
    if isinstance(info, mi.Metadata):
        yield from _structs(info.type, seen)
    elif isinstance(info, mi.StructType) and info.cls not in seen:
        seen.add(info.cls)
        yield info
        for field in info.fields:
            yield from _structs(field.type, seen)
    elif isinstance(info, (mi.ListType, mi.SetType, mi.FrozenSetType, mi.VarTupleType)):
        yield from _structs(info.item_type, seen)
    elif isinstance(info, mi.DictType):
        yield from _structs(info.value_type, seen)
    elif isinstance(info, mi.UnionType):
        for inner in info.types:
            yield from _structs(inner, seen)


# ------------------------------------------------------------------------------ the docs page

# Nothing but this service: the page's scripts, styles and icons come from /schema/assets/, the
# description from /schema/openapi.json, and "Try it out" calls this service. Swagger UI sets
# styles on elements and draws some icons as data: images.
DOCS_CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
ASSETS = {  # what the page loads from the swagger-ui-bundle-v2 package, and as what
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "favicon-32x32.png": "image/png",
}
# Started from a file of its own, so that the policy needs no inline script; the page says where
# the description is (data-url).
INIT_JS = """window.addEventListener("load", function () {
  var element = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({url: element.dataset.url, dom_id: "#swagger-ui", deepLinking: true});
});
"""


class ApiDocs(OpenAPIRenderPlugin):
    """Swagger UI from the installed package (Litestar's own plugin loads it from a CDN)."""

    def __init__(self) -> None:
        super().__init__(path=["/swagger"])

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        assert request.app.openapi_config is not None  # this page is part of the app's OpenAPI config
        assets = f"{request.app.openapi_config.path}/assets"
        title = html.escape(openapi_schema["info"]["title"])
        return (
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{title} API</title>"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<link rel=\"icon\" type=\"image/png\" href=\"{assets}/favicon-32x32.png\">"
            f"<link rel=\"stylesheet\" href=\"{assets}/swagger-ui.css\"></head>"
            f"<body><div id=\"swagger-ui\" data-url=\"{self.get_openapi_json_route(request)}\"></div>"
            f"<script src=\"{assets}/swagger-ui-bundle.js\"></script>"
            f"<script src=\"{assets}/init.js\"></script></body></html>\n"
        ).encode()

    def receive_router(self, router: Router) -> None:
        router.register(_asset)


@get("/assets/{name:str}", sync_to_thread=False, include_in_schema=False)
def _asset(name: FromPath[str]) -> Response:
    from swagger_ui_bundle import swagger_ui_path

    if name == "init.js":
        return Response(INIT_JS, media_type="text/javascript")
    if name not in ASSETS:
        raise NotFoundException()
    return File(path=swagger_ui_path / name, media_type=ASSETS[name], content_disposition_type="inline")
