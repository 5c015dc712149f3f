"""FakePureCallerID: a programmable, in-process stand-in for the vendor.

How a request is read and which answer it gets is decided in ``purecallerid.testing._vendor``,
shared with the simulator; this module only adapts it to ``httpx.MockTransport``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import TYPE_CHECKING, Any

import httpx

from .._integrations.purecallerid.client import AsyncPureCallerIDClient, PureCallerIDClient
from .._integrations.purecallerid.integration import PureCallerIDIntegration
from .._secrets import MASK
from ._vendor import ReceivedRequest, Script, phone_key, read_request

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from ._testnumbers import CannedAnswer

__all__ = ["FakePureCallerID", "ReceivedRequest"]


class FakePureCallerID:
    """A fake PureCallerID that plugs into both clients through ``httpx.MockTransport``.

    By default it answers from the test number table (see :mod:`purecallerid.testing`);
    :meth:`program` sets the answers for one number and :meth:`fail_next` queues answers for
    the next requests whatever their number. Both dialects are understood, from the path.

    Requests that reach it are logged in :attr:`requests` (connection errors never reach it),
    and the ``assert_*`` helpers check that log, listing what was received when they fail.

    Args:
        api_token: The token to expect; ``None`` accepts any non-empty token. A missing or
            wrong token gets HTTP 401.
        base_url: The base URL the clients made by :meth:`client` use.
        latency: Seconds added before every answer (the fake honours the client's read
            timeout: an answer slower than it becomes a read timeout).
    """

    def __init__(
        self,
        *,
        api_token: str | None = None,
        base_url: str = "https://purecallerid.test",
        latency: float = 0.0,
    ) -> None:
        """Create the fake; see the class docstring for the arguments."""
        self.api_token = api_token
        self.base_url = base_url
        self.latency = latency
        self.requests: list[ReceivedRequest] = []
        self.slept: list[float] = []
        self._script = Script()
        self._lock = threading.Lock()

    # -- programming -------------------------------------------------------------------

    def program(self, phone: str, *answers: CannedAnswer) -> None:
        """Answer requests for *phone* with *answers* in turn; the last one then repeats."""
        self._script.program(phone, *answers)

    def fail_next(self, *answers: CannedAnswer) -> None:
        """Answer the next requests with *answers*, one each, before any other rule."""
        self._script.fail_next(*answers)

    def reset(self) -> None:
        """Forget programmed answers, queued answers, the request log and recorded sleeps."""
        self._script.clear()
        with self._lock:
            self.requests.clear()
            self.slept.clear()

    # -- transports and clients --------------------------------------------------------

    def transport(self) -> httpx.MockTransport:
        """A transport for ``httpx.Client`` / :class:`PureCallerIDClient`."""
        return httpx.MockTransport(self.handle)

    def async_transport(self) -> httpx.MockTransport:
        """A transport for ``httpx.AsyncClient`` / :class:`AsyncPureCallerIDClient`."""
        return httpx.MockTransport(self.ahandle)

    def client(self, **options: Any) -> PureCallerIDClient:
        """A :class:`PureCallerIDClient` wired to this fake.

        Defaults: this fake's base URL, the token ``"test-token"`` (or the expected one), and
        a ``sleep`` that does not wait but appends to :attr:`slept`. *options* override them.
        """
        options.setdefault("base_url", self.base_url)
        options.setdefault("api_token", self.api_token or "test-token")
        options.setdefault("sleep", self.slept.append)
        options.setdefault("transport", self.transport())
        return PureCallerIDClient(**options)

    def async_client(self, **options: Any) -> AsyncPureCallerIDClient:
        """An :class:`AsyncPureCallerIDClient` wired to this fake (defaults as :meth:`client`)."""

        async def record_sleep(seconds: float) -> None:
            self.slept.append(seconds)

        options.setdefault("base_url", self.base_url)
        options.setdefault("api_token", self.api_token or "test-token")
        options.setdefault("sleep", record_sleep)
        options.setdefault("transport", self.async_transport())
        return AsyncPureCallerIDClient(**options)

    def integration(self, **options: Any) -> PureCallerIDIntegration:
        """A :class:`~purecallerid.PureCallerIDIntegration` wired to this fake.

        Retries are instant: its ``sleep`` does not wait but appends to :attr:`slept`.
        *options* override the defaults (``sleep``, ``transport``); for time that moves with
        the sleeps, see :class:`~purecallerid.testing.ScreenerHarness`.
        """

        async def record_sleep(seconds: float) -> None:
            self.slept.append(seconds)

        options.setdefault("sleep", record_sleep)
        options.setdefault("transport", self.async_transport())
        return PureCallerIDIntegration(**options)

    # -- handling ----------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request (the sync ``MockTransport`` handler)."""
        answer = self._receive(request)
        delay = self.latency + answer.delay
        read_timeout = _read_timeout(request)
        if answer.kind == "timeout" or (read_timeout is not None and delay > read_timeout):
            time.sleep(min(delay, read_timeout or 0.0))
            raise httpx.ReadTimeout("the fake vendor did not answer in time", request=request)
        if delay > 0:
            time.sleep(delay)
        return _respond(answer)

    async def ahandle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request (the async ``MockTransport`` handler)."""
        answer = self._receive(request)
        delay = self.latency + answer.delay
        read_timeout = _read_timeout(request)
        if answer.kind == "timeout" or (read_timeout is not None and delay > read_timeout):
            await asyncio.sleep(min(delay, read_timeout or 0.0))
            raise httpx.ReadTimeout("the fake vendor did not answer in time", request=request)
        if delay > 0:
            await asyncio.sleep(delay)
        return _respond(answer)

    def _receive(self, request: httpx.Request) -> CannedAnswer:
        """Check and log *request*; return the answer to give (raise for a refused connect)."""
        reading = read_request(
            request.method,
            _path_below(request.url.path, self.base_url),
            request.headers,
            request.content,
            url=str(request.url),
            api_token=self.api_token,
        )
        answer = self._script.answer(reading)
        if reading.received is None:
            return answer
        if answer.kind == "connect_error":
            raise httpx.ConnectError("connection refused (fake)", request=request)
        if answer.kind == "connect_timeout":
            raise httpx.ConnectTimeout("connect timeout (fake)", request=request)
        with self._lock:
            self.requests.append(reading.received)
        return answer

    # -- assertions --------------------------------------------------------------------

    def calls_for(self, phone: str | None = None) -> list[ReceivedRequest]:
        """The requests received, or those for *phone* (any format) when given."""
        with self._lock:
            log = list(self.requests)
        if phone is None:
            return log
        key = phone_key(phone)
        return [r for r in log if r.phone is not None and phone_key(r.phone) == key]

    def assert_called(self, times: int | None = None, *, phone: str | None = None) -> None:
        """Assert that requests (for *phone*, if given) arrived: *times* of them, or any."""
        calls = self.calls_for(phone)
        if (times is None and calls) or len(calls) == times:
            return
        wanted = "at least 1" if times is None else str(times)
        target = "" if phone is None else f" for {phone}"
        raise AssertionError(f"expected {wanted} request(s){target}; {self._received_text()}")

    def assert_not_called(self, *, phone: str | None = None) -> None:
        """Assert that no request (for *phone*, if given) arrived."""
        self.assert_called(0, phone=phone)

    def assert_called_with(self, **expected: Any) -> None:
        """Assert that the last request's :attr:`ReceivedRequest.fields` include *expected*."""
        calls = self.calls_for()
        if not calls:
            raise AssertionError(f"expected a request with {expected}; {self._received_text()}")
        fields = calls[-1].fields
        wrong = {k: v for k, v in expected.items() if k not in fields or fields[k] != v}
        if wrong:
            raise AssertionError(f"the last request lacks {wrong}; {self._received_text()}")

    def _received_text(self) -> str:
        calls = self.calls_for()
        if not calls:
            return "received none"
        lines = "\n".join(f"  {i}. {c.describe()}" for i, c in enumerate(calls, 1))
        return f"received {len(calls)}:\n{lines}"

    def __repr__(self) -> str:
        expects = "any token" if self.api_token is None else f"token {MASK}"
        return f"FakePureCallerID({self.base_url!r}, {expects}, {len(self.requests)} request(s))"


def _path_below(path: str, base_url: str) -> str:
    prefix = httpx.URL(base_url).path.rstrip("/")
    return path[len(prefix) :] if prefix and path.startswith(prefix) else path


def _read_timeout(request: httpx.Request) -> float | None:
    timeout = request.extensions.get("timeout")
    if isinstance(timeout, dict):
        read = timeout.get("read")
        return float(read) if isinstance(read, int | float) else None
    return None


class _AsSent(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A canned body given to httpx as a stream, so that it reaches the client as it was sent.

    httpx decodes (inflates) a body handed over whole as ``content=``; a network answer is
    streamed, and the client inflates it within its own limits. A fake answering with a gzip
    bomb must behave the same.
    """

    def __init__(self, body: bytes) -> None:
        self._body = body

    def __iter__(self) -> Iterator[bytes]:
        yield self._body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._body


def _respond(answer: CannedAnswer) -> httpx.Response:
    return httpx.Response(
        answer.status_code, headers=dict(answer.headers), stream=_AsSent(answer.body)
    )
