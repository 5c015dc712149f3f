"""Host suppression lists: a slow list holds its own lead, never the loop; what a lookup costs.

Run with ``.venv/bin/python benchmarks/bench_lists.py`` (part of ``make bench``; about 20 s).

1. The acceptance of issue 15: a list that takes 3 s under a timeout of 0.5 s. One lead on it
   (a synchronous list, then an async one) while fast leads of another campaign are screened
   one after another on the same loop; its duration and record, the fast leads' latencies, and
   the loop's worst lag (how late a 10 ms sleep woke). Then four slow leads at once, and 64 on
   a hung list of 8 threads. For comparison, the synchronous list read on the loop itself (what
   the library did before: a private switch, ``_in_place``, forced on).
2. What one lookup costs, through ``SuppressionIntegration.screen``: the in-memory list (read
   in place), SQLite and a host's dict list (worker threads), an async list, PostgreSQL and
   Redis (throwaway local servers, skipped when not installed), at 1 and 64 in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from _postgres import PostgresMissingError, PostgresServer
from purecallerid import (
    AsyncScreener,
    InMemoryResultStore,
    InMemorySettings,
    InMemorySuppressionList,
    IntegrationSettings,
    Lead,
    PostgresSuppressionList,
    RedisSuppressionList,
    ScreeningRecord,
    SQLiteSuppressionList,
    SuppressionEntry,
    SuppressionIntegration,
    load_settings,
)
from purecallerid._integrations.suppression import integration as integration_module

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator

T = TypeVar("T")
SLOW = 3.0
TIMEOUT = 0.5
LOOKUPS = 2_000


class SlowSyncList:
    """A blocking list that takes *seconds* (released at the end, so its threads end)."""

    def __init__(self, seconds: float = SLOW) -> None:
        self.seconds = seconds
        self.release = threading.Event()

    def lookup(self, phone: str) -> SuppressionEntry | None:
        self.release.wait(self.seconds)
        return None


class SlowAsyncList:
    """An async list that takes *seconds*."""

    def __init__(self, seconds: float = SLOW) -> None:
        self.seconds = seconds

    async def lookup(self, phone: str) -> SuppressionEntry | None:
        await asyncio.sleep(self.seconds)
        return None


class DictList:
    """A host's synchronous list: a dict read (run in a worker thread)."""

    def __init__(self) -> None:
        self.numbers = {"+12125550150": "complaint"}

    def lookup(self, phone: str) -> SuppressionEntry | None:
        reason = self.numbers.get(phone)
        return None if reason is None else SuppressionEntry(phone=phone, reason=reason)


class AsyncDictList(DictList):
    """A host's async list: the same dict behind a coroutine."""

    async def lookup(self, phone: str) -> SuppressionEntry | None:  # type: ignore[override]
        return DictList.lookup(self, phone)


def _screener(slow: Any, max_threads: int = 8) -> AsyncScreener:
    dnc = SuppressionIntegration(
        {"slow": slow, "fast": InMemorySuppressionList(["2125550150"])}, max_threads=max_threads
    )
    campaigns = load_settings(
        {
            "campaigns": {
                name: {
                    "integrations": [
                        {
                            "id": "dnc",
                            "kind": "suppression",
                            "timeout": TIMEOUT,
                            "options": {"list": name},
                            "rules": ["reject when suppressed is true"],
                        }
                    ]
                }
                for name in ("slow", "fast")
            }
        },
        kinds=[dnc],
    )
    return AsyncScreener(
        settings=InMemorySettings(campaigns.values()),
        store=InMemoryResultStore(),
        integrations=[dnc],
    )


async def _timed(work: Awaitable[T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = await work
    return result, time.perf_counter() - started


async def _lag(stop: asyncio.Event) -> float:
    worst = 0.0
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(0.01)
        worst = max(worst, time.perf_counter() - before - 0.01)
    return worst


async def _alongside(slow: Any) -> dict[str, Any]:
    """One slow lead, fast leads screened one after another until it ends."""
    async with _screener(slow) as screener:
        stop = asyncio.Event()
        lag = asyncio.ensure_future(_lag(stop))
        lead = Lead(lead_id="slow", campaign_id="slow", fields={"phone": "2125550151"})
        slow_lead = asyncio.ensure_future(_timed(screener.screen(lead)))
        fast: list[float] = []
        while not slow_lead.done():
            fast_lead = Lead(
                lead_id=f"f{len(fast)}", campaign_id="fast", fields={"phone": "2125550150"}
            )
            _, took = await _timed(screener.screen(fast_lead))
            fast.append(took)
        record, duration = await slow_lead
        stop.set()
        return {"record": record, "duration": duration, "fast": fast, "lag": await lag}


def _describe(name: str, figures: dict[str, Any]) -> None:
    record: ScreeningRecord = figures["record"]
    dnc = record.integration("dnc")
    fast = figures["fast"]
    fast_text = (
        f"{len(fast)} fast leads alongside, median {statistics.median(fast) * 1000:.2f} ms,"
        f" max {max(fast) * 1000:.1f} ms"
        if fast
        else "no fast lead ran alongside"
    )
    print(
        f"{name}: slow lead {figures['duration']:.2f} s, {dnc.status}"
        f" {dnc.error_class or ''} (outcome_unknown {dnc.outcome_unknown}); {fast_text};"
        f" loop lag max {figures['lag'] * 1000:.0f} ms"
    )


async def _many(slow: Any, count: int, max_threads: int) -> tuple[list[ScreeningRecord], float]:
    async with _screener(slow, max_threads) as screener:
        leads = [
            screener.screen(
                Lead(lead_id=str(n), campaign_id="slow", fields={"phone": "2125550151"})
            )
            for n in range(count)
        ]
        return await _timed(asyncio.gather(*leads))


@contextlib.contextmanager
def _on_the_loop() -> Iterator[None]:
    """The old behaviour: a synchronous host list read on the event loop itself."""
    before = integration_module._in_place  # noqa: SLF001 - the benchmark's "before"
    integration_module._in_place = lambda found: True  # noqa: SLF001
    try:
        yield
    finally:
        integration_module._in_place = before  # noqa: SLF001


def slow_lists() -> None:
    """Part 1: a slow list under a 0.5 s timeout."""
    for name, make in (("sync list, worker thread", SlowSyncList), ("async list", SlowAsyncList)):
        slow = make()
        _describe(name, asyncio.run(_alongside(slow)))
        if isinstance(slow, SlowSyncList):
            slow.release.set()
    slow = SlowSyncList()
    with _on_the_loop():
        _describe("sync list on the loop (before)", asyncio.run(_alongside(slow)))
    for count, threads in ((4, 8), (64, 8)):
        slow = SlowSyncList()
        records, took = asyncio.run(_many(slow, count, threads))
        slow.release.set()
        classes = {r.integration("dnc").error_class for r in records}
        print(
            f"{count} slow leads at once (sync list, {threads} threads): {took:.2f} s in all,"
            f" error classes {sorted(c or '' for c in classes)}"
        )
    slow = SlowSyncList(seconds=0.5)
    with _on_the_loop():
        records, took = asyncio.run(_many(slow, 4, 8))
    print(f"4 leads on a 0.5 s sync list on the loop (before): {took:.2f} s in all")


async def _cost(dnc: SuppressionIntegration, name: str, in_flight: int) -> float:
    """Median µs per lookup (wall time / lookups) over three rounds."""
    settings = IntegrationSettings(id="dnc", kind="suppression", options={"list": name})
    slots = asyncio.Semaphore(in_flight)
    lead = Lead(lead_id="x", campaign_id="c", fields={"phone": "2125550150"})

    async def one() -> None:
        async with slots:
            await dnc.screen(lead, settings, deadline=5.0)

    figures = []
    for _ in range(3):
        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(LOOKUPS)))
        figures.append((time.perf_counter() - started) / LOOKUPS * 1e6)
    return statistics.median(figures)


@contextlib.contextmanager
def _redis() -> Iterator[str | None]:
    binary = shutil.which("redis-server")
    if binary is None:
        print("Redis: skipped (redis-server is not installed)")
        yield None
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    folder = tempfile.mkdtemp(prefix="bench-lists-redis-")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--save", "", "--appendonly", "no", "--dir", folder],
        stdout=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.3)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait()


async def _lists(folder: Path, postgres: str | None, redis: str | None) -> dict[str, Any]:
    sqlite = SQLiteSuppressionList(folder / "dnc.db")
    sqlite.add("2125550150", "complaint")
    lists: dict[str, Any] = {
        "in-memory (in place)": InMemorySuppressionList(["2125550150"]),
        "host dict, sync (thread)": DictList(),
        "SQLite (thread)": sqlite,
        "host dict, async": AsyncDictList(),
    }
    if postgres is not None:
        lists["PostgreSQL"] = PostgresSuppressionList(postgres, create=True)
        await lists["PostgreSQL"].add("2125550150", "complaint")
    if redis is not None:
        lists["Redis"] = RedisSuppressionList(redis, key="dnc", reasons="dnc:reasons")
        await lists["Redis"].add("2125550150", "complaint")
    return lists


async def _costs(folder: Path, postgres: str | None, redis: str | None) -> None:
    lists = await _lists(folder, postgres, redis)
    dnc = SuppressionIntegration(lists)
    try:
        for name in lists:
            one, many = await _cost(dnc, name, 1), await _cost(dnc, name, 64)
            print(f"lookup, {name}: {one:,.0f} µs at 1 in flight, {many:,.0f} µs per lookup at 64")
    finally:
        await dnc.aclose()
        for found in lists.values():
            close: Callable[[], Any] | None = getattr(found, "aclose", None)
            if close is not None:
                await close()
            elif isinstance(found, SQLiteSuppressionList):
                found.close()


def main() -> None:
    """Print the figures."""
    slow_lists()
    folder = Path(tempfile.mkdtemp(prefix="bench-lists-"))
    server = None
    try:
        server = PostgresServer()
    except PostgresMissingError as exc:
        print(f"PostgreSQL: skipped ({exc})")
    try:
        with _redis() as redis:
            postgres = None if server is None else server.new_database()
            asyncio.run(_costs(folder, postgres, redis))
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
