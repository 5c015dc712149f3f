"""Every error the library raises, in one hierarchy, and the one failure table.

::

    PureCallerIDError
    ├── ConfigurationError            bad constructor arguments or settings (also a ValueError)
    │   └── SettingsError             settings refused (a file, a dict or the settings classes),
    │                                 every problem with its path
    ├── MappingError                  a lead that cannot be mapped (every problem at once)
    ├── InvalidPhoneError             a phone number that is not one (normalizers)
    ├── InvalidZipError               a ZIP code that is not one (normalizers)
    ├── RuleValidationError           a rule document refused, every problem with its path
    ├── InvalidLeadError              a lead without a usable id: nothing can be recorded
    ├── StorageError                  the result store failed: no decision is returned
    ├── ForkedError                   an object used in a forked child of the process that
    │                                 built it: build it after the fork
    ├── DeadlineExceededError         the campaign's deadline was spent before the call
    ├── SuppressionListError          a suppression list could not be read
    │   └── SuppressionListTimeoutError   it did not answer within the integration's time
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

**The failure table.** Every class carries, as class attributes, the stable name a record
gives its failure (:attr:`PureCallerIDError.error_class`, an :class:`ErrorClass`) and whether
the vendor may have processed (and billed) the lead (:attr:`PureCallerIDError.outcome_unknown`).
Where that depends on what happened, the instance says: an :class:`APIStatusError` from its
attempts (:func:`attempt_may_have_been_processed`), an :class:`APIConnectionError` from
whether the request left. Every place that records a failure reads these; nothing restates
them.

Every :class:`APIError` carries ``exchange``: the masked request that was sent and every
attempt made, so that a failure is as well documented as a success. The transport exception,
when there is one, is kept as ``__cause__``. No message, attribute or ``repr`` holds the API
token: bodies are redacted before they are stored here.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, ClassVar, Final

from attrs import frozen

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from ._mapping import MappingProblem, ProblemCode
    from ._models import Attempt, Exchange
    from ._rules.check import RuleProblem

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AttemptOutcome",
    "AuthenticationError",
    "CircuitOpenError",
    "ClientError",
    "ConfigurationError",
    "DeadlineExceededError",
    "ErrorClass",
    "ForkedError",
    "GuardError",
    "InvalidLeadError",
    "InvalidPhoneError",
    "InvalidZipError",
    "MappingError",
    "PureCallerIDError",
    "QuotaExhaustedError",
    "RateLimitError",
    "ResponseValidationError",
    "RuleValidationError",
    "ServerError",
    "SettingsError",
    "SettingsProblem",
    "StateUnavailableError",
    "StorageError",
    "SuppressionListError",
    "SuppressionListTimeoutError",
    "ThrottledError",
    "attempt_may_have_been_processed",
    "error_class",
    "failure_table",
    "may_have_left",
    "outcome_unknown_of",
    "status_error_class",
    "status_may_have_been_processed",
]


class ErrorClass(enum.StrEnum):
    """The stable names a record gives a failed integration (``IntegrationRecord.error_class``).

    Members compare equal to their strings, so ``record.error_class == "timeout"`` works.
    """

    TIMEOUT = "timeout"
    CONNECTION = "connection"
    SERVER_ERROR = "server_error"
    RATE_LIMITED = "rate_limited"
    AUTH_FAILED = "auth_failed"
    CLIENT_ERROR = "client_error"
    INVALID_RESPONSE = "invalid_response"
    MAPPING_ERROR = "mapping_error"
    SETTINGS_ERROR = "settings_error"
    DEADLINE_EXCEEDED = "deadline_exceeded"
    QUOTA_EXHAUSTED = "quota_exhausted"
    CIRCUIT_OPEN = "circuit_open"
    THROTTLED = "throttled"
    STATE_UNAVAILABLE = "state_unavailable"
    LIST_UNAVAILABLE = "list_unavailable"
    ERROR = "error"


class AttemptOutcome(enum.StrEnum):
    """How one HTTP attempt ended (``Attempt.outcome``): an answer, or the kind of failure."""

    ANSWERED = "answered"
    CONNECT_ERROR = "connect_error"
    CONNECT_TIMEOUT = "connect_timeout"
    POOL_TIMEOUT = "pool_timeout"
    LOCAL_PROTOCOL_ERROR = "local_protocol_error"
    READ_TIMEOUT = "read_timeout"
    WRITE_TIMEOUT = "write_timeout"
    TIMEOUT = "timeout"
    NETWORK_ERROR = "network_error"
    PROTOCOL_ERROR = "protocol_error"

    @property
    def sent(self) -> bool:
        """Whether the request may have left this process (and so reached the vendor)."""
        return self not in _NEVER_SENT

    @property
    def timed_out(self) -> bool:
        """Whether the attempt ended because time ran out (an :class:`APITimeoutError`)."""
        return self.value.endswith("timeout")


# The request provably never left: refused, unresolved, no connection or pool slot in time,
# or refused by our own HTTP stack before a byte was written.
_NEVER_SENT: Final = frozenset(
    {
        AttemptOutcome.CONNECT_ERROR,
        AttemptOutcome.CONNECT_TIMEOUT,
        AttemptOutcome.POOL_TIMEOUT,
        AttemptOutcome.LOCAL_PROTOCOL_ERROR,
    }
)
# Statuses by which a vendor says it did not take the request in: come back later (429, 503),
# or a refusal of the request itself (4xx).
_NOT_PROCESSED_5XX: Final = frozenset({503})
_FIRST_CLIENT_ERROR = 400
_FIRST_SERVER_ERROR = 500
_FIRST_NON_SUCCESS = 300
_FIRST_SUCCESS = 200


def status_may_have_been_processed(status_code: int) -> bool:
    """Whether an answer with *status_code* leaves open that the vendor processed the lead.

    A 2xx did process it; 4xx (400, 401, 403, 404, 429 ...) and 503 say it did not; any other
    5xx (500, 502, 504 ...) may come after processing, and so may a 1xx or 3xx.
    """
    if _FIRST_CLIENT_ERROR <= status_code < _FIRST_SERVER_ERROR:
        return False
    return status_code not in _NOT_PROCESSED_5XX


def attempt_may_have_been_processed(outcome: str, status_code: int | None = None) -> bool:
    """Whether one attempt (:class:`purecallerid.Attempt`) may have loaded and billed the lead.

    An answered attempt is judged by its status (:func:`status_may_have_been_processed`); a
    failed one by whether the request may have left (:attr:`AttemptOutcome.sent`). An outcome
    this table does not know counts as sent: the safe side.
    """
    if outcome == AttemptOutcome.ANSWERED:
        return status_may_have_been_processed(status_code or 0)
    return _sent(outcome)


def _any_processed(attempts: Iterable[Attempt]) -> bool:
    return any(attempt_may_have_been_processed(a.outcome, a.status_code) for a in attempts)


def may_have_left(failure: BaseException) -> bool:
    """Whether a failed call may have sent anything to the vendor (a quota counts it then).

    Library errors raised before a request exists (mapping, settings, guards) never sent one;
    a vendor error sent one if any of its attempts may have left (:attr:`AttemptOutcome.sent`)
    or, when it recorded no exchange, unless it says ``outcome_unknown = False``. Anything
    else (the screener's own timeout) may have.
    """
    if isinstance(failure, APIStatusError | ResponseValidationError):
        return True  # an answer came: the request arrived
    if isinstance(failure, APIError):
        if failure.exchange is None:
            return failure.outcome_unknown is not False
        return any(_sent(attempt.outcome) for attempt in failure.exchange.attempts)
    return not isinstance(failure, PureCallerIDError)


def _sent(outcome: str) -> bool:
    try:
        return AttemptOutcome(outcome).sent
    except ValueError:
        return True


class PureCallerIDError(Exception):
    """Base class of every error raised by this library.

    Attributes:
        error_class: The stable name a record gives this failure (class attribute).
        outcome_unknown: Whether the vendor may have processed (and billed) the lead:
            ``True`` when it may have, ``False`` when it provably did not, ``None`` when the
            error says nothing about a vendor call.
    """

    error_class: ClassVar[ErrorClass] = ErrorClass.ERROR
    outcome_unknown: bool | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructors cannot be replayed from `args`: rebuild from the state,
        # so that an error pickles and copies (a process pool, a queue).
        return (_rebuilt, (type(self), self.args, self.__dict__))


def _rebuilt(
    cls: type[PureCallerIDError], args: tuple[Any, ...], state: dict[str, Any]
) -> PureCallerIDError:
    error = cls.__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    return error


class ConfigurationError(PureCallerIDError, ValueError):
    """A constructor argument or setting is invalid; the message says what to pass instead."""

    error_class = ErrorClass.SETTINGS_ERROR
    outcome_unknown = False


@frozen(kw_only=True)
class SettingsProblem:
    """One problem in settings.

    Attributes:
        path: Where, as a dotted path: in a document from its top
            (``campaigns.demo.integrations[1].rules line 1, column 12``), in settings built in
            code from the object refused (``credentials.api_token``, ``integrations[0].sort``).
        message: What is wrong, in one sentence.
    """

    path: str
    message: str

    def __str__(self) -> str:
        """``path: message``."""
        return f"{self.path}: {self.message}"


class SettingsError(ConfigurationError):
    """Settings were refused; ``problems`` lists every problem found, each with its path.

    The one error for "these settings are wrong", whether they came from a file, a dict
    (:func:`~purecallerid.load_settings`) or the settings classes built in code
    (:class:`~purecallerid.IntegrationSettings` ...). A
    :class:`~purecallerid.typing.SettingsProvider` that raises it holds the lead for QA, with
    the problems in the record's note. It is a :class:`ConfigurationError`, so code catching
    that still catches it.

    Attributes:
        problems: Every problem found, each with its path.
        source: What was refused: a file name, ``settings``, or the class built in code.
    """

    def __init__(self, problems: Iterable[SettingsProblem], *, source: str = "settings") -> None:
        """Create the error from *problems* found in *source*."""
        self.problems = tuple(problems)
        self.source = source
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{count} {noun} in {source}:\n{lines}")


class MappingError(PureCallerIDError, ValueError):
    """A lead cannot be mapped; :attr:`problems` lists every reason at once.

    Raised before any request is built, so no vendor call is made (or billed) for the lead.
    The message holds no personal data: values are masked.

    Attributes:
        problems: Every problem found, in the mapping's target order.
        lead_id: The lead's identifier, when a :class:`purecallerid.Lead` was mapped.
    """

    error_class = ErrorClass.MAPPING_ERROR
    outcome_unknown = False

    def __init__(self, problems: Sequence[MappingProblem], lead_id: str | None = None) -> None:
        """Create the error from at least one problem."""
        self.problems: tuple[MappingProblem, ...] = tuple(problems)
        self.lead_id = lead_id
        super().__init__(self._describe())

    def _describe(self) -> str:
        who = "the lead" if self.lead_id is None else f"lead {self.lead_id!r}"
        count = len(self.problems)
        lines = [f"{who} cannot be mapped ({count} problem{'' if count == 1 else 's'}):"]
        lines.extend(f"  - {problem}" for problem in self.problems)
        return "\n".join(lines)

    @property
    def codes(self) -> frozenset[ProblemCode]:
        """The distinct problem codes, for rules such as "reject on invalid_phone"."""
        return frozenset(problem.code for problem in self.problems)

    def __reduce__(self) -> tuple[Any, ...]:
        # The default pickling replays `args` (the message) into __init__, which wants problems.
        return (type(self), (self.problems, self.lead_id))


class InvalidPhoneError(PureCallerIDError, ValueError):
    """A value is not a valid phone number.

    The message says why in words an admin can act on, and never contains the value itself:
    callers show a masked value next to it (see :func:`purecallerid.mask_phone`).
    """

    error_class = ErrorClass.MAPPING_ERROR
    outcome_unknown = False


class InvalidZipError(PureCallerIDError, ValueError):
    """A value is not a US ZIP code. The message says why and never contains the value."""

    error_class = ErrorClass.MAPPING_ERROR
    outcome_unknown = False


class RuleValidationError(PureCallerIDError, ValueError):
    """A rule document was refused; ``problems`` lists every problem found, not just the first.

    Attributes:
        problems: Every problem, errors and warnings, in document order.
    """

    error_class = ErrorClass.SETTINGS_ERROR
    outcome_unknown = False

    def __init__(self, problems: Sequence[RuleProblem]) -> None:
        """Create the error from the *problems* found (at least one of them an error)."""
        self.problems = tuple(problems)
        errors = len(self.errors)
        noun = "problem" if errors == 1 else "problems"
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{errors} {noun} in the rule document:\n{lines}")

    @property
    def errors(self) -> tuple[RuleProblem, ...]:
        """The problems of severity error."""
        return tuple(p for p in self.problems if p.severity == "error")


class InvalidLeadError(PureCallerIDError, ValueError):
    """The lead cannot be screened at all (no usable lead id); nothing was stored."""

    outcome_unknown = False


class StorageError(PureCallerIDError):
    """The result store failed to save or load a record; the decision was not returned.

    The store's own exception is kept as ``__cause__``.
    """


class ForkedError(PureCallerIDError):
    """An object was used in a forked child of the process that built it.

    A screener's event loop thread, a client's connection pool, a store's database
    connection and their locks do not survive ``fork()``: in the child they would hang or
    corrupt the parent's connections. They are refused at the first use instead, before
    anything can block. Build them in each worker, after the fork: in gunicorn's ``post_fork``
    hook (or without ``--preload``), with uWSGI's ``lazy-apps = true`` or in a ``@postfork``
    function.
    """

    outcome_unknown = False  # refused before the object did anything: nothing was sent


class SuppressionListError(PureCallerIDError):
    """A suppression list could not be read (a locked or broken database, a vanished file).

    The lookup never happened, so nothing can be said about the lead; the integration's
    failure policy decides. The underlying error is kept as ``__cause__``.
    """

    error_class = ErrorClass.LIST_UNAVAILABLE
    outcome_unknown = False


class SuppressionListTimeoutError(SuppressionListError):
    """A suppression list did not answer within the integration's timeout or the deadline.

    Recorded as ``timeout``; a list lookup bills nothing, so ``outcome_unknown`` is ``False``.
    The lead is neither cleared nor suppressed: the failure policy decides. A synchronous
    list's lookup cannot be stopped once its worker thread runs it: it goes on in that thread
    until it returns, and its answer is dropped.
    """

    error_class = ErrorClass.TIMEOUT


class DeadlineExceededError(PureCallerIDError):
    """The campaign's deadline was spent before the integration could be called: not sent."""

    error_class = ErrorClass.DEADLINE_EXCEEDED
    outcome_unknown = False


class GuardError(PureCallerIDError):
    """A guard (quota, rate limit, circuit breaker, state backend) refused the call.

    The screener raises these before calling an integration, so the request never left:
    ``outcome_unknown`` is always ``False``. The integration's failure policy decides the lead.
    """

    outcome_unknown = False


class QuotaExhaustedError(GuardError):
    """The daily quota of the integration's credential is spent for the vendor's day.

    Attributes:
        limit: The daily quota.
        day: The vendor day (``YYYY-MM-DD`` in the quota's time zone).
    """

    error_class = ErrorClass.QUOTA_EXHAUSTED

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

    error_class = ErrorClass.CIRCUIT_OPEN

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

    error_class = ErrorClass.THROTTLED

    def __init__(self, message: str, *, wait: float) -> None:
        """Create the error; *wait* is the turn that was refused."""
        super().__init__(message)
        self.wait = wait


class StateUnavailableError(GuardError):
    """The guards' state backend failed (Redis down, SQLite locked past its timeout).

    Without its quota, rate and breaker state the screener cannot call safely, so it does not
    call. The backend's own exception is kept as ``__cause__``.
    """

    error_class = ErrorClass.STATE_UNAVAILABLE


class APIError(PureCallerIDError):
    """A call to a vendor failed.

    ``outcome_unknown`` is ``True`` unless the attempts show that no request was processed:
    a vendor call that failed in a way nobody can explain may have been billed.

    Attributes:
        message: What went wrong, in one sentence, without secrets.
        exchange: The masked request and the attempts made, or ``None`` when the failure
            happened before anything was built.
    """

    outcome_unknown: bool | None = True

    def __init__(
        self,
        message: str,
        *,
        exchange: Exchange | None = None,
        outcome_unknown: bool | None = None,
    ) -> None:
        """Create the error; *message* must already be free of secrets.

        *outcome_unknown* defaults to what the attempts of *exchange* show (any attempt that
        may have been processed), or to the class's own value when no attempt was recorded.
        """
        super().__init__(message)
        self.message = message
        self.exchange = exchange
        if outcome_unknown is None and exchange is not None and exchange.attempts:
            outcome_unknown = _any_processed(exchange.attempts)
        if outcome_unknown is not None:
            self.outcome_unknown = outcome_unknown

    @property
    def attempts(self) -> int:
        """How many HTTP attempts were made before giving up (0 when none was made)."""
        return 0 if self.exchange is None else len(self.exchange.attempts)


class APIStatusError(APIError):
    """The vendor answered with a status code outside 2xx.

    ``outcome_unknown`` follows the statuses of every attempt made: ``False`` for 4xx and 503
    (the vendor did not take the lead in, however many times it said so), ``True`` as soon as
    one attempt got a 500, 502, 504 or another status that may follow processing.

    Attributes:
        status_code: The HTTP status code.
        body: The answer's body as text (redacted, truncated to 2,000 characters).
        request_id: The vendor's request id header, when it sent one.
    """

    error_class = ErrorClass.CLIENT_ERROR

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
        processed: bool | None = None
        if exchange is None or not exchange.attempts:
            processed = status_may_have_been_processed(status_code)
        super().__init__(message, exchange=exchange, outcome_unknown=processed)
        self.status_code = status_code
        self.body = body
        self.request_id = request_id


class AuthenticationError(APIStatusError):
    """401 or 403: the API token was refused. Not a lead problem: fix the credentials."""

    error_class = ErrorClass.AUTH_FAILED


class RateLimitError(APIStatusError):
    """429: the vendor throttled the call.

    Attributes:
        retry_after: Seconds the vendor asked to wait, or ``None`` when it did not say (or said
            something that is not a number of seconds nor an HTTP date).
    """

    error_class = ErrorClass.RATE_LIMITED

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
    """5xx: the vendor failed. Whether it processed the lead is unknown, except after a 503."""

    error_class = ErrorClass.SERVER_ERROR


class ClientError(APIStatusError):
    """A 4xx other than 401, 403 and 429: the request was refused as malformed."""

    error_class = ErrorClass.CLIENT_ERROR


class APIConnectionError(APIError):
    """No HTTP answer was received: connection refused, DNS failure, TLS error, dropped.

    Attributes:
        outcome_unknown: ``True`` when the request may have been sent before the failure, so
            the vendor may have loaded (and billed) the lead; ``False`` when it provably never
            left (connection refused, DNS, connect or pool timeout).
    """

    error_class = ErrorClass.CONNECTION

    def __init__(
        self, message: str, *, outcome_unknown: bool, exchange: Exchange | None = None
    ) -> None:
        """Create the error; *outcome_unknown* says whether the request may have arrived."""
        super().__init__(message, exchange=exchange, outcome_unknown=outcome_unknown)


class APITimeoutError(APIConnectionError):
    """No answer in time (or the caller's deadline ran out before a call could be made)."""

    error_class = ErrorClass.TIMEOUT


class ResponseValidationError(APIError):
    """A 2xx answer that cannot be read: not JSON, not a JSON object, or without a status.

    The vendor answered 2xx, so it took the lead in: ``outcome_unknown`` is ``True``.

    Attributes:
        body: The raw body as text (redacted, truncated to 2,000 characters).
    """

    error_class = ErrorClass.INVALID_RESPONSE

    def __init__(self, message: str, *, body: str, exchange: Exchange | None = None) -> None:
        """Create the error from an already-redacted *body*."""
        super().__init__(message, exchange=exchange, outcome_unknown=True)
        self.body = body


def status_error_class(status_code: int) -> type[APIStatusError]:
    """Return the error class for a non-2xx *status_code* (the one place this is decided)."""
    if status_code in {401, 403}:
        return AuthenticationError
    if status_code == 429:  # noqa: PLR2004 - the HTTP status is the documentation
        return RateLimitError
    if status_code >= _FIRST_SERVER_ERROR:
        return ServerError
    if _FIRST_CLIENT_ERROR <= status_code < _FIRST_SERVER_ERROR:
        return ClientError
    return APIStatusError


def outcome_unknown_of(exc: BaseException) -> bool | None:
    """Whether the vendor may have processed the lead, for a failure *exc* (read from the table).

    A library error says so itself (:attr:`PureCallerIDError.outcome_unknown`); a bare
    :class:`TimeoutError` (the screener's own timeout, the call under way) may have reached
    the vendor: ``True``; anything else says nothing: ``None``.
    """
    if isinstance(exc, PureCallerIDError):
        return exc.outcome_unknown
    return True if isinstance(exc, TimeoutError) else None


def error_class(exc: BaseException) -> ErrorClass:
    """The stable error class recorded for a failed integration (read from the table).

    A library error names its own (:attr:`PureCallerIDError.error_class`); a bare
    :class:`TimeoutError` (the screener's own timeout) is ``timeout``; anything else ``error``.
    """
    if isinstance(exc, PureCallerIDError):
        return exc.error_class
    if isinstance(exc, TimeoutError):
        return ErrorClass.TIMEOUT
    return ErrorClass.ERROR


def failure_table() -> list[tuple[type[PureCallerIDError], ErrorClass, bool | None]]:
    """Every error class of the library with its error class name and ``outcome_unknown``.

    The rows are the classes of this module, in the order of the tree above;
    ``outcome_unknown`` is the class's own value (an :class:`APIStatusError` or
    :class:`APIConnectionError` instance may say otherwise, from its attempts). The docs'
    tables are tested against it.
    """
    rows: list[tuple[type[PureCallerIDError], ErrorClass, bool | None]] = []
    pending: list[type[PureCallerIDError]] = [PureCallerIDError]
    while pending:
        cls = pending.pop(0)
        rows.append((cls, cls.error_class, cls.outcome_unknown))
        pending[:0] = [c for c in cls.__subclasses__() if c.__module__ == __name__]
    return rows
