"""The PureCallerID clients, sync and async, and the call logic they share.

One call is written once, as a generator (``_call``) that yields what to do next (send this
request, sleep this long) and receives what happened. The sync and async clients are thin
drivers of that generator, so retries, deadlines, error mapping, redaction and logging cannot
drift apart between them.
"""

from __future__ import annotations

import asyncio
import copy
import ipaddress
import json
import logging
import math
import os
import random as _random
import time
import urllib.request
from collections.abc import Awaitable, Callable, Generator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Self, TypeVar

import attrs
import httpx
from attrs import frozen

from ..._errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AttemptOutcome,
    ConfigurationError,
    RateLimitError,
    ResponseValidationError,
    attempt_may_have_been_processed,
    status_error_class,
)
from ..._fork import check_process, forked
from ..._models import Attempt, Exchange, RequestRecord
from ..._secrets import (
    Secret,
    mask_phone,
    redact,
    redact_text,
    redact_values,
    register_secret,
)
from .deadline import DeadlineTransport, deadline
from .dialects import Dialect, dialect_named
from .received import Received, ResponseLimits, body_text, too_deep
from .retry import (
    RetryPolicy,
    parse_retry_after,
    retry_delay,
)
from .transport import AiohttpTransport

if TYPE_CHECKING:
    from .models import ScreeningRequest, ScreeningResponse

__all__ = [
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_SYNC_MAX_CONNECTIONS",
    "DEFAULT_TIMEOUT",
    "AsyncPureCallerIDClient",
    "PureCallerIDClient",
    "TransportFailure",
]

logger: Final = logging.getLogger("purecallerid")

DEFAULT_TIMEOUT: Final = 10.0
"""Seconds allowed for each phase (connect, write, read, pool) of one attempt."""

DEFAULT_MAX_CONNECTIONS: Final = 64
"""Default connection pool size, and in-flight bound, of the async client.

Its default transport (aiohttp underneath httpx) costs the same CPU per request whatever the
pool's size, so the pool can hold as many calls as a vendor answering in 400-600 ms needs.
"""

DEFAULT_SYNC_MAX_CONNECTIONS: Final = 16
"""Default connection pool size of the sync client (httpx's own pool).

httpx 0.28's pool spends CPU per request in proportion to the connections it holds; a sync
host has about as many calls in flight as worker threads, which this covers.
"""

_BODY_LIMIT: Final = 2000
_RAW_LIMIT: Final = 100_000
_MIN_TOKEN_LENGTH: Final = 8
_REQUEST_ID_HEADERS: Final = frozenset({b"x-request-id", b"request-id", b"x-amzn-requestid"})


@frozen(kw_only=True)
class _Send:
    method: str
    url: str
    # Headers and body hold the token: keep them out of reprs (debuggers, frame dumps).
    headers: dict[str, str] = attrs.field(repr=False)
    json: Any = attrs.field(repr=False)
    timeout: httpx.Timeout
    time_left: float | None


@frozen(kw_only=True)
class _Sleep:
    seconds: float


_Result = Received | httpx.RequestError | None


@frozen(kw_only=True)
class _Settings:
    base_url: str
    token: Secret = attrs.field(repr=False)
    dialect: Dialect
    timeout: httpx.Timeout
    retry: RetryPolicy
    clock: Callable[[], float]
    random: Callable[[], float]
    limits: ResponseLimits


def _failure_kind(exc: httpx.RequestError) -> AttemptOutcome:
    """Name a transport failure the way :class:`Attempt` records it (most specific first)."""
    kinds: tuple[tuple[type[httpx.RequestError], AttemptOutcome], ...] = (
        (httpx.ConnectTimeout, AttemptOutcome.CONNECT_TIMEOUT),
        (httpx.PoolTimeout, AttemptOutcome.POOL_TIMEOUT),
        (httpx.ReadTimeout, AttemptOutcome.READ_TIMEOUT),
        (httpx.WriteTimeout, AttemptOutcome.WRITE_TIMEOUT),
        (httpx.ConnectError, AttemptOutcome.CONNECT_ERROR),
        (httpx.TimeoutException, AttemptOutcome.TIMEOUT),
        (httpx.NetworkError, AttemptOutcome.NETWORK_ERROR),
        # Refused by our own HTTP stack before sending (an illegal header value...).
        (httpx.LocalProtocolError, AttemptOutcome.LOCAL_PROTOCOL_ERROR),
        (httpx.UnsupportedProtocol, AttemptOutcome.LOCAL_PROTOCOL_ERROR),
    )
    for exc_type, kind in kinds:
        if isinstance(exc, exc_type):
            return kind
    return AttemptOutcome.PROTOCOL_ERROR


def _shrink(timeout: httpx.Timeout, limit: float) -> httpx.Timeout:
    def cap(value: float | None) -> float:
        return limit if value is None else min(value, limit)

    return httpx.Timeout(
        connect=cap(timeout.connect),
        read=cap(timeout.read),
        write=cap(timeout.write),
        pool=cap(timeout.pool),
    )


def _answer_headers(headers: httpx.Headers) -> tuple[str | None, str | None]:
    """The request id and Retry-After of an answer, read in one pass over the raw headers.

    (httpx's ``Headers`` decodes every header on each lookup; this runs once per answer.)
    """
    request_id: str | None = None
    retry_after: str | None = None
    for name, value in headers.raw:
        lowered = name.lower()
        if lowered == b"retry-after":
            retry_after = value.decode("latin-1")
        elif request_id is None and lowered in _REQUEST_ID_HEADERS:
            request_id = value.decode("latin-1")
    return request_id, retry_after


def _attempts_text(count: int) -> str:
    return "1 attempt" if count == 1 else f"{count} attempts"


class _Call:
    """One screening call in progress: what was sent, the attempts so far, the time left."""

    def __init__(
        self, settings: _Settings, request: ScreeningRequest, deadline: float | None
    ) -> None:
        if deadline is not None and math.isnan(deadline):
            raise ConfigurationError("deadline must be a number of seconds, not NaN")
        self.settings = settings
        self.wire = settings.dialect.build(request, settings.token)
        self.secrets = (settings.token.reveal(),)
        self.url = settings.base_url + self.wire.path
        self.record = RequestRecord(
            method=self.wire.method,
            url=self.url,
            headers=redact(dict(self.wire.headers), self.secrets),
            body=redact(self.wire.json, self.secrets),
        )
        self.attempts: list[Attempt] = []
        self.phone = mask_phone(request.phone)
        self.end = None if deadline is None else settings.clock() + deadline

    def exchange(self) -> Exchange:
        """The masked request and the attempts made so far."""
        return Exchange(
            dialect=self.settings.dialect.name, request=self.record, attempts=tuple(self.attempts)
        )

    def time_left(self) -> float | None:
        """Seconds left before the caller's deadline, ``None`` without one."""
        return None if self.end is None else self.end - self.settings.clock()

    def send(self, number: int) -> _Send:
        """The next attempt's request, its timeouts shrunk to the time left.

        Raises:
            APITimeoutError: The deadline ran out before attempt *number* could be made.
        """
        time_left = self.time_left()
        if time_left is not None and time_left <= 0:
            raise APITimeoutError(
                f"the deadline ran out before attempt {number} could be made",
                outcome_unknown=_maybe_processed(self.attempts),
                exchange=self.exchange(),
            )
        timeout = self.settings.timeout
        return _Send(
            method=self.wire.method,
            url=self.url,
            # Only what the client can inflate within bounds: no brotli or zstd surprises.
            headers={**self.wire.headers, "Accept-Encoding": "gzip, deflate"},
            json=self.wire.json,
            timeout=timeout if time_left is None else _shrink(timeout, time_left),
            time_left=time_left,
        )

    def _parse(self, text: str, raw: str, shown: str, problem: str | None) -> ScreeningResponse:
        if problem is not None:
            raise ResponseValidationError(problem, body=shown[:_BODY_LIMIT])
        if raw == text:  # nothing to redact: the vendor's own text
            return self.settings.dialect.parse(text, raw=shown)
        # The vendor's own structure is parsed, then its values redacted: redacting the text
        # first could change the structure (an echo decoded in place could add a key, or
        # turn a Rejected into an Accepted).
        data = _json_or_nothing(text)
        if data is _NOT_JSON:
            # Raised out here, not in a handler: the decoder's error holds the text, token
            # and all, and would travel on as the context.
            raise ResponseValidationError("the answer is not JSON", body=shown[:_BODY_LIMIT])
        scrubbed = json.dumps(redact_values(data, self.secrets))
        return self.settings.dialect.parse(scrubbed, raw=shown)

    def answered(
        self, attempt: Attempt, text: str, raw: str, problem: str | None
    ) -> ScreeningResponse:
        """Read a 2xx answer, recording its attempt: *text* as sent, *raw* redacted.

        Raises:
            ResponseValidationError: The answer is over a limit or cannot be read; it carries
                the exchange.
        """
        self.attempts.append(attempt)
        if problem is None and too_deep(text, self.settings.limits.max_json_depth):
            problem = f"the answer nests deeper than {self.settings.limits.max_json_depth} levels"
        shown = raw if len(raw) <= _RAW_LIMIT else raw[:_RAW_LIMIT] + " [truncated]"
        try:
            answer = self._parse(text, raw, shown, problem)
        except ResponseValidationError as exc:
            exc.exchange = self.exchange()
            logger.info("screening %s: unreadable answer (%s)", self.phone, exc.message)
            raise
        logger.debug(
            "screening %s: %s %s in %.1f ms (%s)",
            self.phone,
            answer.status,
            answer.reason or "-",
            attempt.duration * 1000,
            _attempts_text(attempt.number),
        )
        return attrs.evolve(answer, exchange=self.exchange())

    def failed(self, attempt: Attempt) -> float | None:
        """Record a failed attempt; return the wait before the next one, ``None`` to give up."""
        wait = retry_delay(
            self.settings.retry,
            attempt=attempt.number,
            failure=None if attempt.outcome == AttemptOutcome.ANSWERED else attempt.outcome,
            status_code=attempt.status_code,
            retry_after=attempt.retry_after,
            time_left=self.time_left(),
            random=self.settings.random,
        )
        self.attempts.append(attrs.evolve(attempt, wait=wait))
        what = attempt.outcome if attempt.status_code is None else f"HTTP {attempt.status_code}"
        if wait is None:
            logger.info(
                "screening %s: giving up after %s (%s)",
                self.phone,
                _attempts_text(attempt.number),
                what,
            )
        else:
            logger.info(
                "screening %s: attempt %d failed (%s); retrying in %.2f s",
                self.phone,
                attempt.number,
                what,
                wait,
            )
        return wait

    def give_up(self, result: _Result, raw: str) -> APIError:
        """The error that ends the call after its last failed attempt (*raw*: redacted body)."""
        last = self.attempts[-1]
        if isinstance(result, Received):
            return _status_error(
                result, raw, last.request_id, last.retry_after, last.number, self.exchange()
            )
        outcome = AttemptOutcome(last.outcome)
        return _connection_error(outcome, self.attempts, self.exchange())


def _call(
    settings: _Settings, request: ScreeningRequest, deadline: float | None
) -> Generator[_Send | _Sleep, _Result, ScreeningResponse]:
    """Make one screening call, retrying per policy, as a generator its driver runs.

    **Protocol:** the generator yields what to do next and is sent what happened:

    - it yields a :class:`_Send`; the driver makes that HTTP request (with its timeouts) and
      sends back the :class:`httpx.Response` (body read) or the :class:`httpx.RequestError`;
    - it yields a :class:`_Sleep`; the driver sleeps that long and sends back ``None``.

    It returns the :class:`ScreeningResponse` of a 2xx answer, or raises an ``APIError`` (the
    transport exception as ``__cause__``, unless its text holds the token). The driver adds
    nothing: retries, deadlines, redaction, the attempt evidence and logging all happen here.
    """
    call = _Call(settings, request, deadline)
    number = 0
    while True:
        number += 1
        send = call.send(number)
        started_at, started = datetime.now(UTC), settings.clock()
        result = yield send
        attempt, text, raw, problem = _attempt(
            call, result, number, started_at, settings.clock() - started
        )
        if isinstance(result, Received) and attempt.status_code in _SUCCESS:
            return call.answered(attempt, text, raw, problem)
        wait = call.failed(attempt)
        if wait is not None:
            yield _Sleep(seconds=wait)
            continue
        error = call.give_up(result, raw)
        if isinstance(result, httpx.RequestError):
            # Not the transport's exception itself: it holds the request (headers, token) and
            # chains the HTTP layer's own, whose repr prints them. A stand-in keeps its words.
            raise error from TransportFailure(
                type(result).__name__, redact_text(str(result), call.secrets)
            )
        raise error


_SUCCESS: Final = range(200, 300)


_NOT_JSON: Final = object()


def _json_or_nothing(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return _NOT_JSON


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


class TransportFailure(Exception):  # noqa: N818 - it stands for another exception
    """The HTTP layer's failure behind an :class:`APIError`, by name and redacted message only.

    Kept as the error's ``__cause__`` in place of the HTTP layer's own exception, which holds
    the request (its headers and body, the token among them) and chains the exceptions of
    the layers below, whose ``repr`` prints them.

    Attributes:
        kind: The HTTP layer's exception class name (``"ReadTimeout"``, ``"ConnectError"``).
    """

    def __init__(self, kind: str, message: str) -> None:
        """Stand for an exception of class *kind* whose (redacted) text is *message*."""
        super().__init__(f"{kind}: {message}" if message else kind)
        self.kind = kind


def _attempt(
    call: _Call, result: _Result, number: int, started_at: datetime, duration: float
) -> tuple[Attempt, str, str, str | None]:
    """The attempt *result* ended, the answer's text as sent and redacted, and its problem."""
    if not isinstance(result, Received):
        outcome = (
            _failure_kind(result)
            if isinstance(result, httpx.RequestError)
            else AttemptOutcome.PROTOCOL_ERROR
        )
        attempt = Attempt(number=number, started_at=started_at, duration=duration, outcome=outcome)
        return attempt, "", "", None
    request_id, retry_after_header = _answer_headers(result.headers)
    # Decoded as the parser decodes, so that redaction sees the very text that is parsed.
    text, problem = body_text(result, call.settings.limits)
    retry_after = None
    if result.status_code not in _SUCCESS:
        # An HTTP-date Retry-After counts from when the answer came, not from the request.
        retry_after = parse_retry_after(
            retry_after_header, started_at + timedelta(seconds=duration)
        )
    attempt = Attempt(
        number=number,
        started_at=started_at,
        duration=duration,
        outcome=AttemptOutcome.ANSWERED,
        status_code=result.status_code,
        request_id=None if request_id is None else redact_text(request_id, call.secrets),
        retry_after=retry_after,
    )
    return attempt, text, redact_text(text, call.secrets), problem


def _status_error(  # noqa: PLR0917 - private, called once
    response: Received,
    body: str,
    request_id: str | None,
    retry_after: float | None,
    attempts: int,
    exchange: Exchange,
) -> APIStatusError:
    code = response.status_code
    cls = status_error_class(code)
    tail = f"after {_attempts_text(attempts)}"
    messages: dict[type[APIStatusError], str] = {
        status_error_class(401): f"PureCallerID refused the API token (HTTP {code}); "
        "check the credentials",
        RateLimitError: f"PureCallerID throttled the call (HTTP {code}) {tail}"
        + ("" if retry_after is None else f"; it asked to wait {retry_after:g} s"),
        status_error_class(500): f"PureCallerID failed (HTTP {code}) {tail}",
        status_error_class(400): f"PureCallerID refused the request (HTTP {code})",
    }
    message = messages.get(cls, f"PureCallerID answered HTTP {code}")
    kwargs: dict[str, Any] = {
        "status_code": code,
        "body": body[:_BODY_LIMIT],
        "request_id": request_id,
        "exchange": exchange,
    }
    if cls is RateLimitError:
        kwargs["retry_after"] = retry_after
    return cls(message, **kwargs)


def _connection_error(
    failure: AttemptOutcome, attempts: list[Attempt], exchange: Exchange
) -> APIConnectionError:
    maybe_sent = _maybe_processed(attempts)
    tail = f"after {_attempts_text(len(attempts))}"
    if maybe_sent:
        consequence = "outcome unknown: the lead may have been loaded and billed"
    else:
        consequence = "the request never reached PureCallerID"
    if failure.timed_out:
        return APITimeoutError(
            f"PureCallerID did not answer in time ({failure}) {tail}; {consequence}",
            outcome_unknown=maybe_sent,
            exchange=exchange,
        )
    return APIConnectionError(
        f"could not complete the call to PureCallerID ({failure}) {tail}; {consequence}",
        outcome_unknown=maybe_sent,
        exchange=exchange,
    )


def _maybe_processed(attempts: list[Attempt]) -> bool:
    """Whether any attempt may have reached the vendor and loaded (and billed) the lead."""
    return any(attempt_may_have_been_processed(a.outcome, a.status_code) for a in attempts)


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_base_url(base_url: str, *, allow_insecure_http: bool) -> str:
    if not isinstance(base_url, str):
        raise TypeError(f"base_url must be a str such as 'https://host', not {type(base_url)}")
    try:
        url = httpx.URL(base_url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ConfigurationError(f"base_url is not a URL: {exc}") from None
    if url.scheme not in {"http", "https"} or not url.host:
        raise ConfigurationError("base_url must look like 'https://host[:port][/path]'")
    if url.scheme == "http" and not (allow_insecure_http or _is_loopback(url.host)):
        raise ConfigurationError(
            "base_url must use https: the API token and the lead travel in the request "
            "(http is accepted for loopback addresses, or with allow_insecure_http=True)"
        )
    if url.query or url.fragment:
        raise ConfigurationError("base_url must not carry a query or fragment")
    if url.userinfo:
        raise ConfigurationError(
            "base_url must not carry a user name or password; pass the token as api_token"
        )
    return str(url).rstrip("/")


def _check_token(api_token: str | Secret) -> Secret:
    if isinstance(api_token, str):
        api_token = Secret(api_token)
    if not isinstance(api_token, Secret):
        raise TypeError(
            f"api_token must be a str or purecallerid.Secret, not {type(api_token).__name__}"
        )
    value = api_token.reveal()
    if not value.strip():
        raise ConfigurationError("api_token is empty; pass the token PureCallerID issued")
    if not (value.isascii() and value.isprintable()) or any(ch.isspace() for ch in value):
        # Tokens travel in headers, where only visible ASCII is legal; a stray newline from
        # a token file would otherwise fail deep inside the HTTP stack, token in hand.
        raise ConfigurationError(
            "api_token must be visible ASCII without spaces (a trailing newline from a file?)"
        )
    if len(value) < _MIN_TOKEN_LENGTH:
        # A token that short would also match ordinary words when it is masked in answers.
        raise ConfigurationError(f"api_token is shorter than {_MIN_TOKEN_LENGTH} characters")
    return api_token


def _make_settings(
    *,
    base_url: str,
    api_token: str | Secret,
    dialect: str | Dialect,
    timeout: float | httpx.Timeout,
    retry_policy: RetryPolicy | None,
    allow_insecure_http: bool,
    clock: Callable[[], float],
    random: Callable[[], float],
    limits: ResponseLimits | None = None,
) -> _Settings:
    if isinstance(timeout, bool) or not isinstance(timeout, int | float | httpx.Timeout):
        raise TypeError("timeout must be seconds (a float) or an httpx.Timeout")
    if isinstance(timeout, int | float) and not timeout > 0:
        raise ConfigurationError(f"timeout must be > 0 seconds, not {timeout!r}")
    if limits is not None and not isinstance(limits, ResponseLimits):
        raise TypeError("response_limits must be a purecallerid.ResponseLimits")
    token = _check_token(api_token)
    # From here on the token is masked in log lines, ours and the HTTP layers'.
    register_secret(token)
    return _Settings(
        base_url=_check_base_url(base_url, allow_insecure_http=allow_insecure_http),
        token=token,
        dialect=dialect_named(dialect) if isinstance(dialect, str) else dialect,
        timeout=timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout),
        retry=RetryPolicy() if retry_policy is None else retry_policy,
        clock=clock,
        random=random,
        limits=limits or ResponseLimits(),
    )


def _check_http(http_client: object, transport: object, *, is_async: bool) -> None:
    """Refuse an httpx client or transport of the wrong kind, saying what to pass instead."""
    if http_client is not None and transport is not None:
        raise TypeError("pass either http_client or transport, not both")
    want, other = ("AsyncClient", "Client") if is_async else ("Client", "AsyncClient")
    this, that = (
        ("AsyncPureCallerIDClient", "PureCallerIDClient")
        if is_async
        else ("PureCallerIDClient", "AsyncPureCallerIDClient")
    )
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


def _limits(max_connections: int) -> httpx.Limits:
    if isinstance(max_connections, bool) or not isinstance(max_connections, int):
        raise TypeError("max_connections must be an int")
    if max_connections < 1:
        raise ConfigurationError(f"max_connections must be >= 1, not {max_connections}")
    return httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)


def _evolve(
    settings: _Settings,
    *,
    api_token: str | Secret | None,
    dialect: str | Dialect | None,
    timeout: float | httpx.Timeout | None,
    retry_policy: RetryPolicy | None,
) -> _Settings:
    return _make_settings(
        base_url=settings.base_url,
        api_token=settings.token if api_token is None else api_token,
        dialect=settings.dialect if dialect is None else dialect,
        timeout=settings.timeout if timeout is None else timeout,
        retry_policy=settings.retry if retry_policy is None else retry_policy,
        # The base URL was checked when the original client was built.
        allow_insecure_http=True,
        clock=settings.clock,
        random=settings.random,
        limits=settings.limits,
    )


class PureCallerIDClient:
    """A synchronous PureCallerID client. Thread-safe; reuse one per credential set.

    Its connection pool belongs to the process that built it: in a forked child,
    :meth:`screen` raises :class:`~purecallerid.ForkedError` (build one per worker, after the
    fork).

    Args:
        base_url: The host URL that came with the credentials. Must be ``https``, except for
            loopback addresses or with ``allow_insecure_http=True``.
        api_token: The API token (a ``str`` or a :class:`Secret`); never logged or shown.
        dialect: ``"leadexec"`` (the brief's flat body), ``"public"`` (PureCallerID's public
            API), or a :class:`Dialect` instance.
        timeout: Seconds for each phase of one attempt, or an ``httpx.Timeout``.
        retry_policy: The :class:`RetryPolicy`; the default retries only what is safe.
        http_client: An ``httpx.Client`` to use (and not close); its own pool limits apply.
        transport: An httpx transport (``httpx.MockTransport`` in tests) for a client built
            here. Pass either this or *http_client*.
        max_connections: The pool size of a client built here.
        allow_insecure_http: Accept a plain ``http`` base URL on a non-loopback host.
        sleep: How to wait between attempts (injectable for tests).
        clock: A monotonic clock in seconds (injectable for tests).
        random: A source of floats in [0, 1) for backoff jitter (injectable for tests).
        response_limits: How much of an answer is read (:class:`~purecallerid.ResponseLimits`;
            its defaults otherwise).
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_token: str | Secret,
        dialect: str | Dialect = "leadexec",
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry_policy: RetryPolicy | None = None,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        max_connections: int = DEFAULT_SYNC_MAX_CONNECTIONS,
        allow_insecure_http: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        random: Callable[[], float] = _random.random,
        response_limits: ResponseLimits | None = None,
    ) -> None:
        """Create the client; see the class docstring for the arguments."""
        self._pid = os.getpid()
        _check_http(http_client, transport, is_async=False)
        self._settings = _make_settings(
            base_url=base_url,
            api_token=api_token,
            dialect=dialect,
            timeout=timeout,
            retry_policy=retry_policy,
            allow_insecure_http=allow_insecure_http,
            clock=clock,
            random=random,
            limits=response_limits,
        )
        limits = _limits(max_connections)
        self._owns_http = http_client is None
        if http_client is None and transport is None and not _proxied():
            # Without a proxy from the environment (httpx's default transport reads it, and
            # an explicit transport would lose it), the deadline bounds every socket operation.
            transport = DeadlineTransport(limits=limits)
        self._http = http_client or httpx.Client(transport=transport, limits=limits)
        self._sleep = sleep

    def screen(
        self, request: ScreeningRequest, *, deadline: float | None = None
    ) -> ScreeningResponse:
        """Send *request* to PureCallerID and return its answer.

        Args:
            request: The mapped lead and the vendor-side identifiers.
            deadline: Seconds allowed for the whole call, retries and waits included;
                ``None`` for no limit beyond the per-attempt timeout.

        Raises:
            APIError: The call failed (see the error table); the error's ``exchange`` holds
                the masked request and every attempt.
            ConfigurationError: The request lacks a value the dialect requires.
            ForkedError: The client was built in another process (this one is a fork of it).
        """
        check_process(self._pid, type(self).__name__)
        calls = _call(self._settings, request, deadline)
        try:
            action = next(calls)
            while True:
                result: _Result = None
                if isinstance(action, _Sleep):
                    self._sleep(action.seconds)
                else:
                    result = self._send(action)
                try:
                    action = calls.send(result)
                except StopIteration as done:
                    response: ScreeningResponse = done.value
                    return response
        finally:
            calls.close()

    def _send(self, action: _Send) -> Received | httpx.RequestError:
        request = self._http.build_request(
            action.method,
            action.url,
            headers=action.headers,
            json=action.json,
            timeout=action.timeout,
        )
        # The deadline bounds every socket operation (the default transport's), connect and
        # headers included; the body's read is bounded between chunks for any transport.
        with deadline(action.time_left):
            try:
                response = self._http.send(request, stream=True)
            except httpx.RequestError as exc:
                return exc
            try:
                return self._read_within(response, action.time_left)
            except httpx.RequestError as exc:
                return exc
            finally:
                response.close()

    def _read_within(self, response: httpx.Response, time_left: float | None) -> Received:
        """Read *response*'s body as sent, within the wire limit and the call's deadline.

        httpx's read timeout applies to each socket read, so a vendor trickling its answer
        could hold the call far past the deadline; the clock is checked between chunks.
        """
        limit = self._settings.limits.max_wire_bytes
        end = None if time_left is None else self._settings.clock() + time_left
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
            if end is not None and self._settings.clock() > end:
                raise httpx.ReadTimeout("the deadline ran out while reading the answer")
        body = b"".join(chunks)
        return Received(
            status_code=response.status_code,
            headers=response.headers,
            body=body[:limit],
            cut=size > limit,
        )

    def with_options(
        self,
        *,
        api_token: str | Secret | None = None,
        dialect: str | Dialect | None = None,
        timeout: float | httpx.Timeout | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> PureCallerIDClient:
        """Return a copy with other options that shares this client's connection pool.

        The copy does not own the pool: closing it does nothing; close the original.
        """
        return _copy_with(
            self, api_token=api_token, dialect=dialect, timeout=timeout, retry_policy=retry_policy
        )

    def close(self) -> None:
        """Close the connection pool, if this client created it (and not in a forked child).

        In a fork, the pool's connections are the parent's, still in use there: left alone.
        """
        if self._owns_http and not forked(self._pid):
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return _repr(self, self._settings)


class AsyncPureCallerIDClient:
    """An asyncio PureCallerID client, with the same behaviour as :class:`PureCallerIDClient`.

    Like it, it belongs to the process that built it (:class:`~purecallerid.ForkedError`
    in a forked child).

    Calls in flight are bounded by ``max_connections`` (waiting callers queue in front of the
    pool, within their deadline), which keeps httpx's pool out of its slow path.

    Args:
        base_url: See :class:`PureCallerIDClient`.
        api_token: See :class:`PureCallerIDClient`.
        dialect: See :class:`PureCallerIDClient`.
        timeout: See :class:`PureCallerIDClient`.
        retry_policy: See :class:`PureCallerIDClient`.
        http_client: An ``httpx.AsyncClient`` to use (and not close).
        transport: An async httpx transport for a client built here.
        max_connections: The pool size of a client built here, and the in-flight bound.
        allow_insecure_http: See :class:`PureCallerIDClient`.
        sleep: An async sleep (injectable for tests).
        clock: See :class:`PureCallerIDClient`.
        random: See :class:`PureCallerIDClient`.
        response_limits: See :class:`PureCallerIDClient`.
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_token: str | Secret,
        dialect: str | Dialect = "leadexec",
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry_policy: RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        allow_insecure_http: bool = False,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        random: Callable[[], float] = _random.random,
        response_limits: ResponseLimits | None = None,
    ) -> None:
        """Create the client; see the class docstring for the arguments."""
        self._pid = os.getpid()
        _check_http(http_client, transport, is_async=True)
        self._settings = _make_settings(
            base_url=base_url,
            api_token=api_token,
            dialect=dialect,
            timeout=timeout,
            retry_policy=retry_policy,
            allow_insecure_http=allow_insecure_http,
            clock=clock,
            random=random,
            limits=response_limits,
        )
        _limits(max_connections)  # checks the value
        self._owns_http = http_client is None
        if http_client is None and transport is None:
            transport = AiohttpTransport(
                max_connections=max_connections,
                # One byte past the limit: enough to tell a body over it.
                max_body_bytes=self._settings.limits.max_wire_bytes + 1,
            )
        self._http = http_client or httpx.AsyncClient(transport=transport)
        self._in_flight = asyncio.Semaphore(max_connections)
        self._sleep = sleep

    async def screen(
        self, request: ScreeningRequest, *, deadline: float | None = None
    ) -> ScreeningResponse:
        """Send *request* to PureCallerID and return its answer.

        Same arguments, result and errors as :meth:`PureCallerIDClient.screen`.
        """
        check_process(self._pid, type(self).__name__)
        calls = _call(self._settings, request, deadline)
        try:
            action = next(calls)
            while True:
                result: _Result = None
                if isinstance(action, _Sleep):
                    await self._sleep(action.seconds)
                else:
                    result = await self._send(action)
                try:
                    action = calls.send(result)
                except StopIteration as done:
                    response: ScreeningResponse = done.value
                    return response
        finally:
            calls.close()

    async def _send(self, action: _Send) -> Received | httpx.RequestError:
        request = self._http.build_request(
            action.method,
            action.url,
            headers=action.headers,
            json=action.json,
            timeout=action.timeout,
        )
        loop = asyncio.get_running_loop()
        end = None if action.time_left is None else loop.time() + action.time_left
        if self._in_flight.locked():
            try:
                # Waiting for a slot counts against the pool timeout, as waiting in httpx's
                # own pool would: a request that never got a slot provably never left.
                async with asyncio.timeout(action.timeout.pool):
                    await self._in_flight.acquire()
            except TimeoutError:
                return httpx.PoolTimeout("no free connection slot in time", request=request)
        else:
            await self._in_flight.acquire()  # free: returns at once
        try:
            # httpx's read timeout applies to each socket read; the deadline bounds the whole.
            async with asyncio.timeout_at(end):
                return await self._receive(request)
        except httpx.RequestError as exc:
            return exc
        except TimeoutError:
            return httpx.ReadTimeout("the deadline ran out waiting for the answer", request=request)
        finally:
            self._in_flight.release()

    async def _receive(self, request: httpx.Request) -> Received:
        """Send *request*; read its body as sent, no further than the wire limit."""
        limit = self._settings.limits.max_wire_bytes
        response = await self._http.send(request, stream=True)
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

    def with_options(
        self,
        *,
        api_token: str | Secret | None = None,
        dialect: str | Dialect | None = None,
        timeout: float | httpx.Timeout | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> AsyncPureCallerIDClient:
        """Return a copy with other options sharing this client's pool and in-flight bound.

        The copy does not own the pool: closing it does nothing; close the original.
        """
        return _copy_with(
            self, api_token=api_token, dialect=dialect, timeout=timeout, retry_policy=retry_policy
        )

    async def aclose(self) -> None:
        """Close the connection pool, if this client created it (and not in a forked child).

        In a fork, the pool's connections are the parent's, still in use there: left alone.
        """
        if self._owns_http and not forked(self._pid):
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return _repr(self, self._settings)


_C = TypeVar("_C", PureCallerIDClient, AsyncPureCallerIDClient)


def _copy_with(
    client: _C,
    *,
    api_token: str | Secret | None,
    dialect: str | Dialect | None,
    timeout: float | httpx.Timeout | None,
    retry_policy: RetryPolicy | None,
) -> _C:
    """A shallow copy of *client* (same pool, same in-flight bound) with other settings."""
    clone = copy.copy(client)
    clone._settings = _evolve(  # noqa: SLF001 - the clients' own helper
        client._settings,  # noqa: SLF001
        api_token=api_token,
        dialect=dialect,
        timeout=timeout,
        retry_policy=retry_policy,
    )
    clone._owns_http = False  # noqa: SLF001 - the original closes the pool
    return clone


def _repr(client: object, settings: _Settings) -> str:
    return (
        f"{type(client).__name__}(base_url={settings.base_url!r}, "
        f"dialect={settings.dialect.name!r}, api_token={settings.token!r})"
    )
