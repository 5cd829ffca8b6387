"""What every delivery channel shares: how a failure is classified.

A channel raises one of these; the dispatcher decides what happens to the message:

| failure | meaning | the message |
|---|---|---|
| `Temporary` | not delivered; may work later (4xx, timeout before the point of no return, gateway 5xx) | `retrying` with backoff, then the next channel |
| `Permanent` | not deliverable this way (bad address, 5xx for the recipient) | the next channel at once |
| `ChannelDown` | the channel itself is unusable right now (cannot connect, login refused) | `retrying`, same channel; never a fallback on its own |
| `Ambiguous` | the message may or may not have left (connection lost after the point of no return) | `unconfirmed` unless the channel is idempotent (then retried with the same key) |

Every `reason` is a short text without personal data: a status code and a class of problem,
never an address, a name or a server's free text (which often quotes the address).
"""

from __future__ import annotations


class DeliveryFailure(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Temporary(DeliveryFailure):
    pass


class Permanent(DeliveryFailure):
    pass


class ChannelDown(DeliveryFailure):
    pass


class Ambiguous(DeliveryFailure):
    pass
