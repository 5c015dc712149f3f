"""A bulk scrub at a configured rate: the limiter reaches the vendor's rate without one 429.

Run with ``.venv/bin/python benchmarks/bench_rate_limit.py`` (about 8 seconds; not part of
``make test``). The simulator enforces 50 requests/s with a burst of 5 and answers 429 past
it; the screener's rate limit is configured at the same 50/s (burst 2) and 16 leads are in
flight at all times, far more than the rate needs, so that callers really queue for turns.

Gates: zero 429s from the simulator, no lead throttled, and an achieved rate of at least 95 %
of the configured one. Exits 1 when a gate fails.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from purecallerid import (
    AsyncScreener,
    InMemoryResultStore,
    InMemorySettings,
    Lead,
    PureCallerIDIntegration,
    ScreeningRecord,
    load_settings,
)
from purecallerid.testing import Simulator

RATE = 50.0
LEADS = 400
IN_FLIGHT = 16


def settings(url: str, pcid: PureCallerIDIntegration) -> InMemorySettings:
    document: dict[str, Any] = {
        "campaigns": {
            "bulk": {
                "integrations": [
                    {
                        "id": "pcid",
                        "kind": "purecallerid",
                        "base_url": url,
                        "credentials": {
                            "api_token": "bench-token",
                            "campaign_id": "C1",
                            "list_name": "Main",
                        },
                        "rate_limit": {"per_second": RATE, "burst": 2},
                    }
                ]
            }
        }
    }
    loaded = load_settings(document, kinds=[pcid])
    return InMemorySettings(loaded.values())


async def scrub(url: str) -> tuple[list[ScreeningRecord], float]:
    queue: asyncio.Queue[Lead] = asyncio.Queue()
    for n in range(LEADS):
        queue.put_nowait(
            Lead(
                lead_id=f"L{n}",
                campaign_id="bulk",
                fields={"phone": f"212734{n:04d}", "zip": "10001"},
            )
        )
    records: list[ScreeningRecord] = []
    pcid = PureCallerIDIntegration(max_connections=IN_FLIGHT)
    async with AsyncScreener(
        settings=settings(url, pcid), store=InMemoryResultStore(), integrations=[pcid]
    ) as screener:

        async def worker() -> None:
            while not queue.empty():
                records.append(await screener.screen(queue.get_nowait()))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
        elapsed = time.perf_counter() - started
    return records, elapsed


def main() -> int:
    with Simulator(rate_limit=RATE, rate_burst=5) as simulator:
        records, elapsed = asyncio.run(scrub(simulator.url))
        stats = simulator.stats()
    achieved = len(records) / elapsed
    too_many = int(stats["by_status"].get("429", 0))
    errors: dict[str, int] = {}
    for record in records:
        name = record.integration("pcid").error_class
        if name is not None:
            errors[name] = errors.get(name, 0) + 1
    print(f"configured rate          {RATE:.0f}/s (simulator: {RATE:.0f}/s, burst 5)")
    print(f"leads screened           {len(records)} with {IN_FLIGHT} in flight")
    print(f"elapsed                  {elapsed:.2f} s")
    print(f"achieved rate            {achieved:.2f}/s ({achieved / RATE:.1%} of configured)")
    print(f"vendor calls             {stats['total_requests']}")
    print(f"429s from the simulator  {too_many}")
    print(f"integration errors       {errors or 'none'}")
    ok = too_many == 0 and not errors and achieved >= 0.95 * RATE
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
