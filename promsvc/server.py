"""What `promsvc serve` sets up in uvicorn besides the app: whom to believe about the client's
address, and a limit on the time a client may take to send a request's headers.

- Proxy headers (`X-Forwarded-For`, `X-Forwarded-Proto`) are read only from the addresses in
  PROMSVC_TRUSTED_PROXIES (the load balancer). uvicorn's own default believes any local peer,
  which let a client on the same host pick its address and escape the code page's rate limit.
- A client must send the headers of each request within PROMSVC_HEADER_TIMEOUT seconds from
  connecting (or from the end of the previous response): a slow client that trickles header
  bytes (slowloris) would otherwise hold a connection for ever, since every byte resets uvicorn's
  keep-alive timer.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from promsvc.settings import Settings


class HeaderTimeout(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request headers take too long."""

    header_timeout = 10.0
    _timer = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm()

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not None and not self.cycle.response_complete:
            self._disarm()  # the headers are in: the request is the app's now

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()  # the next request's headers, on a kept-alive connection

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._timer = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _too_slow(self) -> None:
        self._timer = None
        if (self.cycle is None or self.cycle.response_complete) and not self.transport.is_closing():
            self.transport.close()


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The uvicorn.Config options these settings decide."""
    trusted = [a.strip() for a in settings.trusted_proxies.split(",") if a.strip()]
    return dict(
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        http=type("Protocol", (HeaderTimeout,), {"header_timeout": float(settings.header_timeout)}),
        timeout_graceful_shutdown=settings.shutdown_timeout,
    )
