"""schemathesis against the served OpenAPI description (/schema/openapi.json): every operation, with
keys of every role taking turns and real path values, on PostgreSQL (the stricter database). The
checks schemathesis runs by default judge every answer: no server error; statuses, media types,
headers and bodies as described; schema-invalid requests refused; schema-valid ones accepted; methods the
description does not list answered 405 with an `Allow` header, and OPTIONS listing exactly what is
served (issue 12, points 1 and 5).

Its examples, coverage and fuzzing phases run with a small number of fuzzed examples per operation,
so that it stays a part of every test run. A schema-valid request may still be refused with 422 only
where validity depends on a registry's configuration, which a description cannot carry: enrolment
(a unit or protocol of this registry), episode attributes (those its protocol declares) and scoring
(an item of this instrument); and with 400 where a query names what the registry lacks (an indicator
id, a period without results). Any schema-valid body may be refused with 413 when it is larger than
the service takes (Litestar's `request_max_body_size`, 10 MB): a JSON schema bounds items and lengths, not bytes, and the
fuzzer once made a 21 MB body for POST /score.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode
from service_helpers import TEST_REGISTRIES, bearer

from promsvc.app import create_app
from promsvc.settings import Settings

FUZZED = 4  # examples per operation in the fuzzing phase (the coverage phase makes its own, a few dozen)
ACCEPTED = ["2xx", 401, 403, 404, 409, 413]  # what a schema-valid request may get: no key's right, nothing there, a conflict, too large
CONFIG = SchemathesisConfig.from_dict({
    # No NUL in generated text: the description says that text never holds one (tests/integration/test_edge.py
    # checks the 400 for it); a JSON schema cannot say so without a pattern on every string.
    "generation": {"max-examples": FUZZED, "allow-x00": False},
    # Methods the description does not list: three kinds (405 with Allow; OPTIONS listing what is served).
    "phases": {"stateful": {"enabled": False}, "coverage": {"unexpected-methods": ["delete", "patch", "options"]}},
    "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED}},
    "operations": [{"include-path-regex": r"/episodes(/batch)?$|/attributes$|/score$",
                    "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, 422]}}},
                   {"include-path-regex": r"/indicators/results$",
                    "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, 400]}}}],
})

# The description as served (it is the same for every database; the requests go to the test's app).
schema = schemathesis.openapi.from_asgi(
    "/schema/openapi.json",
    create_app(Settings(database_url="sqlite://", registries_dir=str(TEST_REGISTRIES), migrate_on_start=False,
                        secret_key="not-used")),
    config=CONFIG,
)
ROLES = itertools.cycle(["admin", "system", "registry", "analyst", "other"])


@pytest.fixture
def real(client, keys):
    soon = (dt.date.today() + dt.timedelta(days=7)).isoformat()
    body = {"external_id": "ST-1", "pseudonym": "P-ST-1", "unit": "dal-fjell", "protocol": "hip_primary",
            "event_date": soon, "contacts": [{"channel": "email", "address": "ola@example.no"}]}
    assert client.post("/api/v1/registries/demo/episodes", json=body, headers=bearer(keys.system)).status_code == 201
    return {"registry": "demo", "external_id": "ST-1", "time_point": "baseline"}


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_the_api_as_described(case, app, database_kind, keys, real):
    if database_kind != "postgresql":
        pytest.skip("run on PostgreSQL only: it refuses what SQLite lets through (NUL, 64-bit integers)")
    if case.meta.generation.mode == GenerationMode.POSITIVE and case.path_parameters:
        # Valid requests name a real episode, so that they reach the services, not only the 404.
        case.path_parameters.update({k: v for k, v in real.items() if k in case.path_parameters})
    case.call_and_validate(app=app, headers=bearer(getattr(keys, next(ROLES))))


def test_the_description_says_what_the_service_refuses(client):
    """What schemathesis might not happen to try, read from the description itself."""
    described = schema.raw_schema
    components = described["components"]["schemas"]
    assert all(components[name]["additionalProperties"] is False
               for name in ("EnrolIn", "ContactIn", "WithdrawIn", "ScoreIn", "FlagsIn", "DraftIn", "SubmitIn"))
    batch = described["paths"]["/api/v1/registries/{registry}/episodes/batch"]["post"]["requestBody"]
    assert {k: v for k, v in batch["content"]["application/json"]["schema"].items() if "Items" in k} == {
        "minItems": 1, "maxItems": 1000}
    before = next(p for p in described["paths"]["/api/v1/audit"]["get"]["parameters"] if p["name"] == "before")
    assert before["schema"]["oneOf"][0] == {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1}
    flags = "/api/v1/registries/demo/episodes/X-1/delivery-flags"
    assert client.options(flags).headers["allow"] == "GET, OPTIONS, PUT"  # Litestar alone said GET, OPTIONS
    assert set(client.delete(flags).headers["allow"].split(", ")) == {"GET", "OPTIONS", "PUT"}
