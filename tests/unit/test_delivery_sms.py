"""The SMS gateway adapter against a real HTTP gateway stub on 127.0.0.1."""

from __future__ import annotations

import pytest

from promsvc.delivery.channels import ChannelDown, Permanent, Temporary
from promsvc.delivery.sink import SmsGatewayStub, free_port
from promsvc.delivery.sms import SmsChannel, SmsConfig, normalise_number


def send(channel: SmsChannel, reference: str = "r1", to: str = "+47 912 34 567") -> None:
    channel.send(reference=reference, to=to, text="Nasjonalt demoregister ber deg svare: https://x/q/abc")


def test_success_with_the_documented_request():
    with SmsGatewayStub(token="t0k") as gateway:
        with SmsChannel(SmsConfig(url=gateway.url, token="t0k")) as channel:
            send(channel, "r1")
            send(channel, "r2", to="91234567")
        assert [(m.reference, m.to) for m in gateway.messages] == [("r1", "+4791234567"), ("r2", "91234567")]
        assert gateway.messages[0].authorization == "Bearer t0k"
        assert gateway.messages[0].text.endswith("https://x/q/abc")


def test_a_repeated_reference_is_sent_once():
    with SmsGatewayStub() as gateway:
        with SmsChannel(SmsConfig(url=gateway.url)) as channel:
            send(channel, "r1")
            send(channel, "r1")  # e.g. after a crash or a timeout: safe to repeat
        assert gateway.requests == 2
        assert len(gateway.messages) == 1


@pytest.mark.parametrize(("status", "failure"), [(400, Permanent), (422, Permanent), (404, Permanent),
                                                 (500, Temporary), (503, Temporary), (429, Temporary),
                                                 (401, ChannelDown)])
def test_replies_are_classified(status, failure):
    with SmsGatewayStub(reply=lambda payload: status) as gateway:
        with SmsChannel(SmsConfig(url=gateway.url)) as channel, pytest.raises(failure) as e:
            send(channel)
        assert str(status) in e.value.reason
        assert "912" not in e.value.reason


def test_a_timeout_is_temporary():
    with SmsGatewayStub(reply=lambda payload: 0.5) as gateway:
        with SmsChannel(SmsConfig(url=gateway.url, timeout=0.1)) as channel, pytest.raises(Temporary):
            send(channel)


def test_no_gateway_means_the_channel_is_down():
    with SmsChannel(SmsConfig(url=f"http://127.0.0.1:{free_port()}/sms")) as channel, pytest.raises(ChannelDown):
        send(channel)


def test_a_number_that_is_not_one_is_permanent():
    assert normalise_number("+47 (912) 34-567") == "+4791234567"
    assert normalise_number("ola@example.no") is None
    with SmsChannel(SmsConfig(url="http://127.0.0.1:9/sms")) as channel, pytest.raises(Permanent, match="not valid"):
        send(channel, to="call me")


def test_a_bad_gateway_url_is_refused():
    with pytest.raises(ValueError, match="http"):
        SmsConfig(url="ftp://gateway.example/sms")
