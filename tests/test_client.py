"""Both clients, both dialects, against FakePureCallerID: answers, faults and retries."""

from __future__ import annotations

import asyncio

import httpx
import pytest

import purecallerid
from _helpers import TOKEN, Screen, make_screen, request_for
from purecallerid import (
    APIConnectionError,
    APITimeoutError,
    AsyncPureCallerIDClient,
    AuthenticationError,
    ConfigurationError,
    PureCallerIDClient,
    RateLimitError,
    Reason,
    ResponseValidationError,
    RetryPolicy,
    ScreeningRequest,
    ServerError,
    Status,
    TransportFailure,
)
from purecallerid.testing import CannedAnswer, FakePureCallerID

VERDICTS = [
    ("2125550101", "Rejected", "INACTIVE", "Inactive phone number"),
    ("2125550102", "Rejected", "DNC", None),
    ("2125550103", "Rejected", "TCPA_FLAG", None),
    ("2125550104", "Rejected", "INVALID", None),
    ("2125550105", "Accepted", "SUPPRESSED", None),
    ("2125550199", "Accepted", None, None),
    ("3125559999", "Accepted", None, None),
]


@pytest.mark.parametrize(("phone", "status", "reason", "message"), VERDICTS)
def test_verdict_rows(
    screen: Screen,
    dialect: str,
    phone: str,
    status: str,
    reason: str | None,
    message: str | None,
) -> None:
    """Each verdict row of the test number table comes back as its status and reason."""
    response = screen(request_for(phone, dialect), dialect=dialect)
    assert response.status == status
    assert response.reason == reason
    if message is not None:
        assert response.message == message
    assert response.exchange is not None
    assert len(response.exchange.attempts) == 1


def test_enriched_row(screen: Screen, dialect: str) -> None:
    """Line 0106 fills the typed future fields and keeps the unknown key in extra."""
    response = screen(request_for("2125550106", dialect), dialect=dialect)
    assert response.accepted
    assert response.activity_score == 12
    assert response.known_litigator is True
    assert response.line_type == "voip"
    assert response.carrier
    assert response.extra == {"reassigned": False}


def test_known_values_compare(screen: Screen) -> None:
    """Status and reason compare equal to the enum members and resolve to them."""
    response = screen(request_for("2125550102"))
    assert response.status == Status.REJECTED
    assert response.known_reason is Reason.DNC
    assert response.rejected
    assert not response.accepted


def test_server_error_500_is_not_retried(
    screen: Screen, fake: FakePureCallerID, dialect: str
) -> None:
    """HTTP 500 may mean the lead was processed: one attempt, then ServerError."""
    with pytest.raises(ServerError) as info:
        screen(request_for("2125550190", dialect), dialect=dialect)
    assert info.value.status_code == 500
    assert info.value.attempts == 1
    fake.assert_called(1)


def test_rate_limit_retries_with_retry_after(
    screen: Screen, fake: FakePureCallerID, dialect: str
) -> None:
    """HTTP 429 is retried after its Retry-After, then reported with the parsed wait."""
    with pytest.raises(RateLimitError) as info:
        screen(request_for("2125550191", dialect), dialect=dialect)
    assert info.value.retry_after == 1.0
    assert info.value.attempts == 3
    assert fake.slept == [1.0, 1.0]
    fake.assert_called(3)


def test_retry_after_over_cap_gives_up(
    screen: Screen, fake: FakePureCallerID, dialect: str
) -> None:
    """A Retry-After above the policy's cap is not waited out."""
    with pytest.raises(RateLimitError):
        screen(
            request_for("2125550191", dialect),
            dialect=dialect,
            retry_policy=RetryPolicy(max_retry_after=0.5),
        )
    fake.assert_called(1)
    assert fake.slept == []


def test_not_json_is_a_validation_error(
    screen: Screen, fake: FakePureCallerID, dialect: str
) -> None:
    """A 200 whose body is not JSON raises ResponseValidationError with the raw body."""
    with pytest.raises(ResponseValidationError) as info:
        screen(request_for("2125550192", dialect), dialect=dialect)
    assert "Service temporarily unavailable" in info.value.body
    assert info.value.attempts == 1
    fake.assert_called(1)


def test_read_timeout_is_not_retried(screen: Screen, fake: FakePureCallerID, dialect: str) -> None:
    """A read timeout after sending is reported as outcome unknown and not retried."""
    with pytest.raises(APITimeoutError) as info:
        screen(request_for("2125550193", dialect), dialect=dialect)
    assert info.value.outcome_unknown is True
    assert "billed" in str(info.value)
    # The HTTP layer's exception is named, not kept: it holds the request, token and all.
    cause = info.value.__cause__
    assert isinstance(cause, TransportFailure)
    assert cause.kind == "ReadTimeout"
    assert not hasattr(cause, "request")
    fake.assert_called(1)


def test_read_timeout_retried_when_opted_in(
    screen: Screen, fake: FakePureCallerID, dialect: str
) -> None:
    """retry_read_timeouts=True retries a read timeout (the unsafe opt-in)."""
    with pytest.raises(APITimeoutError):
        screen(
            request_for("2125550193", dialect),
            dialect=dialect,
            retry_policy=RetryPolicy(retry_read_timeouts=True),
        )
    fake.assert_called(3)


def test_service_unavailable_is_retried(
    screen: Screen, fake: FakePureCallerID, dialect: str
) -> None:
    """HTTP 503 is retried with backoff, then raised as ServerError."""
    with pytest.raises(ServerError) as info:
        screen(request_for("2125550194", dialect), dialect=dialect, random=lambda: 0.0)
    assert info.value.status_code == 503
    fake.assert_called(3)
    assert fake.slept == [0.125, 0.25]


def test_unauthorized_is_authentication_error(
    screen: Screen, fake: FakePureCallerID, dialect: str
) -> None:
    """HTTP 401 raises AuthenticationError at once."""
    with pytest.raises(AuthenticationError) as info:
        screen(request_for("2125550195", dialect), dialect=dialect)
    assert info.value.status_code == 401
    fake.assert_called(1)


def test_503_then_success(screen: Screen, fake: FakePureCallerID) -> None:
    """A transient 503 followed by an answer returns the answer, with both attempts."""
    fake.program("2125550000", CannedAnswer.status(503), CannedAnswer.accepted())
    response = screen(request_for("2125550000"))
    assert response.accepted
    assert response.exchange is not None
    outcomes = [(a.outcome, a.status_code) for a in response.exchange.attempts]
    assert outcomes == [("answered", 503), ("answered", 200)]
    assert response.exchange.attempts[0].wait is not None


def test_connection_refused_is_retried(screen: Screen, fake: FakePureCallerID) -> None:
    """A refused connection never reached the vendor, so it is retried."""
    fake.fail_next(CannedAnswer.connect_error(), CannedAnswer.connect_error())
    response = screen(request_for("2125550000"))
    assert response.accepted
    assert response.exchange is not None
    assert [a.outcome for a in response.exchange.attempts] == [
        "connect_error",
        "connect_error",
        "answered",
    ]
    fake.assert_called(1)


def test_connect_timeout_is_retried(screen: Screen, fake: FakePureCallerID, dialect: str) -> None:
    """A connect timeout never reached the vendor, so it is retried like a refusal."""
    fake.fail_next(CannedAnswer.connect_timeout())
    response = screen(request_for("2125550000", dialect), dialect=dialect)
    assert response.exchange is not None
    assert [a.outcome for a in response.exchange.attempts] == ["connect_timeout", "answered"]
    fake.assert_called(1)


def test_connection_refused_every_time(screen: Screen, fake: FakePureCallerID) -> None:
    """When every attempt is refused, the error says the request never arrived."""
    fake.fail_next(*[CannedAnswer.connect_error()] * 3)
    with pytest.raises(APIConnectionError) as info:
        screen(request_for("2125550000"))
    assert not isinstance(info.value, APITimeoutError)
    assert info.value.outcome_unknown is False
    assert info.value.attempts == 3
    fake.assert_not_called()


def test_other_4xx_is_not_retried(screen: Screen, fake: FakePureCallerID) -> None:
    """A 4xx other than 401/403/429 raises ClientError after one attempt."""
    fake.fail_next(CannedAnswer.status(422))
    with pytest.raises(purecallerid.ClientError):
        screen(request_for("2125550000"))
    fake.assert_called(1)


def test_forbidden_is_authentication_error(screen: Screen, fake: FakePureCallerID) -> None:
    """HTTP 403 is an authentication error too, and is not retried."""
    fake.fail_next(CannedAnswer.status(403))
    with pytest.raises(AuthenticationError) as info:
        screen(request_for("2125550000"))
    assert info.value.status_code == 403
    fake.assert_called(1)


def test_wrong_token_gets_401(fake: FakePureCallerID, mode: str) -> None:
    """A fake expecting a token refuses another one with 401."""
    fake.api_token = "right-token"
    with pytest.raises(AuthenticationError):
        make_screen(fake, mode)(request_for("2125550000"), api_token="wrong-token")


def test_slow_answer_beyond_timeout_times_out(screen: Screen, fake: FakePureCallerID) -> None:
    """An answer slower than the read timeout becomes a read timeout."""
    fake.fail_next(CannedAnswer.accepted().slowly(0.2))
    with pytest.raises(APITimeoutError):
        screen(request_for("2125550000"), timeout=0.05)


def test_slow_answer_within_timeout(screen: Screen, fake: FakePureCallerID) -> None:
    """A slow answer within the timeout is returned."""
    fake.fail_next(CannedAnswer.accepted().slowly(0.02))
    assert screen(request_for("2125550000"), timeout=1.0).accepted


def test_deadline_stops_retries(screen: Screen, fake: FakePureCallerID) -> None:
    """A retry whose wait would pass the caller's deadline is not made."""
    with pytest.raises(RateLimitError):
        screen(request_for("2125550191"), deadline=0.5)
    fake.assert_called(1)


def test_deadline_already_spent(screen: Screen, fake: FakePureCallerID) -> None:
    """A deadline of zero makes no call and raises a timeout that says nothing was sent."""
    with pytest.raises(APITimeoutError) as info:
        screen(request_for("2125550000"), deadline=0.0)
    assert info.value.outcome_unknown is False
    fake.assert_not_called()


def test_deadline_shrinks_attempt_timeout(screen: Screen, fake: FakePureCallerID) -> None:
    """The attempt's timeout is capped by the time left before the deadline."""
    fake.fail_next(CannedAnswer.accepted().slowly(0.3))
    with pytest.raises(APITimeoutError):
        screen(request_for("2125550000"), deadline=0.05, timeout=5.0)


def test_leadexec_body_shape(screen: Screen, fake: FakePureCallerID) -> None:
    """The leadexec dialect posts the brief's flat body with the token inside."""
    screen(
        request_for(
            "2125550000",
            first_name="Ann",
            last_name="Lee",
            street="1 Main St",
            city="Austin",
            state="TX",
            extra={"email": "ann@example.com"},
        )
    )
    received = fake.calls_for()[0]
    assert received.url == "https://purecallerid.test/singleLeadLoading"
    assert received.body == {
        "campaignId": "camp-1",
        "listName": "Main list",
        "apiToken": "***",
        "phone": "2125550000",
        "zip": "02134",
        "firstName": "Ann",
        "lastName": "Lee",
        "address": "1 Main St, Austin, TX",
        "email": "ann@example.com",
    }


def test_leadexec_token_in_header(screen: Screen, fake: FakePureCallerID) -> None:
    """With token_in='header' the body carries no token and the header does."""
    screen(request_for("2125550000"), dialect=purecallerid.LeadExecDialect(token_in="header"))
    received = fake.calls_for()[0]
    assert "apiToken" not in received.body
    assert received.headers["x-api-key"] == "***"


def test_public_body_shape(screen: Screen, fake: FakePureCallerID) -> None:
    """The public dialect posts fields[] with dialer field names and types."""
    screen(
        request_for("2125550000", "public", first_name="Ann", extra={"email": "a@example.com"}),
        dialect="public",
    )
    received = fake.calls_for()[0]
    assert received.url == "https://purecallerid.test/api/public/lead/load"
    assert received.headers["x-api-key"] == "***"
    assert received.body == {
        "campaignId": "camp-1",
        "dialerListId": "42",
        "listName": "Main list",
        "fields": [
            {"value": "2125550000", "dialerField": "number1", "type": "Phone"},
            {"value": "02134", "dialerField": "zip", "type": "Zip"},
            {"value": "Ann", "dialerField": "first_name"},
            {"value": "a@example.com", "dialerField": "email"},
        ],
    }


def test_public_dialer_fields_configurable(screen: Screen, fake: FakePureCallerID) -> None:
    """Dialer field names can be overridden per credential set."""
    dialect = purecallerid.PublicDialect(dialer_fields={"phone": "number2"})
    screen(request_for("2125550000", "public"), dialect=dialect)
    fake.assert_called_with(number2="2125550000", zip="02134")


@pytest.mark.parametrize(
    ("dialect", "missing"),
    [("leadexec", "campaign_id"), ("leadexec", "list_name"), ("public", "dialer_list_id")],
)
def test_missing_identifiers_fail_before_sending(
    screen: Screen, fake: FakePureCallerID, dialect: str, missing: str
) -> None:
    """A request lacking an identifier its dialect needs never reaches the vendor."""
    with pytest.raises(ConfigurationError):
        screen(request_for("2125550000", dialect, **{missing: None}), dialect=dialect)
    fake.assert_not_called()


def test_extra_cannot_overwrite_token(screen: Screen, fake: FakePureCallerID) -> None:
    """An extra field named like a reserved key is refused, not sent."""
    with pytest.raises(ConfigurationError, match="apiToken"):
        screen(request_for("2125550000", extra={"apiToken": "evil"}))
    fake.assert_not_called()


@pytest.mark.parametrize(
    "url",
    ["http://purecallerid.example.com", "ftp://x.example.com", "not a url", "https://", ""],
)
def test_base_url_must_be_https(url: str) -> None:
    """A non-https base URL (other than loopback) is refused at construction."""
    with pytest.raises(ConfigurationError):
        PureCallerIDClient(base_url=url, api_token=TOKEN)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8765", "http://localhost:8765/", "http://[::1]:80"]
)
def test_loopback_http_allowed(url: str) -> None:
    """Plain http is accepted for loopback addresses."""
    PureCallerIDClient(base_url=url, api_token=TOKEN).close()


def test_insecure_http_opt_in() -> None:
    """allow_insecure_http=True accepts a plain http host."""
    client = PureCallerIDClient(
        base_url="http://vendor.internal", api_token=TOKEN, allow_insecure_http=True
    )
    client.close()


def test_async_http_client_in_sync_client_is_refused() -> None:
    """A sync client given an httpx.AsyncClient says to use AsyncPureCallerIDClient."""
    http = httpx.AsyncClient()
    with pytest.raises(TypeError, match="AsyncPureCallerIDClient"):
        PureCallerIDClient(base_url="https://x.test", api_token=TOKEN, http_client=http)  # type: ignore[arg-type]
    asyncio.run(http.aclose())


def test_sync_http_client_in_async_client_is_refused() -> None:
    """An async client given an httpx.Client says to use PureCallerIDClient."""
    with httpx.Client() as http, pytest.raises(TypeError, match="PureCallerIDClient"):
        AsyncPureCallerIDClient(base_url="https://x.test", api_token=TOKEN, http_client=http)  # type: ignore[arg-type]


def test_empty_token_is_refused() -> None:
    """An empty token is a configuration error."""
    with pytest.raises(ConfigurationError, match="api_token"):
        PureCallerIDClient(base_url="https://x.test", api_token="  ")


def test_unknown_dialect_is_refused() -> None:
    """An unknown dialect name is a configuration error listing the known ones."""
    with pytest.raises(ConfigurationError, match="leadexec"):
        PureCallerIDClient(base_url="https://x.test", api_token=TOKEN, dialect="soap")


def test_with_options_shares_the_pool(fake: FakePureCallerID) -> None:
    """with_options returns a copy that uses the same httpx client and does not close it."""
    with fake.client() as client:
        copy = client.with_options(dialect="public", retry_policy=RetryPolicy.no_retries())
        assert copy._driver.http is client._driver.http
        copy.close()
        response = copy.screen(request_for("2125550102", "public"))
        assert response.reason == "DNC"
        assert fake.calls_for()[0].dialect == "public"
        assert not client._driver.http.is_closed
    assert client._driver.http.is_closed


def test_injected_http_client_is_not_closed(fake: FakePureCallerID) -> None:
    """A client given an httpx.Client leaves closing it to its owner."""
    http = httpx.Client(transport=fake.transport())
    with PureCallerIDClient(
        base_url="https://purecallerid.test", api_token=TOKEN, http_client=http
    ) as client:
        assert client.screen(request_for("2125550000")).accepted
    assert not http.is_closed
    http.close()


def test_async_in_flight_is_bounded() -> None:
    """The async client keeps at most max_connections requests in flight."""
    fake = FakePureCallerID(latency=0.02)
    peak = 0
    current = 0
    handler = fake.ahandle

    async def counting(request: httpx.Request) -> httpx.Response:
        nonlocal peak, current
        current += 1
        peak = max(peak, current)
        try:
            return await handler(request)
        finally:
            current -= 1

    async def run() -> None:
        async with fake.async_client(
            transport=httpx.MockTransport(counting), max_connections=3
        ) as client:
            await asyncio.gather(
                *(client.screen(request_for(f"21255500{i:02d}")) for i in range(12))
            )

    asyncio.run(run())
    assert peak == 3
    fake.assert_called(12)


def test_request_record_is_masked(screen: Screen, dialect: str) -> None:
    """The returned request record shows the request sent, token masked."""
    response = screen(request_for("2125550000", dialect), dialect=dialect)
    assert response.exchange is not None
    record = response.exchange.request
    assert record.method == "POST"
    assert TOKEN not in repr(record)
    assert "***" in repr(record)
    assert response.exchange.dialect == dialect


def test_request_model_copies_extra() -> None:
    """Mutating the dict given as extra does not change a frozen request."""
    extra = {"email": "a@example.com"}
    request = ScreeningRequest(phone="2125550000", extra=extra)
    extra["email"] = "b@example.com"
    assert request.extra == {"email": "a@example.com"}
