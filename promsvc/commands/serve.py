"""`promsvc serve`: check the configuration, migrate once, then run uvicorn workers.

Workers build the app from the environment (`promsvc.app:app_from_environment`). Before they
start, this process checks settings and every configuration file the workers read (registries,
instruments, overlays, indicators, message templates: `promsvc.app.load_configuration`; a bad
file stops here with its message), applies migrations once (so several workers do not race to migrate), and puts into
the environment what the workers must share: migrations off, and one secret key for signed
cookies and CSRF tokens (made here when PROMSVC_SECRET_KEY is not set).

With several workers and PROMSVC_METRICS=1, each worker writes its counts to files in a directory
this process makes (PROMETHEUS_MULTIPROC_DIR, prometheus-client's multiprocess mode) and removes when
it stops, so that a scrape of /metrics, whichever worker answers it, shows the sum of all workers.

Uvicorn's access log is off: it would print request paths, and patient links carry their
token in the path. The app logs method, route template, status and duration instead.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import MutableMapping

from promsvc.commands import positive, server_options


def add_parser(commands) -> None:
    """Add `serve` to the `promsvc` command's subcommands."""
    serve = commands.add_parser(
        "serve", help="run the web service (applies database migrations first)",
        description="Run the web service with uvicorn. Settings come from PROMSVC_* environment variables "
        "(docs/service.md). Database migrations are applied once before the workers start; every "
        "registry file is checked first.",
    )
    server_options(serve)
    serve.add_argument("--workers", type=positive, default=1, metavar="N", help="worker processes (default: 1)")
    serve.set_defaults(run=run_serve)


def run_serve(args) -> int:
    return run(args.host, args.port, args.workers)


def prepare(env: MutableMapping[str, str] | None = None):
    """Check and migrate; set up `os.environ` for the workers. Returns the settings."""
    from promsvc import migrations
    from promsvc.app import load_configuration
    from promsvc.commands.database import shown
    from promsvc.settings import Settings

    env = os.environ if env is None else env
    settings = Settings.from_mapping(env)
    registries = load_configuration(settings).registries  # every file the workers will read, checked
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


APP = "promsvc.app:app_from_environment"  # the factory each worker calls


def _config(host: str, port: int, app: str = APP):
    import uvicorn

    from promsvc.server import uvicorn_options
    from promsvc.settings import Settings

    return uvicorn.Config(
        app,
        factory=True,
        host=host,
        port=port,
        access_log=False,
        log_level="info",
        server_header=False,
        **uvicorn_options(Settings.from_mapping(os.environ)),  # proxies trusted, header timeout
    )


def _listening_socket(host: str, port: int, *, reuse_port: bool):
    import socket

    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    # IPPROTO_TCP given, so that asyncio sets TCP_NODELAY on every connection (without it each
    # response waits ~40 ms for the client's delayed ACK).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    sock.set_inheritable(True)
    return sock


def _worker(host: str, port: int, app: str) -> None:
    import uvicorn

    uvicorn.Server(_config(host, port, app)).run(sockets=[_listening_socket(host, port, reuse_port=True)])


def serve(host: str, port: int, workers: int, app: str = APP) -> int:
    """Run `workers` uvicorn servers. Several workers each listen on a socket of their own
    (SO_REUSEPORT), so that the kernel shares connections out evenly: with one shared socket,
    the worker that wakes first accepts a whole burst of keep-alive connections, and one
    worker is busy while the other waits. A worker that dies is started again.

    Why not uvicorn's own `workers=N` (its `Multiprocess` supervisor, uvicorn 0.55): its workers
    share one socket and it has no SO_REUSEPORT option. Measured on the 2-CPU development VM
    (3 December 2026): 32 keep-alive connections opened at once, 20 requests each, to an app
    that answers its process id, 2 workers, five bursts: uvicorn's supervisor served
    580/60, 620/20, 640/0, 620/20 and 640/0 requests per worker; this one 320/320, 340/300,
    360/280, 340/300 and 420/220."""
    import uvicorn

    from promsvc.settings import Settings

    if workers == 1:
        uvicorn.Server(_config(host, port, app)).run(sockets=[_listening_socket(host, port, reuse_port=False)])
        return 0
    with _shared_metrics(Settings.from_mapping(os.environ).metrics) as metrics_dir:
        return _supervise(host, port, workers, metrics_dir, app)


@contextlib.contextmanager
def _shared_metrics(enabled: bool):
    """A fresh directory for the workers' metric files (prometheus-client reads PROMETHEUS_MULTIPROC_DIR
    when a worker imports it), removed at the end; None when metrics are off."""
    if not enabled:
        yield None
        return
    path = tempfile.mkdtemp(prefix="promsvc-metrics-")
    previous = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    print(f"promsvc: the workers' metrics are summed in {path}", file=sys.stderr)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        if previous is None:
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        else:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = previous


def _supervise(host: str, port: int, workers: int, metrics_dir: str | None, app: str) -> int:
    import multiprocessing
    import signal
    import time

    spawn = multiprocessing.get_context("spawn")
    processes = [spawn.Process(target=_worker, args=(host, port, app)) for _ in range(workers)]
    started = {}
    for process in processes:
        process.start()
        started[process] = time.monotonic()
    stopping, failed = False, False

    def stop(*_):
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stopping:
            time.sleep(0.5)
            for n, process in enumerate(processes):
                if process.is_alive() or stopping:
                    continue
                assert process.exitcode is not None  # not alive: it has ended
                if process.exitcode > 0 and time.monotonic() - started[process] < 10:
                    # It could not start (a bad setting, the port taken): say so and stop, rather
                    # than starting it again and again. A worker killed by a signal is replaced.
                    print(f"promsvc: worker {process.pid} could not start (exit {process.exitcode})", file=sys.stderr)
                    stopping = failed = True
                    break
                print(f"promsvc: worker {process.pid} stopped (exit {process.exitcode}); starting another",
                      file=sys.stderr)
                if metrics_dir is not None:
                    from prometheus_client import multiprocess

                    multiprocess.mark_process_dead(process.pid, metrics_dir)
                processes[n] = spawn.Process(target=_worker, args=(host, port, app))
                processes[n].start()
                started[processes[n]] = time.monotonic()
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes the requests under way
        for process in processes:
            process.join(30)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 1 if failed else 0
