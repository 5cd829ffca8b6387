"""`promsvc serve --workers 2`: each worker listens on a socket of its own (SO_REUSEPORT); a
worker that dies is replaced, and SIGTERM stops them all."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

import httpx


def _children(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry))
    return found


def _workers(pid: int) -> set[int]:
    """The server's worker processes (the spawn machinery also starts a resource tracker)."""
    return {c for c in _children(pid) if b"spawn_main" in open(f"/proc/{c}/cmdline", "rb").read()
            and b"resource_tracker" not in open(f"/proc/{c}/cmdline", "rb").read()}


def _answers(port: int, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 404  # any answer will do
        except httpx.TransportError:
            time.sleep(0.2)
    return False


def test_two_workers_share_the_port_one_that_dies_is_replaced_and_sigterm_stops_all(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMSVC_")}
    env["PROMSVC_DATABASE_URL"] = f"sqlite:///{tmp_path / 'serve.sqlite3'}"
    server = subprocess.Popen([sys.executable, "-m", "promsvc", "serve", "--port", str(port), "--workers", "2"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              start_new_session=True)  # its own process group: the finally below stops the workers too
    try:
        assert _answers(port)
        deadline = time.monotonic() + 30
        while len(_workers(server.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        first = _workers(server.pid)
        assert len(first) == 2
        victim = sorted(first)[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while (victim in _workers(server.pid) or len(_workers(server.pid)) < 2) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(_workers(server.pid)) == 2 and victim not in _workers(server.pid)
        assert all(_answers(port) for _ in range(10))
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=30)[0]
        assert server.returncode == 0, output
        assert f"worker {victim} stopped" in output
    finally:
        # Kill the whole group: a worker left behind would hold the output pipe open and
        # communicate() would wait for it for ever.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.communicate(timeout=30)
