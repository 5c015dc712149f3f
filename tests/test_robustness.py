"""Whatever the vendor sends, the client returns a response or a documented error."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from _helpers import TOKEN, request_for
from purecallerid import APIError, RetryPolicy, ScreeningResponse
from purecallerid.testing import CannedAnswer, FakePureCallerID

json_leaf = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=10,
)
status_codes = st.integers(min_value=100, max_value=599).filter(lambda c: c not in {101, 204, 304})
headers = st.fixed_dictionaries(
    {}, optional={"Retry-After": st.text(st.characters(codec="ascii", exclude_categories=["Cc"]))}
)


def _screen(answer: CannedAnswer) -> ScreeningResponse | APIError:
    fake = FakePureCallerID()
    fake.fail_next(answer)
    client = fake.client(api_token=TOKEN, retry_policy=RetryPolicy.no_retries())
    try:
        return client.screen(request_for("2125550000"))
    except APIError as error:
        return error
    finally:
        client.close()


@given(body=st.binary(max_size=300), status=status_codes)
def test_any_bytes_any_status(body: bytes, status: int) -> None:
    """Arbitrary bytes with any status give a response or an APIError, nothing else."""
    outcome = _screen(CannedAnswer.raw(body, status_code=status))
    if isinstance(outcome, ScreeningResponse):
        assert 200 <= status < 300
    else:
        assert isinstance(outcome, APIError)


@given(payload=json_value, status=status_codes, extra_headers=headers)
def test_any_json_any_status(payload: Any, status: int, extra_headers: dict[str, str]) -> None:
    """Any JSON value, status and Retry-After give a response or an APIError."""
    answer = CannedAnswer(
        status_code=status,
        headers={"Content-Type": "application/json", **extra_headers},
        body=json.dumps(payload).encode(),
    )
    outcome = _screen(answer)
    assert isinstance(outcome, ScreeningResponse | APIError)
    if isinstance(outcome, ScreeningResponse):
        assert outcome.exchange is not None


def test_deeply_nested_body_is_a_validation_error() -> None:
    """A hostile, deeply nested body is a validation error, not a RecursionError."""
    outcome = _screen(CannedAnswer.raw(b"[" * 100_000 + b"]" * 100_000))
    assert isinstance(outcome, APIError)


def test_non_utf8_body_is_a_validation_error() -> None:
    """A body that is not UTF-8 is a validation error."""
    outcome = _screen(CannedAnswer.raw(b'{"status": "Accepted\xff\xfe"}'))
    assert isinstance(outcome, APIError)
    assert "not JSON" in str(outcome)
