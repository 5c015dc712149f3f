"""The fake vendor's behaviour, without any I/O: one source of truth for the fake and simulator.

:class:`purecallerid.testing.FakePureCallerID` (in process, through ``httpx.MockTransport``)
and :class:`purecallerid.testing.Simulator` (over real HTTP) both hand each request to
:func:`read_request`, which tells the dialect from the path, checks the method, the JSON body
and the token, finds the phone, and returns a :class:`Reading`. An accepted reading then gets
its answer from a :class:`Script` (answers programmed per phone, queued faults, else the test
number table). Neither step touches a socket or a clock, so both fakes answer alike by
construction.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from attrs import field, frozen

from .._secrets import redact
from ._testnumbers import CannedAnswer, canned_answer_for

__all__ = [
    "PATHS",
    "Reading",
    "ReceivedRequest",
    "Script",
    "phone_key",
    "read_request",
]

PATHS: Final[Mapping[str, str]] = {
    "/singleLeadLoading": "leadexec",
    "/api/public/lead/load": "public",
}
"""The operation's path (below the base URL) in each dialect."""

_TOKEN_HEADER: Final = "x-api-key"  # noqa: S105 - a header name
_CREDENTIAL_KEYS: Final = frozenset({"apiToken"})
_US_DIGITS: Final = 10


def phone_key(phone: str) -> str:
    """The digits of *phone* without a leading US country code: how numbers are matched."""
    digits = "".join(ch for ch in phone if ch.isascii() and ch.isdigit())
    if len(digits) == _US_DIGITS + 1 and digits.startswith("1"):
        return digits[1:]
    return digits


def _frozen(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return dict(value)


@frozen(kw_only=True)
class ReceivedRequest:
    """A request as the fake vendor received it, with the API token masked.

    Attributes:
        dialect: ``"leadexec"`` or ``"public"``, from the path.
        url: The full URL.
        headers: The request headers (the token masked).
        body: The decoded JSON body (the token masked).
        fields: The lead's fields flattened: the flat body less ``apiToken`` for ``leadexec``;
            ``campaignId``, ``dialerListId``, ``listName`` and one key per ``dialerField`` for
            ``public``.
        phone: The phone number sent, as sent.
        received_at: When it arrived (UTC).
    """

    dialect: str
    url: str
    headers: Mapping[str, str] = field(converter=_frozen)
    body: Any
    fields: Mapping[str, Any] = field(converter=_frozen)
    phone: str | None
    received_at: datetime

    def describe(self) -> str:
        """One line for assertion messages."""
        return f"{self.dialect} phone={self.phone} fields={dict(self.fields)}"


@frozen(kw_only=True)
class Reading:
    """What the vendor made of one request, before an answer is chosen for it.

    Attributes:
        dialect: The dialect, from the path (``None`` for an unknown path).
        phone: The phone number sent; ``None`` when the request was refused before it could be
            recognised as a screening (unknown path, wrong method, no JSON, no token, no
            phone). Such requests are not logged.
        refusal: The answer to give without consulting the :class:`Script` (404, 405, 400,
            401), or ``None`` for a request to answer normally.
        received: The request as logged (token masked), for a recognised request when
            :func:`read_request` was asked to build it.
    """

    dialect: str | None = None
    phone: str | None = None
    refusal: CannedAnswer | None = None
    received: ReceivedRequest | None = None


def _refused(status_code: int, error: str, dialect: str | None = None) -> Reading:
    return Reading(dialect=dialect, refusal=CannedAnswer.status(status_code, body={"error": error}))


def read_request(  # noqa: PLR0911 - one return per refusal reads like the vendor's checklist
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    url: str,
    api_token: str | None,
    log: bool = True,
    received_at: datetime | None = None,
) -> Reading:
    """Interpret one HTTP request the way the fake vendor does.

    Args:
        method: The HTTP method.
        path: The request path below the base URL (no query string).
        headers: The request headers; names in any case.
        body: The request body.
        url: The full URL, for the log.
        api_token: The token to expect; ``None`` accepts any non-empty token.
        log: Build the :class:`ReceivedRequest` for the log (a server that only counts
            requests skips it: masking the token is most of the work).
        received_at: When it arrived (now, by default).

    Returns:
        The :class:`Reading`: a refusal (404 unknown path, 405 not POST, 400 not a JSON
        object or no phone, 401 missing or wrong token), or a request to answer.
    """
    dialect = PATHS.get(path)
    if dialect is None:
        return _refused(404, "no such operation")
    if method != "POST":
        return _refused(405, "use POST", dialect)
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return _refused(400, "body is not JSON", dialect)
    if not isinstance(data, dict):
        return _refused(400, "body is not an object", dialect)
    token, fields = _token_and_fields(dialect, data, headers)
    phone = _phone_of(dialect, data)
    if not token or not isinstance(token, str):
        return _refused(401, "missing API key", dialect)
    if phone is None:
        return _refused(400, "phone is required", dialect)
    received = None
    if log:
        secrets = (token,)
        received = ReceivedRequest(
            dialect=dialect,
            url=url,
            headers=redact({k.lower(): v for k, v in headers.items()}, secrets),
            body=redact(data, secrets),
            fields=redact(fields, secrets),
            phone=phone,
            received_at=datetime.now(UTC) if received_at is None else received_at,
        )
    refusal = None
    if api_token is not None and token != api_token:
        refusal = CannedAnswer.status(401, body={"error": "invalid API key"})
    return Reading(dialect=dialect, phone=phone, refusal=refusal, received=received)


def _token_and_fields(
    dialect: str, data: Mapping[str, Any], headers: Mapping[str, str]
) -> tuple[Any, dict[str, Any]]:
    header_token = next((v for k, v in headers.items() if k.lower() == _TOKEN_HEADER), None)
    if dialect == "leadexec":
        token = data.get("apiToken") if "apiToken" in data else header_token
        return token, {k: v for k, v in data.items() if k not in _CREDENTIAL_KEYS}
    fields = {k: v for k, v in data.items() if k != "fields"}
    for entry in data.get("fields") or []:
        if isinstance(entry, dict) and isinstance(entry.get("dialerField"), str):
            fields[entry["dialerField"]] = entry.get("value")
    return header_token, fields


def _phone_of(dialect: str, body: Mapping[str, Any]) -> str | None:
    if dialect == "leadexec":
        phone = body.get("phone")
        return phone if isinstance(phone, str) and phone else None
    entries = body.get("fields")
    if not isinstance(entries, list):
        return None
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        if entry.get("type") == "Phone" or entry.get("dialerField") == "number1":
            value = entry.get("value")
            return value if isinstance(value, str) and value else None
    return None


class Script:
    """Which answer the vendor gives next: queued answers, then per-phone ones, then the table.

    Thread-safe: the sync fake may be called from several threads at once.
    """

    def __init__(self) -> None:
        """Start with nothing programmed: every number answers from the test number table."""
        self._programmed: dict[str, deque[CannedAnswer]] = {}
        self._queued: deque[CannedAnswer] = deque()
        self._lock = threading.Lock()

    def program(self, phone: str, *answers: CannedAnswer) -> None:
        """Answer requests for *phone* with *answers* in turn; the last one then repeats."""
        if not answers:
            raise ValueError("program() needs at least one answer")
        with self._lock:
            self._programmed[phone_key(phone)] = deque(answers)

    def fail_next(self, *answers: CannedAnswer) -> None:
        """Answer the next requests with *answers*, one each, before any other rule."""
        with self._lock:
            self._queued.extend(answers)

    def clear(self) -> None:
        """Forget programmed and queued answers."""
        with self._lock:
            self._programmed.clear()
            self._queued.clear()

    def choose(self, phone: str) -> CannedAnswer:
        """The answer for the next request for *phone* (consumes queued answers)."""
        return self.programmed(phone) or canned_answer_for(phone)

    def programmed(self, phone: str) -> CannedAnswer | None:
        """The queued or programmed answer for the next request for *phone*, if any."""
        with self._lock:
            if self._queued:
                return self._queued.popleft()
            programmed = self._programmed.get(phone_key(phone))
            if programmed:
                return programmed.popleft() if len(programmed) > 1 else programmed[0]
        return None

    def answer(self, reading: Reading) -> CannedAnswer:
        """The answer to *reading*: its refusal, or the next answer for its phone."""
        if reading.refusal is not None:
            return reading.refusal
        return self.choose(reading.phone or "")
