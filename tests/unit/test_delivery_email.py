"""E-mail over SMTP against a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import ssl
import subprocess
import threading

import pytest

from promsvc.addresses import valid_address
from promsvc.delivery.channels import Ambiguous, ChannelDown, Permanent, Temporary
from promsvc.delivery.email import SmtpChannel, SmtpConfig
from promsvc.delivery.sink import SmtpSink, free_port

NOW = dt.datetime(2027, 1, 4, 9, 0, tzinfo=dt.UTC)
BODY = "Hei,\n\nÅpne skjemaet her:\nhttps://prom.example/q/abc\n.\n.. og æøå ÆØÅ\n"


def config(port: int, **kw) -> SmtpConfig:
    kw.setdefault("security", "none")
    return SmtpConfig(host="127.0.0.1", port=port, from_address="noreply@prom.example", timeout=5, **kw)


def send(channel: SmtpChannel, message_id: str = "m1", to: str = "ola@example.no") -> None:
    prepared = channel.prepare(message_id=message_id, to=to, from_name="Nasjonalt demoregister",
                               subject="Spørreskjema fra Nasjonalt demoregister", body=BODY, now=NOW)
    channel.finish(prepared)


@pytest.fixture(params=[False, True], ids=["one-by-one", "pipelining"])
def sink(request):
    with SmtpSink(pipelining=request.param) as s:
        yield s


def test_a_message_arrives_whole(sink):
    with SmtpChannel(config(sink.port)) as channel:
        send(channel)
    [m] = sink.messages
    assert m.mail_from == "noreply@prom.example"
    assert m.rcpt_tos == ("ola@example.no",)
    assert m.subject == "Spørreskjema fra Nasjonalt demoregister"
    assert m.message_id == "<m1@prom.example>"
    assert "Nasjonalt demoregister" in str(m.parsed["From"])
    assert m.parsed["Auto-Submitted"] == "auto-generated"
    # Quoted-printable UTF-8, and lines that start with a dot survive dot-stuffing.
    assert m.text.replace("\r\n", "\n") == BODY


def test_one_connection_serves_many_messages(sink):
    with SmtpChannel(config(sink.port)) as channel:
        send(channel, "m1")
        connection = channel._smtp
        assert channel.pipelining is sink.pipelining
        send(channel, "m2")
        send(channel, "m3")
        assert channel._smtp is connection
    assert [m.message_id for m in sink.messages] == ["<m1@prom.example>", "<m2@prom.example>", "<m3@prom.example>"]


def test_a_prepared_but_abandoned_message_is_never_delivered(sink):
    with SmtpChannel(config(sink.port)) as channel:
        channel.prepare(message_id="gone", to="ola@example.no", from_name="X", subject="S", body=BODY, now=NOW)
        channel.abandon()  # e.g. the attempt could not be recorded: the server discards the text
        send(channel, "kept")  # and the channel reconnects for the next one
    assert [m.message_id for m in sink.messages] == ["<kept@prom.example>"]


@pytest.mark.parametrize("pipelining", [False, True])
@pytest.mark.parametrize(("reply", "failure"), [("550 5.1.1 <ola@example.no> unknown", Permanent),
                                                ("450 4.2.1 mailbox busy", Temporary)])
def test_recipient_refusals_are_classified_and_the_connection_stays_usable(reply, failure, pipelining):
    with SmtpSink(rcpt_reply=lambda address: reply if address.startswith("bad") else None,
                  pipelining=pipelining) as sink:
        with SmtpChannel(config(sink.port)) as channel:
            with pytest.raises(failure) as e:
                send(channel, "m1", to="bad@example.no")
            assert "ola@example.no" not in e.value.reason  # the server's text (which quotes the address) is dropped
            assert e.value.reason == f"SMTP RCPT: {reply[:3]}"
            send(channel, "m2")
        assert [m.message_id for m in sink.messages] == ["<m2@prom.example>"]


@pytest.mark.parametrize(("reply", "failure"), [("554 5.6.0 rejected", Permanent), ("451 4.3.0 try later", Temporary)])
def test_a_refusal_after_the_text_is_classified(reply, failure):
    with SmtpSink(data_reply=lambda envelope: reply) as sink:
        with SmtpChannel(config(sink.port)) as channel, pytest.raises(failure):
            send(channel)
        assert sink.messages == []


def test_no_server_means_the_channel_is_down():
    with SmtpChannel(config(free_port())) as channel, pytest.raises(ChannelDown, match="cannot connect"):
        send(channel)


def test_an_invalid_address_is_permanent_before_anything_is_sent():
    assert not valid_address("ola@example.no\r\nBcc: eve@example.org")
    assert not valid_address("ola")
    with SmtpChannel(config(free_port())) as channel, pytest.raises(Permanent, match="not valid"):
        send(channel, to="ola@example.no>\r\nRCPT TO:<eve@example.org")


def _fake_server_that_dies_after_the_dot() -> int:
    """A bare SMTP server that reads a message and closes the connection instead of answering."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def run():
        conn, _ = listener.accept()
        f = conn.makefile("rb")
        conn.sendall(b"220 fake\r\n")
        while line := f.readline():
            if line.upper().startswith(b"EHLO"):
                conn.sendall(b"250 fake\r\n")
            elif line.upper().startswith(b"DATA"):
                conn.sendall(b"354 go on\r\n")
                while f.readline() not in (b".\r\n", b""):
                    pass
                conn.close()
                break
            else:
                conn.sendall(b"250 ok\r\n")
        listener.close()

    threading.Thread(target=run, daemon=True).start()
    return listener.getsockname()[1]


def test_a_connection_lost_after_the_dot_is_ambiguous():
    port = _fake_server_that_dies_after_the_dot()
    with SmtpChannel(config(port)) as channel, pytest.raises(Ambiguous):
        send(channel)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / "key.pem"), "-out",
         str(d / "cert.pem"), "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(d / "cert.pem", d / "key.pem")
    return str(d / "cert.pem"), context


def test_starttls_with_credentials(certificate):
    ca_file, server_context = certificate
    with SmtpSink(tls_context=server_context, require_starttls=True, credentials=("relay", "s3cret")) as sink:
        good = config(sink.port, security="starttls", ca_file=ca_file, username="relay", password="s3cret")
        with SmtpChannel(good) as channel:
            send(channel)
        assert len(sink.messages) == 1
        untrusted = config(sink.port, security="starttls", username="relay", password="s3cret")
        with SmtpChannel(untrusted) as channel, pytest.raises(ChannelDown, match="TLS"):
            send(channel)
        plain = config(sink.port, security="none")
        with SmtpChannel(plain) as channel, pytest.raises(ChannelDown):
            send(channel)
        assert len(sink.messages) == 1


def test_starttls_required_but_not_offered(sink):
    with SmtpChannel(config(sink.port, security="starttls")) as channel, pytest.raises(ChannelDown, match="STARTTLS"):
        send(channel)


def test_the_hand_built_message_reads_as_the_one_email_message_builds():
    """build() is hand-written for speed (its docstring has the figures); the stdlib parser must read
    it exactly as it reads the same message made with email.message.EmailMessage."""
    from email import message_from_bytes, policy
    from email.message import EmailMessage
    from email.utils import format_datetime, formataddr

    from promsvc.delivery.email import build

    fields = dict(message_id="m1", domain="prom.example", from_name="Nasjonalt register – Vest",
                  from_address="noreply@prom.example", to="ola@example.no",
                  subject="Spørreskjema fra Nasjonalt demoregister", body=BODY, now=NOW)
    ours = build(**fields)
    made = EmailMessage(policy=policy.SMTP)
    made["From"] = formataddr((fields["from_name"], fields["from_address"]))
    made["To"] = fields["to"]
    made["Subject"] = fields["subject"]
    made["Date"] = format_datetime(NOW)
    made["Message-ID"] = "<m1@prom.example>"
    made["Auto-Submitted"] = "auto-generated"
    made.set_content(BODY, charset="utf-8", cte="quoted-printable")
    theirs = made.as_bytes().replace(b"\r\n.", b"\r\n..")  # dot-stuffed, as on the wire
    assert ours.startswith(b"From: ") and b"\n" not in ours.replace(b"\r\n", b"")  # CRLF line ends only

    def read(raw: bytes):
        m = message_from_bytes(raw.replace(b"\r\n..", b"\r\n."), policy=policy.default)
        return {k: str(m[k]) for k in ("From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted", "MIME-Version")}, \
            m.get_content_type(), m.get_content_charset(), m.get_content()

    assert read(ours) == read(theirs)
    assert read(ours)[3].replace("\r\n", "\n") == BODY
