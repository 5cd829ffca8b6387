"""The rate limit of the letter-code page, in the database: shared by every worker process and
every instance behind a load balancer, so a client cannot spread its guesses over them.

A client is its address as the service sees it (`request.client.host`: the peer, or the address a
configured proxy forwarded, see PROMSVC_TRUSTED_PROXIES), stored only as a keyed hash
(HMAC-SHA256 with the secret key): the table holds no addresses. After `limit` wrong tries
within `window` seconds the page refuses that client until the oldest falls out of the window.
Old rows are deleted as new ones are written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from promsvc.models import FailedTry, table

T = table(FailedTry)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class FailedTries:
    """Wrong codes per client in the last `window` seconds, counted in the database."""

    def __init__(self, engine: Engine, secret: str, limit: int = 10, window: float = 600.0,
                 clock: Callable[[], dt.datetime] = utcnow):
        self.engine, self.secret, self.limit, self.clock = engine, secret.encode(), limit, clock
        self.window = dt.timedelta(seconds=window)

    def _client(self, address: str) -> str:
        return hmac.new(self.secret, address.encode(), hashlib.sha256).hexdigest()

    def wait(self, address: str) -> float:
        """Seconds until `address` may try again (0: now)."""
        now = self.clock()
        with self.engine.connect() as conn:
            times = conn.execute(sa.select(T.c.at).where(T.c.client == self._client(address), T.c.at > now - self.window)
                                 .order_by(T.c.at).limit(self.limit)).scalars().all()
            conn.rollback()
        return 0.0 if len(times) < self.limit else (times[0] + self.window - now).total_seconds()

    def failed(self, address: str) -> None:
        now = self.clock()
        with self.engine.begin() as conn:
            conn.execute(sa.delete(T).where(T.c.at <= now - self.window))
            conn.execute(sa.insert(T).values(client=self._client(address), at=now))
