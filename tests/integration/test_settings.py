"""Settings: built from an explicit mapping, strict, and every field documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from promsvc.settings import Settings, SettingsError, documentation, markdown_table

DOCS = Path(__file__).parents[2] / "docs" / "service.md"


def test_defaults_without_environment():
    s = Settings.from_mapping({})
    assert s.database_url.startswith("sqlite:///") and s.due_time == "09:00" and s.time_zone == "Europe/Oslo"


def test_values_from_mapping():
    s = Settings.from_mapping({"PROMSVC_DEBUG": "1", "PROMSVC_DUE_TIME": "08:30", "PROMSVC_METRICS": "no",
                               "PROMSVC_TEST_PG_URL": "ignored", "HOME": "/root"})
    assert s.debug is True and s.due_time == "08:30" and s.metrics is False


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PROMSVC_DATABSE_URL": "x"}, "PROMSVC_DATABSE_URL: no such setting"),
        ({"PROMSVC_DEBUG": "maybe"}, "PROMSVC_DEBUG: 'maybe' is not a yes/no value"),
        ({"PROMSVC_DUE_TIME": "9:00"}, "PROMSVC_DUE_TIME"),
        ({"PROMSVC_TIME_ZONE": "Europe/Bergen"}, "PROMSVC_TIME_ZONE: unknown time zone"),
        ({"PROMSVC_BASE_URL": "https://x.example/"}, "leave the slash out"),
        ({"PROMSVC_LOG_LEVEL": "chatty"}, "PROMSVC_LOG_LEVEL"),
    ],
)
def test_bad_settings_name_the_variable(env, message):
    with pytest.raises(SettingsError, match=message.replace("(", r"\(")):
        Settings.from_mapping(env)


def test_every_setting_has_a_description():
    assert all(description for _, _, description in documentation())


def test_docs_show_the_generated_settings_table():
    """docs/service.md must contain the table generated from the Settings struct, verbatim.

    To refresh it: .venv/bin/python -c 'from promsvc.settings import markdown_table; print(markdown_table())'
    """
    assert markdown_table() in DOCS.read_text(encoding="utf-8")


def test_every_service_endpoint_is_documented():
    """Each path of the enrolment, export, scoring and audit API appears in docs/service.md."""
    from litestar import Litestar, Router
    from litestar.di import Provide

    from promsvc.admin.controllers import AuditController
    from promsvc.episodes.controllers import EpisodeController, ExportController
    from promsvc.scoring_api.controllers import score

    mine = [EpisodeController, ExportController, AuditController, score]
    app = Litestar([Router("/api/v1", route_handlers=mine)], dependencies={
        name: Provide(lambda: None, sync_to_thread=False) for name in ("db_session", "caller", "settings", "registries")
    })
    paths = list(app.openapi_schema.paths)
    assert len(paths) >= 8
    docs = DOCS.read_text(encoding="utf-8")
    missing = [p for p in paths if f" {p}`" not in docs]
    assert not missing, f"document these in docs/service.md (API table): {missing}"
