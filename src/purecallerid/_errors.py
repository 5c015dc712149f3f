"""Every error the library raises, in one hierarchy.

::

    PureCallerIDError
    ├── ConfigurationError            bad constructor arguments or settings (also a ValueError)
    ├── SettingsError                 a settings document refused, every problem with its path
    ├── MappingError                  a lead that cannot be mapped (every problem at once)
    ├── InvalidPhoneError             a phone number that is not one (normalizers)
    ├── InvalidZipError               a ZIP code that is not one (normalizers)
    ├── RuleValidationError           a rule document refused, every problem with its path
    ├── InvalidLeadError              a lead without a usable id: nothing can be recorded
    ├── StorageError                  the result store failed: no decision is returned
    ├── SuppressionListError          a suppression list could not be read
    ├── GuardError                    a guard stopped the call before it was made: nothing was
    │   │                             sent, nothing billed (``outcome_unknown`` is ``False``)
    │   ├── QuotaExhaustedError       the credential's daily quota is spent
    │   ├── CircuitOpenError          the endpoint's circuit breaker is open (or probing)
    │   ├── ThrottledError            the rate limiter has no turn before the call's deadline
    │   └── StateUnavailableError     the guards' state backend (Redis, SQLite) failed
    └── APIError                      something went wrong talking to a vendor
        ├── APIStatusError            the vendor answered with a non-2xx status
        │   ├── AuthenticationError   401 or 403: the token is wrong or lacks rights
        │   ├── RateLimitError        429: throttled; ``retry_after`` holds the parsed wait
        │   ├── ServerError           5xx
        │   └── ClientError           any other 4xx: the request itself is wrong
        ├── APIConnectionError        no answer: connection refused, DNS, TLS, dropped;
        │   │                         ``outcome_unknown`` says whether the request may have
        │   │                         reached the vendor (and so loaded and billed the lead)
        │   └── APITimeoutError       no answer in time
        └── ResponseValidationError   a 2xx answer that is not a JSON object with a status

Every :class:`APIError` carries ``exchange``: the masked request that was sent and every
attempt made, so that a failure is as well documented as a success. The transport exception,
when there is one, is kept as ``__cause__``. No message, attribute or ``repr`` holds the API
token: bodies are redacted before they are stored here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._models import Exchange

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "CircuitOpenError",
    "ClientError",
    "ConfigurationError",
    "GuardError",
    "PureCallerIDError",
    "QuotaExhaustedError",
    "RateLimitError",
    "ResponseValidationError",
    "ServerError",
    "StateUnavailableError",
    "SuppressionListError",
    "ThrottledError",
    "status_error_class",
]


class PureCallerIDError(Exception):
    """Base class of every error raised by this library."""


class ConfigurationError(PureCallerIDError, ValueError):
    """A constructor argument or setting is invalid; the message says what to pass instead."""


class SuppressionListError(PureCallerIDError):
    """A suppression list could not be read (a locked or broken database, a vanished file).

    The lookup never happened, so nothing can be said about the lead; the integration's
    failure policy decides. The underlying error is kept as ``__cause__``.
    """


class GuardError(PureCallerIDError):
    """A guard (quota, rate limit, circuit breaker, state backend) refused the call.

    The screener raises these before calling an integration, so the request never left:
    ``outcome_unknown`` is always ``False``. The integration's failure policy decides the lead.
    """

    outcome_unknown: bool = False


class QuotaExhaustedError(GuardError):
    """The daily quota of the integration's credential is spent for the vendor's day.

    Attributes:
        limit: The daily quota.
        day: The vendor day (``YYYY-MM-DD`` in the quota's time zone).
    """

    def __init__(self, message: str, *, limit: int, day: str) -> None:
        """Create the error for the quota *limit* of *day*."""
        super().__init__(message)
        self.limit = limit
        self.day = day


class CircuitOpenError(GuardError):
    """The endpoint's circuit breaker is open, or another call is probing it.

    Attributes:
        retry_in: Seconds until a probe may be tried (0 when a probe is already out).
    """

    def __init__(self, message: str, *, retry_in: float) -> None:
        """Create the error; *retry_in* says when the breaker lets a probe through."""
        super().__init__(message)
        self.retry_in = retry_in


class ThrottledError(GuardError):
    """The rate limiter has no turn for this call before its deadline: it was not sent.

    Not a vendor 429 (that is :class:`RateLimitError`): the library held the call back to stay
    within the configured rate.

    Attributes:
        wait: Seconds the call would have had to wait for its turn.
    """

    def __init__(self, message: str, *, wait: float) -> None:
        """Create the error; *wait* is the turn that was refused."""
        super().__init__(message)
        self.wait = wait


class StateUnavailableError(GuardError):
    """The guards' state backend failed (Redis down, SQLite locked past its timeout).

    Without its quota, rate and breaker state the screener cannot call safely, so it does not
    call. The backend's own exception is kept as ``__cause__``.
    """


class APIError(PureCallerIDError):
    """A call to a vendor failed.

    Attributes:
        message: What went wrong, in one sentence, without secrets.
        exchange: The masked request and the attempts made, or ``None`` when the failure
            happened before anything was built.
    """

    def __init__(self, message: str, *, exchange: Exchange | None = None) -> None:
        """Create the error; *message* must already be free of secrets."""
        super().__init__(message)
        self.message = message
        self.exchange = exchange

    @property
    def attempts(self) -> int:
        """How many HTTP attempts were made before giving up (0 when none was made)."""
        return 0 if self.exchange is None else len(self.exchange.attempts)


class APIStatusError(APIError):
    """The vendor answered with a status code outside 2xx.

    Attributes:
        status_code: The HTTP status code.
        body: The answer's body as text (redacted, truncated to 2,000 characters).
        request_id: The vendor's request id header, when it sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: str,
        request_id: str | None = None,
        exchange: Exchange | None = None,
    ) -> None:
        """Create the error from an already-redacted *body*."""
        super().__init__(message, exchange=exchange)
        self.status_code = status_code
        self.body = body
        self.request_id = request_id


class AuthenticationError(APIStatusError):
    """401 or 403: the API token was refused. Not a lead problem: fix the credentials."""


class RateLimitError(APIStatusError):
    """429: the vendor throttled the call.

    Attributes:
        retry_after: Seconds the vendor asked to wait, or ``None`` when it did not say (or said
            something that is not a number of seconds nor an HTTP date).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: str,
        request_id: str | None = None,
        retry_after: float | None = None,
        exchange: Exchange | None = None,
    ) -> None:
        """Create the error with the parsed ``Retry-After``."""
        super().__init__(
            message, status_code=status_code, body=body, request_id=request_id, exchange=exchange
        )
        self.retry_after = retry_after


class ServerError(APIStatusError):
    """5xx: the vendor failed. Whether it processed the lead is unknown for 500/502/504."""


class ClientError(APIStatusError):
    """A 4xx other than 401, 403 and 429: the request was refused as malformed."""


class APIConnectionError(APIError):
    """No HTTP answer was received: connection refused, DNS failure, TLS error, dropped.

    Attributes:
        outcome_unknown: ``True`` when the request may have been sent before the failure, so
            the vendor may have loaded (and billed) the lead; ``False`` when it provably never
            left (connection refused, DNS, connect or pool timeout).
    """

    def __init__(
        self, message: str, *, outcome_unknown: bool, exchange: Exchange | None = None
    ) -> None:
        """Create the error; *outcome_unknown* says whether the request may have arrived."""
        super().__init__(message, exchange=exchange)
        self.outcome_unknown = outcome_unknown


class APITimeoutError(APIConnectionError):
    """No answer in time (or the caller's deadline ran out before a call could be made)."""


class ResponseValidationError(APIError):
    """A 2xx answer that cannot be read: not JSON, not a JSON object, or without a status.

    Attributes:
        body: The raw body as text (redacted, truncated to 2,000 characters).
    """

    def __init__(self, message: str, *, body: str, exchange: Exchange | None = None) -> None:
        """Create the error from an already-redacted *body*."""
        super().__init__(message, exchange=exchange)
        self.body = body


_FIRST_SERVER_ERROR = 500


def status_error_class(status_code: int) -> type[APIStatusError]:
    """Return the error class for a non-2xx *status_code* (the one place this is decided)."""
    if status_code in {401, 403}:
        return AuthenticationError
    if status_code == 429:  # noqa: PLR2004 - the HTTP status is the documentation
        return RateLimitError
    if status_code >= _FIRST_SERVER_ERROR:
        return ServerError
    if 400 <= status_code < _FIRST_SERVER_ERROR:  # noqa: PLR2004
        return ClientError
    return APIStatusError
