"""An httpx transport on aiohttp: the async client's default HTTP layer.

httpx keeps its API (requests, responses, ``MockTransport`` in tests); aiohttp moves the bytes.
Measured on our machines (see docs/performance.md), httpx 0.28's own async pool costs CPU that
grows with the connections it holds: at 64 requests in flight it falls to a tenth of its
throughput at 4, and bounding the pool small enough to avoid that caps throughput at
``connections / vendor latency``. aiohttp's connector does not degrade, so the pool can be as
large as the vendor allows.

The exception mapping is ours, and deliberately conservative: a lead load is not idempotent, so
only failures that provably happened before the request left (the connection could not be
made) map to the exceptions the retry policy treats as "never sent". A dropped or reset
connection maps to errors whose outcome is unknown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import aiohttp
import httpx
import yarl
from aiohttp.helpers import get_env_proxy_for_url

if TYPE_CHECKING:
    import ssl
    from collections.abc import AsyncIterator, Mapping

__all__ = ["AiohttpTransport"]

_PROXY_CACHE: Final = 256

# Most specific first: the first match wins.
_NEVER_SENT: Final[tuple[tuple[type[BaseException], type[httpx.TransportError]], ...]] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.ClientConnectorError, httpx.ConnectError),  # DNS, refused, TLS handshake
)
_MAYBE_SENT: Final[tuple[tuple[type[BaseException], type[httpx.TransportError]], ...]] = (
    (aiohttp.SocketTimeoutError, httpx.ReadTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.ReadError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),
    (aiohttp.ClientOSError, httpx.ReadError),
    (aiohttp.ClientConnectionResetError, httpx.ReadError),
    (aiohttp.ClientConnectionError, httpx.ReadError),
)


def _map_error(exc: BaseException) -> httpx.TransportError | None:
    for source, target in (*_NEVER_SENT, *_MAYBE_SENT):
        if isinstance(exc, source):
            return target(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return httpx.UnsupportedProtocol(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, aiohttp.ClientError):
        return httpx.RemoteProtocolError(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, ValueError | UnicodeError):
        # aiohttp refuses to write a header holding CR, LF or NUL (or that is not latin-1)
        # before anything is sent: a request our stack cannot send. Named only: its text
        # quotes the header's value.
        return httpx.LocalProtocolError(f"the request cannot be sent ({type(exc).__name__})")
    return None


class _Body(httpx.AsyncByteStream):
    """A body already read, handed to httpx as a stream (so that httpx leaves it as sent)."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._body


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An ``httpx.AsyncBaseTransport`` that sends through an ``aiohttp.ClientSession``.

    The session is created on first use, inside the running event loop (aiohttp sessions
    belong to a loop), and closed by :meth:`aclose`. Bodies are read whole: screening
    answers are small.

    Args:
        max_connections: The connection pool's size.
        keepalive_expiry: Seconds an idle connection is kept.
        verify: TLS verification: ``True`` (certifi's CA bundle, as httpx), ``False``, or an
            SSL context. Proxies come from ``HTTP(S)_PROXY`` / ``NO_PROXY``, as with httpx.
        max_body_bytes: Bytes of body read at most (as sent, compressed or not); the rest is
            left unread and the connection closed. ``None``: the whole body.
    """

    def __init__(
        self,
        *,
        max_connections: int = 64,
        keepalive_expiry: float = 15.0,
        verify: ssl.SSLContext | bool = True,
        max_body_bytes: int | None = None,
    ) -> None:
        """Create the transport; the session is opened on first use."""
        self._max_body = max_body_bytes
        self._max_connections = max_connections
        self._keepalive_expiry = keepalive_expiry
        # The same trust as httpx's own transport: certifi's CA bundle unless told otherwise.
        self._ssl: ssl.SSLContext | bool = httpx.create_ssl_context() if verify is True else verify
        self._session: aiohttp.ClientSession | None = None
        # The environment's proxy for each origin, looked up once: aiohttp's `trust_env` looks
        # it up (and reads ~/.netrc) in a worker thread on every request, two thread hops that
        # cost more CPU than the rest of the call.
        self._proxies: dict[str, tuple[Any, Any]] = {}

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                keepalive_timeout=self._keepalive_expiry,
                ssl=self._ssl,
            )
            # No cookies, no automatic headers beyond what httpx built: httpx owns the request.
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                # Proxies from HTTP(S)_PROXY / NO_PROXY, as httpx does by default, are looked up
                # once per origin by `_proxy_for`, not per request by aiohttp.
                trust_env=False,
                auto_decompress=False,
                # Header limits are the client's (ResponseLimits.max_header_bytes): aiohttp's
                # 128 lines would refuse, as a protocol error, what the sync client reads.
                max_headers=4096,
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send *request* and return its response, body read."""
        timeout = request.extensions.get("timeout", {})
        sent = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        try:
            status, received, reason, body = await self._perform(
                request.method, str(request.url), sent, request.content or None, timeout
            )
        except httpx.TransportError as failure:
            failure.request = request
            raise
        extensions = {"http_version": b"HTTP/1.1"}
        if reason:
            extensions["reason_phrase"] = reason.encode("latin-1", errors="replace")
        # A stream, not `content=`: httpx decodes (inflates) content given whole at once, and
        # the client inflates within its own limits.
        return httpx.Response(
            status,
            headers=list(received),
            stream=_Body(body),
            request=request,
            extensions=extensions,
        )

    async def exchange(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes | None,
        timeouts: Mapping[str, float | None],
    ) -> tuple[int, httpx.Headers, bytes]:
        """Send one request without httpx's request and response objects (the library's path).

        Same behaviour and errors as :meth:`handle_async_request` (httpx's exceptions); about
        a third of the CPU of a call is httpx building and unwrapping what this skips.
        """
        status, received, _, read = await self._perform(method, url, headers, body, timeouts)
        return status, httpx.Headers(list(received)), read

    async def _perform(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes | None,
        timeouts: Mapping[str, float | None],
    ) -> tuple[int, Any, str | None, bytes]:
        connect, read, pool = timeouts.get("connect"), timeouts.get("read"), timeouts.get("pool")
        session = self._open()
        failure: httpx.TransportError | None = None
        try:
            # Inside: a proxy setting that cannot be read fails the request (never-sent), as
            # httpx's would, rather than letting it go out directly.
            proxy, proxy_auth = self._proxy_for(url)
            async with session.request(
                method,
                url,
                headers=headers,
                proxy=proxy,
                proxy_auth=proxy_auth,
                data=body,
                allow_redirects=False,
                compress=None,
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    # aiohttp's `connect` covers waiting for a pooled connection and making
                    # one; `sock_connect` the TCP/TLS connect alone.
                    connect=None if pool is None or connect is None else pool + connect,
                    sock_connect=connect,
                    sock_read=read,
                ),
            ) as answer:
                read_body = await self._read(answer)
                return answer.status, answer.raw_headers, answer.reason, read_body
        except Exception as exc:
            failure = _map_error(exc)
            if failure is None:
                raise
        # Raised here, outside the handler, so that aiohttp's exception (whose repr prints the
        # request's headers) is neither its cause nor its context.
        assert failure is not None  # noqa: S101 - only the handler above gets here
        raise failure

    def _proxy_for(self, url: str) -> tuple[Any, Any]:
        """The environment's proxy and its credentials for *url*'s origin, or ``(None, None)``.

        Read when an origin is first called (the environment of a running process is not
        expected to change, and httpx reads it once, when its client is built).
        """
        # "scheme://host:port", by one split: this runs for every request.
        origin = "/".join(url.split("/", 3)[:3]).partition("?")[0].partition("#")[0]
        found = self._proxies.get(origin)
        if found is None:
            try:
                target = yarl.URL(origin)
            except ValueError:
                return None, None  # a URL aiohttp refuses itself, with its own error
            try:
                found = get_env_proxy_for_url(target)
            except LookupError:
                found = (None, None)  # no proxy for this origin
            if len(self._proxies) >= _PROXY_CACHE:
                self._proxies.clear()  # origins are a campaign's few vendors: bound, not LRU
            self._proxies[origin] = found
        return found

    async def _read(self, answer: aiohttp.ClientResponse) -> bytes:
        if self._max_body is None:
            return await answer.read()
        chunks: list[bytes] = []
        size = 0
        while size <= self._max_body:
            chunk = await answer.content.read(min(1 << 16, self._max_body + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > self._max_body:
            answer.close()  # the rest is not read: the connection cannot be reused
        return b"".join(chunks)

    async def aclose(self) -> None:
        """Close the session and its connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None
