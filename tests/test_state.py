"""The guards' state: GCRA and breaker rules, and the three backends that keep them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import RedisServer
from purecallerid import (
    InMemoryStateBackend,
    RedisStateBackend,
    SQLiteStateBackend,
)
from purecallerid._guards.algorithms import (
    BreakerState,
    breaker_admit,
    breaker_record,
    gcra_reserve,
    gcra_slow_down,
)
from purecallerid.typing import StateBackend


class Clock:
    """A clock that moves only when told."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- GCRA ------------------------------------------------------------------------------


@given(
    rate=st.floats(min_value=0.5, max_value=200),
    burst=st.integers(min_value=1, max_value=10),
    gaps=st.lists(st.floats(min_value=0, max_value=0.2), min_size=1, max_size=80),
    max_wait=st.floats(min_value=0, max_value=2),
)
def test_gcra_never_grants_more_than_rate_times_time_plus_burst(
    rate: float, burst: int, gaps: list[float], max_wait: float
) -> None:
    """In any window of t seconds, the turns granted number at most burst + rate * t."""
    tat, now, turns = 0.0, 0.0, []
    for gap in gaps:
        now += gap
        tat, wait = gcra_reserve(tat, now, rate=rate, burst=burst, max_wait=max_wait)
        if wait is not None:
            assert 0 <= wait <= max_wait
            turns.append(now + wait)
    turns.sort()
    for i, start in enumerate(turns):
        for j in range(i, len(turns)):
            window = turns[j] - start
            assert j - i + 1 <= burst + rate * window + 1e-6


def test_gcra_burst_is_free_then_turns_are_spaced() -> None:
    """The first *burst* calls go at once; the next ones wait one interval more each."""
    tat, waits = 0.0, []
    for _ in range(5):
        tat, wait = gcra_reserve(tat, 100.0, rate=10, burst=2, max_wait=10)
        waits.append(wait)
    assert waits == pytest.approx([0.0, 0.0, 0.1, 0.2, 0.3])


def test_gcra_refusal_changes_nothing() -> None:
    """A turn beyond max_wait is refused and the state stays as it was."""
    tat, _ = gcra_reserve(0.0, 100.0, rate=1, burst=1, max_wait=0)
    refused_tat, wait = gcra_reserve(tat, 100.0, rate=1, burst=1, max_wait=0.5)
    assert wait is None
    assert refused_tat == tat


def test_gcra_slow_down_holds_every_turn_back() -> None:
    """After a slow-down of w seconds, no turn starts before now + w, and no burst follows."""
    tat = gcra_slow_down(0.0, 100.0, rate=10, burst=5, wait=2.0)
    tat, first = gcra_reserve(tat, 100.0, rate=10, burst=5, max_wait=10)
    _, second = gcra_reserve(tat, 100.0, rate=10, burst=5, max_wait=10)
    assert first == pytest.approx(2.0)
    assert second == pytest.approx(2.1)


# -- breaker ---------------------------------------------------------------------------


def test_breaker_opens_after_threshold_failures() -> None:
    """N consecutive failures open the breaker; a success in between resets the count."""
    state = BreakerState()
    for outcome in ("failure", "failure", "success", "failure", "failure"):
        assert (
            breaker_record(state, 0, outcome=outcome, probe=False, threshold=3, cooldown=5) is None
        )
    assert breaker_record(state, 0, outcome="failure", probe=False, threshold=3, cooldown=5) == (
        "opened"
    )
    assert breaker_admit(state, 1, probe_lease=1).decision == "reject"
    assert breaker_admit(state, 1, probe_lease=1).retry_in == pytest.approx(4)


def test_breaker_probe_success_closes() -> None:
    """After the cool-down one caller probes, others are rejected; its success closes."""
    state = BreakerState(state="open", failures=3, open_until=10)
    assert breaker_admit(state, 10, probe_lease=2).decision == "probe"
    assert breaker_admit(state, 10.5, probe_lease=2).decision == "reject"
    change = breaker_record(state, 11, outcome="success", probe=True, threshold=3, cooldown=5)
    assert change == "closed"
    assert breaker_admit(state, 11, probe_lease=2).decision == "call"


def test_breaker_probe_failure_reopens() -> None:
    """A failed probe opens the breaker for another cool-down."""
    state = BreakerState(state="open", failures=3, open_until=10)
    breaker_admit(state, 10, probe_lease=2)
    change = breaker_record(state, 11, outcome="failure", probe=True, threshold=3, cooldown=5)
    assert change == "reopened"
    assert breaker_admit(state, 15.9, probe_lease=2).decision == "reject"
    assert breaker_admit(state, 16, probe_lease=2).decision == "probe"


def test_breaker_neutral_probe_frees_the_slot() -> None:
    """A probe that was never sent lets the next caller probe at once."""
    state = BreakerState(state="open", failures=3, open_until=10)
    breaker_admit(state, 10, probe_lease=60)
    breaker_record(state, 10, outcome="neutral", probe=True, threshold=3, cooldown=5)
    assert breaker_admit(state, 10, probe_lease=60).decision == "probe"


def test_breaker_probe_lease_runs_out() -> None:
    """A probe that never reports (a dead worker) gives way once its lease is over."""
    state = BreakerState(state="open", failures=3, open_until=10)
    breaker_admit(state, 10, probe_lease=2)
    assert breaker_admit(state, 11.9, probe_lease=2).decision == "reject"
    assert breaker_admit(state, 12, probe_lease=2).decision == "probe"


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["admit", "success", "failure", "neutral"]),
            st.floats(min_value=0, max_value=1),
        ),
        max_size=60,
    )
)
def test_breaker_never_has_two_probes_out(steps: list[tuple[str, float]]) -> None:
    """Whatever happens, at most one probe is out at a time (within its lease)."""
    state, now = BreakerState(), 0.0
    probes: list[float] = []
    lease = 5.0
    for step, gap in steps:
        now += gap
        if step == "admit":
            admission = breaker_admit(state, now, probe_lease=lease)
            probes = [t for t in probes if t > now]
            if admission.decision == "probe":
                assert probes == []
                probes.append(now + lease)
        else:
            probe = bool(probes)
            breaker_record(state, now, outcome=step, probe=probe, threshold=2, cooldown=0.5)  # type: ignore[arg-type]
            if probe:
                probes.clear()


# -- the backends ----------------------------------------------------------------------

Factory = Callable[[], StateBackend]


@pytest.fixture(params=["memory", "sqlite", "redis"])
def make_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Factory:
    """Makes each backend in turn (Redis on a real server, skipped without one)."""
    if request.param == "memory":
        return InMemoryStateBackend
    if request.param == "sqlite":
        return lambda: SQLiteStateBackend(tmp_path / "state.db")
    server: RedisServer = request.getfixturevalue("redis_server")
    prefix = f"t-{uuid.uuid4().hex}"
    return lambda: RedisStateBackend(server.url, prefix=prefix)


def use(make: Factory, body: Callable[[StateBackend], Awaitable[Any]]) -> Any:
    """Run *body* with a backend made (and closed) inside one event loop."""

    async def go() -> Any:
        state = make()
        try:
            return await body(state)
        finally:
            await state.aclose()

    return asyncio.run(go())


def test_concurrent_reservations_never_exceed_the_quota(make_backend: Factory) -> None:
    """Fifty concurrent reservations of a quota of 17 grant exactly 17, each counted once."""

    async def body(state: StateBackend) -> list[Any]:
        return await asyncio.gather(
            *(
                state.reserve_quota("k", period="2030-01-01", limit=17, expires_at=2e9)
                for _ in range(50)
            )
        )

    results = use(make_backend, body)
    granted = sorted(r.used for r in results if r.granted)
    assert granted == list(range(1, 18))
    assert all(r.used == 17 for r in results if not r.granted)


@given(
    limit=st.integers(min_value=0, max_value=20),
    steps=st.lists(st.sampled_from(["reserve", "release"]), max_size=60),
)
def test_quota_count_stays_within_the_limit(limit: int, steps: list[str]) -> None:
    """Interleaved reservations and releases never count more than the limit, nor below 0."""

    async def go() -> None:
        state = InMemoryStateBackend()
        held = 0
        for step in steps:
            if step == "reserve":
                result = await state.reserve_quota("k", period="d", limit=limit, expires_at=0)
                assert result.granted == (held < limit)
                held += result.granted
                assert result.used == held <= limit
            elif held:
                await state.release_quota("k", period="d")
                held -= 1

    asyncio.run(go())


def test_release_gives_a_unit_back(make_backend: Factory) -> None:
    """A released unit can be reserved again; another period starts from zero."""

    async def body(state: StateBackend) -> None:
        first = await state.reserve_quota("k", period="2030-01-01", limit=1, expires_at=2e9)
        refused = await state.reserve_quota("k", period="2030-01-01", limit=1, expires_at=2e9)
        await state.release_quota("k", period="2030-01-01")
        again = await state.reserve_quota("k", period="2030-01-01", limit=1, expires_at=2e9)
        next_day = await state.reserve_quota("k", period="2030-01-02", limit=1, expires_at=2e9)
        assert (first.granted, refused.granted, again.granted, next_day.granted) == (
            True,
            False,
            True,
            True,
        )

    use(make_backend, body)


def test_rate_turns_follow_the_rate(make_backend: Factory) -> None:
    """Turns are spaced by 1/rate after the burst, and a turn too far away is refused."""

    async def body(state: StateBackend) -> None:
        waits = [await state.acquire_rate("r", rate=20, burst=2, max_wait=0.12) for _ in range(6)]
        granted = [w for w in waits if w is not None]
        assert len(granted) == 4
        assert granted[:2] == pytest.approx([0, 0], abs=0.01)
        assert granted[2] == pytest.approx(0.05, abs=0.01)
        assert granted[3] == pytest.approx(0.10, abs=0.01)
        assert waits[4:] == [None, None]

    use(make_backend, body)


def test_slow_down_pushes_the_next_turn(make_backend: Factory) -> None:
    """After a slow-down of 3 s the next turn is about 3 s away."""

    async def body(state: StateBackend) -> None:
        await state.slow_down("r", rate=50, burst=5, wait=3.0)
        wait = await state.acquire_rate("r", rate=50, burst=5, max_wait=10)
        assert wait == pytest.approx(3.0, abs=0.05)

    use(make_backend, body)


def test_breaker_through_the_backend(make_backend: Factory) -> None:
    """Open after two failures, reject, then one probe after the cool-down, which closes."""

    async def body(state: StateBackend) -> None:
        for _ in range(2):
            assert (await state.breaker_admit("b", probe_lease=1)).decision == "call"
            change = await state.breaker_record(
                "b", outcome="failure", probe=False, threshold=2, cooldown=0.1
            )
        assert change == "opened"
        assert (await state.breaker_admit("b", probe_lease=1)).decision == "reject"
        await asyncio.sleep(0.12)
        assert (await state.breaker_admit("b", probe_lease=1)).decision == "probe"
        assert (await state.breaker_admit("b", probe_lease=1)).decision == "reject"
        closed = await state.breaker_record(
            "b", outcome="success", probe=True, threshold=2, cooldown=0.1
        )
        assert closed == "closed"
        assert (await state.breaker_admit("b", probe_lease=1)).decision == "call"

    use(make_backend, body)


def test_cache_entries_expire(make_backend: Factory) -> None:
    """A cached text is returned until its TTL passes."""

    async def body(state: StateBackend) -> None:
        await state.cache_put("c", '{"a": 1}', ttl=0.1)
        assert await state.cache_get("c") == '{"a": 1}'
        assert await state.cache_get("other") is None
        await asyncio.sleep(0.15)
        assert await state.cache_get("c") is None

    use(make_backend, body)


def test_memory_cache_is_bounded() -> None:
    """The in-memory cache drops its oldest entries past its size."""

    async def go() -> list[str | None]:
        state = InMemoryStateBackend(max_cache_entries=2)
        for key in ("a", "b", "c"):
            await state.cache_put(key, key, ttl=60)
        return [await state.cache_get(key) for key in ("a", "b", "c")]

    assert asyncio.run(go()) == [None, "b", "c"]


def test_backends_implement_the_protocol(tmp_path: Path) -> None:
    """Each backend is a StateBackend; none shows a Redis URL's password."""
    sqlite = SQLiteStateBackend(tmp_path / "s.db")
    redis = RedisStateBackend("redis://user:hunter2@127.0.0.1:1/0")
    for state in (InMemoryStateBackend(), sqlite, redis):
        assert isinstance(state, StateBackend)
    assert "hunter2" not in repr(redis)
    asyncio.run(sqlite.aclose())
    asyncio.run(redis.aclose())


def test_redis_serves_more_concurrent_callers_than_its_pool(redis_server: RedisServer) -> None:
    """Three hundred concurrent reservations on a pool of 10 connections wait, none fails."""

    async def go() -> list[Any]:
        state = RedisStateBackend(
            redis_server.url, prefix=f"t-{uuid.uuid4().hex}", max_connections=10
        )
        try:
            return await asyncio.gather(
                *(
                    state.reserve_quota("k", period="2030-01-01", limit=1000, expires_at=2e9)
                    for _ in range(300)
                )
            )
        finally:
            await state.aclose()

    results = asyncio.run(go())
    assert sorted(r.used for r in results) == list(range(1, 301))


def test_redis_default_pool_serves_150_concurrent_callers(redis_server: RedisServer) -> None:
    """More concurrent callers than redis-py's default cap (100) all get their answer."""

    async def go() -> list[Any]:
        state = RedisStateBackend(redis_server.url, prefix=f"t-{uuid.uuid4().hex}")
        try:
            return await asyncio.gather(
                *(state.acquire_rate("k", rate=1e6, burst=1000, max_wait=1) for _ in range(150))
            )
        finally:
            await state.aclose()

    assert all(wait is not None for wait in asyncio.run(go()))
