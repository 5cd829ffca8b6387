"""Fixtures for integration tests: a real, migrated database on SQLite AND on PostgreSQL.

How to use them
---------------
Ask for `client` (a litestar.testing.TestClient around `create_app(settings)`) and every test
that uses it runs twice, once per database: `test_x[sqlite]` and `test_x[postgresql]`.

    def test_read(client, make_key):
        key = make_key("registry", "demo")  # an API key (the secret), stored hashed; from service_helpers import bearer
        r = client.get("/api/v1/...", headers=bearer(key))

- `database_url`  session-scoped, parametrized over "sqlite" and "postgresql": the URL of a database
                  migrated to head. SQLite: a file in a temporary directory. PostgreSQL: a fresh
                  database made for this test session on the server of PROMSVC_TEST_PG_URL
                  (default postgresql+psycopg://postgres@127.0.0.1:5432/test) and dropped at the end.
                  If PostgreSQL cannot be reached, the PostgreSQL tests FAIL (never skip) with how to
                  start it.
- `engine`        an engine on that database; every table is emptied after each test.
- `session`       a sqlmodel Session on it, for arranging data and checking what was written. It runs
                  each statement in a transaction of its own (autocommit), so it never blocks the app
                  or reads an old snapshot; use `engine` for anything that must be atomic.
- `settings`      Settings for the test app: that database, base_url http://testserver.local, no migration at
                  start, the demo registry plus the test registry `other` (tests/integration/registries/).
                  `make_settings(**changes)` builds variants.
- `app`, `client` the application and an in-process client (startup/shutdown run), shared by the tests
                  of one database (cookies are cleared between tests); for other settings build your
                  own: `TestClient(create_app(make_settings(...)))`.
- `make_key(role, registry=None, label="")` → the key; `service_helpers.bearer(key)` → {"Authorization": "Bearer …"}.
  `keys` has one ready key per role: keys.system, keys.registry (demo), keys.other (registry key of
  `other`), keys.analyst, keys.admin.
- `database_kind`  "sqlite" or "postgresql", for the rare test that must know.
"""

from __future__ import annotations

import atexit
import gc
import os
import uuid

import msgspec
import pytest
import sqlalchemy as sa
from litestar.testing import TestClient
from service_helpers import TEST_REGISTRIES, bearer  # noqa: F401  (bearer: re-exported for tests)
from sqlmodel import Session, SQLModel

from promsvc import migrations
from promsvc.app import create_app
from promsvc.db import make_engine
from promsvc.security import create_key
from promsvc.settings import Settings

# msgspec 0.22 can crash the interpreter in its final garbage collection (msgspec issue #717);
# freezing the GC at exit keeps pytest's exit status honest.
atexit.register(gc.freeze)

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_HOW_TO_START = (
    "PostgreSQL is needed for the integration tests and could not be reached at {url} ({error}).\n"
    "Start it with:  pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n"
    "or point PROMSVC_TEST_PG_URL at a server where the user may CREATE DATABASE."
)
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session", params=BACKENDS)
def database_kind(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def database_url(database_kind, tmp_path_factory):
    if database_kind == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'promsvc.sqlite3'}"
        migrations.upgrade(url)
        yield url
        return
    admin_url = sa.engine.make_url(os.environ.get("PROMSVC_TEST_PG_URL", PG_DEFAULT))
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"promsvc_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as e:
        admin.dispose()
        pytest.fail(PG_HOW_TO_START.format(url=admin_url.render_as_string(hide_password=True),
                                           error=str(e.orig).strip().splitlines()[0]), pytrace=False)
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        migrations.upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def _session_engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(_session_engine):
    yield _session_engine
    _empty(_session_engine)


def _empty(engine) -> None:
    tables = [t for t in reversed(SQLModel.metadata.sorted_tables)]
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(table.delete())


@pytest.fixture(scope="session")
def _autocommit_engine(database_url):
    engine = make_engine(database_url, autocommit=True)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine, _autocommit_engine):
    # Each statement is its own transaction, so that this session never holds SQLite's write
    # lock or an old snapshot while the app handles a request. Not for testing atomicity.
    with Session(_autocommit_engine, expire_on_commit=False) as s:
        yield s


def _settings(database_url: str, **changes) -> Settings:
    base = dict(
        database_url=database_url,
        base_url="http://testserver.local",
        registries_dir=str(TEST_REGISTRIES),
        migrate_on_start=False,
        secret_key="test-secret-not-for-production",
    )
    base.update(changes)
    return Settings(**base)


@pytest.fixture
def make_settings(database_url):
    def make(**changes) -> Settings:
        return _settings(database_url, **changes)

    return make


@pytest.fixture
def settings(database_url) -> Settings:
    return _settings(database_url)


@pytest.fixture(scope="session")
def _session_client(database_url):
    # One app per database for the whole session: building one per test would cost more than
    # most tests. Its state (settings, registries, engine) is never changed by a request, and
    # the `engine` fixture empties every table after each test.
    with TestClient(create_app(_settings(database_url)), base_url="http://testserver.local") as c:
        yield c


@pytest.fixture
def app(_session_client, engine):
    return _session_client.app


@pytest.fixture
def client(_session_client, engine):
    headers = dict(_session_client.headers)
    yield _session_client
    _session_client.cookies.clear()
    _session_client.headers.clear()
    _session_client.headers.update(headers)


@pytest.fixture
def make_key(engine):
    def make(role: str, registry: str | None = None, label: str = "") -> str:
        with Session(engine) as s:
            _, key = create_key(s, role, registry, label)
            s.commit()
        return key

    return make


class Keys(msgspec.Struct):
    system: str
    registry: str
    other: str
    analyst: str
    admin: str


@pytest.fixture
def keys(make_key) -> Keys:
    return Keys(
        system=make_key("system", label="test system"),
        registry=make_key("registry", "demo", label="test registry demo"),
        other=make_key("registry", "other", label="test registry other"),
        analyst=make_key("analyst", label="test analyst"),
        admin=make_key("admin", label="test admin"),
    )
