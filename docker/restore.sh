#!/usr/bin/env bash
# Restore a PostgreSQL dump made by `pg_dump --format=custom` into a new database, then check that
# promsvc starts on it (migrations brought to head, /health/ready). docs/deploy.md, "Backups".
#
#   docker/restore.sh DUMP POSTGRES_URL_OF_THE_NEW_DATABASE
#   e.g. docker/restore.sh promsvc-2026-12-03.dump postgresql://postgres@127.0.0.1:5432/promsvc_restored
set -euo pipefail
dump="$1"; url="$2"
createdb --maintenance-db="${url%/*}/postgres" "${url##*/}"
pg_restore --no-owner --exit-on-error --dbname="$url" "$dump"
export PROMSVC_DATABASE_URL="${url/postgresql:/postgresql+psycopg:}"
# The app applies newer migrations as it starts (PROMSVC_MIGRATE_ON_START), as `promsvc serve` does.
python3 - <<'PY'
import os
from litestar.testing import TestClient
from promsvc.app import create_app
from promsvc.settings import Settings

with TestClient(create_app(Settings.from_mapping(os.environ))) as client:
    r = client.get("/health/ready")
    assert r.status_code == 200, r.text
    print("restore: the service starts on the restored database:", r.json())
PY
