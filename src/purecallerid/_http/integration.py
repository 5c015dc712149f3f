"""The toolkit's base for HTTP integrations: declare the request and the answer, get the rest.

A vendor is an :class:`HttpIntegration` subclass that says how to build a request from the
mapped lead (:meth:`HttpIntegration.build_request`) and how to read an answer into the fields
its rules use (:meth:`HttpIntegration.read_answer`). The base does everything that is easy to
get wrong: the field mapping before any paid call, one connection pool per vendor shared by
every credential set, the deadline over the whole call, retries that never repeat a call that
may have been processed (unless the integration declares it idempotent), the failure table,
the credential masked wherever it is placed (header, query, path, body) and whatever the
vendor echoes, and the attempt evidence for the record.
"""

from __future__ import annotations

import abc
import asyncio
import random as _random
import time
from typing import TYPE_CHECKING, Any, ClassVar, Final

import attrs

from .._errors import ConfigurationError
from .._mapping import DEFAULT_FIELD_MAPPING, FieldMapping
from .._secrets import Secret, attach_filter, mask_phone, register_secret
from ..typing import IntegrationAnswer
from .call import SUCCESS, CallSettings, VendorReply, WireRequest
from .drivers import AsyncDriver, check_base_url, check_timeout
from .received import ResponseLimits
from .retry import RetryPolicy

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Collection, Mapping

    import httpx

    from .._models import Lead
    from .._rules.fields import FieldRegistry
    from .._settings import IntegrationSettings

__all__ = ["DEFAULT_HTTP_MAX_CONNECTIONS", "HttpIntegration", "credential_secrets"]

DEFAULT_HTTP_MAX_CONNECTIONS: Final = 64
"""Default pool size (and in-flight bound) of an HTTP integration's driver."""

_MIN_SECRET_LENGTH: Final = 8
# Statuses a lookup may be asked again after: the vendor said so, or failed before answering.
_IDEMPOTENT_RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})


def credential_secrets(settings: IntegrationSettings) -> tuple[Secret, ...]:
    """Every secret of *settings*' credentials: the API token and each named secret."""
    credentials = settings.credentials
    found = [] if credentials.api_token is None else [credentials.api_token]
    found.extend(credentials.secrets.values())
    return tuple(found)


class HttpIntegration(abc.ABC):
    """Base class of an integration that asks a vendor over HTTP.

    Subclasses set :attr:`kind`, :attr:`vendor` and :attr:`fields` (or the properties) and
    implement :meth:`build_request` and :meth:`read_answer`; they may override
    :meth:`check_settings` (call ``super()``), :attr:`default_mapping`, :attr:`idempotent`
    and :meth:`answer_statuses`.

    Per lead, :meth:`screen` maps the lead with the campaign's mapping (a lead that cannot be
    mapped raises :class:`~purecallerid.MappingError` before any call), builds the request,
    sends it through one pooled driver per integration instance and reads the answer. The
    credentials travel in each request, so campaigns with their own keys share the pool.

    Args:
        transport: An async httpx transport (``httpx.MockTransport`` in tests).
        retry_policy: The retry policy; by default only what provably never left is retried
            (and 429/503), or, for an idempotent lookup, timeouts and 5xx answers too.
        max_connections: Pool size and in-flight bound.
        sleep: The sleep between attempts (injectable for tests).
        clock: A monotonic clock (injectable for tests).
        random: The jitter's source of floats in [0, 1) (injectable for tests).
        response_limits: How much of an answer is read.
    """

    kind: ClassVar[str] = ""
    """The kind name settings use (``kind = "..."``)."""

    vendor: ClassVar[str] = ""
    """The vendor's name, for messages (``"Litigator list"``)."""

    idempotent: ClassVar[bool] = False
    """Whether the call is a pure lookup that may be sent twice (see the retry policy)."""

    credential_word: ClassVar[str] = "credentials"
    """What a 401 answer says was refused."""

    def __init__(
        self,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
        max_connections: int = DEFAULT_HTTP_MAX_CONNECTIONS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        random: Callable[[], float] = _random.random,
        response_limits: ResponseLimits | None = None,
    ) -> None:
        """Create the integration; see the class docstring for the arguments."""
        self._transport = transport
        self._retry_policy = retry_policy
        self._max_connections = max_connections
        self._sleep = sleep
        self._clock = clock
        self._random = random
        self._limits = response_limits or ResponseLimits()
        self._driver: AsyncDriver | None = None
        self._closed = False
        attach_filter()  # phones in the HTTP layers' request lines, with or without secrets
        self._calls: dict[tuple[Any, ...], CallSettings] = {}

    # -- what a subclass declares ------------------------------------------------------------

    @property
    @abc.abstractmethod
    def fields(self) -> FieldRegistry:
        """The answer fields rules may read."""

    @property
    def default_mapping(self) -> FieldMapping:
        """The mapping used when a campaign sets none (:data:`DEFAULT_FIELD_MAPPING`)."""
        return DEFAULT_FIELD_MAPPING

    @abc.abstractmethod
    def build_request(
        self, payload: Mapping[str, Any], settings: IntegrationSettings
    ) -> WireRequest:
        """The request for one lead: *payload* is the lead mapped by the campaign's mapping.

        Place credentials from ``settings.credentials`` where the vendor wants them; the
        record masks every one of them wherever it lands.

        Raises:
            ConfigurationError: A value the vendor requires is missing from the settings.
            MappingError: A value the vendor requires is missing from the lead.
        """

    @abc.abstractmethod
    def read_answer(self, reply: VendorReply, settings: IntegrationSettings) -> Mapping[str, Any]:
        """The fields of an answer (see :meth:`answer_statuses`), as the rules read them.

        Parse ``reply.text``; the base masks every credential in what you return.

        Raises:
            ResponseValidationError: The answer cannot be read (not JSON, a field of the
                wrong type, an error reported in the body).
        """

    def mapping_for(self, settings: IntegrationSettings) -> FieldMapping:
        """The mapping of *settings*, else :attr:`default_mapping`."""
        return settings.mapping or self.default_mapping

    def base_url_of(self, settings: IntegrationSettings) -> str | None:
        """The vendor's base URL for *settings* (``settings.base_url`` by default)."""
        return settings.base_url

    def answer_statuses(self, settings: IntegrationSettings) -> Collection[int]:  # noqa: ARG002
        """The HTTP statuses whose answers :meth:`read_answer` reads (2xx by default).

        Every other status is a failure, classified by the failure table.
        """
        return SUCCESS

    def throttle_statuses(self, settings: IntegrationSettings) -> frozenset[int]:  # noqa: ARG002
        """Statuses besides 429 that mean "throttled" for this vendor (403 for some)."""
        return frozenset()

    def vendor_name(self, settings: IntegrationSettings) -> str:
        """The vendor's name in messages (:attr:`vendor`, else the integration's id)."""
        return self.vendor or settings.id

    def wire_format(self, settings: IntegrationSettings) -> str:  # noqa: ARG002
        """The name recorded with each exchange as its wire format (the kind by default)."""
        return self.kind

    def is_idempotent(self, settings: IntegrationSettings) -> bool:  # noqa: ARG002
        """Whether this call may be sent twice (:attr:`idempotent` by default)."""
        return self.idempotent

    # -- the Integration protocol ----------------------------------------------------------

    def check_settings(self, settings: IntegrationSettings) -> list[str]:
        """Problems of *settings*: the base URL, and every credential secret's shape."""
        if not self.base_url_of(settings):
            problems = [f"base_url is missing (the {self.vendor_name(settings)} endpoint)"]
        else:
            problems = self.base_url_problems(settings)
        return problems + self.secret_problems(settings)

    def base_url_problems(self, settings: IntegrationSettings) -> list[str]:
        """What is wrong with the base URL (https unless loopback), if anything."""
        try:
            check_base_url(
                self.base_url_of(settings) or "",
                allow_insecure_http=False,
                what="credentials",
                option=False,
            )
        except (ConfigurationError, TypeError) as exc:
            return [f"base_url: {str(exc).removeprefix('base_url ')}"]
        return []

    def secret_problems(self, settings: IntegrationSettings) -> list[str]:
        """What is wrong with each credential secret: too short to mask, or not header-safe."""
        problems: list[str] = []
        named = {"api_token": settings.credentials.api_token, **settings.credentials.secrets}
        for name, secret in named.items():
            value = None if secret is None else secret.reveal()
            if not value:
                continue
            if len(value) < _MIN_SECRET_LENGTH:
                # A value that short would also match ordinary words when it is masked.
                problems.append(f"credentials.{name}: shorter than {_MIN_SECRET_LENGTH} characters")
            elif not (value.isascii() and value.isprintable()) or any(c.isspace() for c in value):
                # Secrets travel in headers and URLs, where only visible ASCII is safe.
                problems.append(
                    f"credentials.{name}: must be visible ASCII without spaces "
                    "(a trailing newline from a file?)"
                )
        return problems

    async def screen(
        self, lead: Lead, settings: IntegrationSettings, *, deadline: float
    ) -> IntegrationAnswer:
        """Map *lead*, send the request, read the answer (see the class docstring)."""
        payload = self.mapping_for(settings).map_payload(lead)  # MappingError here, before any call
        wire = self.build_request(payload, settings)
        held = credential_secrets(settings)
        for secret in held:
            register_secret(secret)  # masked in log lines from here on
        secrets = tuple(s.reveal() for s in held)
        raw: list[str] = []

        def read(reply: VendorReply) -> Mapping[str, Any]:
            raw.append(reply.raw)
            answer: Mapping[str, Any] = reply.redact(dict(self.read_answer(reply, settings)))
            return answer

        driver = self._driver_for()
        answer, exchange = await driver.call(
            self._call_settings(settings),
            wire,
            secrets,
            read,
            deadline,
            label=f"screening {mask_phone(payload.get('phone', ''))} with {settings.id}",
            owner=type(self).__name__,
            answer_statuses=self.answer_statuses(settings),
        )
        return IntegrationAnswer(
            answer=answer,
            raw=raw[-1] if raw else None,
            request=exchange.request,
            attempts=exchange.attempts,
        )

    async def aclose(self) -> None:
        """Close the connection pool, for good: :meth:`screen` then raises ``RuntimeError``."""
        self._closed = True
        driver, self._driver = self._driver, None
        if driver is not None:
            await driver.aclose()

    # -- internals ---------------------------------------------------------------------------

    def _driver_for(self) -> AsyncDriver:
        if self._closed:
            # Reopening silently would leak a pool nobody closes.
            raise RuntimeError(f"{type(self).__name__} is closed: build a new one")
        if self._driver is None:
            self._driver = AsyncDriver(
                http_client=None,
                transport=self._transport,
                max_connections=self._max_connections,
                sleep=self._sleep,
                max_wire_bytes=self._limits.max_wire_bytes,
            )
        return self._driver

    def _call_settings(self, settings: IntegrationSettings) -> CallSettings:
        idempotent = self.is_idempotent(settings)
        throttled = self.throttle_statuses(settings)
        limited = settings.rate_limit is not None
        key = (
            settings.id,
            self.base_url_of(settings),
            settings.timeout,
            self.wire_format(settings),
            idempotent,
            throttled,
            limited,
        )
        found = self._calls.get(key)
        if found is None:
            found = CallSettings(
                vendor=self.vendor_name(settings),
                base_url=check_base_url(
                    self.base_url_of(settings) or "", allow_insecure_http=False
                ),
                timeout=check_timeout(settings.timeout),
                retry=self._policy(idempotent=idempotent, throttled=throttled, limited=limited),
                clock=self._clock,
                random=self._random,
                limits=self._limits,
                dialect=self.wire_format(settings),
                credential_word=self.credential_word,
                throttle_statuses=throttled,
            )
            self._calls[key] = found
        return found

    def _policy(self, *, idempotent: bool, throttled: frozenset[int], limited: bool) -> RetryPolicy:
        policy = self._retry_policy
        if policy is None:
            policy = RetryPolicy()
            if idempotent:
                policy = attrs.evolve(
                    policy, retry_statuses=_IDEMPOTENT_RETRY_STATUSES, retry_read_timeouts=True
                )
        statuses = policy.retry_statuses | throttled
        if limited:
            # Under a rate limit the limiter waits out a throttle (and paces every other
            # caller too); the call retrying on its own would bypass it.
            statuses -= {429, *throttled}
        return attrs.evolve(policy, retry_statuses=statuses)
