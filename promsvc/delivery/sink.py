"""Local stand-ins for the outside world, for the demo and the tests: an SMTP server that keeps
what it receives (`promsvc smtp-sink`), and an SMS gateway that follows the contract of
`promsvc.delivery.sms` (at most one message per reference).

Neither is for production. The SMTP sink needs `aiosmtpd` (a test dependency:
`pip install -e '.[test]'`).
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Received:
    """One message as the SMTP sink accepted it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    received_at: float = field(default_factory=time.time)

    @property
    def parsed(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)

    @property
    def message_id(self) -> str:
        return str(self.parsed["Message-ID"] or "")

    @property
    def subject(self) -> str:
        return str(self.parsed["Subject"] or "")

    @property
    def text(self) -> str:
        return self.parsed.get_content()


class _Handler:
    def __init__(self, sink: SmtpSink):
        self.sink = sink

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.sink.pipelining:  # aiosmtpd reads commands in order, so it can take them pipelined
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        code = self.sink.rcpt_reply(address) if self.sink.rcpt_reply else None
        if code:
            return code
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        import asyncio

        # By default the sink takes responsibility when the final dot arrives, before it answers:
        # a client that dies now has still delivered the message. With `keep_on_reply` it keeps
        # the message only as it answers, so a client that hangs up during `delay` loses it
        # (aiosmtpd cancels this coroutine when the connection drops), as some servers do.
        code = self.sink.data_reply(envelope) if self.sink.data_reply else None
        if code:
            return code
        received = Received(envelope.mail_from, tuple(envelope.rcpt_tos), bytes(envelope.content))
        if not self.sink.keep_on_reply:
            self.sink._keep(received)
        if self.sink.delay:
            await asyncio.sleep(self.sink.delay)
        if self.sink.keep_on_reply:
            self.sink._keep(received)
        return "250 Message accepted"


class SmtpSink:
    """An SMTP server on 127.0.0.1 in a background thread that keeps every message it accepts.

        with SmtpSink() as sink:
            ... send to 127.0.0.1:sink.port ...
            assert len(sink.messages) == 1

    `delay` makes each message take that long after it is accepted (to land a kill mid-batch);
    `keep_on_reply` keeps a message only when the reply is sent (a client gone before it: lost);
    `pipelining` advertises RFC 2920 PIPELINING, as production mail servers do;
    `rcpt_reply(address)` / `data_reply(envelope)` may return an SMTP reply such as
    "550 no such user" to refuse. `directory`: also write each message there as NNNNNN.eml (numbered
    on after the files already there).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, delay: float = 0.0, tls_context=None,
                 require_starttls: bool = False, credentials: tuple[str, str] | None = None,
                 rcpt_reply: Callable[[str], str | None] | None = None,
                 data_reply: Callable[[object], str | None] | None = None,
                 directory: str | Path | None = None, on_message: Callable[[Received], None] | None = None,
                 pipelining: bool = False, keep_on_reply: bool = False):
        self.host, self.port = host, port or free_port(host)
        self.keep_on_reply = keep_on_reply
        self.pipelining = pipelining
        self.delay = delay
        self.rcpt_reply, self.data_reply = rcpt_reply, data_reply
        self.directory = Path(directory) if directory else None
        # Numbering goes on after the files already there, so that a restarted sink overwrites none.
        self.earlier_files = max((int(p.stem) for p in self.directory.glob("*.eml") if p.stem.isdigit()), default=0) \
            if self.directory is not None and self.directory.is_dir() else 0
        self.on_message = on_message
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        from aiosmtpd.controller import Controller

        kwargs: dict = {}
        if tls_context is not None:
            kwargs.update(tls_context=tls_context, require_starttls=require_starttls)
        if credentials is not None:
            user, password = credentials

            def authenticate(server, session, envelope, mechanism, auth_data):
                from aiosmtpd.smtp import AuthResult, LoginPassword

                ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user \
                    and auth_data.password.decode() == password
                return AuthResult(success=ok)

            kwargs.update(authenticator=authenticate, auth_required=True,
                          auth_require_tls=tls_context is not None)
        self._controller = Controller(_Handler(self), hostname=host, port=self.port, **kwargs)

    def _keep(self, received: Received) -> None:
        with self._lock:
            self.messages.append(received)
            n = self.earlier_files + len(self.messages)
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            (self.directory / f"{n:06d}.eml").write_bytes(received.data)
        if self.on_message is not None:
            self.on_message(received)

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.messages)


@dataclass
class SmsReceived:
    reference: str
    to: str
    text: str
    authorization: str


class SmsGatewayStub:
    """An HTTP SMS gateway on 127.0.0.1 in a background thread, following the contract of
    `promsvc.delivery.sms`: a reference is sent at most once (a repeat gets 200, not a second SMS).

    `reply(payload)` may return a status code (e.g. 400, 503) or a number of seconds to stall
    (a float, to provoke a client timeout) before the normal answer.
    """

    def __init__(self, *, token: str = "", reply: Callable[[dict], int | float | None] | None = None):
        self.token = token
        self.reply = reply
        self.messages: list[SmsReceived] = []
        self.requests = 0
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                payload = json.loads(self.rfile.read(length) or b"{}")
                status = stub._handle(payload, self.headers.get("Authorization", ""),
                                      self.headers.get("Idempotency-Key", ""))
                body = json.dumps({"status": status}).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout test)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/sms"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def _handle(self, payload: dict, authorization: str, key: str) -> int:
        with self._lock:
            self.requests += 1
        if self.token and authorization != f"Bearer {self.token}":
            return 401
        if not {"reference", "to", "text"} <= payload.keys() or key != payload["reference"]:
            return 400
        outcome = self.reply(payload) if self.reply else None
        if isinstance(outcome, float):
            time.sleep(outcome)
        elif isinstance(outcome, int):
            return outcome
        with self._lock:
            if payload["reference"] in self._seen:
                return 200
            self._seen.add(payload["reference"])
            self.messages.append(SmsReceived(payload["reference"], payload["to"], payload["text"], authorization))
        return 202

    def start(self) -> SmsGatewayStub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> SmsGatewayStub:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
