"""FakePureCallerID: a programmable, in-process stand-in for the vendor."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

import httpx
from attrs import field, frozen

from .._client import AsyncPureCallerIDClient, PureCallerIDClient
from .._secrets import MASK, redact
from .._testnumbers import CannedAnswer, canned_answer_for

__all__ = ["FakePureCallerID", "ReceivedRequest"]

_PATHS: Final = {"/singleLeadLoading": "leadexec", "/api/public/lead/load": "public"}
_TOKEN_HEADER: Final = "x-api-key"  # noqa: S105 - a header name
_CREDENTIAL_KEYS: Final = frozenset({"apiToken"})
_US_DIGITS: Final = 10


def _phone_key(phone: str) -> str:
    digits = "".join(ch for ch in phone if ch.isascii() and ch.isdigit())
    if len(digits) == _US_DIGITS + 1 and digits.startswith("1"):
        return digits[1:]
    return digits


def _frozen(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return dict(value)


@frozen(kw_only=True)
class ReceivedRequest:
    """A request as the fake vendor received it, with the API token masked.

    Attributes:
        dialect: ``"leadexec"`` or ``"public"``, from the path.
        url: The full URL.
        headers: The request headers (the token masked).
        body: The decoded JSON body (the token masked).
        fields: The lead's fields flattened: the flat body less ``apiToken`` for ``leadexec``;
            ``campaignId``, ``dialerListId``, ``listName`` and one key per ``dialerField`` for
            ``public``.
        phone: The phone number sent, as sent.
        received_at: When it arrived (UTC).
    """

    dialect: str
    url: str
    headers: Mapping[str, str] = field(converter=_frozen)
    body: Any
    fields: Mapping[str, Any] = field(converter=_frozen)
    phone: str | None
    received_at: datetime

    def describe(self) -> str:
        """One line for assertion messages."""
        return f"{self.dialect} phone={self.phone} fields={dict(self.fields)}"


class _Refused(Exception):  # noqa: N818 - internal control flow, not an error users see
    def __init__(self, answer: CannedAnswer) -> None:
        self.answer = answer


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
        self._programmed: dict[str, deque[CannedAnswer]] = {}
        self._queued: deque[CannedAnswer] = deque()
        self._lock = threading.Lock()

    # -- programming -------------------------------------------------------------------

    def program(self, phone: str, *answers: CannedAnswer) -> None:
        """Answer requests for *phone* with *answers* in turn; the last one then repeats."""
        if not answers:
            raise ValueError("program() needs at least one answer")
        with self._lock:
            self._programmed[_phone_key(phone)] = deque(answers)

    def fail_next(self, *answers: CannedAnswer) -> None:
        """Answer the next requests with *answers*, one each, before any other rule."""
        with self._lock:
            self._queued.extend(answers)

    def reset(self) -> None:
        """Forget programmed answers, queued answers, the request log and recorded sleeps."""
        with self._lock:
            self._programmed.clear()
            self._queued.clear()
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
        try:
            received, token = self._parse(request)
        except _Refused as refused:
            return refused.answer
        if self.api_token is not None and token != self.api_token:
            received_answer = CannedAnswer.status(401, body={"error": "invalid API key"})
        else:
            received_answer = self._choose(received.phone or "")
        if received_answer.kind == "connect_error":
            raise httpx.ConnectError("connection refused (fake)", request=request)
        with self._lock:
            self.requests.append(received)
        return received_answer

    def _choose(self, phone: str) -> CannedAnswer:
        with self._lock:
            if self._queued:
                return self._queued.popleft()
            programmed = self._programmed.get(_phone_key(phone))
            if programmed:
                return programmed.popleft() if len(programmed) > 1 else programmed[0]
        return canned_answer_for(phone)

    def _parse(self, request: httpx.Request) -> tuple[ReceivedRequest, str | None]:
        dialect = _PATHS.get(_path_below(request.url.path, self.base_url))
        if dialect is None:
            raise _Refused(CannedAnswer.status(404, body={"error": "no such operation"}))
        if request.method != "POST":
            raise _Refused(CannedAnswer.status(405, body={"error": "use POST"}))
        try:
            body = json.loads(request.content)
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise _Refused(CannedAnswer.status(400, body={"error": "body is not JSON"})) from None
        if not isinstance(body, dict):
            raise _Refused(CannedAnswer.status(400, body={"error": "body is not an object"}))
        header_token = request.headers.get(_TOKEN_HEADER)
        if dialect == "leadexec":
            token = body.get("apiToken") if "apiToken" in body else header_token
            fields = {k: v for k, v in body.items() if k not in _CREDENTIAL_KEYS}
        else:
            token = header_token
            fields = {k: v for k, v in body.items() if k != "fields"}
            for entry in body.get("fields") or []:
                if isinstance(entry, dict) and isinstance(entry.get("dialerField"), str):
                    fields[entry["dialerField"]] = entry.get("value")
        phone = _phone_of(dialect, body)
        if not token or not isinstance(token, str):
            raise _Refused(CannedAnswer.status(401, body={"error": "missing API key"}))
        if phone is None:
            raise _Refused(CannedAnswer.status(400, body={"error": "phone is required"}))
        secrets = (token,)
        received = ReceivedRequest(
            dialect=dialect,
            url=str(request.url),
            headers=redact(dict(request.headers), secrets),
            body=redact(body, secrets),
            fields=redact(fields, secrets),
            phone=phone,
            received_at=datetime.now(UTC),
        )
        return received, token

    # -- assertions --------------------------------------------------------------------

    def calls_for(self, phone: str | None = None) -> list[ReceivedRequest]:
        """The requests received, or those for *phone* (any format) when given."""
        with self._lock:
            log = list(self.requests)
        if phone is None:
            return log
        key = _phone_key(phone)
        return [r for r in log if r.phone is not None and _phone_key(r.phone) == key]

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


def _phone_of(dialect: str, body: Mapping[str, Any]) -> str | None:
    if dialect == "leadexec":
        phone = body.get("phone")
        return phone if isinstance(phone, str) and phone else None
    entries = body.get("fields")
    if not isinstance(entries, list):
        return None
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        if entry.get("type") == "Phone" or entry.get("dialerField") == "number1":
            value = entry.get("value")
            return value if isinstance(value, str) and value else None
    return None


def _read_timeout(request: httpx.Request) -> float | None:
    timeout = request.extensions.get("timeout")
    if isinstance(timeout, dict):
        read = timeout.get("read")
        return float(read) if isinstance(read, int | float) else None
    return None


def _respond(answer: CannedAnswer) -> httpx.Response:
    return httpx.Response(answer.status_code, headers=dict(answer.headers), content=answer.body)
