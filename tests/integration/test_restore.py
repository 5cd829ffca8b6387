"""Backups: a pg_dump of a working database, restored by docker/restore.sh into a new database,
brings the data back and the service starts on it (docs/deploy.md)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from service_helpers import bearer

ROOT = Path(__file__).resolve().parents[2]


def test_a_dump_restored_brings_the_episodes_back_and_the_service_starts(client, keys, database_url, database_kind,
                                                                         tmp_path):
    if database_kind != "postgresql":
        pytest.skip("pg_dump and pg_restore: PostgreSQL's backup (SQLite's is a copy of its file)")
    body = {"external_id": "BACKUP-1", "pseudonym": "P-B", "unit": "dal-fjell", "protocol": "hip_primary",
            "event_date": "2026-06-01"}
    assert client.post("/api/v1/registries/demo/episodes", json=body, headers=bearer(keys.system)).status_code == 201
    url = sa.engine.make_url(database_url)
    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
    dump = tmp_path / "promsvc.dump"
    subprocess.run(["pg_dump", "--format=custom", f"--file={dump}", plain], check=True)
    restored = url.set(drivername="postgresql", database=f"promsvc_restored_{uuid.uuid4().hex[:8]}")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PROMSVC_")},
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    target = restored.render_as_string(hide_password=False)
    try:
        result = subprocess.run([str(ROOT / "docker" / "restore.sh"), str(dump), target], capture_output=True, text=True,
                                env=env, timeout=300)
        assert result.returncode == 0, result.stderr
        assert "the service starts on the restored database" in result.stdout
        engine = sa.create_engine(restored.set(drivername="postgresql+psycopg"))
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT external_id FROM episode")).scalars().all() == ["BACKUP-1"]
        engine.dispose()
    finally:
        admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{restored.database}" WITH (FORCE)'))
        admin.dispose()
    assert shutil.which("pg_restore")
