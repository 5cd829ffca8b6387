"""What happens to a due message, as a table: the facts the database gives, the decision.

NOW is Monday 4 January 2027, 10:00 in Oslo; the sending window is 09:00–20:00; letters are
batched at 10:00; the protocol's channels are e-mail, SMS, letter; reminders come 7 days apart.
"""

from __future__ import annotations

import datetime as dt

import pytest

from promsvc.delivery.config import DeliveryConfig
from promsvc.delivery.decide import Facts, Fail, Send, Skip, ToLetters, Wait, decide
from promsvc.settings import Settings

NOW = dt.datetime(2027, 1, 4, 9, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
CONFIG = DeliveryConfig.from_settings(Settings(smtp_host="127.0.0.1", sms_gateway_url="http://127.0.0.1:9/sms"))
NO_SMS = DeliveryConfig.from_settings(Settings(smtp_host="127.0.0.1"))
BASE = Facts(kind="invitation", number=0, channel=None, invitation_status="planned", expires_at=NOW + 30 * DAY,
             withdrawn=False, deceased=False, consent_withdrawn=False, reserved_address=False,
             contacts={"email": "e@example.no", "sms": "+4791234567", "letter": "Storgata 1"},
             channels=("clinic", "email", "sms", "letter"), reminder_after=7 * DAY)


def facts(**changes) -> Facts:
    return _replace(BASE, **changes)


def _replace(f: Facts, **changes) -> Facts:
    from dataclasses import replace

    return replace(f, **changes)


REMINDER = dict(kind="reminder", number=1, invitation_status="open")

CASES = [
    ("the first usable channel", {}, CONFIG, Send("email", "e@example.no")),
    ("no e-mail address: SMS", {"contacts": {"sms": "+4791234567"}}, CONFIG, Send("sms", "+4791234567")),
    ("SMS not configured: letter (today's batch, at 10:00)", {"contacts": {"sms": "+47", "letter": "Storgata 1"}},
     NO_SMS, ToLetters(NOW)),
    ("no contact at all", {"contacts": {}}, CONFIG, Fail("email: no contact; sms: no contact; letter: no contact")),
    ("clinic only", {"channels": ("clinic",)}, CONFIG, Skip("no_delivery_channel")),
    ("the current channel is kept", {"channel": "sms"}, CONFIG, Send("sms", "+4791234567")),
    ("after the current channel's contact is gone", {"channel": "sms", "contacts": {"letter": "x"}}, CONFIG,
     ToLetters(NOW)),
    ("a letter after today's batch waits for tomorrow's", {"contacts": {"letter": "x"}}, CONFIG, "tomorrow"),
    ("answered", {"invitation_status": "completed"}, CONFIG, Skip("completed")),
    ("expired", {"invitation_status": "expired"}, CONFIG, Skip("expired")),
    ("past its expiry", {"expires_at": NOW}, CONFIG, Skip("expired")),
    ("withdrawn", {"withdrawn": True}, CONFIG, Skip("withdrawn")),
    ("deceased", {"deceased": True}, CONFIG, Skip("deceased")),
    ("consent withdrawn", {"consent_withdrawn": True}, CONFIG, Skip("consent_withdrawn")),
    ("reserved address: nothing at all", {"reserved_address": True}, CONFIG, Skip("reserved_address")),
    ("a reminder a week after the invitation", {**REMINDER, "previous_status": "sent",
                                                "previous_sent_at": NOW - 7 * DAY}, CONFIG, Send("email", "e@example.no")),
    ("a draft is not an answer", {**REMINDER, "invitation_status": "started", "previous_status": "sent",
                                  "previous_sent_at": NOW - 8 * DAY}, CONFIG, Send("email", "e@example.no")),
    ("a reminder too soon after an outage waits", {**REMINDER, "previous_status": "sent",
                                                   "previous_sent_at": NOW - DAY}, CONFIG, Wait(NOW + 6 * DAY)),
    ("… and is moved into the window", {**REMINDER, "previous_status": "sent",  # ready at 21:00: next 09:00
                                        "previous_sent_at": NOW - DAY + dt.timedelta(hours=11)}, CONFIG,
     Wait(NOW + 7 * DAY - dt.timedelta(hours=1))),
    ("the invitation not out yet", {**REMINDER, "invitation_status": "planned", "previous_status": "retrying"},
     CONFIG, Wait(NOW + 7 * DAY)),
    ("waiting past the expiry", {**REMINDER, "previous_status": "sent", "previous_sent_at": NOW - DAY,
                                 "expires_at": NOW + 3 * DAY}, CONFIG, Skip("expired")),
    ("the invitation message was skipped", {**REMINDER, "previous_status": "skipped"}, CONFIG,
     Skip("previous_not_sent")),
    ("the invitation failed", {**REMINDER, "invitation_status": "failed", "previous_status": "failed"}, CONFIG,
     Skip("invitation_failed")),
]


@pytest.mark.parametrize(("why", "changes", "config", "expected"), CASES, ids=[c[0] for c in CASES])
def test_decide(why, changes, config, expected):
    if expected == "tomorrow":
        assert decide(facts(**changes), config, NOW + dt.timedelta(minutes=1)) == ToLetters(NOW + DAY)
        return
    assert decide(facts(**changes), config, NOW) == expected


def test_the_letter_batch_takes_letters():
    f = facts(channel="letter", contacts={"letter": "Storgata 1"})
    assert decide(f, CONFIG, NOW, letters=True) == Send("letter", "Storgata 1")
