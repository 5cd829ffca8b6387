"""`promsvc serve`: check the configuration, migrate once, then run uvicorn workers.

Workers build the app from the environment (`promsvc.app:app_from_environment`). Before they
start, this process checks settings and registry files (a bad file stops here with its
message), applies migrations once (so several workers do not race to migrate), and puts into
the environment what the workers must share: migrations off, and one secret key for signed
cookies and CSRF tokens (made here when PROMSVC_SECRET_KEY is not set).

Uvicorn's access log is off: it would print request paths, and patient links carry their
token in the path. The app logs method, route template, status and duration instead.
"""

from __future__ import annotations

import os
import secrets
import sys

from promsvc import migrations
from promsvc.commands.database import shown
from promsvc.registries import loader
from promsvc.settings import Settings


def prepare(env: dict[str, str] | None = None) -> Settings:
    """Check and migrate; set up `os.environ` for the workers. Returns the settings."""
    env = os.environ if env is None else env
    settings = Settings.from_mapping(env)
    registries = loader.load_all(settings)
    migrations.upgrade(settings.database_url)
    if not settings.secret_key:
        env["PROMSVC_SECRET_KEY"] = secrets.token_urlsafe(32)
    env["PROMSVC_MIGRATE_ON_START"] = "0"
    print(f"promsvc: database {shown(settings.database_url)} is migrated; "
          f"registries: {', '.join(sorted(registries)) or '(none)'}", file=sys.stderr)
    return settings


def run(host: str, port: int, workers: int) -> int:
    prepare()
    return serve(host, port, workers)


def serve(host: str, port: int, workers: int) -> int:
    import socket

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(
        "promsvc.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_level="info",
        server_header=False,
    )
    if workers == 1:
        uvicorn.Server(config).run()
        return 0
    # Uvicorn's own socket for several workers is made without IPPROTO_TCP, and asyncio then
    # leaves Nagle's algorithm on for every connection: each response waits ~40 ms for the
    # client's delayed ACK. The same socket, with its protocol read back from the kernel, lets
    # asyncio set TCP_NODELAY as it does for one worker.
    sock = config.bind_socket()
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock = socket.socket(fileno=sock.detach())
        sock.set_inheritable(True)
    try:
        Multiprocess(config, sockets=[sock]).run()
    except KeyboardInterrupt:
        pass
    return 0
