"""Records: what claiming and saving each lead costs in each store, and PostgreSQL's throughput.

Run with ``.venv/bin/python benchmarks/bench_records.py`` (part of ``make bench``). A trivial
in-process integration answers at once, so that the figures are the screener's and the
store's own: per lead at 1 in flight (load, claim, save) for the in-memory, SQLite and
PostgreSQL stores, the claim overhead of each against the in-memory path, and 10,000 leads
into PostgreSQL with 64 in flight. PostgreSQL is a throwaway local cluster (``initdb``), so
the figures have no network in them.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from _postgres import PostgresMissingError, PostgresServer
from bench_orchestrator import RULES, Sleepy
from purecallerid import (
    AsyncScreener,
    CampaignSettings,
    InMemoryResultStore,
    InMemorySettings,
    IntegrationSettings,
    Lead,
    PostgresResultStore,
    SQLiteResultStore,
)

if TYPE_CHECKING:
    from purecallerid.typing import ResultStore

SEQUENTIAL = 1_000
BULK = 10_000
IN_FLIGHT = 64
ROUNDS = 3
# The orchestrator benchmark's integration, answering at once: what is left is the screener
# and the store.
SETTINGS = InMemorySettings(
    [
        CampaignSettings(
            campaign_id="c",
            integrations=[
                IntegrationSettings(id="i", kind="sleepy", rules=RULES, options={"latency": 0})
            ],
        )
    ]
)


async def screen_all(store: ResultStore, prefix: str, count: int, in_flight: int) -> float:
    """Seconds to screen *count* new leads with *in_flight* at once."""
    slots = asyncio.Semaphore(in_flight)
    async with AsyncScreener(settings=SETTINGS, store=store, integrations=[Sleepy()]) as screener:

        async def one(n: int) -> None:
            async with slots:
                lead = Lead(lead_id=f"{prefix}{n}", campaign_id="c", fields={"phone": "2125550100"})
                await screener.screen(lead)

        started = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(count)))
        return time.perf_counter() - started


async def per_lead(kind: str, folder: Path, url: str | None) -> float:
    """Median µs per lead at 1 in flight over the rounds."""
    figures = []
    for round_ in range(ROUNDS):
        store: Any
        if kind == "memory":
            store = InMemoryResultStore()
        elif kind == "sqlite":
            store = SQLiteResultStore(folder / f"bench{round_}.db")
        else:
            store = PostgresResultStore(url or "")
        seconds = await screen_all(store, f"r{round_}-", SEQUENTIAL, 1)
        figures.append(seconds / SEQUENTIAL * 1e6)
        if isinstance(store, SQLiteResultStore):
            store.close()
        elif isinstance(store, PostgresResultStore):
            await store.aclose()
    return statistics.median(figures)


async def bulk_postgres(url: str) -> float:
    store = PostgresResultStore(url, max_size=IN_FLIGHT // 2)
    seconds = await screen_all(store, "bulk-", BULK, IN_FLIGHT)
    await store.aclose()
    return BULK / seconds


def main() -> None:
    """Print the figures."""
    folder = Path(tempfile.mkdtemp(prefix="bench-records-"))
    server = None
    try:
        server = PostgresServer()
    except PostgresMissingError as exc:
        print(f"PostgreSQL: skipped ({exc})")
    figures = {"memory": asyncio.run(per_lead("memory", folder, None))}
    figures["sqlite"] = asyncio.run(per_lead("sqlite", folder, None))
    if server is not None:
        figures["postgres"] = asyncio.run(per_lead("postgres", folder, server.new_database()))
    base = figures["memory"]
    for kind, micros in figures.items():
        extra = "" if kind == "memory" else f"; claim and save add {micros - base:,.0f} µs"
        print(f"records, {kind}: {micros:,.0f} µs per lead at 1 in flight{extra}")
    if server is not None:
        rate = asyncio.run(bulk_postgres(server.new_database()))
        print(f"records, postgres: {BULK:,} leads with {IN_FLIGHT} in flight: {rate:,.0f} leads/s")
        server.stop()


if __name__ == "__main__":
    main()
