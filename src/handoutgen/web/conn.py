"""Slow and greedy clients at the socket: uvicorn's HTTP/1.1 protocol with a
deadline for a request's headers and a cap on open connections per address.

uvicorn closes a connection idle after a response (``timeout_keep_alive``),
but not one that opens and never sends its headers, or sends them a byte at
a time (slowloris): each would hold a file descriptor for ever. Here every
request's headers must arrive within ``header_timeout`` seconds of the
connection opening (or of the previous response), and one address may hold
at most ``per_address`` connections at once (more are closed at once).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("handoutgen")


def guarded_protocol(header_timeout: float, per_address: int) -> type[H11Protocol]:
    """A protocol class for ``uvicorn.Config(http=...)`` with these limits."""
    open_by_address: Counter[str] = Counter()
    warned: set[str] = set()

    class Guarded(H11Protocol):
        _counted: str | None = None
        _header_timer: asyncio.TimerHandle | None = None
        _seen: Any = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            address = self.client[0] if self.client else ""
            if open_by_address[address] >= per_address:
                if address not in warned:  # once: a flood must not flood the log too
                    warned.add(address)
                    log.warning(
                        "%s holds %d connections; closing more (HANDOUTGEN_MAX_CONNECTIONS)",
                        address,
                        per_address,
                    )
                transport.close()
                return
            open_by_address[address] += 1
            self._counted = address
            self._arm()

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(header_timeout, self._too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _too_slow(self) -> None:
            self._header_timer = None
            if not self.transport.is_closing():
                self.transport.close()

        def handle_events(self) -> None:
            super().handle_events()
            if self.cycle is not None and self.cycle is not self._seen:
                self._seen = self.cycle  # a request's headers arrived whole
                self._disarm()

        def on_response_complete(self) -> None:
            if not self.transport.is_closing():
                self._arm()  # the next request's headers have the same deadline
            super().on_response_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            if self._counted is not None:
                open_by_address[self._counted] -= 1
                if open_by_address[self._counted] <= 0:
                    del open_by_address[self._counted]
                    warned.discard(self._counted)
                self._counted = None
            super().connection_lost(exc)

    return Guarded
