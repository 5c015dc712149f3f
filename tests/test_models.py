"""Models and the converter: open status/reason, extra keys kept, round trips."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from purecallerid import (
    Exchange,
    Reason,
    ResponseValidationError,
    ScreeningResponse,
    Status,
    converter,
    response_from_wire,
    response_to_wire,
)
from purecallerid._integrations.purecallerid.wire import RESPONSE_FIELD_ALIASES

ALIASES = {key for keys in RESPONSE_FIELD_ALIASES.values() for key in keys}

json_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
extra_keys = st.text(min_size=1).filter(lambda k: k not in ALIASES)


def test_unknown_status_and_reason_kept_verbatim() -> None:
    """An unknown status or reason is kept as sent, not refused."""
    response = response_from_wire({"status": "Pending review", "reason": "NEW_CODE"})
    assert response.status == "Pending review"
    assert response.reason == "NEW_CODE"
    assert response.known_status is None
    assert response.known_reason is None
    assert not response.accepted
    assert not response.rejected


def test_status_under_result() -> None:
    """The status may arrive under ``result``."""
    response = response_from_wire({"result": "Accepted"})
    assert response.status == Status.ACCEPTED
    assert response.accepted


def test_known_values_ignore_case() -> None:
    """Known status and reason resolve whatever their case."""
    response = response_from_wire({"status": "REJECTED", "reason": "dnc"})
    assert response.rejected
    assert response.known_status is Status.REJECTED
    assert response.known_reason is Reason.DNC


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"status": ""},
        {"status": "  "},
        {"status": None},
        {"status": 1},
        {"result": ["Accepted"]},
        {"reason": "DNC"},
    ],
)
def test_missing_status_is_a_validation_error(data: dict[str, Any]) -> None:
    """An object without a non-empty string status is not an answer."""
    with pytest.raises(ResponseValidationError, match="no status"):
        response_from_wire(data)


@pytest.mark.parametrize("data", [[], "Accepted", 1, None, True])
def test_non_object_is_a_validation_error(data: Any) -> None:
    """A JSON value that is not an object is not an answer."""
    with pytest.raises(ResponseValidationError, match="not an object"):
        response_from_wire(data)


@pytest.mark.parametrize(
    ("key", "value", "field", "expected"),
    [
        ("activity_score", 40, "activity_score", 40),
        ("activityScore", "40", "activity_score", 40),
        ("activity_score", 40.0, "activity_score", 40),
        ("knownLitigatorCheck", True, "known_litigator", True),
        ("knownLitigatorCheck", "false", "known_litigator", False),
        ("line_type", "mobile", "line_type", "mobile"),
        ("lineType", "landline", "line_type", "landline"),
        ("carrier", "Acme", "carrier", "Acme"),
    ],
)
def test_typed_fields_read(key: str, value: Any, field: str, expected: Any) -> None:
    """Typed future fields are read from either casing, numbers and flags from strings."""
    response = response_from_wire({"status": "Accepted", key: value})
    assert getattr(response, field) == expected
    assert response.extra == {}


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("activity_score", "high"),
        ("activity_score", True),
        ("activity_score", 4.5),
        ("knownLitigatorCheck", "yes"),
        ("knownLitigatorCheck", 1),
        ("carrier", 12),
        ("reason", ["DNC", "TCPA_FLAG"]),
        ("message", {"text": "x"}),
        ("reason", None),
        ("activity_score", "--5"),
        ("activity_score", "9" * 5000),
        ("activity_score", "1e3"),
    ],
)
def test_ill_typed_fields_stay_in_extra(key: str, value: Any) -> None:
    """A known key with a value of the wrong type is kept, as sent, in extra."""
    response = response_from_wire({"status": "Accepted", key: value})
    assert response.extra == {key: value}


def test_null_spelling_does_not_hide_another() -> None:
    """A null under one spelling does not hide a value under another, and both survive."""
    data = {"status": "Accepted", "activity_score": None, "activityScore": 12}
    response = response_from_wire(data)
    assert response.activity_score == 12
    assert response.extra == {"activity_score": None}
    assert response_from_wire(response_to_wire(response)) == response


def test_raw_and_exchange_do_not_affect_equality() -> None:
    """Two answers with the same content are equal whatever their raw text."""
    a = response_from_wire({"status": "Accepted"}, raw='{"status":"Accepted"}')
    b = response_from_wire({"status": "Accepted"}, raw='{ "status" : "Accepted" }')
    assert a == b


@given(
    status=st.text(min_size=1).filter(str.strip),
    reason=st.none() | st.text(),
    score=st.none() | st.integers(0, 100),
    extra=st.dictionaries(extra_keys, json_value, max_size=6),
)
def test_extra_keys_round_trip(
    status: str, reason: str | None, score: int | None, extra: dict[str, Any]
) -> None:
    """Any object answer keeps every unknown key in extra, and survives a round trip."""
    data: dict[str, Any] = {"status": status, **extra}
    if reason is not None:
        data["reason"] = reason
    if score is not None:
        data["activity_score"] = score
    response = response_from_wire(data)
    assert response.extra == extra
    assert response.status == status
    assert response.reason == reason
    assert response.activity_score == score
    assert response_to_wire(response) == data
    assert converter.structure(converter.unstructure(response), ScreeningResponse) == response


@given(data=st.dictionaries(st.sampled_from(sorted(ALIASES)) | st.text(), json_value))
def test_any_object_parses_or_fails_cleanly(data: dict[str, Any]) -> None:
    """Any JSON object yields a response that round-trips, or a ResponseValidationError."""
    try:
        response = response_from_wire(data)
    except ResponseValidationError:
        return
    again = converter.structure(
        json.loads(json.dumps(converter.unstructure(response))), ScreeningResponse
    )
    assert again == response
    # Nothing is lost: every key is either typed or still in extra.
    assert set(data) <= set(response.extra) | ALIASES


def test_exchange_round_trips_through_json() -> None:
    """An exchange (request record and attempts) survives JSON through the converter."""
    data = {
        "dialect": "leadexec",
        "request": {
            "method": "POST",
            "url": "https://x.test/singleLeadLoading",
            "headers": {},
            "body": {"phone": "1"},
        },
        "attempts": [
            {
                "number": 1,
                "started_at": "2026-11-27T12:00:00+00:00",
                "duration": 0.5,
                "outcome": "answered",
                "status_code": 200,
                "request_id": None,
                "retry_after": None,
                "wait": None,
            }
        ],
    }
    exchange = converter.structure(data, Exchange)
    assert converter.unstructure(exchange) == data
