"""schemathesis against the served OpenAPI description (/schema/openapi.json), with a key of each role
and real path values, on PostgreSQL (the stricter database): no server error, and every response as
the description says (status codes, media types, headers, schemas). A bounded number of examples per
operation, so that it stays a part of every test run (issue 12, points 1 and 5)."""

from __future__ import annotations

import datetime as dt

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_headers_conformance, response_schema_conformance, status_code_conformance,
)
from service_helpers import bearer

EXAMPLES = 10
# No server error, and conformance: what the description says about statuses, media types, headers, bodies.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


@pytest.fixture
def real(client, keys):
    soon = (dt.date.today() + dt.timedelta(days=7)).isoformat()
    body = {"external_id": "ST-1", "pseudonym": "P-ST-1", "unit": "dal-fjell", "protocol": "hip_primary",
            "event_date": soon, "contacts": [{"channel": "email", "address": "ola@example.no"}]}
    assert client.post("/api/v1/registries/demo/episodes", json=body, headers=bearer(keys.system)).status_code == 201
    return {"registry": "demo", "external_id": "ST-1", "time_point": "baseline"}


def test_the_api_as_described(app, database_kind, keys, real):
    if database_kind != "postgresql":
        pytest.skip("run on PostgreSQL only: it refuses what SQLite lets through (NUL, 64-bit integers)")
    api = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
    failures = []
    for result in api.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case):
            for name, value in real.items():
                if case.path_parameters and name in case.path_parameters:
                    case.path_parameters[name] = value
            for key in (keys.admin, keys.system, keys.registry):
                case.headers = {**(case.headers or {}), **bearer(key)}
                case.call_and_validate(checks=CHECKS)

        try:
            run()
        except (Exception, BaseExceptionGroup) as e:  # collected: one run shows every operation's failures
            failures.append(f"{operation.method.upper()} {operation.path}: {str(e)[:600]}")
    assert not failures, "\n\n".join(failures)
