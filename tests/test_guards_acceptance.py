"""The guards end to end: PureCallerID over real loopback HTTP to the simulator.

Worker processes share a quota through Redis or SQLite; the breaker stops calls to a
simulator answering 500s; the cache saves calls; a Redis that is down loses no lead.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from _guard_worker import campaigns, lead_for
from _redis import RedisServer
from purecallerid import (
    Action,
    AsyncScreener,
    CacheSettings,
    CircuitBreakerSettings,
    InMemoryResultStore,
    InMemorySettings,
    InMemoryStateBackend,
    Lead,
    PureCallerIDIntegration,
    RedisStateBackend,
    ScreeningRecord,
    SQLiteResultStore,
    load_settings,
)
from purecallerid.testing import CannedAnswer, Simulator
from purecallerid.typing import StateBackend

WORKER = Path(__file__).parent / "_guard_worker.py"
QUOTA = 20
WORKERS = 4
LEADS_PER_WORKER = 15


def hammer(tmp_path: Path, backend: str, location: str, simulator: Simulator) -> list[Any]:
    """Run four worker processes at once; return every lead's record."""
    ready = tmp_path / "ready"
    ready.mkdir()
    db = tmp_path / "records.db"
    SQLiteResultStore(db).close()  # created once, before the workers race for it
    prefix = f"t-{uuid.uuid4().hex}"
    jobs: list[dict[str, Any]] = [
        {
            "backend": backend,
            "location": location,
            "prefix": prefix,
            "simulator": simulator.url,
            "quota": QUOTA,
            "leads": [f"w{w}-{w * 100 + i}" for i in range(LEADS_PER_WORKER)],
            "db": str(db),
            "ready": str(ready),
            "workers": WORKERS,
        }
        for w in range(WORKERS)
    ]
    processes = [
        subprocess.Popen([sys.executable, str(WORKER), json.dumps(job)])  # noqa: S603
        for job in jobs
    ]
    try:
        for process in processes:
            assert process.wait(timeout=120) == 0
    finally:
        for process in processes:  # a failed worker must not leave the others running
            if process.poll() is None:
                process.kill()
                process.wait()
    store = SQLiteResultStore(db)
    try:
        return [
            asyncio.run(store.load(lead_for(lead_id).campaign_id, lead_id))
            for job in jobs
            for lead_id in job["leads"]
        ]
    finally:
        store.close()


def check_shared_quota(records: list[ScreeningRecord | None], simulator: Simulator) -> None:
    """Exactly QUOTA calls reached the vendor; every other lead is quota_exhausted."""
    stats = simulator.stats()
    assert stats["total_requests"] == QUOTA
    assert stats["rejected_by_quota"] == 0
    assert all(record is not None for record in records)
    done = [r for r in records if r is not None]
    spent = [r for r in done if r.integration("pcid").error_class == "quota_exhausted"]
    assert len(spent) == WORKERS * LEADS_PER_WORKER - QUOTA
    assert sum(r.integration("pcid").error_class is None for r in done) == QUOTA
    for record in spent:
        # Each campaign's own failure policy decides: "qa" or "reject".
        assert record.decision is Action(record.campaign_id)
        assert record.integration("pcid").outcome_unknown is False


def test_four_workers_share_a_redis_quota(tmp_path: Path, redis_server: RedisServer) -> None:
    """Four processes sharing a Redis quota of 20 make exactly 20 vendor calls in total."""
    with Simulator(daily_quota=QUOTA) as simulator:
        records = hammer(tmp_path, "redis", redis_server.url, simulator)
        check_shared_quota(records, simulator)


def test_four_workers_share_a_sqlite_quota(tmp_path: Path) -> None:
    """Four processes sharing a SQLite quota of 20 make exactly 20 vendor calls in total."""
    with Simulator(daily_quota=QUOTA) as simulator:
        records = hammer(tmp_path, "sqlite", str(tmp_path / "state.db"), simulator)
        check_shared_quota(records, simulator)


def pcid_campaign(simulator: Simulator, **guards: Any) -> InMemorySettings:
    """One campaign ("qa") with PureCallerID against the simulator and *guards*."""
    data = campaigns(simulator.url, 1000)
    integration = data["campaigns"]["qa"]["integrations"][0]
    del integration["quota"]
    integration.update(guards)
    pcid = PureCallerIDIntegration()
    loaded = load_settings({"campaigns": {"qa": data["campaigns"]["qa"]}}, kinds=[pcid])
    asyncio.run(pcid.aclose())
    return InMemorySettings(loaded.values())


def screen_with(
    settings: InMemorySettings,
    leads: list[Lead],
    *,
    state: Any = None,
    concurrent: bool = False,
    store: Any = None,
) -> list[ScreeningRecord]:
    async def go() -> list[ScreeningRecord]:
        backend = state() if callable(state) else state
        try:
            async with AsyncScreener(
                settings=settings,
                store=store or InMemoryResultStore(check_json=True),
                integrations=[PureCallerIDIntegration()],
                state=backend,
            ) as screener:
                if concurrent:
                    return list(await asyncio.gather(*(screener.screen(x) for x in leads)))
                return [await screener.screen(x) for x in leads]
        finally:
            if backend is not None:
                await backend.aclose()

    return asyncio.run(go())


def leads(*numbers: int, phone: str | None = None) -> list[Lead]:
    made = [lead_for(f"x-{2 * n + 1}") for n in numbers]  # odd: campaign "qa"
    if phone is None:
        return made
    return [
        Lead(lead_id=x.lead_id, campaign_id="qa", fields={"phone": phone, "zip": "02134"})
        for x in made
    ]


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_breaker_opens_on_500s_and_a_probe_closes_it(
    backend: str, request: pytest.FixtureRequest
) -> None:
    """Three 500s open the breaker; later leads are decided with no call; a probe closes it."""
    # A cool-down long enough that a loaded CI machine does not reach it mid-test.
    breaker = {"failures": 3, "cooldown": 1.5}
    prefix = f"t-{uuid.uuid4().hex}"
    memory = InMemoryStateBackend()  # closing it is a no-op: both screeners share it

    def state() -> StateBackend:
        if backend == "memory":
            return memory
        server: RedisServer = request.getfixturevalue("redis_server")
        return RedisStateBackend(server.url, prefix=prefix)

    with Simulator() as simulator:
        simulator.fail_next(*[CannedAnswer.status(500)] * 3)
        settings = pcid_campaign(simulator, circuit_breaker=breaker)
        records = screen_with(settings, leads(*range(8)), state=state)
        assert simulator.stats()["total_requests"] == 3
        pcid = [r.integration("pcid") for r in records]
        assert [r.error_class for r in pcid] == ["server_error"] * 3 + ["circuit_open"] * 5
        for fast in pcid[3:]:
            assert fast.attempts == ()  # no vendor time at all: nothing was sent
            assert fast.duration is not None
            # One state round trip (generous: CI machines are loaded).
            assert fast.duration < 0.05
        asyncio.run(asyncio.sleep(1.55))
        after = screen_with(settings, leads(*range(10, 13)), state=state)
        assert [r.integration("pcid").error_class for r in after] == [None, None, None]
        assert simulator.stats()["total_requests"] == 6


def test_cache_makes_one_call_for_a_number(tmp_path: Path) -> None:
    """Within the TTL a number is asked once; 100 concurrent screenings make one call."""
    with Simulator(latency=0.05) as simulator:
        settings = pcid_campaign(simulator, cache={"ttl": 60})
        twice = screen_with(settings, leads(1, 2, phone="212-734-0042"))
        assert simulator.stats()["total_requests"] == 1
        fresh, reused = (r.integration("pcid") for r in twice)
        assert (fresh.cached, reused.cached) == (False, True)
        assert fresh.request is not None
        assert reused.request is None  # another lead's request is not copied
        assert reused.raw == fresh.raw
        assert reused.answer == fresh.answer
        crowd = screen_with(
            settings, leads(*range(100, 200), phone="212-734-0043"), concurrent=True
        )
        assert simulator.stats()["total_requests"] == 2
        assert Counter(r.integration("pcid").cached for r in crowd) == {True: 99, False: 1}


def test_vendor_errors_are_not_cached() -> None:
    """A 500 is not kept: the next screening of the number calls again."""
    with Simulator() as simulator:
        simulator.fail_next(CannedAnswer.status(500))
        settings = pcid_campaign(simulator, cache={"ttl": 60})
        records = screen_with(settings, leads(1, 2, phone="212-734-0044"))
        assert [r.integration("pcid").error_class for r in records] == ["server_error", None]
        assert simulator.stats()["total_requests"] == 2


def test_redis_on_a_closed_port_loses_no_lead(tmp_path: Path) -> None:
    """With Redis unreachable, the lead is recorded as state_unavailable under its policy."""
    store = SQLiteResultStore(tmp_path / "records.db")
    with Simulator() as simulator:
        settings = pcid_campaign(simulator, quota={"daily": 10})
        records = screen_with(
            settings,
            leads(1),
            state=lambda: RedisStateBackend("redis://127.0.0.1:1/0", timeout=0.5),
            store=store,
        )
        assert simulator.stats()["total_requests"] == 0
    record = records[0]
    assert record.integration("pcid").error_class == "state_unavailable"
    assert record.decision is Action.QA
    assert asyncio.run(store.load(record.campaign_id, record.lead_id)) == record
    store.close()


def test_redis_stopping_mid_run_loses_no_lead(own_redis_server: RedisServer) -> None:
    """Leads screened after Redis stops are recorded as state_unavailable, none lost."""
    with Simulator() as simulator:
        settings = pcid_campaign(
            simulator, quota={"daily": 10}, circuit_breaker={"failures": 5, "cooldown": 1}
        )
        store = InMemoryResultStore(check_json=True)

        async def go() -> list[ScreeningRecord]:
            state = RedisStateBackend(own_redis_server.url, timeout=0.5)
            async with AsyncScreener(
                settings=settings,
                store=store,
                integrations=[PureCallerIDIntegration()],
                state=state,
            ) as screener:
                before = [await screener.screen(x) for x in leads(1, 2)]
                own_redis_server.stop()
                after = [await screener.screen(x) for x in leads(3, 4)]
            await state.aclose()
            return before + after

        records = asyncio.run(go())
        assert simulator.stats()["total_requests"] == 2
    classes = [r.integration("pcid").error_class for r in records]
    assert classes == [None, None, "state_unavailable", "state_unavailable"]
    assert len(store) == 4


def test_spent_quota_sends_nothing_to_the_vendor() -> None:
    """A quota of 2 in one process: the third lead never reaches the simulator."""
    with Simulator() as simulator:
        settings = pcid_campaign(simulator, quota={"daily": 2})
        records = screen_with(settings, leads(1, 2, 3))
        assert simulator.stats()["total_requests"] == 2
    assert records[2].integration("pcid").error_class == "quota_exhausted"


@pytest.mark.parametrize("guard", ["quota", "rate_limit", "circuit_breaker"])
def test_guards_apply_without_the_cache(guard: str) -> None:
    """Without a cache, each screening of one number is its own call (PureCallerID's case)."""
    value: dict[str, Any] = {
        "quota": {"daily": 100},
        "rate_limit": {"per_second": 100, "burst": 5},
        "circuit_breaker": {"failures": 3},
    }[guard]
    with Simulator() as simulator:
        settings = pcid_campaign(simulator, **{guard: value})
        screen_with(settings, leads(1, 2, phone="212-734-0045"))
        assert simulator.stats()["total_requests"] == 2


def test_settings_carry_the_guards() -> None:
    """The loader builds the guard settings classes from their tables."""
    with Simulator() as simulator:
        settings = pcid_campaign(
            simulator, cache={"ttl": 5, "fields": ["zip"]}, circuit_breaker={"failures": 2}
        )
    campaign = asyncio.run(settings.get_campaign("qa"))
    assert campaign is not None
    integration = campaign.integrations[0]
    assert integration.cache == CacheSettings(ttl=5, fields=("zip",))
    assert integration.circuit_breaker == CircuitBreakerSettings(failures=2)
