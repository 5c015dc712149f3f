"""PureCallerID as an integration: the toolkit's HTTP integration in PureCallerID's dialects."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

from ..._errors import ConfigurationError
from ..._http.integration import DEFAULT_HTTP_MAX_CONNECTIONS, HttpIntegration
from ..._mapping import DEFAULT_FIELD_MAPPING
from .dialects import dialect_named, shared_dialect
from .fields import PURECALLERID_FIELDS, REQUEST_TARGETS
from .models import ScreeningRequest

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    import httpx

    from ..._http.call import VendorReply, WireRequest
    from ..._http.received import ResponseLimits
    from ..._http.retry import RetryPolicy
    from ..._rules.fields import FieldRegistry
    from ..._settings import IntegrationSettings

__all__ = ["PureCallerIDIntegration"]

_KNOWN_CREDENTIALS = ("api_token", "campaign_id", "list_name", "dialer_list_id")


class PureCallerIDIntegration(HttpIntegration):
    """Screens leads with PureCallerID. Kind ``"purecallerid"``.

    Per lead: the campaign's mapping (or :data:`purecallerid.DEFAULT_FIELD_MAPPING`) turns
    the lead into a request, with the vendor ids from the credentials; it is sent in the
    configured dialect; the answer's fields go to the rules. Built on the toolkit
    (:class:`purecallerid.HttpIntegration`): one connection pool, shared by every credential
    set, and a load is never sent twice unless the first provably never left.

    Args:
        transport: An async httpx transport for every call (a fake's, in tests).
        retry_policy: The retry policy (the safe default otherwise).
        max_connections: Pool size (and in-flight bound).
        sleep: The sleep between attempts (injectable for tests).
        kind: The kind name settings use.
        response_limits: How much of an answer is read
            (:class:`~purecallerid.ResponseLimits`; its defaults otherwise).
        clock: A monotonic clock for deadlines and backoff (injectable for tests; a fake
            clock advanced by a recording *sleep* keeps the timing faithful and instant).
        random: The jitter's source of floats in [0, 1) (injectable for tests).
    """

    vendor = "PureCallerID"
    credential_word = "API token"

    def __init__(
        self,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
        max_connections: int = DEFAULT_HTTP_MAX_CONNECTIONS,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        kind: str = "purecallerid",
        response_limits: ResponseLimits | None = None,
        clock: Callable[[], float] | None = None,
        random: Callable[[], float] | None = None,
    ) -> None:
        """Create the integration; see the class docstring for the arguments."""
        given = {"sleep": sleep, "clock": clock, "random": random}
        options: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
        super().__init__(
            transport=transport,
            retry_policy=retry_policy,
            max_connections=max_connections,
            response_limits=response_limits,
            **options,
        )
        self._kind = kind

    @property
    def kind(self) -> str:  # type: ignore[override]
        """The kind name (``"purecallerid"`` by default)."""
        return self._kind

    @property
    def fields(self) -> FieldRegistry:
        """The answer fields rules may read (:data:`purecallerid.PURECALLERID_FIELDS`)."""
        return PURECALLERID_FIELDS

    def wire_format(self, settings: IntegrationSettings) -> str:
        """The dialect, recorded with every exchange."""
        return settings.dialect

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
        for name in credentials.secrets:
            close = difflib.get_close_matches(name, _KNOWN_CREDENTIALS, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known: {list(_KNOWN_CREDENTIALS)}"
            problems.append(f"credentials.{name}: not a PureCallerID credential; {hint}")
        try:
            dialect_named(settings.dialect)
        except ConfigurationError as exc:
            problems.append(f"dialect: {exc}")
        if not settings.base_url:
            problems.append("base_url is missing (it comes with the PureCallerID credentials)")
        else:
            problems.extend(self.base_url_problems(settings))
        return problems + self.secret_problems(settings)

    def build_request(
        self, payload: Mapping[str, Any], settings: IntegrationSettings
    ) -> WireRequest:
        """The request in the campaign's dialect, with the vendor ids and the token."""
        if "phone" not in (settings.mapping or DEFAULT_FIELD_MAPPING).targets:
            raise ConfigurationError(
                "this mapping has no 'phone' target, and a screening request needs one"
            )
        values = dict(payload)
        known = {name: values.pop(name) for name in REQUEST_TARGETS if name in values}
        credentials = settings.credentials
        request = ScreeningRequest(
            **known,
            extra=values,
            campaign_id=credentials.campaign_id,
            list_name=credentials.list_name,
            dialer_list_id=credentials.dialer_list_id,
        )
        token = credentials.api_token
        if token is None:
            raise ConfigurationError("the integration has no API token")
        return shared_dialect(settings.dialect).build(request, token)

    def read_answer(self, reply: VendorReply, settings: IntegrationSettings) -> Mapping[str, Any]:
        """The answer's fields (see :func:`purecallerid.answer_from_response`)."""
        # Unmasked here: the base masks the answer's values, for every integration, once.
        return shared_dialect(settings.dialect).parse(reply.text, raw=reply.raw).as_answer()
