"""The PureCallerID clients, sync and async: the toolkit's call, in PureCallerID's dialects.

The call itself (deadline, retries, failure table, redaction, evidence, logging) is the
toolkit's (``purecallerid._http``), shared with every HTTP integration; this module adds what
is PureCallerID's own: the dialects that build the request and read the answer into a
:class:`~purecallerid.ScreeningResponse`, and the token.
"""

from __future__ import annotations

import asyncio
import copy
import json
import random as _random
import time
from typing import TYPE_CHECKING, Any, Final, Self, TypeVar

import attrs
from attrs import frozen

from ..._errors import ConfigurationError, ResponseValidationError
from ..._http.call import BODY_LIMIT, CallSettings, TransportFailure, VendorReply
from ..._http.drivers import AsyncDriver, SyncDriver, check_base_url, check_http, check_timeout
from ..._http.received import ResponseLimits
from ..._http.retry import RetryPolicy
from ..._secrets import Secret, mask_phone, redact_values, register_secret
from .dialects import Dialect, dialect_named

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    import httpx

    from .models import ScreeningRequest, ScreeningResponse

__all__ = [
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_SYNC_MAX_CONNECTIONS",
    "DEFAULT_TIMEOUT",
    "AsyncPureCallerIDClient",
    "PureCallerIDClient",
    "TransportFailure",
]

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

_MIN_TOKEN_LENGTH: Final = 8
_NAMES: Final = ("AsyncPureCallerIDClient", "PureCallerIDClient")


@frozen(kw_only=True)
class _Settings:
    call: CallSettings
    token: Secret = attrs.field(repr=False)
    dialect: Dialect


def _reader(dialect: Dialect) -> Callable[[VendorReply], ScreeningResponse]:
    """Read a 2xx answer in *dialect*, redacting what the vendor echoed of the token."""

    def read(reply: VendorReply) -> ScreeningResponse:
        # The vendor's own structure is parsed, then its values redacted: redacting the text
        # first could change the structure (an echo decoded in place could add a key, or
        # turn a Rejected into an Accepted). Always: a text with no form of the token in it
        # can still decode to a value holding one (a repr of it, escaped once more in JSON).
        data = _json_or_nothing(reply.text)
        if data is _NOT_JSON:
            # Raised out here, not in a handler: the decoder's error holds the text, token
            # and all, and would travel on as the context.
            raise ResponseValidationError("the answer is not JSON", body=reply.raw[:BODY_LIMIT])
        scrubbed = json.dumps(redact_values(data, reply.secrets))
        return dialect.parse(scrubbed, raw=reply.raw)

    return read


_NOT_JSON: Final = object()


def _json_or_nothing(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return _NOT_JSON


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
    checked_timeout = check_timeout(timeout)
    if limits is not None and not isinstance(limits, ResponseLimits):
        raise TypeError("response_limits must be a purecallerid.ResponseLimits")
    token = _check_token(api_token)
    # From here on the token is masked in log lines, ours and the HTTP layers'.
    register_secret(token)
    chosen = dialect_named(dialect) if isinstance(dialect, str) else dialect
    call = CallSettings(
        vendor="PureCallerID",
        base_url=check_base_url(base_url, allow_insecure_http=allow_insecure_http),
        timeout=checked_timeout,
        retry=RetryPolicy() if retry_policy is None else retry_policy,
        clock=clock,
        random=random,
        limits=limits or ResponseLimits(),
        dialect=chosen.name,
        credential_word="API token",
    )
    return _Settings(call=call, token=token, dialect=chosen)


def _evolve(
    settings: _Settings,
    *,
    api_token: str | Secret | None,
    dialect: str | Dialect | None,
    timeout: float | httpx.Timeout | None,
    retry_policy: RetryPolicy | None,
) -> _Settings:
    call = settings.call
    return _make_settings(
        base_url=call.base_url,
        api_token=settings.token if api_token is None else api_token,
        dialect=settings.dialect if dialect is None else dialect,
        timeout=call.timeout if timeout is None else timeout,
        retry_policy=call.retry if retry_policy is None else retry_policy,
        # The base URL was checked when the original client was built.
        allow_insecure_http=True,
        clock=call.clock,
        random=call.random,
        limits=call.limits,
    )


def _prepare(
    settings: _Settings, request: ScreeningRequest
) -> tuple[Any, tuple[str, ...], Callable[[VendorReply], ScreeningResponse], str]:
    """The wire request, secrets, reader and log label of one screening."""
    wire = settings.dialect.build(request, settings.token)
    label = f"screening {mask_phone(request.phone)}"
    return wire, (settings.token.reveal(),), _reader(settings.dialect), label


class PureCallerIDClient:
    """A synchronous PureCallerID client. Thread-safe; reuse one per credential set.

    Its connection pool belongs to the process that built it: in a forked child,
    :meth:`screen` raises :class:`~purecallerid.ForkedError` (build one per worker, after the
    fork).

    Args:
        base_url: The host URL that came with the credentials. Must be ``https``, except for
            loopback addresses or with ``allow_insecure_http=True``.
        api_token: The API token (a ``str`` or a :class:`Secret`); never logged or shown.
        dialect: ``"leadexec"`` (LeadExec's flat body), ``"public"`` (PureCallerID's public
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
        check_http(http_client, transport, is_async=False, names=_NAMES)
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
        self._driver = SyncDriver(
            http_client=http_client,
            transport=transport,
            max_connections=max_connections,
            sleep=sleep,
        )

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
        wire, secrets, read, label = _prepare(self._settings, request)
        response, exchange = self._driver.call(
            self._settings.call,
            wire,
            secrets,
            read,
            deadline,
            label=label,
            owner=type(self).__name__,
        )
        return attrs.evolve(response, exchange=exchange)

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
        self._driver.close()

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
        check_http(http_client, transport, is_async=True, names=_NAMES)
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
        self._driver = AsyncDriver(
            http_client=http_client,
            transport=transport,
            max_connections=max_connections,
            sleep=sleep,
            max_wire_bytes=self._settings.call.limits.max_wire_bytes,
        )

    async def screen(
        self, request: ScreeningRequest, *, deadline: float | None = None
    ) -> ScreeningResponse:
        """Send *request* to PureCallerID and return its answer.

        Same arguments, result and errors as :meth:`PureCallerIDClient.screen`.
        """
        wire, secrets, read, label = _prepare(self._settings, request)
        response, exchange = await self._driver.call(
            self._settings.call,
            wire,
            secrets,
            read,
            deadline,
            label=label,
            owner=type(self).__name__,
        )
        return attrs.evolve(response, exchange=exchange)

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
        await self._driver.aclose()

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
    # The copy shares the driver but not its ownership: the original closes the pool.
    clone._driver = copy.copy(client._driver)  # noqa: SLF001
    clone._driver.owns_http = False  # noqa: SLF001
    return clone


def _repr(client: object, settings: _Settings) -> str:
    return (
        f"{type(client).__name__}(base_url={settings.call.base_url!r}, "
        f"dialect={settings.dialect.name!r}, api_token={settings.token!r})"
    )
