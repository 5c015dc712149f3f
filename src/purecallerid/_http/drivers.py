"""The sync and async drivers of :func:`run_call`, and the checks of what builds them.

A driver owns an httpx client (its connection pool) and does only I/O: it sends what the call
generator yields, reads the answer as sent within the limits and the deadline, and sleeps when
told. One driver serves every call to its vendor, whatever the credentials: the credentials
travel in each call's request, so campaigns with their own keys share one pool.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import time
import urllib.request
from typing import TYPE_CHECKING, TypeVar

import httpx

from .._errors import ConfigurationError
from .._fork import check_process, forked
from .call import SUCCESS, Result, Sent, Sleep, run_call
from .deadline import DeadlineTransport, deadline
from .received import Received, ResponseLimits

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Collection

    from .._models import Exchange
    from .call import CallSettings, VendorReply, WireRequest
    from .transport import AiohttpTransport

__all__ = [
    "AsyncDriver",
    "SyncDriver",
    "check_base_url",
    "check_http",
    "check_timeout",
    "pool_limits",
]

T = TypeVar("T")


def _proxied() -> bool:
    """Whether the environment names an HTTP(S) proxy (``HTTP_PROXY``, ``HTTPS_PROXY``...)."""
    proxies = urllib.request.getproxies()
    return any(proxies.get(scheme) for scheme in ("http", "https", "all"))


def _already_read(response: httpx.Response, limit: int) -> Received | None:
    """The answer of a transport that read the body itself (a mock), as it was sent."""
    if not response.is_stream_consumed:
        return None
    headers = response.headers
    if isinstance(response.stream, httpx.ByteStream):
        body = b"".join(response.stream)  # the bytes as given, before httpx decoded them
    else:
        body = response.content  # decoded already: say so
        headers = httpx.Headers(
            [(k, v) for k, v in headers.raw if k.lower() != b"content-encoding"]
        )
    return Received(
        status_code=response.status_code, headers=headers, body=body[:limit], cut=len(body) > limit
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _unbuildable(exc: Exception) -> httpx.LocalProtocolError:
    """Our own HTTP stack refused to build a request: it was never sent.

    The cause is kept by name only: its text could quote a header value (a credential beside
    a lead's non-ASCII name).
    """
    return httpx.LocalProtocolError(f"the request cannot be built ({type(exc).__name__})")


def check_base_url(
    base_url: str, *, allow_insecure_http: bool, what: str = "the API token", option: bool = True
) -> str:
    """*base_url* checked (https unless loopback or allowed) and without its trailing slash.

    Raises:
        TypeError: It is not a string.
        ConfigurationError: It is not a usable base URL.
    """
    if not isinstance(base_url, str):
        raise TypeError(f"base_url must be a str such as 'https://host', not {type(base_url)}")
    try:
        url = httpx.URL(base_url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ConfigurationError(f"base_url is not a URL: {exc}") from None
    if url.scheme not in {"http", "https"} or not url.host:
        raise ConfigurationError("base_url must look like 'https://host[:port][/path]'")
    if url.scheme == "http" and not (allow_insecure_http or _is_loopback(url.host)):
        allowed = "loopback addresses, or with allow_insecure_http=True" if option else "loopback"
        raise ConfigurationError(
            f"base_url must use https: {what} and the lead travel in the request "
            f"(http is accepted for {allowed})"
        )
    if url.query or url.fragment:
        raise ConfigurationError("base_url must not carry a query or fragment")
    if url.userinfo:
        raise ConfigurationError(
            "base_url must not carry a user name or password; pass them as credentials"
        )
    return str(url).rstrip("/")


def check_timeout(timeout: float | httpx.Timeout) -> httpx.Timeout:
    """*timeout* (seconds per phase, or an ``httpx.Timeout``) as an ``httpx.Timeout``.

    Raises:
        TypeError: It is neither.
        ConfigurationError: It is not a positive number.
    """
    if isinstance(timeout, bool) or not isinstance(timeout, int | float | httpx.Timeout):
        raise TypeError("timeout must be seconds (a float) or an httpx.Timeout")
    if isinstance(timeout, httpx.Timeout):
        return timeout
    if not timeout > 0:
        raise ConfigurationError(f"timeout must be > 0 seconds, not {timeout!r}")
    return httpx.Timeout(timeout)


def check_http(
    http_client: object, transport: object, *, is_async: bool, names: tuple[str, str]
) -> None:
    """Refuse an httpx client or transport of the wrong kind, saying what to pass instead.

    *names*: the async and sync names of the class being built, for the message.
    """
    if http_client is not None and transport is not None:
        raise TypeError("pass either http_client or transport, not both")
    want, other = ("AsyncClient", "Client") if is_async else ("Client", "AsyncClient")
    this, that = names if is_async else names[::-1]
    if http_client is not None and not isinstance(http_client, getattr(httpx, want)):
        hint = (
            f"; use {that} for an httpx.{other}"
            if isinstance(http_client, getattr(httpx, other))
            else ""
        )
        raise TypeError(f"{this}: http_client must be an httpx.{want}{hint}")
    transport_type = httpx.AsyncBaseTransport if is_async else httpx.BaseTransport
    if transport is not None and not isinstance(transport, transport_type):
        raise TypeError(
            f"{this}: transport must be an httpx.{transport_type.__name__} "
            f"(httpx.MockTransport is both); use {that} for the other kind"
        )


def pool_limits(max_connections: int) -> httpx.Limits:
    """Httpx pool limits of *max_connections* (checked: a whole number >= 1)."""
    if isinstance(max_connections, bool) or not isinstance(max_connections, int):
        raise TypeError("max_connections must be an int")
    if max_connections < 1:
        raise ConfigurationError(f"max_connections must be >= 1, not {max_connections}")
    return httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)


class SyncDriver:
    """Runs calls on a thread: httpx's sync client, a deadline over every socket operation.

    Belongs to the process that built it (:class:`~purecallerid.ForkedError` in a fork).
    """

    def __init__(
        self,
        *,
        http_client: httpx.Client | None,
        transport: httpx.BaseTransport | None,
        max_connections: int,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Use *http_client* (not closed here), or build one over *transport*."""
        self.pid = os.getpid()
        limits = pool_limits(max_connections)
        self.owns_http = http_client is None
        if http_client is None and transport is None and not _proxied():
            # Without a proxy from the environment (httpx's default transport reads it, and
            # an explicit transport would lose it), the deadline bounds every socket operation.
            transport = DeadlineTransport(limits=limits)
        self.http = http_client or httpx.Client(transport=transport, limits=limits)
        self.sleep = sleep

    def call(
        self,
        settings: CallSettings,
        wire: WireRequest,
        secrets: tuple[str, ...],
        read: Callable[[VendorReply], T],
        deadline: float | None,
        *,
        label: str,
        owner: str,
        answer_statuses: Collection[int] = SUCCESS,
    ) -> tuple[T, Exchange]:
        """Run one call to its end (see :func:`run_call`); *owner* names the caller's class."""
        check_process(self.pid, owner)
        calls = run_call(
            settings, wire, secrets, read, deadline, label=label, answer_statuses=answer_statuses
        )
        try:
            action = next(calls)
            while True:
                result: Result = None
                if isinstance(action, Sleep):
                    self.sleep(action.seconds)
                else:
                    result = self._send(action, settings.limits, settings.clock)
                try:
                    action = calls.send(result)
                except StopIteration as done:
                    value: tuple[T, Exchange] = done.value
                    return value
        finally:
            calls.close()

    def _send(
        self, action: Sent, limits: ResponseLimits, clock: Callable[[], float]
    ) -> Received | httpx.RequestError:
        try:
            request = action.build(self.http)
        except (TypeError, ValueError, httpx.HTTPError) as exc:
            return _unbuildable(exc)
        # The deadline bounds every socket operation (the default transport's), connect and
        # headers included; the body's read is bounded between chunks for any transport.
        with deadline(action.time_left):
            try:
                response = self.http.send(request, stream=True)
            except httpx.RequestError as exc:
                return exc
            try:
                return _read_within(response, action.time_left, limits, clock)
            except httpx.RequestError as exc:
                return exc
            finally:
                response.close()

    def close(self) -> None:
        """Close the pool, if built here (and not in a forked child, whose pool is the parent's)."""
        if self.owns_http and not forked(self.pid):
            self.http.close()


def _read_within(
    response: httpx.Response,
    time_left: float | None,
    limits: ResponseLimits,
    clock: Callable[[], float],
) -> Received:
    """Read *response*'s body as sent, within the wire limit and the call's deadline.

    httpx's read timeout applies to each socket read, so a vendor trickling its answer could
    hold the call far past the deadline; the clock is checked between chunks.
    """
    limit = limits.max_wire_bytes
    end = None if time_left is None else clock() + time_left
    read = _already_read(response, limit)
    if read is not None:
        return read
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_raw():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            break
        if end is not None and clock() > end:
            raise httpx.ReadTimeout("the deadline ran out while reading the answer")
    body = b"".join(chunks)
    return Received(
        status_code=response.status_code,
        headers=response.headers,
        body=body[:limit],
        cut=size > limit,
    )


class AsyncDriver:
    """Runs calls on an event loop: httpx over aiohttp by default, calls in flight bounded.

    Calls in flight are bounded by *max_connections* (waiting callers queue in front of the
    pool, within their deadline), which keeps httpx's pool out of its slow path. Belongs to the
    process that built it.
    """

    def __init__(
        self,
        *,
        http_client: httpx.AsyncClient | None,
        transport: httpx.AsyncBaseTransport | None,
        max_connections: int,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_wire_bytes: int = ResponseLimits().max_wire_bytes,
    ) -> None:
        """Use *http_client* (not closed here), or build one over *transport* (aiohttp's)."""
        self.pid = os.getpid()
        pool_limits(max_connections)  # checks the value
        self.owns_http = http_client is None
        # The library's own transport is driven directly, without httpx's request and
        # response objects; a host's transport or client gets httpx's API, as documented.
        self.direct: AiohttpTransport | None = None
        if http_client is None and transport is None:
            # aiohttp is imported here, on first use: a host passing its own transport (and
            # `import purecallerid`) does not pay its ~90 ms import.
            from .transport import AiohttpTransport  # noqa: PLC0415

            transport = self.direct = AiohttpTransport(
                max_connections=max_connections,
                # One byte past the limit: enough to tell a body over it.
                max_body_bytes=max_wire_bytes + 1,
            )
        self.http = http_client or httpx.AsyncClient(transport=transport)
        self.in_flight = asyncio.Semaphore(max_connections)
        self.sleep = sleep
        self.loop: asyncio.AbstractEventLoop | None = None
        self.closed = False

    def check_loop(self, owner: str) -> None:
        """Refuse a closed driver, or one first used on another event loop.

        Its pool's connections (aiohttp's session) and its in-flight bound belong to the loop
        that first used them: on another loop they fail deep inside aiohttp ("Event loop is
        closed") or hang. Checked for every transport, the fakes' too, so that a host's tests
        meet what production would.
        """
        if self.closed:
            raise RuntimeError(f"{owner} is closed: build a new one (aclose() ends it for good)")
        loop = asyncio.get_running_loop()
        if self.loop is None:
            self.loop = loop
        elif loop is not self.loop:
            raise RuntimeError(
                f"{owner} was first used on another event loop, to which its connection pool "
                "belongs: build one per event loop (inside the coroutine given to asyncio.run, "
                "or in the host's startup hook) and close it there with aclose()"
            )

    async def call(
        self,
        settings: CallSettings,
        wire: WireRequest,
        secrets: tuple[str, ...],
        read: Callable[[VendorReply], T],
        deadline: float | None,
        *,
        label: str,
        owner: str,
        answer_statuses: Collection[int] = SUCCESS,
    ) -> tuple[T, Exchange]:
        """Run one call to its end (see :func:`run_call`); *owner* names the caller's class."""
        check_process(self.pid, owner)
        self.check_loop(owner)
        calls = run_call(
            settings, wire, secrets, read, deadline, label=label, answer_statuses=answer_statuses
        )
        try:
            action = next(calls)
            while True:
                result: Result = None
                if isinstance(action, Sleep):
                    await self.sleep(action.seconds)
                else:
                    result = await self._send(action, settings.limits)
                try:
                    action = calls.send(result)
                except StopIteration as done:
                    value: tuple[T, Exchange] = done.value
                    return value
        finally:
            calls.close()

    async def _send(self, action: Sent, limits: ResponseLimits) -> Received | httpx.RequestError:
        request: httpx.Request | None = None
        encoded: tuple[list[tuple[str, str]], bytes | None] | None = None
        try:
            if self.direct is None:
                request = action.build(self.http)
            else:
                encoded = action.encoded()
        except (TypeError, ValueError, httpx.HTTPError) as exc:
            return _unbuildable(exc)
        loop = asyncio.get_running_loop()
        end = None if action.time_left is None else loop.time() + action.time_left
        if self.in_flight.locked():
            try:
                # Waiting for a slot counts against the pool timeout, as waiting in httpx's
                # own pool would: a request that never got a slot provably never left.
                async with asyncio.timeout(action.timeout.pool):
                    await self.in_flight.acquire()
            except TimeoutError:
                return httpx.PoolTimeout("no free connection slot in time", request=request)
        else:
            await self.in_flight.acquire()  # free: returns at once
        try:
            # httpx's read timeout applies to each socket read; the deadline bounds the whole.
            async with asyncio.timeout_at(end):
                if encoded is not None and self.direct is not None:
                    return await self._exchange(self.direct, action, encoded, limits)
                assert request is not None  # noqa: S101 - built above when not direct
                return await self._receive(request, limits.max_wire_bytes)
        except httpx.RequestError as exc:
            return exc
        except TimeoutError:
            return httpx.ReadTimeout("the deadline ran out waiting for the answer", request=request)
        finally:
            self.in_flight.release()

    @staticmethod
    async def _exchange(
        transport: AiohttpTransport,
        action: Sent,
        encoded: tuple[list[tuple[str, str]], bytes | None],
        limits: ResponseLimits,
    ) -> Received:
        headers, body = encoded
        status, received, read = await transport.exchange(
            action.method, action.url, headers, body, action.timeout.as_dict()
        )
        limit = limits.max_wire_bytes
        return Received(
            status_code=status, headers=received, body=read[:limit], cut=len(read) > limit
        )

    async def _receive(self, request: httpx.Request, limit: int) -> Received:
        """Send *request*; read its body as sent, no further than the wire limit."""
        response = await self.http.send(request, stream=True)
        read = _already_read(response, limit)
        if read is not None:
            return read
        try:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_raw():
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    break
        finally:
            await response.aclose()
        return Received(
            status_code=response.status_code,
            headers=response.headers,
            body=b"".join(chunks)[:limit],
            cut=size > limit,
        )

    async def aclose(self) -> None:
        """Close the pool, if built here (and not in a forked child, whose pool is the parent's).

        The driver is closed for good: a call after this raises ``RuntimeError``.
        """
        self.closed = True
        if self.owns_http and not forked(self.pid):
            await self.http.aclose()
