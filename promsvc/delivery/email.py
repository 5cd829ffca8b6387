"""E-mail over SMTP, in two phases so that a crash can neither lose nor repeat a message.

An SMTP server takes responsibility for a message when it receives the final `.` of the DATA
phase (and answers). Everything before it (MAIL, RCPT, DATA, the text) can be abandoned by closing
the connection: the server then discards the half-received message. The dispatcher records the
attempt (`sending`, committed) before it calls:

    prepared = smtp.prepare(...)   # MAIL, RCPT, DATA, the text: nothing delivered yet
    smtp.finish(prepared)          # the final "." and the server's reply: the point of no return

so a message is `sending` only until its reply, and a crash leaves at most the one in flight per
connection of unknown fate. See docs/delivery.md for what the dispatcher does with such rows.

One `SmtpChannel` keeps one connection open for a whole batch. Messages are plain-text UTF-8,
quoted-printable, with a stable `Message-ID` made from the message row's id, so that a mail
system that removes duplicates by Message-ID can do so.
"""

from __future__ import annotations

import binascii
import datetime as dt
import functools
import re
import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.header import Header
from email.utils import format_datetime, formataddr

from promsvc.addresses import valid_address
from promsvc.delivery.channels import Ambiguous, ChannelDown, Permanent, Temporary

_LEADING_DOT = re.compile(rb"(?m)^\.")


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 587
    security: str = "starttls"  # starttls | tls (implicit, port 465) | none
    username: str = ""
    password: str = ""
    from_address: str = "noreply@promsvc.invalid"
    timeout: float = 30.0
    ca_file: str = ""  # extra CA certificates (a private mail relay); empty: the system's

    def __post_init__(self) -> None:
        if self.security not in ("starttls", "tls", "none"):
            raise ValueError(f"SMTP security {self.security!r}: use starttls, tls or none")
        if not valid_address(self.from_address):
            raise ValueError(f"SMTP from address {self.from_address!r} is not an e-mail address")

    def tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.ca_file:
            context.load_verify_locations(cafile=self.ca_file)
        return context


@dataclass
class Prepared:
    """A message whose text the server holds but has not accepted (DATA without the final dot)."""

    message_id: str


@functools.lru_cache(maxsize=256)
def _header(value: str) -> str:
    return value if value.isascii() else Header(value, "utf-8").encode()


@functools.lru_cache(maxsize=256)
def _from(name: str, address: str) -> str:
    return formataddr((name, address), charset="utf-8")


def build(
    *, message_id: str, domain: str, from_name: str, from_address: str, to: str, subject: str, body: str,
    now: dt.datetime,
) -> bytes:
    """The message as it goes over the wire (CRLF line ends, dot-stuffed, without the final dot).

    Built by hand (headers encoded with `email.header` and `email.utils`, the body with
    `binascii.b2a_qp`) rather than with `email.message.EmailMessage`: measured on the 2-CPU
    development VM, this takes 30–50 µs per message and the same message through
    `EmailMessage(policy=email.policy.SMTP)` + `set_content(..., cte="quoted-printable")` +
    `as_bytes()` 5.7 ms, while the whole dispatch of a message costs the dispatcher about 0.3 ms
    of CPU (docs/delivery.md, Benchmark): the library would make 100 000 messages take minutes
    instead of under the 60 s target. tests/unit/test_delivery_email.py checks that the stdlib
    parser reads this message as it reads the one `EmailMessage` builds.
    """
    head = (
        f"From: {_from(from_name, from_address)}\r\n"
        f"To: {to}\r\n"
        f"Subject: {_header(subject)}\r\n"
        f"Date: {format_datetime(now.astimezone(dt.UTC))}\r\n"
        f"Message-ID: <{message_id}@{domain}>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n"
        "Auto-Submitted: auto-generated\r\n"
        "\r\n"
    ).encode("ascii")
    text = binascii.b2a_qp(body.replace("\r\n", "\n").encode("utf-8"), istext=True)
    text = text.replace(b"\n", b"\r\n")
    if not text.endswith(b"\r\n"):
        text += b"\r\n"
    return _LEADING_DOT.sub(b"..", head + text)


class SmtpChannel:
    """One SMTP connection, reused for many messages; use as a context manager."""

    name = "email"
    idempotent = False

    def __init__(self, config: SmtpConfig):
        self.config = config
        self._smtp: smtplib.SMTP | None = None
        self.domain = config.from_address.rpartition("@")[2]

    def __enter__(self) -> SmtpChannel:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    def _drop(self) -> None:
        """Close without QUIT: a half-sent DATA is discarded by the server."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.close()
            except OSError:
                pass

    def _connect(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        c = self.config
        smtp: smtplib.SMTP
        try:
            if c.security == "tls":
                smtp = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout, context=c.tls_context())
            else:
                smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
            # The final dot goes in a write of its own; without TCP_NODELAY it would wait for the
            # server's delayed ACK of the text (40 ms a message).
            assert smtp.sock is not None  # connected: the constructor was given the host
            smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            smtp.ehlo()
            if c.security == "starttls":
                if not smtp.has_extn("starttls"):
                    smtp.close()
                    raise ChannelDown("SMTP server does not offer STARTTLS (set PROMSVC_SMTP_SECURITY)")
                smtp.starttls(context=c.tls_context())
                smtp.ehlo()
            if c.username:
                smtp.login(c.username, c.password)
        except smtplib.SMTPAuthenticationError as e:
            raise ChannelDown(f"SMTP login refused ({e.smtp_code})") from None
        except ssl.SSLError as e:
            raise ChannelDown(f"SMTP TLS failed ({e.reason or type(e).__name__})") from None
        except (smtplib.SMTPException, OSError) as e:
            raise ChannelDown(f"cannot connect to the SMTP server ({type(e).__name__})") from None
        self._smtp = smtp
        return smtp

    def prepare(self, *, message_id: str, to: str, from_name: str, subject: str, body: str,
                now: dt.datetime) -> Prepared:
        """MAIL, RCPT, DATA and the text, without the final dot. Nothing is delivered yet."""
        if not valid_address(to):
            raise Permanent("e-mail address is not valid")
        data = build(message_id=message_id, domain=self.domain, from_name=from_name,
                     from_address=self.config.from_address, to=to, subject=subject, body=body, now=now)
        smtp = self._connect()
        # Both addresses passed valid_address(): quoted here rather than by smtplib, whose
        # address parser costs more than the rest of the command.
        mail, rcpt = f"MAIL FROM:<{self.config.from_address}>\r\n", f"RCPT TO:<{to}>\r\n"
        try:
            if self.pipelining:
                # RFC 2920: the three commands in one write, then their three replies.
                smtp.send(mail + rcpt + "DATA\r\n")
                (mail_code, _), (rcpt_code, _), (data_code, _) = smtp.getreply(), smtp.getreply(), smtp.getreply()
                if data_code == 354 and (mail_code != 250 or rcpt_code not in (250, 251)):
                    self._drop()  # the server wants text it must then refuse: hang up instead
                    mail_code = mail_code if mail_code != 250 else rcpt_code
            else:
                smtp.send(mail)
                mail_code = smtp.getreply()[0]
                rcpt_code = data_code = -2
                if mail_code == 250:
                    smtp.send(rcpt)
                    rcpt_code = smtp.getreply()[0]
                if rcpt_code in (250, 251):
                    smtp.send("DATA\r\n")
                    data_code = smtp.getreply()[0]
            if mail_code != 250:
                self._reset(smtp)
                raise _classify("MAIL", mail_code, sender_side=True)
            if rcpt_code not in (250, 251):
                self._reset(smtp)
                raise _classify("RCPT", rcpt_code)
            if data_code != 354:
                self._reset(smtp)
                raise _classify("DATA", data_code, sender_side=True)
            smtp.send(data)
        except (smtplib.SMTPServerDisconnected, OSError) as e:
            self._drop()
            raise Temporary(f"SMTP connection lost before the message was complete ({type(e).__name__})") from None
        return Prepared(message_id)

    @property
    def pipelining(self) -> bool:
        return self._smtp is not None and self._smtp.has_extn("pipelining")

    def finish(self, prepared: Prepared) -> None:
        """The final dot, the point of no return, and the server's reply."""
        smtp = self._smtp
        if smtp is None:
            raise Temporary("SMTP connection lost before the message was complete")
        try:
            smtp.send(b".\r\n")
        except (smtplib.SMTPServerDisconnected, OSError) as e:
            # The dot may or may not have reached the server: treating it as not sent would risk
            # a duplicate.
            self._drop()
            raise Ambiguous(f"SMTP connection lost while ending the message ({type(e).__name__})") from None
        try:
            code, _ = smtp.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as e:
            self._drop()
            raise Ambiguous(f"no SMTP reply after the message ({type(e).__name__})") from None
        if code != 250:
            raise _classify("end of DATA", code)

    def abandon(self) -> None:
        """Give up a prepared message: drop the connection so that the server discards it."""
        self._drop()

    def _reset(self, smtp: smtplib.SMTP) -> None:
        if self._smtp is None:
            return
        try:
            smtp.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()


def _classify(stage: str, code: int, sender_side: bool = False) -> Exception:
    if code == -1:
        return Temporary(f"SMTP {stage}: connection lost")
    if 400 <= code < 500:
        return Temporary(f"SMTP {stage}: {code}")
    if sender_side and code in (530, 535, 550, 553, 554):
        # Refusing our sender or the DATA command is about this service, not the patient.
        return ChannelDown(f"SMTP {stage}: {code} (check PROMSVC_SMTP_FROM and credentials)")
    return Permanent(f"SMTP {stage}: {code}")


def probe(config: SmtpConfig) -> None:
    """Connect, greet and leave: raises ChannelDown if the server cannot be used."""
    channel = SmtpChannel(config)
    try:
        channel._connect()
    finally:
        channel.close()

