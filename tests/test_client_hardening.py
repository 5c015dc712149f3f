"""Edge cases found in review: escaped token echoes, bad tokens, deadlines on slow bodies."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from _helpers import Screen, request_for
from purecallerid import (
    APIError,
    APITimeoutError,
    AsyncPureCallerIDClient,
    ConfigurationError,
    PureCallerIDClient,
    RetryPolicy,
    ScreeningResponse,
    converter,
    response_from_wire,
)
from purecallerid.testing import CannedAnswer, FakePureCallerID

SLASH_TOKEN = "tok/SECRET/5f1e2d"


def _shown(outcome: ScreeningResponse | APIError, caplog: pytest.LogCaptureFixture) -> str:
    parts = [repr(outcome), str(outcome), "\n".join(r.getMessage() for r in caplog.records)]
    if isinstance(outcome, ScreeningResponse):
        parts += [outcome.raw, json.dumps(converter.unstructure(outcome))]
    else:
        parts += [repr(outcome.__dict__)]
    if outcome.exchange is not None:
        parts.append(json.dumps(converter.unstructure(outcome.exchange)))
    return "\n".join(parts)


@pytest.mark.parametrize(
    "echo",
    [
        '{"status": "Accepted", "echo": "tok\\/SECRET\\/5f1e2d"}',
        '{"status": "Accepted", "echo": "\\u0074ok/SECRET/5f1e2d"}',
        '{"status": "Accepted", "echo": {"apiToken": "tok/SECRET/5f1e2d"}}',
        '{"status": "Accepted", "echo": "apiToken=tok%2FSECRET%2F5f1e2d&x=1"}',
    ],
)
def test_escaped_echo_is_redacted(
    screen: Screen, fake: FakePureCallerID, echo: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A token echoed with JSON escapes is masked in extra, raw, records and logs."""
    caplog.set_level(logging.DEBUG)
    fake.fail_next(CannedAnswer.raw(echo, content_type="application/json"))
    response = screen(request_for("2125550000"), api_token=SLASH_TOKEN)
    assert SLASH_TOKEN not in _shown(response, caplog)
    assert "tok\\/SECRET" not in _shown(response, caplog)
    assert "\\u0074ok" not in response.raw


def test_escaped_echo_in_error_body(screen: Screen, fake: FakePureCallerID) -> None:
    """An error body echoing the escaped token is masked too."""
    fake.fail_next(CannedAnswer.raw('{"error": "bad key tok\\/SECRET\\/5f1e2d"}', status_code=400))
    with pytest.raises(APIError) as info:
        screen(request_for("2125550000"), api_token=SLASH_TOKEN)
    assert "SECRET" not in info.value.body  # type: ignore[attr-defined]


def test_request_id_header_is_redacted(screen: Screen, fake: FakePureCallerID) -> None:
    """A request id header that carries the token is masked in the attempts."""
    fake.fail_next(
        CannedAnswer.json({"status": "Accepted"}, headers={"X-Request-Id": f"id-{SLASH_TOKEN}"})
    )
    response = screen(request_for("2125550000"), api_token=SLASH_TOKEN)
    assert response.exchange is not None
    assert response.exchange.attempts[0].request_id == "id-***"


@pytest.mark.parametrize(
    "token",
    [
        " padded-token ",
        "token-with-newline\n",
        "tab\ttoken-1234",
        "tökén-12345",
        "k3y",
        "a b c d e f",
    ],
)
def test_unusable_tokens_are_refused(token: str) -> None:
    """Tokens that cannot travel in a header, or too short to mask safely, are refused early."""
    with pytest.raises(ConfigurationError, match="api_token") as info:
        PureCallerIDClient(base_url="https://x.test", api_token=token)
    assert token.strip() not in str(info.value)


def test_userinfo_in_base_url_is_refused() -> None:
    """A base URL carrying credentials is refused, so they cannot show in reprs and records."""
    with pytest.raises(ConfigurationError, match="user name or password"):
        PureCallerIDClient(base_url="https://user:pw@x.test", api_token="test-token")


def test_throttle_then_refused_connection_was_not_billed(
    screen: Screen, fake: FakePureCallerID
) -> None:
    """A 429 followed by refused connections means the vendor never processed the lead."""
    fake.fail_next(
        CannedAnswer.status(429, retry_after="0"),
        CannedAnswer.connect_error(),
        CannedAnswer.connect_error(),
    )
    with pytest.raises(APIError) as info:
        screen(request_for("2125550000"))
    assert info.value.outcome_unknown is False


def test_padded_status_still_accepted() -> None:
    """A status with stray spaces still reads as accepted."""
    assert response_from_wire({"status": " Accepted "}).accepted


@pytest.mark.parametrize(
    "kwargs", [{"max_attempts": True}, {"retry_statuses": {429, "503"}}, {"retry_statuses": {42}}]
)
def test_retry_policy_refuses_odd_values(kwargs: dict[str, object]) -> None:
    """Booleans as counts and non-HTTP statuses are refused."""
    with pytest.raises(ConfigurationError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


@pytest.fixture
def trickling_server() -> Iterator[str]:
    """A loopback server that sends its headers, then one body byte every 0.1 s."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                body = b'{"status": "Accepted"}'
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"content-length: " + str(len(body)).encode() + b"\r\n\r\n"
                )
                for byte in body:
                    if stop.is_set():
                        break
                    try:
                        conn.sendall(bytes([byte]))
                    except OSError:
                        break
                    time.sleep(0.1)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    stop.set()
    thread.join(5)
    listener.close()


def test_deadline_bounds_a_trickling_answer_sync(trickling_server: str) -> None:
    """The sync client gives up at the deadline even when every read is within its timeout."""
    client = PureCallerIDClient(base_url=trickling_server, api_token="test-token", timeout=5.0)
    started = time.monotonic()
    with pytest.raises(APITimeoutError) as info:
        client.screen(request_for("2125550000"), deadline=0.5)
    assert time.monotonic() - started < 1.5
    assert info.value.outcome_unknown is True
    client.close()


def test_deadline_bounds_a_trickling_answer_async(trickling_server: str) -> None:
    """The async client gives up at the deadline even when every read is within its timeout."""

    async def go() -> None:
        async with AsyncPureCallerIDClient(
            base_url=trickling_server, api_token="test-token", timeout=5.0
        ) as client:
            await client.screen(request_for("2125550000"), deadline=0.5)

    started = time.monotonic()
    with pytest.raises(APITimeoutError):
        asyncio.run(go())
    assert time.monotonic() - started < 1.5
