"""One vendor call, written once as a generator that its sync and async drivers run.

The generator (:func:`run_call`) yields what to do next (send this request, sleep this long)
and is sent what happened; it owns everything that must not drift between integrations or
between the sync and async paths: the deadline over the whole call, the retry rules, the
failure table, the attempt evidence, redaction of every credential in every form, and the
log lines. Nothing here knows a vendor: the caller hands it the request to send, the vendor's
name for messages, and a reader that turns an answer into a value.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Collection, Generator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Generic, TypeVar
from urllib.parse import urlencode

import attrs
import httpx
from attrs import field, frozen

from .._errors import (
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
from .._models import Attempt, Exchange, RequestRecord
from .._secrets import mask_phones, redact_text, redact_values
from .received import Received, ResponseLimits, body_text, too_deep
from .retry import RetryPolicy, parse_retry_after, retry_delay

__all__ = [
    "BODY_LIMIT",
    "SUCCESS",
    "CallSettings",
    "Sent",
    "Sleep",
    "TransportFailure",
    "VendorReply",
    "WireRequest",
    "attempts_text",
    "connection_error",
    "maybe_processed",
    "run_call",
    "status_error",
]

logger: Final = logging.getLogger("purecallerid.vendor")

BODY_LIMIT: Final = 2000
"""Characters of an answer's body an error keeps."""

_RAW_LIMIT: Final = 100_000
_REQUEST_ID_HEADERS: Final = frozenset({b"x-request-id", b"request-id", b"x-amzn-requestid"})
SUCCESS: Final = range(200, 300)
"""The statuses of an answer read as such by default (2xx)."""
# Header names whose whole value is a credential, whatever it holds (a basic-auth pair is
# the base64 of two values joined: no single secret's form would find it).
_CREDENTIAL_HEADERS: Final = frozenset({"authorization", "proxy-authorization", "cookie"})

T = TypeVar("T")


# What a path may not hold besides non-printable characters (whitespace of any script too).
_PATH_REFUSED: Final = re.compile(r"[?#\\\s]")


def _frozen_map(value: Mapping[str, str] | None) -> Mapping[str, str]:
    return {} if value is None else dict(value)


@frozen(kw_only=True)
class WireRequest:
    """An HTTP request about to be sent: method, path below the base URL, query, headers, body.

    At most one body: *json* (sent as JSON) or *form* (sent form-encoded). Everything may hold
    credentials; the record keeps it with every credential masked.

    Attributes:
        method: The HTTP method (``"POST"``).
        path: The path below the base URL (``"/v1/check"``), already filled in.
        headers: Request headers.
        json: A JSON body, or ``None``.
        query: Query parameters.
        form: A form body (``application/x-www-form-urlencoded``), or ``None``.
    """

    method: str
    # Path, headers, body and query hold credentials (a vendor may take its key in the path):
    # out of reprs (debuggers, logs of a host).
    path: str = field(repr=False)
    headers: Mapping[str, str] = field(factory=dict, converter=_frozen_map, repr=False)
    json: Any = field(default=None, repr=False)
    query: Mapping[str, str] = field(factory=dict, converter=_frozen_map, repr=False)
    form: Mapping[str, str] | None = field(default=None, repr=False)

    def __attrs_post_init__(self) -> None:
        """Refuse two bodies, and a path that could leave the vendor's host."""
        if self.json is not None and self.form is not None:
            raise ConfigurationError("a request has one body: json or form, not both")
        # The path is appended to the base URL: without its leading '/', "m/v1" would turn
        # "api.vendor.co" into another host; '@' before it would make the host a user name.
        path = self.path
        if not path.startswith("/") or not path.isprintable() or _PATH_REFUSED.search(path):
            raise ConfigurationError(
                "a request path starts with '/' and holds no '?', '#', '\\', space or control "
                "character (put query parameters in query=; percent-encode values)"
            )


@frozen(kw_only=True)
class VendorReply:
    """An answer a reader turns into a value: status, headers and the body as text.

    Attributes:
        status_code: The HTTP status.
        headers: The answer's headers.
        text: The body, decoded as sent. It may hold a credential the vendor echoed: parse it,
            then pass what you keep through :meth:`redact`; never store or raise it whole.
        raw: The body with every credential masked, in every form (what the record keeps).
        secrets: The call's credential values (not shown).
    """

    status_code: int
    # A gateway may echo the request's headers, credential and all: out of reprs.
    headers: httpx.Headers = field(repr=False)
    text: str = field(repr=False)
    raw: str
    secrets: tuple[str, ...] = field(repr=False)

    def redact(self, value: Any) -> Any:
        """JSON-shaped *value* (a parsed answer) with every credential masked in every text."""
        return redact_values(value, self.secrets)


@frozen(kw_only=True)
class CallSettings:
    """What a call needs besides its request: where, how long, how to retry, how to read.

    Attributes:
        vendor: The vendor's name, for messages (``"PureCallerID"``).
        base_url: The vendor's URL, checked (no trailing slash).
        timeout: Each phase's timeout of one attempt.
        retry: The retry policy.
        clock: A monotonic clock in seconds.
        random: A source of floats in [0, 1) for jitter.
        limits: How much of an answer is read.
        dialect: The name recorded with the exchange (the wire format, or the kind).
        credential_word: What a 401 says was refused (``"API token"``, ``"credentials"``).
        throttle_statuses: Statuses besides 429 this vendor throttles with (403 for some):
            recorded as ``rate_limited``.
    """

    vendor: str
    base_url: str
    timeout: httpx.Timeout
    retry: RetryPolicy
    clock: Callable[[], float]
    random: Callable[[], float]
    limits: ResponseLimits
    dialect: str
    credential_word: str = "credentials"
    throttle_statuses: frozenset[int] = frozenset()


@frozen(kw_only=True)
class Sent:
    """A request for the driver to send (with these timeouts), then report what happened."""

    method: str
    # The URL, query included, holds credentials too: out of reprs (debuggers, dumps).
    url: str = field(repr=False)
    headers: Mapping[str, str] = field(repr=False)
    json: Any = field(repr=False)
    form: Mapping[str, str] | None = field(repr=False)
    timeout: httpx.Timeout
    time_left: float | None

    def build(self, client: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        """The ``httpx.Request`` of this send, built by *client* (its defaults apply)."""
        return client.build_request(
            self.method,
            self.url,
            headers=self.headers,
            json=self.json,
            data=self.form,
            timeout=self.timeout,
        )

    def encoded(self) -> tuple[list[tuple[str, str]], bytes | None]:
        """The headers and body as httpx would write them, for a transport of our own.

        httpx's own defaults (``Accept``, ``User-Agent``) are written too, so that a vendor
        sees one request whichever path sent it.

        Raises:
            TypeError: The JSON body holds a value JSON cannot write.
            ValueError: The JSON body holds a number JSON cannot write (NaN, infinity).
        """
        headers = {"Accept": "*/*", "User-Agent": _USER_AGENT}
        body: bytes | None = None
        if self.json is not None:
            text = json.dumps(self.json, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
            body = text.encode()
            headers["Content-Type"] = "application/json"
        elif self.form is not None:
            body = urlencode(self.form, doseq=True).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        headers.update(self.headers)
        return list(headers.items()), body


_USER_AGENT: Final = f"python-httpx/{httpx.__version__}"


@frozen(kw_only=True)
class Sleep:
    """A wait for the driver to make before the next attempt."""

    seconds: float


Result = Received | httpx.RequestError | None


class TransportFailure(Exception):  # noqa: N818 - it stands for another exception
    """The HTTP layer's failure behind an :class:`APIError`, by name and redacted message only.

    Kept as the error's ``__cause__`` in place of the HTTP layer's own exception, which holds
    the request (its headers and body, the credentials among them) and chains the exceptions
    of the layers below, whose ``repr`` prints them.

    Attributes:
        kind: The HTTP layer's exception class name (``"ReadTimeout"``, ``"ConnectError"``).
    """

    def __init__(self, kind: str, message: str) -> None:
        """Stand for an exception of class *kind* whose (redacted) text is *message*."""
        super().__init__(f"{kind}: {message}" if message else kind)
        self.kind = kind


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


def _fields(attempt: Attempt) -> dict[str, Any]:
    """An attempt's structured log fields (no phone, no body: the label says whose call)."""
    return {
        "attempt": attempt.number,
        "status_code": attempt.status_code,
        "duration_ms": round(attempt.duration * 1000, 1),
    }


def attempts_text(count: int) -> str:
    """``"1 attempt"``, ``"3 attempts"``."""
    return "1 attempt" if count == 1 else f"{count} attempts"


def _recorded_url(url: str, query: Mapping[str, str]) -> str:
    return str(httpx.URL(url, params=query)) if query else url


def _recorded_headers(headers: Mapping[str, str], secrets: tuple[str, ...]) -> dict[str, str]:
    return {
        # Every form: a header may carry the token encoded (base64 of "account:token").
        name: "***" if name.lower() in _CREDENTIAL_HEADERS else redact_values(value, secrets)
        for name, value in headers.items()
    }


class _Call(Generic[T]):
    """One call in progress: what was sent, the attempts so far, the time left."""

    def __init__(  # noqa: PLR0917 - private, built once per call by run_call
        self,
        settings: CallSettings,
        wire: WireRequest,
        secrets: tuple[str, ...],
        read: Callable[[VendorReply], T],
        deadline: float | None,
        label: str,
    ) -> None:
        if deadline is not None and math.isnan(deadline):
            raise ConfigurationError("deadline must be a number of seconds, not NaN")
        self.settings = settings
        self.wire = wire
        self.secrets = tuple(s for s in secrets if s)
        self.read = read
        self.url = settings.base_url + wire.path
        # Encoded once: what is sent and what is recorded are the same URL.
        self.full_url = _recorded_url(self.url, wire.query)
        body = wire.json if wire.form is None else dict(wire.form)
        self.record = RequestRecord(
            method=wire.method,
            url=redact_text(self.full_url, self.secrets),
            headers=_recorded_headers(wire.headers, self.secrets),
            body=redact_values(body, self.secrets),  # every form: a value may be encoded
        )
        self.attempts: list[Attempt] = []
        self.label = label
        self.end = None if deadline is None else settings.clock() + deadline

    def exchange(self) -> Exchange:
        """The masked request and the attempts made so far."""
        return Exchange(
            dialect=self.settings.dialect, request=self.record, attempts=tuple(self.attempts)
        )

    def time_left(self) -> float | None:
        """Seconds left before the caller's deadline, ``None`` without one."""
        return None if self.end is None else self.end - self.settings.clock()

    def send(self, number: int) -> Sent:
        """The next attempt's request, its timeouts shrunk to the time left.

        Raises:
            APITimeoutError: The deadline ran out before attempt *number* could be made.
        """
        time_left = self.time_left()
        if time_left is not None and time_left <= 0:
            raise APITimeoutError(
                f"the deadline ran out before attempt {number} could be made",
                outcome_unknown=maybe_processed(self.attempts),
                exchange=self.exchange(),
            )
        timeout = self.settings.timeout
        return Sent(
            method=self.wire.method,
            url=self.full_url,
            # Only what the client can inflate within bounds: no brotli or zstd surprises.
            headers={**self.wire.headers, "Accept-Encoding": "gzip, deflate"},
            json=self.wire.json,
            form=self.wire.form,
            timeout=timeout if time_left is None else _shrink(timeout, time_left),
            time_left=time_left,
        )

    def answered(
        self, attempt: Attempt, received: Received, text: str, raw: str
    ) -> tuple[T, Exchange]:
        """Read an answer the reader takes, recording its attempt; the value and the exchange.

        Raises:
            ResponseValidationError: The reader refused it; it carries the exchange.
        """
        self.attempts.append(attempt)
        shown = raw if len(raw) <= _RAW_LIMIT else raw[:_RAW_LIMIT] + " [truncated]"
        reply = VendorReply(
            status_code=received.status_code,
            headers=received.headers,
            text=text,
            raw=shown,
            secrets=self.secrets,
        )
        refused: APIError | None = None
        try:
            value = self.read(reply)
        except APIError as exc:
            refused = exc
        if refused is not None:
            raise self._cleaned(refused)
        if logger.isEnabledFor(logging.DEBUG):  # its fields are built for every call else
            logger.debug(
                "%s: HTTP %d in %.1f ms (%s)",
                self.label,
                received.status_code,
                attempt.duration * 1000,
                attempts_text(attempt.number),
                extra=_fields(attempt),
            )
        return value, self.exchange()

    def _cleaned(self, error: APIError) -> APIError:
        """*error* from the reader, masked, with the exchange, and without its chain.

        The reader's error may hold the answer's text in its message, body or chain (a JSON
        decoder's error keeps the document); it is raised again outside any handler, so it
        gains no context either.
        """
        message = redact_text(error.message, self.secrets)
        error.message = message
        error.args = (message,)
        body = getattr(error, "body", None)
        if isinstance(body, str):
            error.body = redact_text(body, self.secrets)[:BODY_LIMIT]  # type: ignore[attr-defined]
        error.exchange = self.exchange()
        error.__cause__ = error.__context__ = None
        error.__suppress_context__ = True
        # The vendor's words may quote the lead's phone: masked in the log line.
        logger.info(
            "%s: unreadable answer (%s)",
            self.label,
            mask_phones(message),
            extra=_fields(self.attempts[-1]) if self.attempts else None,
        )
        return error

    def refused(self, attempt: Attempt, problem: str, raw: str) -> ResponseValidationError:
        """The error of an answer over a limit or undecodable, its attempt recorded."""
        self.attempts.append(attempt)
        logger.info(
            "%s: unreadable answer (%s)", self.label, mask_phones(problem), extra=_fields(attempt)
        )
        error = ResponseValidationError(problem, body=raw[:BODY_LIMIT])
        error.exchange = self.exchange()
        return error

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
                "%s: giving up after %s (%s)",
                self.label,
                attempts_text(attempt.number),
                what,
                extra=_fields(attempt),
            )
        else:
            logger.info(
                "%s: attempt %d failed (%s); retrying in %.2f s",
                self.label,
                attempt.number,
                what,
                wait,
                extra={**_fields(attempt), "retry_in_s": round(wait, 3)},
            )
        return wait

    def give_up(self, result: Result, raw: str) -> APIError:
        """The error that ends the call after its last failed attempt (*raw*: redacted body)."""
        last = self.attempts[-1]
        if isinstance(result, Received):
            return status_error(self.settings, result.status_code, raw, last, self.exchange())
        return connection_error(
            self.settings.vendor, AttemptOutcome(last.outcome), self.attempts, self.exchange()
        )


def run_call(
    settings: CallSettings,
    wire: WireRequest,
    secrets: tuple[str, ...],
    read: Callable[[VendorReply], T],
    deadline: float | None,
    *,
    label: str = "vendor call",
    answer_statuses: Collection[int] = SUCCESS,
) -> Generator[Sent | Sleep, Result, tuple[T, Exchange]]:
    """Make one vendor call, retrying per policy, as a generator its driver runs.

    **Protocol:** the generator yields what to do next and is sent what happened:

    - it yields a :class:`Sent`; the driver makes that HTTP request (with its timeouts) and
      sends back the :class:`Received` answer or the :class:`httpx.RequestError`;
    - it yields a :class:`Sleep`; the driver sleeps that long and sends back ``None``.

    It returns what *read* made of an answer whose status is in *answer_statuses* (2xx by
    default) with the exchange (the masked request and every attempt), or raises an
    ``APIError`` (a :class:`TransportFailure` as ``__cause__``, never the HTTP layer's own
    exception, which holds the request). *label* starts its log lines (a masked phone, never
    a raw one).
    """
    call = _Call(settings, wire, secrets, read, deadline, label)
    number = 0
    while True:
        number += 1
        send = call.send(number)
        started_at, started = datetime.now(UTC), settings.clock()
        result = yield send
        attempt, text, raw, problem = _attempt(
            call, result, number, started_at, settings.clock() - started
        )
        if isinstance(result, Received) and attempt.status_code in answer_statuses:
            if problem is not None:
                raise call.refused(attempt, problem, raw)
            return call.answered(attempt, result, text, raw)
        wait = call.failed(attempt)
        if wait is not None:
            yield Sleep(seconds=wait)
            continue
        error = call.give_up(result, raw)
        if isinstance(result, httpx.RequestError):
            # Not the transport's exception itself: it holds the request (headers, token) and
            # chains the HTTP layer's own, whose repr prints them. A stand-in keeps its words.
            raise error from TransportFailure(
                type(result).__name__, redact_text(str(result), call.secrets)
            )
        raise error


def _attempt(
    call: _Call[Any], result: Result, number: int, started_at: datetime, duration: float
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
    limits = call.settings.limits
    text, problem = body_text(result, limits)
    if problem is None and too_deep(text, limits.max_json_depth):
        problem = f"the answer nests deeper than {limits.max_json_depth} levels"
    retry_after = None
    if result.status_code not in SUCCESS:
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


def status_error(
    settings: CallSettings, code: int, body: str, last: Attempt, exchange: Exchange
) -> APIStatusError:
    """The error of a call that ended on HTTP *code* (*body*: redacted)."""
    vendor = settings.vendor
    cls = RateLimitError if code in settings.throttle_statuses else status_error_class(code)
    tail = f"after {attempts_text(last.number)}"
    retry_after = last.retry_after
    messages: dict[type[APIStatusError], str] = {
        status_error_class(401): f"{vendor} refused the {settings.credential_word} "
        f"(HTTP {code}); check the credentials",
        RateLimitError: f"{vendor} throttled the call (HTTP {code}) {tail}"
        + ("" if retry_after is None else f"; it asked to wait {retry_after:g} s"),
        status_error_class(500): f"{vendor} failed (HTTP {code}) {tail}",
        status_error_class(400): f"{vendor} refused the request (HTTP {code})",
    }
    message = messages.get(cls, f"{vendor} answered HTTP {code}")
    kwargs: dict[str, Any] = {
        "status_code": code,
        "body": body[:BODY_LIMIT],
        "request_id": last.request_id,
        "exchange": exchange,
    }
    if cls is RateLimitError:
        kwargs["retry_after"] = retry_after
    return cls(message, **kwargs)


def connection_error(
    vendor: str, failure: AttemptOutcome, attempts: list[Attempt], exchange: Exchange
) -> APIConnectionError:
    """The error of a call whose last attempt got no answer."""
    maybe_sent = maybe_processed(attempts)
    tail = f"after {attempts_text(len(attempts))}"
    if maybe_sent:
        consequence = f"outcome unknown: {vendor} may have received (and billed) it"
    else:
        consequence = f"the request never reached {vendor}"
    if failure.timed_out:
        return APITimeoutError(
            f"{vendor} did not answer in time ({failure}) {tail}; {consequence}",
            outcome_unknown=maybe_sent,
            exchange=exchange,
        )
    return APIConnectionError(
        f"could not complete the call to {vendor} ({failure}) {tail}; {consequence}",
        outcome_unknown=maybe_sent,
        exchange=exchange,
    )


def maybe_processed(attempts: list[Attempt]) -> bool:
    """Whether any attempt may have reached the vendor (and been processed, and billed)."""
    return any(attempt_may_have_been_processed(a.outcome, a.status_code) for a in attempts)
