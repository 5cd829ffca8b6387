"""Start-up: every configuration file is read and checked by `create_app` (and by `promsvc serve`
before its workers start), so that a bad one stops the service with its file, what is wrong and
how to fix it, instead of failing a patient's request; and no request adds to or replaces the
application's state."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from litestar.testing import TestClient
from patient_fixtures import make_link

from promsvc.app import create_app
from promsvc.commands import serve
from promsvc.registries.loader import RegistryError
from promsvc.settings import Settings, SettingsError

DATA = Path(__file__).parent.parent / "data"


def _settings(tmp_path: Path, **kw) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path / 'x.sqlite3'}", **kw)


def _env(settings: Settings) -> dict[str, str]:
    env = {"PROMSVC_DATABASE_URL": settings.database_url}
    if settings.overlays_dir:
        env["PROMSVC_OVERLAYS_DIR"] = settings.overlays_dir
    if settings.templates_dir:
        env["PROMSVC_TEMPLATES_DIR"] = settings.templates_dir
    return env


def _refused(settings: Settings, kind: type[Exception]) -> str:
    """The message create_app stops with; `promsvc serve` stops with the same one before it migrates."""
    with pytest.raises(kind) as by_app:
        create_app(settings)
    with pytest.raises(kind) as by_serve:
        serve.prepare(_env(settings))
    assert str(by_serve.value) == str(by_app.value)
    assert not Path(settings.database_url.removeprefix("sqlite:///")).exists()  # stopped before touching the database
    return str(by_app.value)


def test_an_overlay_directory_that_is_not_there_stops_the_service(tmp_path):
    message = _refused(_settings(tmp_path, overlays_dir=str(tmp_path / "nowhere")), RegistryError)
    assert str(tmp_path / "nowhere") in message
    assert "PROMSVC_OVERLAYS_DIR names no directory; create it or correct the setting" in message


def test_a_bad_overlay_file_stops_the_service_naming_the_file_and_the_item(tmp_path):
    folder = tmp_path / "overlays" / "demo"
    folder.mkdir(parents=True)
    shutil.copy(DATA / "overlay-eq5d-5l-unknown-item.yaml", folder / "eq5d-5l.yaml")
    message = _refused(_settings(tmp_path, overlays_dir=str(tmp_path / "overlays")), RegistryError)
    assert str(folder / "eq5d-5l.yaml") in message and "item" in message


def test_a_bad_message_template_stops_the_service_naming_the_file_and_the_fix(tmp_path):
    folder = tmp_path / "templates" / "demo"
    folder.mkdir(parents=True)
    (folder / "invitation.sms.nb.txt").write_text("Svar innen $expires: $link (gjelder $protocol)\n", encoding="utf-8")
    message = _refused(_settings(tmp_path, templates_dir=str(tmp_path / "templates")), SettingsError)
    assert str(folder / "invitation.sms.nb.txt") in message
    assert "unknown placeholder $protocol" in message and "a message may use only $sender, $link, $expires" in message


def test_a_template_directory_for_no_registry_stops_the_service(tmp_path):
    (tmp_path / "templates" / "nosuch").mkdir(parents=True)
    message = _refused(_settings(tmp_path, templates_dir=str(tmp_path / "templates")), SettingsError)
    assert "no registry 'nosuch'; name the directory after a registry id" in message


def test_overlays_are_read_at_start_up_only(tmp_path, make_settings, engine):
    """The overlay is read when the app is made: removing the directory afterwards changes nothing
    for patients (a change of wording needs a restart, which checks it again)."""
    folder = tmp_path / "overlays" / "demo"
    folder.mkdir(parents=True)
    shutil.copy(DATA / "overlay-eq5d-5l-complete.yaml", folder / "eq5d-5l.yaml")
    app = create_app(make_settings(overlays_dir=str(tmp_path / "overlays")))
    shutil.rmtree(tmp_path / "overlays")
    token, _ = make_link(engine)
    with TestClient(app, base_url="http://testserver.local") as c:
        form = c.get(f"/api/v1/forms/{token}?lang=nb")
        assert form.status_code == 200 and form.json()["instruments"][0]["wording"] == "overlay"


def test_no_request_adds_to_or_replaces_the_application_state(app, client, engine, keys):
    from service_helpers import bearer

    before = dict(app.state.items())
    assert {"settings", "engine", "registries", "indicators", "writer", "delivery", "code_tries", "allow",
            "edge_kinds"} <= before.keys()
    token, _ = make_link(engine)
    assert client.get(f"/q/{token}").status_code == 200
    assert client.get(f"/api/v1/forms/{token}").status_code == 200
    assert client.get("/code").status_code == 200
    assert client.post("/code", data={"code": "AAAA-BBBB-CCCC", "csrf_token": "x"}).status_code == 400
    assert client.get("/api/v1/outbox/dry-run", headers=bearer(keys.admin)).status_code == 200
    assert client.get("/results/demo").status_code in (200, 404)
    after = dict(app.state.items())
    assert after.keys() == before.keys()
    assert all(after[k] is before[k] for k in before)


def test_the_benchmark_route_is_only_in_the_benchmarks_app(client, make_settings):
    import importlib.util

    assert client.post("/bench/parse/x", json={"answers": {}}).status_code == 404
    assert not any(path.startswith("/bench") for path in client.app.state.allow)
    spec = importlib.util.spec_from_file_location("bench_app", Path(__file__).parents[2] / "bench" / "bench_app.py")
    bench_app = sys.modules.setdefault("bench_app", importlib.util.module_from_spec(spec))  # as its workers import it
    spec.loader.exec_module(bench_app)
    with TestClient(create_app(make_settings(), handlers=[bench_app.parse]), base_url="http://testserver.local") as c:
        r = c.post("/bench/parse/x", json={"answers": {"eq5d-5l": {"MO": 1}}})
        assert r.status_code == 201 and r.json()["instruments"] == ["eq5d-5l"]


def test_the_scheduler_is_made_with_the_app_and_runs_while_it_serves(make_settings, engine):
    app = create_app(make_settings(scheduler=True, dispatch_interval=3600))
    scheduler = app.state["scheduler"]
    assert not scheduler._scheduler.running
    with TestClient(app, base_url="http://testserver.local"):
        assert scheduler._scheduler.running and app.state["scheduler"] is scheduler
    assert not scheduler._scheduler.running
