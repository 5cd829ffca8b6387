"""Health checks, Prometheus metrics and JSON logs (issue 12, point 6)."""

from __future__ import annotations

import json
import logging

from litestar.testing import TestClient

from promsvc.app import create_app


def test_live_and_ready(client):
    assert client.get("/health/live").json()["status"] == "live"
    r = client.get("/health/ready")
    assert r.status_code == 200 and r.json()["status"] == "ready"


def test_not_ready_when_the_database_is_not_migrated(settings, tmp_path):
    import msgspec

    settings = msgspec.structs.replace(settings, database_url=f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    with TestClient(create_app(settings)) as c:
        r = c.get("/health/ready")
        assert r.status_code == 503 and r.headers["content-type"].startswith("application/problem+json")
        assert "promsvc db upgrade" in r.json()["fix"]
        assert c.get("/health/live").status_code == 200


def test_metrics_count_requests_by_route_template_and_messages_by_status(make_settings):
    with TestClient(create_app(make_settings(metrics=True))) as c:
        c.get("/q/" + "A" * 43)
        text = c.get("/metrics").text
    assert 'promsvc_request_seconds_count{method="GET",route="/q/{token}",status="404"} 1.0' in text
    assert "promsvc_queue_oldest_due_seconds" in text and "AAAA" not in text


def test_metrics_are_off_unless_asked_for(client):
    assert client.get("/metrics").status_code == 404


def test_json_logs(make_settings):
    from promsvc.ops import JsonFormatter

    # Not served: an app started here would point the process's log at pytest's captured stream.
    app = create_app(make_settings(log_json=True))
    assert app.logging_config.formatters["standard"] == {"()": "promsvc.ops.JsonFormatter"}
    record = logging.LogRecord("promsvc.access", logging.INFO, __file__, 1, "GET %s %d", ("/health/live", 200), None)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "GET /health/live 200" and line["logger"] == "promsvc.access" and line["level"] == "INFO"


def test_the_api_docs_page_is_served_from_the_package_or_not_at_all(make_settings):
    """The page's assets come from the service (tests/browser checks them in Chromium); PROMSVC_API_DOCS=0 turns
    the page off and keeps the description."""
    with TestClient(create_app(make_settings())) as c:
        page = c.get("/schema/swagger")
        assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
        assert "https://" not in page.text and "<script>" not in page.text  # no CDN, no inline script
        assert c.get("/schema/assets/swagger-ui-bundle.js").headers["content-type"].startswith("text/javascript")
        assert c.get("/schema/assets/index.html").status_code == 404  # only what the page uses
    with TestClient(create_app(make_settings(api_docs=False))) as c:
        assert c.get("/schema/swagger").status_code == 404
        assert c.get("/schema/openapi.json").json()["info"]["title"] == "promsvc"
