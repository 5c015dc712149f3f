"""The guards' state: GCRA and breaker rules, and the three backends that keep them."""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

import pytest
import redis.asyncio
from hypothesis import given
from hypothesis import strategies as st

from _redis import RedisServer
from purecallerid import (
    InMemoryStateBackend,
    RedisStateBackend,
    SQLiteStateBackend,
)
from purecallerid._guards.algorithms import (
    BreakerState,
    breaker_admit,
    breaker_record,
    clock_stepped_back,
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


# -- a clock that steps back ------------------------------------------------------------


@given(
    rate=st.floats(min_value=0.5, max_value=200),
    burst=st.integers(min_value=1, max_value=10),
    max_wait=st.floats(min_value=0, max_value=2),
    steps=st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=0.2),
            st.one_of(st.just(0.0), st.floats(min_value=0, max_value=7200)),
        ),
        min_size=1,
        max_size=80,
    ),
)
def test_gcra_on_a_clock_stepping_back_keeps_the_rate_and_holds_nothing_up(
    rate: float, burst: int, max_wait: float, steps: list[tuple[float, float]]
) -> None:
    """Undoing steps back as a backend does, the rate holds and a step holds nothing up.

    A Redis server's clock may step back between two calls (by *back* seconds). With the rule
    of ``clock_stepped_back``, and the moved state written back at once: no turn comes earlier
    than on a clock that never stepped (the rate holds in real time), and a step delays the
    limiter by the state's age when the step is found (the time not counted), never by the
    step itself; a step shorter than that age counts against the wait. Without a step, every
    wait is the true one.
    """
    interval = 1.0 / rate
    real = offset = 0.0
    tat = at = written = 0.0  # the state, when (clock) it was written, and when (real)
    turns = []
    for gap, back in steps:
        real += gap
        offset -= back
        now = real + offset
        moved = clock_stepped_back(at, now)
        if moved > 0:
            # On the real timeline, the state's tat moves later by the age not counted.
            delay = (tat - moved - now) - (tat - at + written - real)
            assert -1e-6 <= delay <= real - written + 1e-6
            tat, at, written = tat - moved, now, real
        # The true wait: the state's tat on the real timeline, as a clock that never stepped.
        true_tat = tat - at + written
        true_wait = max(0.0, max(true_tat, real) + interval - burst * interval - real)
        new_tat, wait = gcra_reserve(tat, now, rate=rate, burst=burst, max_wait=max_wait)
        # A step shorter than the state's age is not seen: it counts against the wait. A
        # longer one is always seen (never an hour against a wait).
        unseen = at - written - offset
        assert unseen <= real - written + 1e-6
        if wait is None:  # refused: its wait would have been beyond max_wait
            assert true_wait + unseen > max_wait - 1e-6
            continue
        assert true_wait - 1e-6 <= wait <= true_wait + unseen + 1e-6
        tat, at, written = new_tat, now, real
        turns.append(real + wait)
    turns.sort()
    for i, start in enumerate(turns):
        for j in range(i, len(turns)):
            assert j - i + 1 <= burst + rate * (turns[j] - start) + 1e-6


def test_a_step_back_keeps_every_time_as_far_ahead_as_when_written() -> None:
    """A state written an hour "in the future" keeps its 30 s, neither 3630 s nor 0."""
    written_at, now = 5_000.0, 5_000.0 - 3_600
    open_until = written_at + 30
    assert open_until - clock_stepped_back(written_at, now) - now == pytest.approx(30)
    assert clock_stepped_back(written_at, written_at + 10) == 0.0  # time went on: nothing


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


def wall_now() -> float:
    """The process's wall clock, looked up at each call: a test may step it (``stepped``)."""
    return time.time()


class SteppedWall:
    """``time.time`` moved by whole steps, as NTP or an operator setting the clock does."""

    def __init__(self, real: Callable[[], float]) -> None:
        self.real = real
        self.offset = 0.0

    def __call__(self) -> float:
        return self.real() + self.offset

    def step(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture
def stepped(monkeypatch: pytest.MonkeyPatch) -> SteppedWall:
    """The process's wall clock (``time.time``), for the test to step back and forward."""
    wall = SteppedWall(time.time)
    monkeypatch.setattr(time, "time", wall)
    return wall


@pytest.fixture(params=["memory", "sqlite", "redis"])
def make_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Factory:
    """Makes each backend in turn (Redis on a real server, skipped without one)."""
    if request.param == "memory":
        return InMemoryStateBackend
    if request.param == "sqlite":
        return lambda: SQLiteStateBackend(tmp_path / "state.db", wall_clock=wall_now)
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


# A wall clock stepping back an hour (then forward two): every backend measures intervals
# on another clock (memory: the process's monotonic one; SQLite: the host's, plus the file's
# base; Redis: the server's), so nothing moves. Intervals here are seconds apart, so that a
# slow machine cannot fail them.


async def turn(state: StateBackend, key: str = "r") -> float | None:
    """A turn of limiter *key*: 2 at once, then one every 10 s, waiting up to a minute."""
    return await state.acquire_rate(key, rate=0.1, burst=2, max_wait=60.0)


async def open_breaker(state: StateBackend, key: str) -> None:
    """Open breaker *key* (a failure, threshold 1) for a cool-down of 30 s."""
    change = await state.breaker_record(
        key, outcome="failure", probe=False, threshold=1, cooldown=30
    )
    assert change == "opened"


def test_a_wall_clock_step_holds_no_turn_back(make_backend: Factory, stepped: SteppedWall) -> None:
    """After a step back of an hour the next turn is one interval away, not an hour or none.

    Nor is it free: the step lets no more turns through than the rate.
    """

    async def body(state: StateBackend) -> None:
        assert [await turn(state) for _ in range(2)] == [0.0, 0.0]
        stepped.step(-3600)
        third = await turn(state)
        assert third is not None
        assert 5 < third <= 10
        stepped.step(+7200)
        fourth = await turn(state)
        assert fourth is not None
        assert 15 < fourth <= 20

    use(make_backend, body)


def test_a_wall_clock_step_holds_no_breaker_open(
    make_backend: Factory, stepped: SteppedWall
) -> None:
    """An open breaker keeps its cool-down: an hour back is not an hour more, nor less."""

    async def body(state: StateBackend) -> None:
        await open_breaker(state, "b")
        for step in (-3600, +7200):
            stepped.step(step)
            admission = await state.breaker_admit("b", probe_lease=5)
            assert admission.decision == "reject"
            assert 20 < admission.retry_in <= 30

    use(make_backend, body)


def test_a_wall_clock_step_keeps_cache_ttls(make_backend: Factory, stepped: SteppedWall) -> None:
    """A cached answer lives its TTL: a step back adds no hour to it, a step forward takes none."""

    async def body(state: StateBackend) -> None:
        await state.cache_put("short", "s", ttl=0.2)
        await state.cache_put("long", "l", ttl=600)
        stepped.step(-3600)
        await asyncio.sleep(0.3)
        assert await state.cache_get("short") is None
        assert await state.cache_get("long") == "l"
        stepped.step(+7200)
        assert await state.cache_get("long") == "l"

    use(make_backend, body)


# SQLite across processes and reboots: the host's monotonic clock (injected here) plus the
# file's base.

WALL: Final = 1_700_000_000.0


def sqlite_at(path: Path, *, boot: str, host: Clock, wall: float) -> SQLiteStateBackend:
    """A process of one boot: its host's monotonic clock, and a wall clock that stays put."""
    return SQLiteStateBackend(path, clock=host, wall_clock=Clock(wall), boot_id=boot)


async def fill(state: StateBackend) -> None:
    """The limiter's burst taken (next turn 10 s away), a breaker opened, two cached answers."""
    assert [await turn(state) for _ in range(2)] == [0.0, 0.0]
    await open_breaker(state, "b")
    await state.cache_put("short", "s", ttl=100)
    await state.cache_put("long", "l", ttl=864_000)


def test_sqlite_processes_of_one_boot_share_the_state_clock(tmp_path: Path) -> None:
    """A process started after the wall clock stepped back an hour sees the same state time."""
    host = Clock(50_000.0)

    async def go() -> None:
        first = sqlite_at(tmp_path / "s.db", boot="boot-1", host=host, wall=WALL)
        await fill(first)
        host.now += 4
        second = sqlite_at(tmp_path / "s.db", boot="boot-1", host=host, wall=WALL - 3600)
        assert await turn(second) == pytest.approx(6)
        assert await turn(first) == pytest.approx(16)
        assert (await second.breaker_admit("b", probe_lease=5)).retry_in == pytest.approx(26)
        await first.aclose()
        await second.aclose()

    asyncio.run(go())


@pytest.mark.parametrize("boot", ["boot-2", "boot-1"])
def test_sqlite_state_goes_on_after_a_reboot_with_the_wall_clock_behind(
    tmp_path: Path, boot: str
) -> None:
    """A reboot restarts the monotonic clock; a wall clock an hour behind then holds nothing.

    State time goes on from the latest it recorded: the turn is one interval away (less the
    time that passed before the reboot), the cool-down what was left of it, the cache intact.
    Without a boot id ("boot-1" again, as where the system tells none) the restarted clock,
    reading less than the latest state time, gives the reboot away.
    """

    async def go() -> None:
        before = Clock(50_000.0)
        first = sqlite_at(tmp_path / "s.db", boot="boot-1", host=before, wall=WALL)
        await fill(first)
        before.now += 2  # a write 2 s later records the latest state time
        await open_breaker(first, "x")
        await first.aclose()
        after = Clock(5.0)
        state = sqlite_at(tmp_path / "s.db", boot=boot, host=after, wall=WALL - 3600)
        assert await turn(state) == pytest.approx(8)
        assert (await state.breaker_admit("b", probe_lease=5)).retry_in == pytest.approx(28)
        assert await state.cache_get("short") == "s"
        after.now += 98
        assert await state.cache_get("short") is None
        assert await state.cache_get("long") == "l"
        assert (await state.breaker_admit("b", probe_lease=5)).decision == "probe"
        await state.aclose()

    asyncio.run(go())


def test_sqlite_a_reboot_counts_its_downtime(tmp_path: Path) -> None:
    """Back a day later on the wall clock, a limiter and a breaker are idle, a TTL has run."""

    async def go() -> None:
        first = sqlite_at(tmp_path / "s.db", boot="boot-1", host=Clock(50_000.0), wall=WALL)
        await fill(first)
        await first.aclose()
        state = sqlite_at(tmp_path / "s.db", boot="boot-2", host=Clock(5.0), wall=WALL + 86_400)
        assert [await turn(state) for _ in range(3)] == [0, 0, 10]
        assert (await state.breaker_admit("b", probe_lease=5)).decision == "probe"
        assert await state.cache_get("short") is None
        assert await state.cache_get("long") == "l"
        await state.aclose()

    asyncio.run(go())


# Redis: the server's clock is a wall clock too. A state written "in the future" is one
# written before that clock stepped back; planted here, as the server would have left it.


def test_redis_undoes_a_step_back_of_the_servers_clock(redis_server: RedisServer) -> None:
    """States written an hour before the server's clock stepped back keep their own waits.

    A turn 10 s away, a cool-down of 30 s, a probe's lease of 0.2 s: not an hour more each,
    nor for ever the same (a refused caller gets its turn once the 0.4 s it was told are over).
    """
    prefix = f"t-{uuid.uuid4().hex}"

    def breaker(state: str, open_until: float, probe_until: float, at: float) -> list[str]:
        """A breaker's hash as field, value, field, value..."""
        times = {"open_until": open_until, "probe_until": probe_until, "at": at}
        fields = {"state": state, "failures": "1", **{k: f"{v:.6f}" for k, v in times.items()}}
        return [text for pair in fields.items() for text in pair]

    async def go() -> None:
        client = redis.asyncio.Redis.from_url(redis_server.url, decode_responses=True)
        seconds, micros = await client.time()
        now = seconds + micros / 1e6
        ahead = now + 3600  # the server's clock when they were written
        # The limiter's burst taken: its tat two intervals ahead, as written.
        await client.set(f"{prefix}:rate:r", f"{ahead + 20:.6f} {ahead:.6f}")
        await client.set(f"{prefix}:rate:bare", f"{now + 20:.6f}")  # as before "at" was kept
        await client.set(f"{prefix}:rate:near", f"{ahead + 0.4:.6f} {ahead:.6f}")
        await client.hset(f"{prefix}:breaker:open", items=breaker("open", ahead + 30, 0, ahead))
        probing = breaker("half_open", 0, ahead + 0.2, ahead)
        await client.hset(f"{prefix}:breaker:probing", items=probing)
        await client.aclose()
        state = RedisStateBackend(redis_server.url, prefix=prefix)
        try:
            third, fourth, bare = await turn(state), await turn(state), await turn(state, "bare")
            assert third is not None
            assert 5 < third <= 10
            assert fourth is not None
            assert 15 < fourth <= 20  # the rewritten state counts from the server's time now
            assert bare is not None
            assert 5 < bare <= 10
            admission = await state.breaker_admit("open", probe_lease=5)
            assert admission.decision == "reject"
            assert 20 < admission.retry_in <= 30
            # Refused and rejected now, each a while later: a state read but not otherwise
            # changed still ages from its first read after the step.
            near = functools.partial(state.acquire_rate, "near", rate=5.0, burst=1, max_wait=0.1)
            assert await near() is None
            assert (await state.breaker_admit("probing", probe_lease=5)).decision == "reject"
            await asyncio.sleep(0.5)
            assert await near() == 0
            assert (await state.breaker_admit("probing", probe_lease=5)).decision == "probe"
        finally:
            await state.aclose()

    asyncio.run(go())


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
