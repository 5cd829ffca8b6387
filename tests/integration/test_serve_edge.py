"""`promsvc serve --workers 2` at its edge, as a client on the same host sees it: X-Forwarded-For believed
only from configured proxies (the code page's rate limit, counted in the database, cannot be escaped with
it), a client that trickles its request headers is disconnected (issue 12, point 3), and the metrics of
the two workers are summed in every scrape (point 6)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time

import httpx
import pytest


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The server's address; when it stops, the directory of the workers' metric files is gone."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    folder = tmp_path_factory.mktemp("serve")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMSVC_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(PROMSVC_DATABASE_URL=f"sqlite:///{folder / 'edge.sqlite3'}", PROMSVC_HEADER_TIMEOUT="1",
               PROMSVC_METRICS="1")
    with open(folder / "stderr", "w") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "promsvc", "serve", "--port", str(port), "--workers", "2"],
                                   env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/code", timeout=2)
            break
        except httpx.TransportError:
            time.sleep(0.2)
    metrics_dir = re.search(r"metrics are summed in (\S+)", (folder / "stderr").read_text()).group(1)
    yield base, metrics_dir
    process.terminate()
    assert process.wait(30) == 0
    assert not os.path.exists(metrics_dir)


def test_x_forwarded_for_from_an_untrusted_peer_does_not_escape_the_code_limit(server):
    with httpx.Client(base_url=server[0], timeout=10) as client:
        statuses = []
        for n in range(11):
            page = client.get("/code")
            nonce = page.text.split('name="csrf_token" value="')[1].split('"')[0]
            r = client.post("/code", data={"code": f"AAAA-BBBB-CC{n:02d}", "csrf_token": nonce},
                            headers={"X-Forwarded-For": f"203.0.113.{n}"}, follow_redirects=False)
            statuses.append(r.status_code)
    assert statuses == [404] * 10 + [429]


def test_a_client_that_trickles_its_headers_is_disconnected(server):
    port = int(server[0].rsplit(":", 1)[1])
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


def test_every_scrape_shows_the_requests_of_both_workers(server):
    base, metrics_dir = server
    for _ in range(40):
        assert httpx.get(f"{base}/health/live").status_code == 200  # each a new connection: the kernel shares them out
    counted = re.compile(r'promsvc_request_seconds_count\{method="GET",route="/health/live",status="200"\} (\S+)')
    scrapes = [counted.search(httpx.get(f"{base}/metrics").text).group(1) for _ in range(6)]
    assert scrapes == ["40.0"] * 6  # whichever worker answered: without the shared files each shows its own share
    writers = {name.rsplit("_", 1)[1] for name in os.listdir(metrics_dir) if name.startswith("histogram_")}
    assert len(writers) == 2  # both workers counted requests
