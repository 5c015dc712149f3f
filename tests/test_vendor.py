"""The sans-IO vendor: how a request is read and which answer it gets."""

from __future__ import annotations

import json
from typing import Any

import pytest

from purecallerid.testing import TEST_NUMBERS, CannedAnswer, canned_answer_for
from purecallerid.testing._vendor import Script, phone_key, read_request

LEADEXEC = "/singleLeadLoading"
PUBLIC = "/api/public/lead/load"
TOKEN = "tok-VENDOR-0042"


def leadexec_body(phone: str = "2125550102", **extra: Any) -> bytes:
    body = {"campaignId": "C1", "listName": "Main", "apiToken": TOKEN, "phone": phone, **extra}
    return json.dumps(body).encode()


def public_body(phone: str = "2125550102") -> bytes:
    body = {
        "campaignId": "C1",
        "dialerListId": "9",
        "fields": [
            {"value": phone, "dialerField": "number1", "type": "Phone"},
            {"value": "02134", "dialerField": "zip", "type": "Zip"},
            {"value": "a@example.com", "dialerField": "email"},
        ],
    }
    return json.dumps(body).encode()


def read(
    body: bytes,
    path: str = LEADEXEC,
    *,
    method: str = "POST",
    headers: dict[str, str] | None = None,
    api_token: str | None = None,
    log: bool = True,
) -> Any:
    return read_request(
        method, path, headers or {}, body, url=f"http://x{path}", api_token=api_token, log=log
    )


@pytest.mark.parametrize(
    ("path", "method", "body", "status"),
    [
        ("/other", "POST", leadexec_body(), 404),
        (LEADEXEC, "GET", leadexec_body(), 405),
        (LEADEXEC, "POST", b"{not json", 400),
        (LEADEXEC, "POST", b"[1, 2]", 400),
        (LEADEXEC, "POST", json.dumps({"apiToken": TOKEN}).encode(), 400),
        (LEADEXEC, "POST", json.dumps({"phone": "2125550102"}).encode(), 401),
    ],
    ids=["unknown-path", "not-post", "not-json", "not-object", "no-phone", "no-token"],
)
def test_refused_before_recognised(path: str, method: str, body: bytes, status: int) -> None:
    """Requests that are not screenings get their error status and are not logged."""
    reading = read(body, path, method=method)
    assert reading.refusal is not None
    assert reading.refusal.status_code == status
    assert reading.received is None
    assert reading.phone is None


def test_wrong_token_is_refused_but_logged() -> None:
    """A wrong token gets 401; the request is logged, its token masked."""
    reading = read(leadexec_body(), api_token="another-token")
    assert reading.refusal is not None
    assert reading.refusal.status_code == 401
    assert reading.received is not None
    assert TOKEN not in repr(reading.received)


def test_expected_token_is_accepted() -> None:
    """The expected token passes; any non-empty token passes when none is expected."""
    assert read(leadexec_body(), api_token=TOKEN).refusal is None
    assert read(leadexec_body(), api_token=None).refusal is None


def test_leadexec_request_is_logged_masked() -> None:
    """A leadexec request's fields are the flat body less the token, which is masked."""
    reading = read(leadexec_body(zip="02134"))
    received = reading.received
    assert received is not None
    assert received.dialect == "leadexec"
    assert received.phone == "2125550102"
    assert dict(received.fields) == {
        "campaignId": "C1",
        "listName": "Main",
        "phone": "2125550102",
        "zip": "02134",
    }
    assert received.body["apiToken"] == "***"


def test_leadexec_token_from_header() -> None:
    """Without apiToken in the body, the leadexec token is read from X-API-KEY, in any case."""
    body = json.dumps({"campaignId": "C1", "phone": "2125550102"}).encode()
    reading = read(body, headers={"X-Api-Key": TOKEN}, api_token=TOKEN)
    assert reading.refusal is None
    assert reading.received is not None
    assert reading.received.headers == {"x-api-key": "***"}


def test_public_request_fields_are_flattened() -> None:
    """A public request's fields[] become one key per dialer field; the phone is number1."""
    reading = read(public_body("+1 212 555 0104"), PUBLIC, headers={"X-API-KEY": TOKEN})
    received = reading.received
    assert received is not None
    assert received.dialect == "public"
    assert received.phone == "+1 212 555 0104"
    assert received.fields["zip"] == "02134"
    assert received.fields["email"] == "a@example.com"
    assert received.fields["dialerListId"] == "9"


def test_public_token_only_in_header() -> None:
    """The public dialect reads the token from the header only."""
    reading = read(public_body(), PUBLIC)
    assert reading.refusal is not None
    assert reading.refusal.status_code == 401


def test_counting_only_skips_the_log() -> None:
    """With log=False the dialect and phone are read but no log entry is built."""
    reading = read(leadexec_body("2125550101"), log=False)
    assert reading.received is None
    assert reading.refusal is None
    assert (reading.dialect, reading.phone) == ("leadexec", "2125550101")


@pytest.mark.parametrize("line", sorted(TEST_NUMBERS))
def test_script_answers_from_the_table(line: str) -> None:
    """Unprogrammed, each test number gets its row of the table."""
    reading = read(leadexec_body(f"212555{line}"))
    assert Script().answer(reading) == TEST_NUMBERS[line]


def test_script_queue_before_program_before_table() -> None:
    """Queued answers come first, then programmed ones (the last repeats), then the table."""
    script = Script()
    script.program("(312) 555-7777", CannedAnswer.rejected("DNC"), CannedAnswer.accepted("X"))
    script.fail_next(CannedAnswer.status(503))
    assert script.choose("3125557777").status_code == 503
    answers = [script.choose("+1 312 555 7777").description for _ in range(3)]
    assert answers == ["Rejected, DNC", "Accepted, X", "Accepted, X"]
    script.clear()
    assert script.choose("3125557777") == canned_answer_for("3125557777")


def test_script_program_needs_an_answer() -> None:
    """program() without answers is a usage error."""
    with pytest.raises(ValueError, match="at least one"):
        Script().program("2125550000")


@pytest.mark.parametrize(
    ("phone", "key"),
    [("+1 (212) 555-0102", "2125550102"), ("12125550102", "2125550102"), ("555-12", "55512")],
)
def test_phone_key(phone: str, key: str) -> None:
    """Numbers match on their digits, without a leading US country code."""
    assert phone_key(phone) == key
