"""FakePureCallerID: programming, the request log and its assertion helpers."""

from __future__ import annotations

import re

import httpx
import pytest

from _helpers import request_for
from purecallerid.testing import (
    DEFAULT_ANSWER,
    TEST_NUMBERS,
    CannedAnswer,
    FakePureCallerID,
    canned_answer_for,
    line_of_test_number,
)


@pytest.mark.parametrize(
    ("phone", "line"),
    [
        ("2125550102", "0102"),
        ("+1 (212) 555-0102", "0102"),
        ("12125550190", "0190"),
        ("9995550101", "0101"),
        ("1125550102", None),  # area code cannot start with 1
        ("2125550202", None),  # not 01NN
        ("2125560102", None),  # not exchange 555
        ("212555010", None),
        ("", None),
    ],
)
def test_line_of_test_number(phone: str, line: str | None) -> None:
    """Test numbers are NPA-555-01NN in any format."""
    assert line_of_test_number(phone) == line


def test_unlisted_numbers_get_the_default() -> None:
    """Any other number is Accepted with no reason."""
    assert canned_answer_for("2125550150") == DEFAULT_ANSWER
    assert canned_answer_for("3125551234") == DEFAULT_ANSWER
    assert canned_answer_for("2125550102") == TEST_NUMBERS["0102"]


def test_program_answers_in_turn_then_repeat(fake: FakePureCallerID) -> None:
    """Programmed answers are given in order; the last one repeats."""
    fake.program("(312) 555-7777", CannedAnswer.rejected("DNC"), CannedAnswer.accepted())
    with fake.client() as client:
        reasons = [client.screen(request_for("3125557777")).status for _ in range(3)]
    assert reasons == ["Rejected", "Accepted", "Accepted"]


def test_assert_called_lists_what_arrived(fake: FakePureCallerID) -> None:
    """A failing assertion lists the requests that were actually received."""
    with fake.client() as client:
        client.screen(request_for("2125550000"))
    fake.assert_called(1)
    fake.assert_called(1, phone="+1 212 555 0000")
    fake.assert_not_called(phone="2125550101")
    with pytest.raises(
        AssertionError,
        match=r"expected 2 request\(s\); received 1:\n  1\. leadexec phone=2125550000",
    ):
        fake.assert_called(2)
    with pytest.raises(AssertionError, match="received 1"):
        fake.assert_not_called()


def test_assert_called_with(fake: FakePureCallerID) -> None:
    """assert_called_with checks the last request's fields and shows them when wrong."""
    with fake.client() as client:
        client.screen(request_for("2125550000"))
    fake.assert_called_with(phone="2125550000", zip="02134", campaignId="camp-1")
    with pytest.raises(AssertionError, match=re.escape("lacks {'zip': '99999'}")):
        fake.assert_called_with(zip="99999")


def test_assert_on_empty_log(fake: FakePureCallerID) -> None:
    """Assertions on an empty log say that nothing arrived."""
    fake.assert_not_called()
    with pytest.raises(AssertionError, match="received none"):
        fake.assert_called()
    with pytest.raises(AssertionError, match="received none"):
        fake.assert_called_with(phone="1")


def test_reset(fake: FakePureCallerID) -> None:
    """reset forgets programmed answers and the log."""
    fake.program("2125550000", CannedAnswer.rejected("DNC"))
    with fake.client() as client:
        client.screen(request_for("2125550000"))
        fake.reset()
        assert client.screen(request_for("2125550000")).accepted
    fake.assert_called(1)


def test_unknown_path_is_404(fake: FakePureCallerID) -> None:
    """A request to another path gets 404 and is not logged as a screening."""
    with httpx.Client(transport=fake.transport()) as http:
        response = http.post("https://purecallerid.test/other", json={"phone": "1"})
    assert response.status_code == 404
    fake.assert_not_called()


def test_missing_token_is_401(fake: FakePureCallerID) -> None:
    """A request with no token is refused with 401."""
    with httpx.Client(transport=fake.transport()) as http:
        response = http.post(
            "https://purecallerid.test/singleLeadLoading",
            json={"phone": "2125550000", "campaignId": "c", "listName": "l"},
        )
    assert response.status_code == 401


def test_program_needs_an_answer(fake: FakePureCallerID) -> None:
    """program() without answers is a usage error."""
    with pytest.raises(ValueError, match="at least one"):
        fake.program("2125550000")
