"""The test number table: what the fake vendor and the simulator answer for each number.

One source of truth, shared by :class:`purecallerid.testing.FakePureCallerID` (in-process) and
the simulator (over real HTTP). A test number is any valid NANP number in exchange 555 with a
line of 01NN, the range reserved for fictional use, so a test number can never reach a person.

======  ==============================================================================
line    answer
======  ==============================================================================
0101    Rejected, INACTIVE, "Inactive phone number"
0102    Rejected, DNC
0103    Rejected, TCPA_FLAG
0104    Rejected, INVALID
0105    Accepted, SUPPRESSED
0106    Accepted, with activity_score, carrier, line_type, knownLitigatorCheck, one unknown key
0190    HTTP 500
0191    HTTP 429 with Retry-After: 1
0192    HTTP 200 with a body that is not JSON
0193    never answers in time (the fake raises a read timeout; the simulator holds the
        connection for ``hang_seconds``, 30 s by default, then closes it)
0194    HTTP 503
0195    HTTP 401
other   Accepted, no reason
======  ==============================================================================
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final, Literal

import attrs
from attrs import field, frozen

__all__ = [
    "DEFAULT_ANSWER",
    "TEST_NUMBERS",
    "CannedAnswer",
    "canned_answer_for",
    "line_of_test_number",
]


def _headers(value: Mapping[str, str]) -> Mapping[str, str]:
    return dict(value)


@frozen(kw_only=True)
class CannedAnswer:
    """What a fake vendor does for one request.

    Attributes:
        kind: ``"http"`` (answer with *status_code*, *headers*, *body*), ``"timeout"`` (the
            request arrives but no answer comes in time), ``"connect_timeout"`` (no
            connection is made in time; the simulator drops it at once) or
            ``"connect_error"`` (the connection is refused); with either of the last two
            the request never arrives.
        status_code: The HTTP status of an ``"http"`` answer.
        headers: Extra headers of an ``"http"`` answer.
        body: The body of an ``"http"`` answer, as bytes.
        delay: Seconds the vendor takes before answering.
        description: One line for the test number table.
    """

    kind: Literal["http", "timeout", "connect_error", "connect_timeout"] = "http"
    status_code: int = 200
    headers: Mapping[str, str] = field(factory=dict, converter=_headers)
    body: bytes = b""
    delay: float = 0.0
    description: str = ""

    @classmethod
    def json(
        cls,
        payload: Any,
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        description: str = "",
    ) -> CannedAnswer:
        """An HTTP answer whose body is *payload* encoded as JSON."""
        return cls(
            status_code=status_code,
            headers={"Content-Type": "application/json", **(headers or {})},
            body=json.dumps(payload).encode(),
            description=description,
        )

    @classmethod
    def accepted(
        cls, reason: str | None = None, message: str = "Lead loaded", **extra: Any
    ) -> CannedAnswer:
        """An ``Accepted`` verdict, with an optional reason and any extra keys."""
        return _verdict("Accepted", reason, message, **extra)

    @classmethod
    def rejected(cls, reason: str, message: str = "Lead rejected", **extra: Any) -> CannedAnswer:
        """A ``Rejected`` verdict with *reason* and any extra keys."""
        return _verdict("Rejected", reason, message, **extra)

    @classmethod
    def status(
        cls, status_code: int, *, retry_after: str | None = None, body: Any = None
    ) -> CannedAnswer:
        """An HTTP error answer (or any status), with an optional ``Retry-After`` header.

        *body* is the answer's body: ``bytes`` are sent as they are, a ``str`` as UTF-8 text,
        anything else as JSON (by default ``{"error": "HTTP <status>"}``).
        """
        headers = {} if retry_after is None else {"Retry-After": retry_after}
        if isinstance(body, bytes | str):
            raw = cls.raw(body, status_code=status_code)
            return attrs.evolve(
                raw, headers={**raw.headers, **headers}, description=f"HTTP {status_code}"
            )
        return cls.json(
            {"error": f"HTTP {status_code}"} if body is None else body,
            status_code=status_code,
            headers=headers,
            description=f"HTTP {status_code}",
        )

    @classmethod
    def raw(
        cls, body: bytes | str, *, status_code: int = 200, content_type: str = "text/plain"
    ) -> CannedAnswer:
        """An answer with exactly *body* (for bodies that are not JSON, or broken JSON)."""
        data = body.encode() if isinstance(body, str) else body
        return cls(
            status_code=status_code,
            headers={"Content-Type": content_type},
            body=data,
            description="raw body",
        )

    @classmethod
    def timeout(cls) -> CannedAnswer:
        """The request arrives, but no answer comes before the client's read timeout."""
        return cls(kind="timeout", description="never answers in time")

    @classmethod
    def connect_timeout(cls) -> CannedAnswer:
        """The connection cannot be made in time: the request never arrives."""
        return cls(kind="connect_timeout", description="connect timeout")

    @classmethod
    def connect_error(cls) -> CannedAnswer:
        """The connection is refused: the request never arrives."""
        return cls(kind="connect_error", description="connection refused")

    def slowly(self, seconds: float) -> CannedAnswer:
        """This answer, given after *seconds*."""
        return attrs.evolve(self, delay=seconds)


def _verdict(status: str, reason: str | None, message: str, **extra: Any) -> CannedAnswer:
    payload: dict[str, Any] = {"status": status}
    if reason is not None:
        payload["reason"] = reason
    payload["message"] = message
    payload.update(extra)
    words = f"{status}, {reason}" if reason else f"{status}, no reason"
    return CannedAnswer.json(payload, description=words)


def _error(status_code: int, message: str, **headers: str) -> CannedAnswer:
    return CannedAnswer.json(
        {"error": message},
        status_code=status_code,
        headers=headers,
        description=f"HTTP {status_code}",
    )


TEST_NUMBERS: Final[Mapping[str, CannedAnswer]] = {
    "0101": _verdict("Rejected", "INACTIVE", "Inactive phone number"),
    "0102": _verdict("Rejected", "DNC", "Number is on a Do-Not-Call list"),
    "0103": _verdict("Rejected", "TCPA_FLAG", "Number carries TCPA litigation risk"),
    "0104": _verdict("Rejected", "INVALID", "Invalid phone number"),
    "0105": _verdict("Accepted", "SUPPRESSED", "Number is suppressed for this campaign"),
    "0106": _verdict(
        "Accepted",
        None,
        "Lead loaded",
        activity_score=12,
        carrier="Example Wireless",
        line_type="voip",
        knownLitigatorCheck=True,
        reassigned=False,
    ),
    "0190": _error(500, "internal error"),
    "0191": _error(429, "rate limit exceeded", **{"Retry-After": "1"}),
    "0192": CannedAnswer(
        headers={"Content-Type": "text/html"},
        body=b"<html><body>Service temporarily unavailable</body></html>",
        description="HTTP 200, body not JSON",
    ),
    "0193": CannedAnswer(kind="timeout", description="never answers in time"),
    "0194": _error(503, "service unavailable"),
    "0195": _error(401, "invalid API key"),
}
"""Test answers by the last four digits of a test number."""

DEFAULT_ANSWER: Final = _verdict("Accepted", None, "Lead loaded")
"""The answer for any number that is not in the table."""

_NANP_DIGITS: Final = 10
_TEST_EXCHANGE: Final = "555"


def line_of_test_number(phone: str) -> str | None:
    """Return the line (``"0102"``) if *phone* is a test number (NPA-555-01NN), else ``None``.

    *phone* may be in any format (``+1 212 555 0102``, ``2125550102``): only its digits
    count, with an optional leading country code 1.
    """
    digits = "".join(ch for ch in phone if ch.isascii() and ch.isdigit())
    if len(digits) == _NANP_DIGITS + 1 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != _NANP_DIGITS:
        return None
    area, exchange, line = digits[:3], digits[3:6], digits[6:]
    if area[0] in "01" or exchange != _TEST_EXCHANGE or not line.startswith("01"):
        return None
    return line


def canned_answer_for(phone: str) -> CannedAnswer:
    """The test number table's answer for *phone* (:data:`DEFAULT_ANSWER` when not listed)."""
    line = line_of_test_number(phone)
    if line is None:
        return DEFAULT_ANSWER
    return TEST_NUMBERS.get(line, DEFAULT_ANSWER)
