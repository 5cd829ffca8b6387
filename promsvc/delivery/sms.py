"""SMS through an HTTP gateway: one small JSON request per message.

The request (documented in docs/delivery.md, "SMS gateway contract"):

    POST {PROMSVC_SMS_GATEWAY_URL}
    Authorization: Bearer {PROMSVC_SMS_GATEWAY_TOKEN}      (when a token is set)
    Idempotency-Key: {reference}
    Content-Type: application/json

    {"reference": "3f1c…", "to": "+4791234567", "text": "…"}

`reference` is the message row's id: the same message always has the same reference, on
every attempt. The gateway must send a given reference at most once (a repeated reference is
answered like the first, 2xx or 409, without sending again). That makes SMS *idempotent*:
after a crash or a timeout the dispatcher may simply try again.

Replies: 2xx or 409 → accepted; 408, 425, 429 and 5xx → temporary; any other 4xx → permanent
(a bad number: the next channel is tried). A timeout or a lost connection is temporary too.

One `SmsChannel` keeps one HTTP connection (keep-alive) for a batch.
"""

from __future__ import annotations

import http.client
import json
import re
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from promsvc.delivery.channels import ChannelDown, Permanent, Temporary

_NUMBER = re.compile(r"^\+?[0-9]{6,15}$")
_TEMPORARY = {408, 425, 429}


def normalise_number(number: str) -> str | None:
    """Digits with an optional leading +, spaces and dashes removed; None if not a number."""
    cleaned = re.sub(r"[\s().-]", "", number)
    return cleaned if _NUMBER.match(cleaned) else None


@dataclass(frozen=True)
class SmsConfig:
    url: str
    token: str = ""
    timeout: float = 10.0
    ca_file: str = ""

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"SMS gateway URL {self.url!r}: use http(s)://host[:port]/path")


class SmsChannel:
    """One keep-alive connection to the gateway; use as a context manager."""

    name = "sms"
    idempotent = True

    def __init__(self, config: SmsConfig):
        self.config = config
        parts = urlsplit(config.url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._conn: http.client.HTTPConnection | None = None

    def __enter__(self) -> SmsChannel:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self._https:
                context = ssl.create_default_context()
                if self.config.ca_file:
                    context.load_verify_locations(cafile=self.config.ca_file)
                self._conn = http.client.HTTPSConnection(self._host, self._port, timeout=self.config.timeout,
                                                         context=context)
            else:
                self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self.config.timeout)
        return self._conn

    def send(self, *, reference: str, to: str, text: str) -> None:
        """Hand one message to the gateway; raises a DeliveryFailure (see channels.py)."""
        number = normalise_number(to)
        if number is None:
            raise Permanent("mobile number is not valid")
        body = json.dumps({"reference": reference, "to": number, "text": text}, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": reference,
                   "Content-Length": str(len(body))}
        if self.config.token:
            headers["Authorization"] = f"Bearer {self.config.token}"
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request("POST", self._path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
                if response.getheader("connection", "").lower() == "close":
                    self.close()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as e:
                # A kept-alive connection the gateway had closed: reconnect once. Safe to repeat
                # because the gateway deduplicates by reference.
                self.close()
                if attempt == 2:
                    raise Temporary(f"SMS gateway closed the connection ({type(e).__name__})") from None
            except ConnectionRefusedError:
                self.close()
                raise ChannelDown("cannot connect to the SMS gateway") from None
            except (TimeoutError, OSError, http.client.HTTPException) as e:
                self.close()
                raise Temporary(f"SMS gateway did not answer ({type(e).__name__})") from None
        if 200 <= status < 300 or status == 409:
            return
        if status in (401, 403):
            raise ChannelDown(f"SMS gateway refused our credentials ({status})")
        if status in _TEMPORARY or status >= 500:
            raise Temporary(f"SMS gateway: {status}")
        raise Permanent(f"SMS gateway: {status}")
