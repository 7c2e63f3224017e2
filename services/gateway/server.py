"""The HTTP server's connections: uvicorn's protocols with a deadline for each request's head.

uvicorn bounds only the idle time between requests on a kept-alive connection (`timeout_keep_alive`); a connection
that sends nothing, or sends a request head a byte at a time, or keeps sending the unread body of a request already
answered, is held for ever (each byte received cancels the keep-alive timer). Here, whenever no request of the
connection is with the app, whatever the client sends must complete the next request's head within
`request_header_timeout_s` of the first byte (or of the connection's opening); the deadline is not moved by more
bytes. A half-sent head is answered 408 and closed; an idle connection or an answered request's unread body is
closed. While the app holds a request, the app's own budgets apply (`app.read_body`: the body's idle and total
timeouts). TLS handshakes are bounded by asyncio (60 s) before a connection reaches the protocol.
"""

from __future__ import annotations

import asyncio
import logging

from services.gateway.observability import request_count

log = logging.getLogger("aigate.http")

TIMED_OUT_HEAD = "Request header timed out."


class HeadDeadline:
    """Mixed into a uvicorn HTTP protocol class (before it in the bases)."""

    header_timeout_s: float = 20.0

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self._head_deadline: asyncio.TimerHandle | None = None
        super().connection_made(transport)  # type: ignore[misc]
        self._arm_head_deadline()

    def connection_lost(self, exc) -> None:  # type: ignore[override]
        self._disarm_head_deadline()
        super().connection_lost(exc)  # type: ignore[misc]

    def data_received(self, data: bytes) -> None:  # type: ignore[override]
        super().data_received(data)  # type: ignore[misc]
        if self.transport.get_protocol() is not self or self._request_with_app():  # type: ignore[attr-defined]
            # Upgraded to a WebSocket (its own protocol now), or the app has the request: not ours to time.
            self._disarm_head_deadline()
        elif not self.transport.is_closing():  # type: ignore[attr-defined]
            self._arm_head_deadline()

    def _request_with_app(self) -> bool:
        cycle = self.cycle  # type: ignore[attr-defined]
        return cycle is not None and not cycle.response_complete

    def _arm_head_deadline(self) -> None:
        if self._head_deadline is None:
            self._head_deadline = self.loop.call_later(self.header_timeout_s, self._head_timed_out)  # type: ignore

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        transport = self.transport  # type: ignore[attr-defined]
        if transport.is_closing() or self._request_with_app():
            return
        if self._partial_head():
            request_count("unknown", "unknown", 408).inc()
            log.info("request header timed out", extra={"fields": {
                "status": 408, "client": _address(self.client), "timeout_s": self.header_timeout_s}})  # type: ignore
            transport.write(b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
                            b"content-length: %d\r\nconnection: close\r\n\r\n%s"
                            % (len(TIMED_OUT_HEAD), TIMED_OUT_HEAD.encode()))
        else:
            log.debug("idle connection closed", extra={"fields": {"client": _address(self.client)}})  # type: ignore
        transport.close()

    def _partial_head(self) -> bool:
        """Whether part of a request head has arrived (else: nothing, or an answered request's unread body)."""
        raise NotImplementedError


def _address(client) -> str | None:
    return f"{client[0]}:{client[1]}" if client else None


def protocol_class(header_timeout_s: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (httptools where installed, as uvicorn's `auto` picks, else h11) with the deadline."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # httptools not installed
        import h11
        from uvicorn.protocols.http.h11_impl import H11Protocol

        class H11WithDeadline(HeadDeadline, H11Protocol):
            def _partial_head(self) -> bool:
                return self.conn.their_state is h11.IDLE and bool(self.conn.trailing_data[0])

        H11WithDeadline.header_timeout_s = header_timeout_s
        return H11WithDeadline

    class HttpToolsWithDeadline(HeadDeadline, HttpToolsProtocol):
        _in_head = False

        def on_message_begin(self) -> None:
            self._in_head = True
            super().on_message_begin()

        def on_headers_complete(self) -> None:
            self._in_head = False
            super().on_headers_complete()

        def _partial_head(self) -> bool:
            return self._in_head

    HttpToolsWithDeadline.header_timeout_s = header_timeout_s
    return HttpToolsWithDeadline
