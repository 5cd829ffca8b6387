"""What to do with one due message: a pure decision over what the database says now.

Checked again right before every send (the registry may have changed something since the
message was planned), in this order:

1. the invitation: completed, expired, withdrawn or failed → skip;
2. its expiry: never a message after the invitation has expired (after an outage, too);
3. the episode flags the registry sets: withdrawn, deceased, consent withdrawn, reserved
   address (*sperret adresse*: no message at all) → skip, with the reason;
4. for a reminder: the message before it must have been sent at least `reminders.after` ago;
   if not yet, the reminder waits (so an outage never makes an invitation and its reminders
   arrive together); if that message was never sent, the reminder is skipped;
5. the channel: the protocol's channels in order, starting at the message's current one;
   a channel is usable when it is configured and the episode has a contact for it. Letters
   wait for the day's letter batch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from promsvc.delivery.config import DELIVERY_CHANNELS, DeliveryConfig

DONE_INVITATION = {"completed": "completed", "expired": "expired", "withdrawn": "withdrawn",
                   "failed": "invitation_failed"}

# Skip reasons, as stored in message.skip_reason and shown by `promsvc outbox status`.
SKIP_REASONS = {
    "completed": "the invitation was answered",
    "expired": "the invitation expired before the message could leave",
    "withdrawn": "the episode or invitation was withdrawn",
    "invitation_failed": "the invitation could not be delivered on any channel",
    "deceased": "the registry marked the patient deceased",
    "consent_withdrawn": "the patient withdrew consent",
    "reserved_address": "the patient has a reserved address (sperret adresse)",
    "previous_not_sent": "the message before this reminder was never sent",
    "no_delivery_channel": "the protocol has no channel that sends (clinic only)",
    "unknown_protocol": "the registry configuration no longer has the protocol",
}


@dataclass(frozen=True)
class Facts:
    """What the database says about one message, its invitation and its episode, now."""

    kind: str
    number: int
    channel: str | None
    invitation_status: str
    expires_at: dt.datetime
    withdrawn: bool
    deceased: bool
    consent_withdrawn: bool
    reserved_address: bool
    contacts: Mapping[str, str]  # channel → address (the first given)
    channels: Sequence[str]  # the protocol's channels, in order of preference
    reminder_after: dt.timedelta | None
    previous_status: str | None = None  # the message before a reminder
    previous_sent_at: dt.datetime | None = None


@dataclass(frozen=True)
class Send:
    channel: str
    address: str


@dataclass(frozen=True)
class ToLetters:
    """Switch to the letter channel; the day's letter batch takes it at `at`."""

    at: dt.datetime


@dataclass(frozen=True)
class Wait:
    until: dt.datetime


@dataclass(frozen=True)
class Skip:
    reason: str


@dataclass(frozen=True)
class Fail:
    cause: str


Decision = Send | ToLetters | Wait | Skip | Fail


def delivery_channels(channels: Sequence[str]) -> list[str]:
    return [c for c in channels if c in DELIVERY_CHANNELS]


def next_channel(f: Facts, config: DeliveryConfig, after: str | None) -> tuple[str | None, list[str]]:
    """The first usable channel from `after` on (exclusive), or from the start if None; and why
    each channel passed over was not usable."""
    candidates = delivery_channels(f.channels)
    start = candidates.index(after) + 1 if after in candidates else 0
    passed = []
    for channel in candidates[start:]:
        if not config.configured(channel):
            passed.append(f"{channel}: not configured")
        elif channel not in f.contacts:
            passed.append(f"{channel}: no contact")
        else:
            return channel, passed
    return None, passed


def decide(f: Facts, config: DeliveryConfig, now: dt.datetime, *, letters: bool = False) -> Decision:
    """The decision for one message; `letters` when the letter batch asks."""
    if f.invitation_status in DONE_INVITATION:
        return Skip(DONE_INVITATION[f.invitation_status])
    if now >= f.expires_at:
        return Skip("expired")
    for flag, reason in ((f.withdrawn, "withdrawn"), (f.deceased, "deceased"),
                         (f.consent_withdrawn, "consent_withdrawn"), (f.reserved_address, "reserved_address")):
        if flag:
            return Skip(reason)
    if f.kind == "reminder":
        after = f.reminder_after or dt.timedelta(0)
        if f.previous_status in ("skipped", "failed") or f.previous_status is None:
            return Skip("previous_not_sent")
        if f.previous_status in ("sent", "unconfirmed") and f.previous_sent_at is not None:
            ready = f.previous_sent_at + after
        else:  # queued, retrying or sending: not out yet
            ready = now + after
        if ready > now:
            at = ready if letters else config.window.next_open(ready)
            return Wait(at) if at < f.expires_at else Skip("expired")
    if not delivery_channels(f.channels):
        return Skip("no_delivery_channel")
    current = f.channel
    channel: str | None
    if current is not None and current in f.contacts and config.configured(current):
        channel = current
    else:
        channel, passed = next_channel(f, config, None if current is None else _before(f, current))
        if channel is None:
            return Fail("; ".join(passed) or "no usable channel")
    if channel == "letter" and not letters:
        from promsvc.delivery.timing import next_daily

        return ToLetters(next_daily(now, config.letter_time, config.tz))
    return Send(channel, f.contacts[channel])


def _before(f: Facts, channel: str) -> str | None:
    """The channel before `channel` in the protocol's order, so that the search starts at it."""
    candidates = delivery_channels(f.channels)
    if channel not in candidates:
        return None
    i = candidates.index(channel)
    return candidates[i - 1] if i > 0 else None
