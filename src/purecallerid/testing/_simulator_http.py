"""The simulator's HTTP/1.1 server side: one ``asyncio.Protocol`` per connection.

The subset of HTTP/1.1 the clients use: keep-alive, pipelining (answers in request order),
bodies sized by ``Content-Length``. A malformed request is answered with its error status
and the connection closed: the stream cannot be trusted after it. What to answer is not
decided here: each request goes to the ``answer`` callable the server was given.
"""

from __future__ import annotations

import asyncio
import http
from collections.abc import Callable
from typing import Final

from ._testnumbers import DEFAULT_ANSWER, TEST_NUMBERS, CannedAnswer

__all__ = ["Answerer", "Connection"]

Answerer = Callable[[str, str, str, dict[str, str], bytes], tuple[CannedAnswer, float]]
"""Gives the answer to (method, path, query, headers, body) and the seconds to wait before it."""

_MAX_HEAD: Final = 64 * 1024
_MAX_BODY: Final = 1024 * 1024
_SERVER: Final = b"Server: purecallerid-simulator\r\n"


def _status_line(code: int) -> bytes:
    try:
        phrase = http.HTTPStatus(code).phrase
    except ValueError:
        phrase = "Unknown"
    return f"HTTP/1.1 {code} {phrase}\r\n".encode("latin-1")


# The table's answers are module constants that repeat: encode each once per keep-alive mode.
_TABLE_IDS: Final = frozenset(id(a) for a in (*TEST_NUMBERS.values(), DEFAULT_ANSWER))
_ENCODED: dict[tuple[int, bool], bytes] = {}


def _response(answer: CannedAnswer, *, keep_alive: bool) -> bytes:
    if id(answer) not in _TABLE_IDS:
        return _encode(answer, keep_alive=keep_alive)
    key = (id(answer), keep_alive)
    data = _ENCODED.get(key)
    if data is None:
        data = _ENCODED[key] = _encode(answer, keep_alive=keep_alive)
    return data


def _encode(answer: CannedAnswer, *, keep_alive: bool) -> bytes:
    head = [_status_line(answer.status_code), _SERVER]
    head.extend(
        f"{name}: {value}\r\n".encode("latin-1")
        for name, value in answer.headers.items()
        if name.lower() not in {"content-length", "connection"}
    )
    head.append(f"Content-Length: {len(answer.body)}\r\n".encode("latin-1"))
    if not keep_alive:
        head.append(b"Connection: close\r\n")
    head.append(b"\r\n")
    return b"".join(head) + answer.body


class _BadRequest(Exception):  # noqa: N818 - internal control flow, answered as an HTTP error
    def __init__(self, status_code: int, error: str) -> None:
        super().__init__(error)
        self.status_code = status_code
        self.error = error


def _parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    """Split a request head into method, target, HTTP version and lower-cased headers."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):  # noqa: PLR2004 - request line
        raise _BadRequest(400, "malformed request line")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            raise _BadRequest(400, "malformed header")
        headers[name.strip().lower()] = value.strip()
    return parts[0], parts[1], parts[2], headers


def _content_length(headers: dict[str, str]) -> int:
    if "transfer-encoding" in headers:
        raise _BadRequest(411, "send the body with a Content-Length")
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        raise _BadRequest(400, "bad Content-Length") from None
    if not 0 <= length <= _MAX_BODY:
        raise _BadRequest(413, "body too large")
    return length


class Connection(asyncio.Protocol):
    """One client connection: parse requests in order, answer each, keep the line open.

    Args:
        answer: Gives the answer to one request (method, path, query string, lower-cased
            headers, body) and the seconds to wait before sending it.
        hang_seconds: How long a ``timeout`` answer holds the connection before closing it.
        registry: The server's open connections; this one adds and removes itself.
    """

    def __init__(self, answer: Answerer, *, hang_seconds: float, registry: set[Connection]) -> None:
        """Create the protocol for one connection (asyncio calls the factory)."""
        self._answer = answer
        self._hang_seconds = hang_seconds
        self._registry = registry
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._timer: asyncio.TimerHandle | None = None
        self._closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # noqa: S101 - a TCP server
        self._transport = transport
        self._registry.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        del exc  # a client going away is normal
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._registry.discard(self)

    def close(self) -> None:
        """Close the connection, dropping any answer still waiting."""
        self._closing = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._transport is not None:
            self._transport.close()

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        self._buffer += data
        if self._timer is None:
            self._serve()

    def _serve(self) -> None:
        """Answer every complete request in the buffer, in order, until one must wait."""
        while not self._closing and self._timer is None:
            parsed = self._next_request()
            if parsed is None:
                return
            answer, delay, keep_alive = parsed
            if answer.kind == "timeout":
                self._timer = asyncio.get_running_loop().call_later(self._hang_seconds, self.close)
            elif answer.kind in {"connect_error", "connect_timeout"}:
                self._closing = True
                if self._transport is not None:
                    self._transport.abort()
            elif delay > 0:
                self._timer = asyncio.get_running_loop().call_later(
                    delay, self._send_later, _response(answer, keep_alive=keep_alive), keep_alive
                )
            else:
                self._send(_response(answer, keep_alive=keep_alive), keep_alive=keep_alive)

    def _send_later(self, data: bytes, keep_alive: bool) -> None:
        self._timer = None
        self._send(data, keep_alive=keep_alive)
        self._serve()

    def _send(self, data: bytes, *, keep_alive: bool) -> None:
        if self._transport is None or self._transport.is_closing():
            return
        self._transport.write(data)
        if not keep_alive:
            self.close()

    def _next_request(self) -> tuple[CannedAnswer, float, bool] | None:
        """Take one complete request off the buffer and answer it; ``None`` if incomplete."""
        buffer = self._buffer
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return self._fail(431, "request head too large") if len(buffer) > _MAX_HEAD else None
        try:
            method, target, version, headers = _parse_head(bytes(buffer[:end]))
            length = _content_length(headers)
        except _BadRequest as bad:
            return self._fail(bad.status_code, bad.error)
        start = end + 4
        if len(buffer) < start + length:
            return None
        body = bytes(buffer[start : start + length])
        del buffer[: start + length]
        connection = headers.get("connection", "").lower()
        keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
        path, _, query = target.partition("?")
        if "://" in path:  # absolute-form target
            path = "/" + path.split("://", 1)[1].partition("/")[2]
        answer, delay = self._answer(method, path, query, headers, body)
        return answer, delay, keep_alive

    def _fail(self, status_code: int, error: str) -> tuple[CannedAnswer, float, bool]:
        # The stream cannot be trusted after a malformed request: answer, then close.
        self._buffer.clear()
        return CannedAnswer.status(status_code, body={"error": error}), 0.0, False
