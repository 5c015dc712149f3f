"""The retry timing rules, as tables of numbers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from purecallerid import (
    ConfigurationError,
    RetryPolicy,
    backoff_delay,
    parse_retry_after,
    retry_delay,
)

NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        ("0", 0.0),
        ("1", 1.0),
        (" 120 ", 120.0),
        ("1.5", 1.5),
        ("-1", None),
        ("nan", None),
        ("inf", None),
        ("1e400", None),
        ("99999999999", 99999999999.0),
        ("Fri, 27 Nov 2026 12:00:30 GMT", 30.0),
        ("Fri, 27 Nov 2026 11:59:00 GMT", 0.0),
        ("Friday, 27-Nov-26 12:01:00 GMT", 60.0),
        ("Fri, 27 Nov 2026 12:00:10 -0000", 10.0),
        ("soon", None),
        ("Fri, 99 Nov 2026 12:00:00 GMT", None),
        ("12 seconds", None),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    """Retry-After is read as seconds or an HTTP date; garbage gives None."""
    assert parse_retry_after(header, NOW) == expected


@pytest.mark.parametrize(
    ("attempt", "rand", "expected"),
    [
        (1, 0.0, 0.125),
        (1, 0.5, 0.1875),
        (1, 0.999, 0.249875),
        (2, 0.0, 0.25),
        (3, 0.0, 0.5),
        (5, 0.0, 2.0),
        (6, 0.0, 2.0),  # capped at max_backoff 4.0, half of it fixed
        (6, 1.0, 4.0),
        (10_000, 0.0, 2.0),  # no overflow on huge attempt numbers
    ],
)
def test_backoff_delay(attempt: int, rand: float, expected: float) -> None:
    """Backoff doubles per attempt, is capped, and half of it is jitter by default."""
    assert backoff_delay(attempt, RetryPolicy(), lambda: rand) == pytest.approx(expected)


def test_backoff_without_jitter() -> None:
    """jitter=0 makes the backoff deterministic."""
    policy = RetryPolicy(jitter=0.0, initial_backoff=1.0, multiplier=3.0, max_backoff=100.0)
    assert [backoff_delay(n, policy, lambda: 0.9) for n in (1, 2, 3)] == [1.0, 3.0, 9.0]


def _decide(**overrides: object) -> float | None:
    args: dict[str, object] = {
        "attempt": 1,
        "failure": None,
        "status_code": None,
        "retry_after": None,
        "time_left": None,
    }
    args.update(overrides)
    policy = args.pop("policy", RetryPolicy(jitter=0.0))
    assert isinstance(policy, RetryPolicy)
    return retry_delay(policy, random=lambda: 0.0, **args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ({"failure": "connect_error"}, 0.25),
        ({"failure": "connect_timeout"}, 0.25),
        ({"failure": "pool_timeout"}, 0.25),
        ({"failure": "read_timeout"}, None),
        ({"failure": "write_timeout"}, None),
        ({"failure": "network_error"}, None),
        ({"failure": "protocol_error"}, None),
        ({"status_code": 429}, 0.25),
        ({"status_code": 429, "retry_after": 2.0}, 2.0),
        ({"status_code": 429, "retry_after": 0.0}, 0.0),
        ({"status_code": 429, "retry_after": 11.0}, None),
        ({"status_code": 503}, 0.25),
        ({"status_code": 503, "retry_after": 3.0}, 3.0),
        ({"status_code": 500}, None),
        ({"status_code": 502}, None),
        ({"status_code": 504}, None),
        ({"status_code": 400}, None),
        ({"status_code": 401}, None),
        ({"status_code": 403}, None),
        ({"status_code": 404}, None),
        ({"status_code": 429, "attempt": 3}, None),
        ({"failure": "connect_error", "attempt": 2}, 0.5),
        ({"status_code": 429, "retry_after": 2.0, "time_left": 1.0}, None),
        ({"status_code": 429, "retry_after": 2.0, "time_left": 2.5}, 2.0),
        ({"failure": "connect_error", "time_left": 0.1}, None),
        (
            {
                "failure": "read_timeout",
                "policy": RetryPolicy(retry_read_timeouts=True, jitter=0.0),
            },
            0.25,
        ),
        ({"status_code": 503, "policy": RetryPolicy.no_retries()}, None),
        ({"status_code": 500, "policy": RetryPolicy(retry_statuses={500}, jitter=0.0)}, 0.25),
    ],
)
def test_retry_delay(case: dict[str, object], expected: float | None) -> None:
    """Only unsent requests and the vendor's "come back" statuses are retried."""
    assert _decide(**case) == expected


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"initial_backoff": -1.0},
        {"max_backoff": float("nan")},
        {"jitter": 1.5},
        {"max_retry_after": float("inf")},
    ],
)
def test_policy_validation(kwargs: dict[str, float]) -> None:
    """An impossible policy is refused with a message naming the field."""
    with pytest.raises((ConfigurationError, ValueError)):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
