"""`promsvc serve` at its edge, as a client on the same host sees it: X-Forwarded-For believed only
from configured proxies (the code page's rate limit cannot be escaped with it), and a client that
trickles its request headers is disconnected (issue 12, point 3)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMSVC_")}
    env.update(PROMSVC_DATABASE_URL=f"sqlite:///{tmp_path_factory.mktemp('serve') / 'edge.sqlite3'}",
               PROMSVC_HEADER_TIMEOUT="1")
    process = subprocess.Popen([sys.executable, "-m", "promsvc", "serve", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/code", timeout=2)
            break
        except httpx.TransportError:
            time.sleep(0.2)
    yield base
    process.terminate()
    process.wait(30)


def test_x_forwarded_for_from_an_untrusted_peer_does_not_escape_the_code_limit(server):
    with httpx.Client(base_url=server, timeout=10) as client:
        statuses = []
        for n in range(11):
            page = client.get("/code")
            nonce = page.text.split('name="nonce" value="')[1].split('"')[0]
            r = client.post("/code", data={"code": f"AAAA-BBBB-CC{n:02d}", "nonce": nonce},
                            headers={"X-Forwarded-For": f"203.0.113.{n}"}, follow_redirects=False)
            statuses.append(r.status_code)
    assert statuses == [404] * 10 + [429]


def test_a_client_that_trickles_its_headers_is_disconnected(server):
    port = int(server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /code HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        closed = False
        for _ in range(60):  # 12 s of trickling, far beyond the 1 s allowed
            try:
                sock.sendall(b"X")
                sock.settimeout(0.2)
                if sock.recv(1024) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except OSError:
                closed = True
                break
        assert closed
