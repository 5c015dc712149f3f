"""The async client's default transport (aiohttp under httpx) over real loopback sockets."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import purecallerid._http.transport as transport_module
from _helpers import request_for
from purecallerid import (
    APIConnectionError,
    APITimeoutError,
    AsyncPureCallerIDClient,
    RetryPolicy,
    ScreeningResponse,
)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
ANSWER = json.dumps({"status": "Rejected", "reason": "DNC"}).encode()


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head + await reader.readexactly(length)


def _response(body: bytes, *extra: bytes) -> bytes:
    headers = b"".join(h + b"\r\n" for h in extra)
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        + headers
        + b"content-length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


async def _screen_with(
    handler: Handler, **options: object
) -> tuple[ScreeningResponse, list[bytes]]:
    seen: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    async def recording(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        original = reader.readuntil

        async def readuntil(separator: bytes = b"\n") -> bytes:
            data = await original(separator)
            seen.append(data)
            return data

        reader.readuntil = readuntil  # type: ignore[method-assign,assignment]
        await serve(reader, writer)

    server = await asyncio.start_server(recording, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with (
        server,
        AsyncPureCallerIDClient(
            base_url=f"http://127.0.0.1:{port}",
            api_token="test-token",
            **options,  # type: ignore[arg-type]
        ) as client,
    ):
        response = await client.screen(request_for("2125550102"))
    return response, seen


def test_answer_over_real_socket() -> None:
    """A plain answer arrives through aiohttp as a parsed response, headers as httpx built them."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(_response(ANSWER, b"x-request-id: r-1"))
        await writer.drain()

    response, seen = asyncio.run(_screen_with(handler))
    assert response.reason == "DNC"
    assert response.exchange is not None
    assert response.exchange.attempts[0].request_id == "r-1"
    head = seen[0].lower()
    assert b"post /singleleadloading http/1.1" in head
    assert b"content-type: application/json" in head


def test_gzip_answer_is_decoded() -> None:
    """A compressed answer is decoded by httpx as usual."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(_response(gzip.compress(ANSWER), b"content-encoding: gzip"))
        await writer.drain()

    response, _ = asyncio.run(_screen_with(handler))
    assert response.reason == "DNC"


def test_dropped_connection_is_not_retried() -> None:
    """A connection closed after the request arrived: outcome unknown, never retried."""
    calls = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal calls
        calls += 1
        await _read_request(reader)

    with pytest.raises(APIConnectionError) as info:
        asyncio.run(_screen_with(handler))
    assert info.value.outcome_unknown is True
    assert info.value.attempts == 1
    assert calls == 1


def test_silent_server_is_a_read_timeout() -> None:
    """A server that never answers is a read timeout with outcome unknown."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        await asyncio.sleep(2)

    with pytest.raises(APITimeoutError) as info:
        asyncio.run(_screen_with(handler, timeout=0.2))
    assert info.value.outcome_unknown is True
    assert info.value.exchange is not None
    assert info.value.exchange.attempts[0].outcome == "read_timeout"


def test_refused_connection_is_retried_and_never_sent() -> None:
    """A refused connection provably never sent the lead: retried, then reported as such."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    slept: list[float] = []

    async def no_wait(seconds: float) -> None:
        slept.append(seconds)

    async def go() -> None:
        async with AsyncPureCallerIDClient(
            base_url=f"http://127.0.0.1:{port}",
            api_token="test-token",
            sleep=no_wait,
            retry_policy=RetryPolicy(max_attempts=2),
        ) as client:
            await client.screen(request_for("2125550102"))

    with pytest.raises(APIConnectionError) as info:
        asyncio.run(go())
    assert info.value.outcome_unknown is False
    assert info.value.exchange is not None
    assert [a.outcome for a in info.value.exchange.attempts] == ["connect_error", "connect_error"]
    assert len(slept) == 1


def test_proxy_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """As with httpx, HTTP_PROXY is honoured: the request goes to the proxy, absolute-form."""
    lines: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await _read_request(reader)
        lines.append(request.split(b"\r\n", 1)[0])
        writer.write(_response(ANSWER))
        await writer.drain()
        writer.close()

    async def go() -> ScreeningResponse:
        server = await asyncio.start_server(proxy, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        async with (
            server,
            AsyncPureCallerIDClient(
                base_url="http://purecallerid.invalid",
                api_token="test-token",
                allow_insecure_http=True,
            ) as client,
        ):
            return await client.screen(request_for("2125550102"))

    assert asyncio.run(go()).reason == "DNC"
    assert lines == [b"POST http://purecallerid.invalid/singleLeadLoading HTTP/1.1"]


async def _answer_and_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One answer per connection (no connection left open when the test ends)."""
    await _read_request(reader)
    writer.write(_response(ANSWER, b"connection: close"))
    await writer.drain()
    writer.close()
    await writer.wait_closed()


def _screen_direct(calls: int, **options: Any) -> tuple[list[Any], int]:
    """*calls* screenings against a local server: the reasons or errors, and requests served."""
    served: list[int] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        served.append(1)
        await _answer_and_close(reader, writer)

    async def go() -> list[Any]:
        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        results: list[Any] = []
        async with (
            server,
            AsyncPureCallerIDClient(
                base_url=f"http://127.0.0.1:{port}",
                api_token="test-token",
                allow_insecure_http=True,
                **options,
            ) as client,
        ):
            for _ in range(calls):
                try:
                    results.append((await client.screen(request_for("2125550102"))).reason)
                except APIConnectionError as exc:
                    results.append(exc)
        return results

    return asyncio.run(go()), len(served)


def test_no_proxy_is_honoured_and_the_environment_read_once_per_origin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """NO_PROXY sends a host direct; the proxy is looked up once per origin, not per call."""
    looked_up: list[str] = []
    real_lookup = transport_module.get_env_proxy_for_url  # type: ignore[attr-defined]

    def counting(url: object) -> object:
        looked_up.append(str(url))
        return real_lookup(url)  # type: ignore[arg-type]

    monkeypatch.setattr(transport_module, "get_env_proxy_for_url", counting)
    # A proxy nobody listens on: a request sent through it would fail to connect.
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")

    assert _screen_direct(3) == (["DNC", "DNC", "DNC"], 3)
    assert len(looked_up) == 1


def test_an_unreadable_proxy_setting_fails_the_call_instead_of_going_direct(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HTTP_PROXY with a port out of range: never sent, not sent around the proxy."""
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:99999")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    (failure,), served = _screen_direct(1, retry_policy=RetryPolicy(max_attempts=1))
    assert isinstance(failure, APIConnectionError)
    assert failure.outcome_unknown is False
    assert served == 0
