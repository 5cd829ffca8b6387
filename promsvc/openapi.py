"""The served OpenAPI description, completed where Litestar's generated one says too little: the
bearer security scheme of the API keys, and every error an operation can answer with, as a problem
document (`application/problem+json`, promsvc.errors). Applied once at start-up to the document
Litestar serves at /schema/openapi.json; tests/integration/test_schemathesis.py checks the
operations against it."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar._openapi.plugin import OpenAPIPlugin

from promsvc.errors import MEDIA_TYPE, _title

ERRORS = (400, 401, 403, 404, 405, 409, 410, 413, 415, 422, 429, 503)
PROBLEM = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"}, "where": {"type": "string"}, "fix": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}


def complete(app: Litestar) -> None:
    """Complete the description Litestar serves (its cached document, changed in place)."""
    document: dict[str, Any] = app.plugins.get(OpenAPIPlugin).provide_openapi_schema()
    components = document.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = PROBLEM
    components.setdefault("securitySchemes", {})["apiKey"] = {
        "type": "http", "scheme": "bearer", "description": "An API key made by `promsvc keys create`."}
    problem = {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            if path.startswith("/api/v1/") and not path.startswith("/api/v1/forms/"):
                operation["security"] = [{"apiKey": []}]
            for status in ERRORS:
                operation["responses"][str(status)] = {"description": _title(status), "content": problem}
