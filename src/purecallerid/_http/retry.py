"""When to try a vendor call again, and how long to wait first.

Loading a lead into PureCallerID is not idempotent: a second load of the same phone can come
back Rejected as a duplicate, and a call that reached the vendor may be billed. So the default
policy retries only when

* the request provably never reached the vendor (connection refused, DNS failure, connect or
  pool timeout), or
* the vendor itself said to come back (429, 503), honouring ``Retry-After`` up to a cap.

A read timeout after the request was sent is *not* retried by default: its outcome is unknown.

Everything here is a pure function of its inputs (time and randomness are passed in), so the
timing rules are tested with tables of numbers.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Final

from attrs import field, frozen, validators

from .._errors import AttemptOutcome, ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

__all__ = [
    "NOT_SENT_FAILURES",
    "RetryPolicy",
    "backoff_delay",
    "parse_retry_after",
    "retry_delay",
]

# Failures after which the request provably never left and trying again may succeed: every
# never-sent outcome of the failure table but our own HTTP stack's refusal, which would recur.
NOT_SENT_FAILURES: Final = frozenset(
    outcome
    for outcome in AttemptOutcome
    if not outcome.sent and outcome is not AttemptOutcome.LOCAL_PROTOCOL_ERROR
)
# Failures after which the request may have reached the vendor (outcome unknown).
MAYBE_SENT_TIMEOUTS: Final = frozenset({AttemptOutcome.READ_TIMEOUT, AttemptOutcome.WRITE_TIMEOUT})


def _positive(_: object, attribute: object, value: float) -> None:
    if not (math.isfinite(value) and value >= 0):
        name = getattr(attribute, "name", "value")
        raise ConfigurationError(f"RetryPolicy.{name} must be a finite number >= 0, not {value!r}")


def _at_least_one(_: object, __: object, value: int) -> None:
    if isinstance(value, bool) or value < 1:
        raise ConfigurationError(
            f"RetryPolicy.max_attempts counts the first attempt and must be >= 1, not {value!r}"
        )


_HTTP_STATUSES: Final = range(100, 600)


def _status_set(value: Iterable[int]) -> frozenset[int]:
    statuses = frozenset(value)
    wrong = [s for s in statuses if isinstance(s, bool) or s not in _HTTP_STATUSES]
    if wrong:
        raise ConfigurationError(f"RetryPolicy.retry_statuses holds non-HTTP statuses: {wrong!r}")
    return statuses


@frozen(kw_only=True)
class RetryPolicy:
    """How a client retries a failed call.

    Attributes:
        max_attempts: Attempts in all, the first included (1 disables retries).
        initial_backoff: Seconds before the first retry, before jitter.
        max_backoff: Upper bound of the computed backoff, before jitter.
        multiplier: Growth of the backoff per attempt.
        jitter: Fraction of each backoff that is randomised (0 = none, 1 = "full jitter").
        max_retry_after: The longest ``Retry-After`` honoured; a vendor asking for more makes
            the client give up at once rather than hold the lead.
        retry_statuses: HTTP statuses that mean "come back later" (429 and 503 by default).
        retry_read_timeouts: Retry after a read/write timeout. Off by default and unsafe for
            lead loading: the first request may have loaded (and billed) the lead, and the
            second may then be rejected as a duplicate.
    """

    max_attempts: int = field(default=3, validator=[validators.instance_of(int), _at_least_one])
    initial_backoff: float = field(default=0.25, validator=_positive)
    max_backoff: float = field(default=4.0, validator=_positive)
    multiplier: float = field(default=2.0, validator=_positive)
    jitter: float = field(default=0.5, validator=[_positive, validators.le(1.0)])
    max_retry_after: float = field(default=10.0, validator=_positive)
    retry_statuses: frozenset[int] = field(default=frozenset({429, 503}), converter=_status_set)
    retry_read_timeouts: bool = False

    @classmethod
    def no_retries(cls) -> RetryPolicy:
        """A policy that makes exactly one attempt."""
        return cls(max_attempts=1)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Read a ``Retry-After`` header into seconds from *now*.

    Accepts delay-seconds (``"120"``, and ``"1.5"`` which some vendors send) and HTTP dates.
    A date in the past gives ``0.0``. Returns ``None`` for a missing, negative, non-finite or
    unreadable value: the caller then falls back to its own backoff.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive result means "-0000"
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def backoff_delay(attempt: int, policy: RetryPolicy, random: Callable[[], float]) -> float:
    """Seconds to wait after failed attempt number *attempt* (1-based).

    Exponential: ``initial_backoff * multiplier ** (attempt - 1)``, capped at ``max_backoff``;
    then the ``jitter`` fraction of it is scaled by ``random()`` (a float in [0, 1)), so that
    many workers failing together do not come back together.
    """
    exponent = max(0, attempt - 1)
    try:
        base = policy.initial_backoff * policy.multiplier**exponent
    except OverflowError:
        base = policy.max_backoff
    base = min(base, policy.max_backoff)
    fixed = base * (1.0 - policy.jitter)
    return fixed + base * policy.jitter * random()


def retry_delay(
    policy: RetryPolicy,
    *,
    attempt: int,
    failure: str | None,
    status_code: int | None,
    retry_after: float | None,
    time_left: float | None,
    random: Callable[[], float],
) -> float | None:
    """Decide whether to retry after attempt *attempt*, and after how many seconds.

    Args:
        policy: The retry policy.
        attempt: The number of the attempt that just failed (1-based).
        failure: The transport failure kind (see :class:`purecallerid.Attempt`), or ``None``
            when an HTTP answer arrived.
        status_code: The HTTP status of the answer, when one arrived.
        retry_after: The parsed ``Retry-After`` of the answer, if any.
        time_left: Seconds left before the caller's deadline, or ``None`` for no deadline.
        random: A source of floats in [0, 1) for jitter.

    Returns:
        The seconds to wait before the next attempt, or ``None`` to give up.
    """
    if attempt >= policy.max_attempts:
        return None
    delay: float
    if failure is not None:
        retryable = failure in NOT_SENT_FAILURES or (
            policy.retry_read_timeouts and failure in MAYBE_SENT_TIMEOUTS
        )
        if not retryable:
            return None
        delay = backoff_delay(attempt, policy, random)
    elif status_code is not None and status_code in policy.retry_statuses:
        if retry_after is not None:
            if retry_after > policy.max_retry_after:
                return None
            delay = retry_after
        else:
            delay = backoff_delay(attempt, policy, random)
    else:
        return None
    # Sleeping past the deadline would only turn a clear error into a timeout.
    if time_left is not None and delay >= time_left:
        return None
    return delay
