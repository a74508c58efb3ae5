"""uvicorn's HTTP protocol with a deadline for a request's headers: slow clients are disconnected.

uvicorn times out idle keep-alive connections but not a client that opens a connection and sends
its headers a byte at a time (slow-loris): each such client holds a connection forever. This
protocol closes a connection whose request headers are not complete within ``HEADER_SECONDS`` of
the connection opening (or of the previous response). The request body has its own deadline in
the app (see ``_read_body``).
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEADER_SECONDS = 10.0


class HeaderDeadlineProtocol(HttpToolsProtocol):
    header_seconds = HEADER_SECONDS
    _deadline: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.header_seconds, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
