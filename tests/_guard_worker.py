"""One worker process of the shared-quota tests: screens its leads against the simulator.

Run as ``python _guard_worker.py '<json>'`` with: ``backend`` (``redis`` or ``sqlite``),
``location`` (the Redis URL or the SQLite file), ``prefix``, ``simulator`` (its URL),
``quota``, ``leads`` (lead ids), ``db`` (the shared records database), ``ready`` (a folder
where each worker marks itself ready) and ``workers`` (how many to wait for). Workers start
screening together, once all are ready, so that their reservations really race.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from purecallerid import (
    AsyncScreener,
    InMemorySettings,
    PureCallerIDIntegration,
    RedisStateBackend,
    SQLiteResultStore,
    SQLiteStateBackend,
    load_settings,
)
from purecallerid.typing import StateBackend

TOKEN = "worker-token-0001"


def lead_for(lead_id: str) -> Any:
    """The lead of *lead_id*: campaign ``qa`` or ``reject`` by parity, an accepted number."""
    from purecallerid import Lead  # noqa: PLC0415 - keeps the module's imports short

    number = int(lead_id.rsplit("-", 1)[1])
    return Lead(
        lead_id=lead_id,
        campaign_id="qa" if number % 2 else "reject",
        fields={"phone": f"212734{number:04d}", "zip": "02134"},
    )


def campaigns(simulator: str, quota: int) -> dict[str, Any]:
    """Two campaigns sharing one credential (so one quota), with different failure policies."""
    integration = {
        "id": "pcid",
        "kind": "purecallerid",
        "base_url": simulator,
        "credentials": {"api_token": TOKEN, "campaign_id": "C1", "list_name": "Main"},
        "timeout": 5,
        "quota": {"daily": quota, "timezone": "America/New_York"},
    }
    return {
        "campaigns": {
            policy: {"integrations": [{**integration, "failure_policy": policy}]}
            for policy in ("qa", "reject")
        }
    }


async def main(job: dict[str, Any]) -> None:
    """Screen the job's leads concurrently."""
    pcid = PureCallerIDIntegration()
    settings = InMemorySettings(
        load_settings(campaigns(job["simulator"], job["quota"]), kinds=[pcid]).values()
    )
    state: StateBackend
    if job["backend"] == "redis":
        state = RedisStateBackend(job["location"], prefix=job["prefix"])
    else:
        state = SQLiteStateBackend(job["location"])
    store = SQLiteResultStore(job["db"])
    try:
        async with AsyncScreener(
            settings=settings, store=store, integrations=[pcid], state=state
        ) as screener:
            await asyncio.gather(*(screener.screen(lead_for(i)) for i in job["leads"]))
    finally:
        await state.aclose()
        store.close()


def wait_for_the_others(job: dict[str, Any]) -> None:
    """Mark this worker ready, then wait until every worker is."""
    ready = Path(job["ready"])
    ready.joinpath(f"{job['leads'][0]}.ready").touch()
    deadline = time.monotonic() + 30
    while len(list(ready.glob("*.ready"))) < job["workers"] and time.monotonic() < deadline:
        time.sleep(0.005)


if __name__ == "__main__":
    arguments = json.loads(sys.argv[1])
    wait_for_the_others(arguments)
    asyncio.run(main(arguments))
