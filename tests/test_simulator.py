"""The simulator over real loopback HTTP: same answers as the fake, plus quota, rate and counts."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest

from _helpers import request_for
from purecallerid import APIError, AsyncPureCallerIDClient, RetryPolicy, ScreeningResponse
from purecallerid.testing import TEST_NUMBERS, CannedAnswer, FakePureCallerID, Simulator

TOKEN = "tok-SIMULATOR-77"
LINES = [*sorted(TEST_NUMBERS), "0150"]
T = TypeVar("T")


def run(coroutine: Awaitable[T]) -> T:
    async def main() -> T:
        return await coroutine

    return asyncio.run(main())


def leadexec(phone: str = "2125550150", token: str = TOKEN) -> dict[str, Any]:
    return {"campaignId": "C1", "listName": "Main", "apiToken": token, "phone": phone}


async def post(sim: Simulator, body: Any, path: str = "/singleLeadLoading") -> httpx.Response:
    async with httpx.AsyncClient(base_url=sim.url) as http:
        return await http.post(path, json=body)


async def exchange(sim: Simulator, raw: bytes) -> bytes:
    """Send raw bytes on one connection; read until the server closes it."""
    reader, writer = await asyncio.open_connection(sim.host, sim.port)
    writer.write(raw)
    data = await asyncio.wait_for(reader.read(), timeout=5)
    writer.close()
    await writer.wait_closed()
    return data


Outcome = tuple[Any, ...]


async def outcome_of(client: AsyncPureCallerIDClient, phone: str, dialect: str) -> Outcome:
    """What a host sees: the answer's fields, or the error's class and status."""
    async with client:
        try:
            answer: ScreeningResponse = await client.screen(request_for(phone, dialect))
        except APIError as error:
            return ("error", type(error).__name__, getattr(error, "status_code", None))
    return ("answer", answer.status, answer.reason, answer.message, dict(answer.extra))


@pytest.mark.parametrize("line", LINES)
def test_same_answers_as_the_fake(line: str, dialect: str) -> None:
    """Over real HTTP, every test number gets what the fake gives, in both dialects."""
    options: dict[str, Any] = {
        "api_token": TOKEN,
        "dialect": dialect,
        "timeout": 0.3,
        "retry_policy": RetryPolicy.no_retries(),
    }

    async def both() -> tuple[Outcome, Outcome]:
        fake = FakePureCallerID(api_token=TOKEN)
        faked = await outcome_of(fake.async_client(**options), f"212555{line}", dialect)
        async with Simulator(api_token=TOKEN, hang_seconds=2) as sim:
            client = AsyncPureCallerIDClient(base_url=sim.url, **options)
            simulated = await outcome_of(client, f"212555{line}", dialect)
        return faked, simulated

    faked, simulated = run(both())
    assert simulated == faked


def test_hang_closes_without_answer() -> None:
    """Line 0193 holds the connection for hang_seconds, then closes it without an answer."""

    async def go() -> tuple[float, bytes]:
        async with Simulator(hang_seconds=0.2) as sim:
            body = json.dumps(leadexec("2125550193")).encode()
            raw = (
                b"POST /singleLeadLoading HTTP/1.1\r\nHost: x\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            started = time.monotonic()
            data = await exchange(sim, raw)
            return time.monotonic() - started, data

    elapsed, data = run(go())
    assert data == b""
    assert 0.15 < elapsed < 2


def test_stats_count_requests() -> None:
    """Stats count requests by dialect, status and line; the stats endpoint counts none."""

    async def go() -> dict[str, Any]:
        async with Simulator() as sim:
            await post(sim, leadexec("2125550102"))
            await post(sim, leadexec("2125550190"))
            await post(sim, leadexec("3125551234"))
            public = {
                "campaignId": "C1",
                "dialerListId": "9",
                "fields": [{"value": "2125550102", "dialerField": "number1", "type": "Phone"}],
            }
            async with httpx.AsyncClient(base_url=sim.url) as http:
                await http.post("/api/public/lead/load", json=public, headers={"X-API-KEY": "k"})
                await http.get("/_simulator/stats")
                stats = (await http.get("/_simulator/stats")).json()
            assert stats == sim.stats()
            return dict(stats)

    stats = run(go())
    assert stats["total_requests"] == 4
    assert stats["by_dialect"] == {"leadexec": 3, "public": 1}
    assert stats["by_status"] == {"200": 3, "500": 1}
    assert stats["by_line"] == {"0102": 2, "0190": 1, "other": 1}


def test_stats_endpoint_wants_get() -> None:
    """POST to the stats endpoint is 405."""

    async def go() -> int:
        async with Simulator() as sim:
            return (await post(sim, {}, "/_simulator/stats")).status_code

    assert run(go()) == 405


def test_daily_quota_answers_429_until_the_day_ends() -> None:
    """Beyond the daily quota: 429 with Retry-After = seconds left in the UTC day."""
    now = [datetime(2026, 3, 1, 23, 59, 0, tzinfo=UTC)]

    async def go() -> tuple[list[int], str | None, dict[str, Any], int]:
        async with Simulator(daily_quota=2, now=lambda: now[0]) as sim:
            codes = [(await post(sim, leadexec())).status_code for _ in range(3)]
            refused = await post(sim, leadexec())
            stats = sim.stats()
            now[0] += timedelta(minutes=2)
            next_day = (await post(sim, leadexec())).status_code
        return [*codes, refused.status_code], refused.headers.get("retry-after"), stats, next_day

    codes, retry_after, stats, next_day = run(go())
    assert codes == [200, 200, 429, 429]
    assert retry_after == "60"
    assert stats["rejected_by_quota"] == 2
    assert stats["quota_used"] == 2
    assert next_day == 200


def test_wrong_token_spends_no_quota() -> None:
    """A refused token is answered 401 without counting against the quota."""

    async def go() -> tuple[int, int]:
        async with Simulator(daily_quota=1, api_token=TOKEN) as sim:
            refused = await post(sim, leadexec(token="wrong-token-1"))
            allowed = await post(sim, leadexec())
        return refused.status_code, allowed.status_code

    assert run(go()) == (401, 200)


def test_rate_limit_answers_429_with_retry_after() -> None:
    """Beyond the rate (after the burst): 429 with Retry-After; a token comes back in time."""
    clock = [100.0]

    async def go() -> tuple[list[int], str | None, int, dict[str, Any]]:
        async with Simulator(rate_limit=2, rate_burst=2, clock=lambda: clock[0]) as sim:
            codes = [(await post(sim, leadexec())).status_code for _ in range(2)]
            refused = await post(sim, leadexec())
            clock[0] += 0.5  # one token at 2 per second
            later = (await post(sim, leadexec())).status_code
            return (
                [*codes, refused.status_code],
                refused.headers.get("retry-after"),
                later,
                sim.stats(),
            )

    codes, retry_after, later, stats = run(go())
    assert codes == [200, 200, 429]
    assert retry_after == "1"
    assert later == 200
    assert stats["rejected_by_rate"] == 1


def test_client_retries_after_rate_limit() -> None:
    """The real client honours the simulator's Retry-After and gets through."""

    async def go() -> tuple[str, int]:
        async with Simulator(rate_limit=1, rate_burst=1) as sim:
            await post(sim, leadexec())  # spends the only token
            async with AsyncPureCallerIDClient(base_url=sim.url, api_token=TOKEN) as client:
                answer = await client.screen(request_for("2125550150"))
            return answer.status, sim.stats()["rejected_by_rate"]

    assert run(go()) == ("Accepted", 1)


def test_latency_delays_every_answer() -> None:
    """latency seconds pass before each answer."""

    async def go() -> float:
        async with Simulator(latency=0.15) as sim:
            started = time.monotonic()
            await post(sim, leadexec())
            return time.monotonic() - started

    assert run(go()) >= 0.15


def test_keep_alive_and_pipelining() -> None:
    """Two pipelined requests on one connection get two answers, in order."""

    async def go() -> bytes:
        async with Simulator() as sim:
            one = json.dumps(leadexec("2125550101")).encode()
            two = json.dumps(leadexec("2125550102")).encode()
            raw = b""
            for body, connection in ((one, "keep-alive"), (two, "close")):
                raw += (
                    b"POST /singleLeadLoading HTTP/1.1\r\nHost: x\r\n"
                    + f"Connection: {connection}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
            return await exchange(sim, raw)

    data = run(go())
    assert data.count(b"HTTP/1.1 200 OK") == 2
    assert data.index(b"INACTIVE") < data.index(b"DNC")


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"NONSENSE\r\n\r\n", b"400"),
        (b"POST /singleLeadLoading HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", b"411"),
        (b"POST /singleLeadLoading HTTP/1.1\r\nContent-Length: x\r\n\r\n", b"400"),
        (b"POST /singleLeadLoading HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", b"413"),
    ],
    ids=["request-line", "chunked", "bad-length", "too-large"],
)
def test_malformed_requests_are_answered_then_closed(raw: bytes, status: bytes) -> None:
    """A malformed request gets an error status and the connection is closed."""

    async def go() -> bytes:
        async with Simulator() as sim:
            return await exchange(sim, raw)

    data = run(go())
    assert data.startswith(b"HTTP/1.1 " + status)
    assert b"Connection: close" in data


def test_programmed_connect_error_drops_the_connection() -> None:
    """A programmed connection error drops the connection without an answer."""

    async def go() -> dict[str, Any]:
        async with Simulator() as sim:
            sim.fail_next(CannedAnswer.connect_error())
            with pytest.raises(httpx.TransportError):
                await post(sim, leadexec())
            return sim.stats()

    assert run(go())["by_status"] == {"connect_error": 1}


def test_program_answers_for_a_number() -> None:
    """program() sets the answers for one number, as with the fake."""

    async def go() -> list[Any]:
        async with Simulator() as sim:
            sim.program("2125550150", CannedAnswer.rejected("DUPLICATE"))
            return [(await post(sim, leadexec())).json()["reason"] for _ in range(2)]

    assert run(go()) == ["DUPLICATE", "DUPLICATE"]


def test_close_releases_held_connections() -> None:
    """Closing the simulator ends a held (0193) connection at once."""

    async def go() -> float:
        sim = Simulator(hang_seconds=30)
        await sim.start()
        task = asyncio.ensure_future(post(sim, leadexec("2125550193")))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        await sim.aclose()
        with pytest.raises(httpx.TransportError):
            await task
        return time.monotonic() - started

    assert run(go()) < 2


def test_sync_context_serves_from_a_thread() -> None:
    """`with Simulator()` serves from a background thread; stats are readable from outside."""
    with Simulator() as sim:
        url = sim.url + "/singleLeadLoading"
        response = httpx.post(url, json=leadexec("2125550104"))
        assert response.json()["reason"] == "INVALID"
        assert sim.stats()["by_line"] == {"0104": 1}
    with pytest.raises(httpx.ConnectError):
        httpx.post(url, json=leadexec())


def test_free_port_by_default() -> None:
    """Port 0 picks a free port, read back from url."""

    async def go() -> tuple[str, str]:
        async with Simulator() as one, Simulator() as two:
            return one.url, two.url

    first, second = run(go())
    assert first != second
    assert first.startswith("http://127.0.0.1:")


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "example.com"])  # noqa: S104
def test_refuses_non_loopback_host(host: str) -> None:
    """A host that is not loopback is refused unless allow_remote is set."""
    with pytest.raises(ValueError, match="loopback"):
        Simulator(host=host)
    assert Simulator(host=host, allow_remote=True).host == host


def test_url_before_start_is_an_error() -> None:
    """Asking for the URL before listening says how to start it."""
    with pytest.raises(RuntimeError, match="not listening"):
        _ = Simulator().url


@pytest.mark.parametrize(
    "options",
    [{"latency": -1.0}, {"rate_limit": 0.0}, {"daily_quota": -1}, {"hang_seconds": float("nan")}],
)
def test_rejects_bad_options(options: dict[str, Any]) -> None:
    """Negative or non-finite options are refused when the simulator is built."""
    with pytest.raises(ValueError, match="must be"):
        Simulator(**options)
