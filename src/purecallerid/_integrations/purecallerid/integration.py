"""PureCallerID as an integration: field mapping + client + (in the screener) rules."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import attrs

from ..._errors import ConfigurationError
from ..._mapping import DEFAULT_FIELD_MAPPING
from ...typing import IntegrationAnswer
from .client import DEFAULT_MAX_CONNECTIONS, AsyncPureCallerIDClient
from .dialects import dialect_named
from .fields import PURECALLERID_FIELDS, answer_from_response, map_request
from .retry import RetryPolicy

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    import httpx

    from ..._models import Lead
    from ..._rules.fields import FieldRegistry
    from ..._settings import IntegrationSettings
    from .received import ResponseLimits

__all__ = ["PureCallerIDIntegration"]


class PureCallerIDIntegration:
    """Screens leads with PureCallerID. Kind ``"purecallerid"``.

    Per lead: the campaign's mapping (or :data:`purecallerid.DEFAULT_FIELD_MAPPING`) turns
    the lead into a request, with the vendor ids from the credentials; the client sends it in
    the configured dialect; the answer's fields go to the rules. One client (and connection
    pool) is kept per credential set and reused across leads.

    Args:
        transport: An async httpx transport for every client (a fake's, in tests).
        retry_policy: The clients' retry policy (the safe default otherwise).
        max_connections: Pool size (and in-flight bound) of each client.
        sleep: The clients' sleep between attempts (injectable for tests).
        kind: The kind name settings use.
        response_limits: How much of an answer the clients read
            (:class:`~purecallerid.ResponseLimits`; its defaults otherwise).
    """

    def __init__(
        self,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        kind: str = "purecallerid",
        response_limits: ResponseLimits | None = None,
    ) -> None:
        """Create the integration; see the class docstring for the arguments."""
        self._response_limits = response_limits
        self._transport = transport
        self._retry_policy = retry_policy
        self._max_connections = max_connections
        self._sleep = sleep
        self._kind = kind
        self._clients: dict[tuple[str, str, str, float, bool], AsyncPureCallerIDClient] = {}

    @property
    def kind(self) -> str:
        """The kind name (``"purecallerid"`` by default)."""
        return self._kind

    @property
    def fields(self) -> FieldRegistry:
        """The answer fields rules may read (:data:`purecallerid.PURECALLERID_FIELDS`)."""
        return PURECALLERID_FIELDS

    def check_settings(self, settings: IntegrationSettings) -> list[str]:
        """Every problem with *settings*: missing credentials, base URL, dialect."""
        problems: list[str] = []
        credentials = settings.credentials
        if credentials.api_token is None or not credentials.api_token.reveal().strip():
            problems.append("credentials.api_token is missing")
        if not credentials.campaign_id:
            problems.append("credentials.campaign_id is missing")
        if settings.dialect == "public":
            if not credentials.dialer_list_id:
                problems.append(
                    "credentials.dialer_list_id is missing (the public dialect needs it)"
                )
        elif not credentials.list_name:
            problems.append("credentials.list_name is missing")
        try:
            dialect_named(settings.dialect)
        except ConfigurationError as exc:
            problems.append(f"dialect: {exc}")
        if not settings.base_url:
            problems.append("base_url is missing (it comes with the PureCallerID credentials)")
        elif credentials.api_token is not None and not problems:
            try:
                self._client_for(settings)
            except (ConfigurationError, TypeError) as exc:
                problems.append(f"base_url: {exc}")
        return problems

    def _client_for(self, settings: IntegrationSettings) -> AsyncPureCallerIDClient:
        token = settings.credentials.api_token
        if token is None or settings.base_url is None:
            raise ConfigurationError("the integration has no credentials or base URL")
        limited = settings.rate_limit is not None
        key = (settings.base_url, settings.dialect, token.reveal(), settings.timeout, limited)
        client = self._clients.get(key)
        if client is None:
            policy = self._retry_policy or RetryPolicy()
            if limited:
                # Under a rate limit the limiter waits out a 429 (and paces every other
                # caller too); the client retrying on its own would bypass it.
                policy = attrs.evolve(policy, retry_statuses=policy.retry_statuses - {429})
            client = AsyncPureCallerIDClient(
                base_url=settings.base_url,
                api_token=token,
                dialect=settings.dialect,
                timeout=settings.timeout,
                retry_policy=policy,
                transport=self._transport,
                max_connections=self._max_connections,
                sleep=self._sleep,
                response_limits=self._response_limits,
            )
            self._clients[key] = client
        return client

    async def screen(
        self, lead: Lead, settings: IntegrationSettings, *, deadline: float
    ) -> IntegrationAnswer:
        """Map *lead*, send it, and return the answer's fields with the exchange."""
        mapping = settings.mapping or DEFAULT_FIELD_MAPPING
        credentials = settings.credentials
        request = map_request(
            mapping,
            lead,
            campaign_id=credentials.campaign_id,
            list_name=credentials.list_name,
            dialer_list_id=credentials.dialer_list_id,
        )
        response = await self._client_for(settings).screen(request, deadline=deadline)
        exchange = response.exchange
        return IntegrationAnswer(
            answer=answer_from_response(response),
            raw=response.raw,
            request=None if exchange is None else exchange.request,
            attempts=() if exchange is None else exchange.attempts,
        )

    async def aclose(self) -> None:
        """Close every client's connection pool."""
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()
